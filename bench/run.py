"""In-process benchmark: our SDK vs apache-flink-statefun 3.3.0 vs the protobuf floor.

    python bench/run.py            # full run (a few minutes), writes bench/results.md
    python bench/run.py --quick    # smoke check, well under a minute

Every contestant lives in a long-lived worker process (bench/worker.py) in its
own venv, and proves its answers against CONTRACT.md before it is timed. Then
rounds interleave the contestants (the order rotates each round) on each
workload, so machine noise hits all of them alike; every ratio is computed
per round from the same round's medians, and the median of those ratios is
reported. Standard library only: run it with any Python 3.10+.

Contestants (venvs created on first use, from the interpreter of .venv):

  ours           .venv (the project's), protobuf 7 upb, msgspec
  floor          same venv: bare generated classes, msgspec JSON
  official       bench/.venv-official: apache-flink-statefun 3.3.0 as pip
                 resolves it (protobuf<4 -> 3.20.3, pure Python on 3.11)
  floor-pb3      same venv: bare generated classes, stdlib json
  official-upb   bench/.venv-official-upb: the same SDK, unchanged, with
                 protobuf forced to ours' version (--no-deps), to separate
                 SDK cost from protobuf cost
  floor-upb-json same venv: bare classes on upb with stdlib json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OURS_PY = ROOT / ".venv" / "bin" / "python"
OFFICIAL_VENV = BENCH / ".venv-official"
OFFICIAL_UPB_VENV = BENCH / ".venv-official-upb"
OFFICIAL_PIN = "apache-flink-statefun==3.3.0"

sys.path.insert(0, str(BENCH))
from contract import INVOCATIONS, WORKLOADS  # noqa: E402


@dataclass
class Contestant:
    label: str
    python: Path
    module: str
    floor: str  # label of its own floor
    about: str
    proc: subprocess.Popen[str] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    batch: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[int]] = field(default_factory=dict)
    round_medians: dict[str, list[float]] = field(default_factory=dict)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(self.python), str(BENCH / "worker.py"), self.module],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=str(BENCH),
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(BENCH)},
        )

    def ask(self, **cmd: Any) -> dict[str, Any]:
        assert self.proc and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"{self.label}: worker died (exit {self.proc.wait()})")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise SystemExit(f"{self.label}: {cmd['op']} failed: {reply['error']}")
        return reply

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                self.ask_quit()
                self.proc.wait(timeout=10)
            except Exception:
                self.proc.kill()

    def ask_quit(self) -> None:
        assert self.proc and self.proc.stdin
        self.proc.stdin.write('{"op": "quit"}\n')
        self.proc.stdin.flush()


def sh(*args: str) -> None:
    print("  $", " ".join(args), file=sys.stderr)
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def base_python() -> str:
    """The interpreter our .venv was made from, so every venv runs the same Python."""
    out = subprocess.run(
        [str(OURS_PY), "-c", "import sys; print(sys._base_executable)"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def our_protobuf() -> str:
    out = subprocess.run(
        [str(OURS_PY), "-c", "import google.protobuf as p; print(p.__version__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=str(BENCH),
    )
    return out.stdout.strip()


def ensure_venvs(with_upb: bool) -> None:
    if not OURS_PY.exists():
        raise SystemExit(
            f"{OURS_PY} is missing: run scripts/test (or create .venv with pip install -e .) first"
        )
    base = base_python()
    if not venv_python(OFFICIAL_VENV).exists():
        print(f"creating {OFFICIAL_VENV.name} ({OFFICIAL_PIN})", file=sys.stderr)
        sh(base, "-m", "venv", str(OFFICIAL_VENV))
        sh(str(venv_python(OFFICIAL_VENV)), "-m", "pip", "install", "-q", OFFICIAL_PIN)
    if with_upb and not venv_python(OFFICIAL_UPB_VENV).exists():
        pb = our_protobuf()
        print(
            f"creating {OFFICIAL_UPB_VENV.name} ({OFFICIAL_PIN} --no-deps, protobuf=={pb})",
            file=sys.stderr,
        )
        sh(base, "-m", "venv", str(OFFICIAL_UPB_VENV))
        py = str(venv_python(OFFICIAL_UPB_VENV))
        sh(py, "-m", "pip", "install", "-q", "--no-deps", OFFICIAL_PIN)
        sh(py, "-m", "pip", "install", "-q", f"protobuf=={pb}")


def contestants(with_upb: bool) -> list[Contestant]:
    off, upb = venv_python(OFFICIAL_VENV), venv_python(OFFICIAL_UPB_VENV)
    out = [
        Contestant("ours", OURS_PY, "impl_ours", "floor", "this SDK, project .venv"),
        Contestant(
            "floor", OURS_PY, "impl_floor", "floor", "bare protobuf + msgspec, project .venv"
        ),
        Contestant(
            "official",
            off,
            "impl_official",
            "floor-pb3",
            "apache-flink-statefun 3.3.0 as pip installs it",
        ),
        Contestant(
            "floor-pb3", off, "impl_floor", "floor-pb3", "bare protobuf + json, official's venv"
        ),
    ]
    if with_upb:
        out += [
            Contestant(
                "official-upb",
                upb,
                "impl_official",
                "floor-upb-json",
                "the same official SDK with protobuf forced to ours' version",
            ),
            Contestant(
                "floor-upb-json", upb, "impl_floor", "floor-upb-json", "bare protobuf (upb) + json"
            ),
        ]
    return out


def pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return float(ordered[index])


def calibrate(cs: list[Contestant], target_ms: float, warmup_ms: float) -> None:
    """Warm each (contestant, workload) for ~warmup_ms and size its batch to ~target_ms."""
    for c in cs:
        for w in WORKLOADS:
            n, spent = 5, 0.0
            while spent < warmup_ms * 1e6:
                ns = c.ask(op="run", w=w, n=n)["ns"]
                spent += sum(ns)
                n = min(n * 4, 20000)
            med = statistics.median(ns)
            c.batch[w] = int(min(20000, max(5, target_ms * 1e6 / med)))


def measure(cs: list[Contestant], rounds: int) -> None:
    for c in cs:
        for w in WORKLOADS:
            c.samples[w] = []
            c.round_medians[w] = []
    for r in range(rounds):
        for w in WORKLOADS:
            k = r % len(cs)
            for c in cs[k:] + cs[:k]:  # rotate who goes first
                ns = c.ask(op="run", w=w, n=c.batch[w])["ns"]
                c.samples[w].extend(ns)
                c.round_medians[w].append(statistics.median(ns))
        print(f"  round {r + 1}/{rounds}", file=sys.stderr, end="\r")
    print(file=sys.stderr)


def ratio(a: Contestant, b: Contestant, w: str) -> tuple[float, float, float]:
    """Median over rounds of a's round median / b's round median, with the quartiles."""
    per_round = [x / y for x, y in zip(a.round_medians[w], b.round_medians[w], strict=True)]
    if len(per_round) < 4:
        m = statistics.median(per_round)
        return m, min(per_round), max(per_round)
    q = statistics.quantiles(per_round, n=4)
    return statistics.median(per_round), q[0], q[2]


def fmt_ratio(r: tuple[float, float, float]) -> str:
    return f"{r[0]:.2f} ({r[1]:.2f}–{r[2]:.2f})"


def fmt_us(ns: float) -> str:
    us = ns / 1000
    return f"{us:,.1f}" if us < 1000 else f"{us:,.0f}"


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def machine() -> dict[str, str]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    nproc = (
        subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
        if shutil.which("nproc")
        else ""
    )
    return {
        "nproc": nproc or str(os.cpu_count()),
        "cpu": cpu,
        "kernel": platform.release(),
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def report(
    cs: list[Contestant],
    args: argparse.Namespace,
    facts: dict[str, str],
    load_end: str,
    mem: dict[str, dict[str, int]],
    elapsed: float,
) -> str:
    by = {c.label: c for c in cs}
    ours, floor = by["ours"], by["floor"]
    lines: list[str] = []
    add = lines.append
    add("# Benchmark results: in process")
    add("")
    add(
        f"Date: {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}. "
        f"Command: `python bench/run.py{' --quick' if args.quick else ''}`"
        f"{'' if args.upb else ' --no-upb'} ({args.rounds} interleaved rounds, ~{args.target_ms:g} ms per batch,"
        f" {elapsed:.0f} s)."
    )
    add("")
    add(
        f"Machine: {facts['nproc']} CPUs (`nproc`), {facts['cpu']}, Linux {facts['kernel']}; "
        f"load average {facts['loadavg']} at start, {load_end} at end (other engineers' JVM tests share it:"
        " read ratios, not absolute numbers)."
    )
    add("")
    add("| contestant | what | Python | protobuf | implementation | JSON |")
    add("|---|---|---|---|---|---|")
    for c in cs:
        i = c.info
        json_lib = i.get("json") or (
            "msgspec " + i["msgspec"] if i.get("msgspec") else "json (stdlib)"
        )
        if i.get("json") == "msgspec":
            json_lib = f"msgspec {i.get('msgspec')}"
        elif i.get("json") == "json":
            json_lib = "json (stdlib)"
        elif c.module == "impl_official":
            json_lib = "json (stdlib)"
        add(
            f"| {c.label} | {c.about} | {i['python']} | {i.get('protobuf')} | {i.get('protobuf_impl')} | {json_lib} |"
        )
    add("")
    add(
        "Times are per request (one ToFunction in, one FromFunction out), measured in process with one "
        "`perf_counter_ns` pair per request; median and p99 pooled over all rounds. Ratios are medians of "
        "per-round ratios (each round times every contestant back to back), with the interquartile range of "
        "those per-round ratios in brackets. *× own floor*: the contestant against the floor in its own venv "
        "(same protobuf, same JSON library); *× ours floor*: against `floor` (protobuf 7 upb + msgspec)."
    )
    add("")
    for w in WORKLOADS:
        inv = INVOCATIONS[w]
        add(
            f"## {w} ({inv} invocation{'s' if inv > 1 else ''} per request"
            f"{'; the function is not run' if w == 'w4_cold' else ''})"
        )
        add("")
        add(
            "| contestant | median µs | p99 µs | requests/s | invocations/s | × own floor | × ours floor |"
        )
        add("|---|---:|---:|---:|---:|---:|---:|")
        for c in cs:
            s = c.samples[w]
            med = statistics.median(s)
            own = "1" if c.floor == c.label else fmt_ratio(ratio(c, by[c.floor], w))
            vs_floor = "1" if c is floor else fmt_ratio(ratio(c, floor, w))
            add(
                f"| {c.label} | {fmt_us(med)} | {fmt_us(pct(s, 0.99))} | {fmt_rate(1e9 / med)} | "
                f"{fmt_rate(inv * 1e9 / med)} | {own} | {vs_floor} |"
            )
        add("")
    add("## Speedup of ours (official time / ours time, same rounds)")
    add("")
    head = "| workload | vs official (pb 3.20.3 python) |"
    rule = "|---|---:|"
    if "official-upb" in by:
        head += " vs official on protobuf upb |"
        rule += "---:|"
    add(head)
    add(rule)
    for w in WORKLOADS:
        row = f"| {w} | {fmt_ratio(ratio(by['official'], ours, w))} |"
        if "official-upb" in by:
            row += f" {fmt_ratio(ratio(by['official-upb'], ours, w))} |"
        add(row)
    add("")
    if mem:
        add("## W2 memory per request")
        add("")
        add(
            "tracemalloc peak of one W2 request after warmup (Python-heap allocations only: upb's arenas are "
            "malloc'd outside it, so the upb rows undercount protobuf objects), and the growth of ru_maxrss "
            f"over {args.mem_loop:,} more requests."
        )
        add("")
        add(
            f"| contestant | tracemalloc peak / request | RSS growth over {args.mem_loop:,} requests |"
        )
        add("|---|---:|---:|")
        for c in cs:
            m = mem[c.label]
            add(
                f"| {c.label} | {m['tracemalloc_peak'] / 1024:,.1f} KiB | {m['rss_delta_kib']:,} KiB |"
            )
        add("")
    add(
        "Batch sizes (requests per contestant per round): "
        + "; ".join(f"{c.label} " + "/".join(str(c.batch[w]) for w in WORKLOADS) for c in cs)
        + " (W1/W2/W3/W4)."
    )
    add("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke check: few rounds, short batches"
    )
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 40, quick 5)")
    parser.add_argument("--target-ms", type=float, help="time per batch (default 40, quick 10)")
    parser.add_argument(
        "--no-upb",
        dest="upb",
        action="store_false",
        help="skip the official SDK on forced protobuf upb and its floor",
    )
    parser.add_argument(
        "--no-mem", dest="mem", action="store_false", help="skip the W2 memory measure"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=BENCH / "results.md",
        help="where to write the Markdown (default bench/results.md; quick runs write nothing"
        " unless --out is given)",
    )
    args = parser.parse_args()
    out_given = "--out" in sys.argv
    args.rounds = args.rounds or (5 if args.quick else 40)
    args.target_ms = args.target_ms or (10.0 if args.quick else 40.0)
    args.mem_loop = 200 if args.quick else 2000
    warmup_ms = 60.0 if args.quick else 300.0

    started = time.monotonic()
    facts = machine()
    ensure_venvs(args.upb)
    cs = contestants(args.upb)
    try:
        for c in cs:
            c.start()
        for c in cs:
            c.info = c.ask(op="info")
            c.ask(op="verify")
            print(
                f"verified {c.label}: all four answers match CONTRACT.md "
                f"(Python {c.info['python']}, protobuf {c.info.get('protobuf')} {c.info.get('protobuf_impl')})",
                file=sys.stderr,
            )
        print("warming up", file=sys.stderr)
        calibrate(cs, args.target_ms, warmup_ms)
        print(f"measuring {args.rounds} rounds", file=sys.stderr)
        measure(cs, args.rounds)
        mem = (
            {c.label: c.ask(op="mem", w="w2_batch", loop=args.mem_loop) for c in cs}
            if args.mem
            else {}
        )
        load_end = " ".join(f"{x:.2f}" for x in os.getloadavg())
        text = report(cs, args, facts, load_end, mem, time.monotonic() - started)
    finally:
        for c in cs:
            c.stop()
    sys.stdout.write(text + "\n")
    if not args.quick or out_given:
        args.out.write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
