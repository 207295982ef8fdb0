"""HTTP benchmark: our SDK vs apache-flink-statefun 3.3.0 vs an HTTP ceiling, under wrk.

    python bench/run_http.py            # full run (~12 min), writes bench/results-http.md
    python bench/run_http.py --quick    # smoke check (~85 s), writes nothing unless --out

(Not ``bench/http.py``: with bench/ first on sys.path that name would shadow the
standard library's ``http`` package, which aiohttp and urllib import.)

Each server is its own process (bench/http_server.py) on 127.0.0.1 and a free
port, in its own venv; each one's four answers are checked against CONTRACT.md
over HTTP before any load. Then, for every workload and connection count, the
servers take turns under the same wrk command (``-t1``, POST of the payload
file's bytes to /statefun with Content-Type application/octet-stream,
``--latency``), back to back, and each later round reverses the order, so the
machine's noise hits them alike. Ratios are computed per round and the median
is reported. Every server started is stopped at the end (by PID), whatever
happens. Standard library only: run it with any Python 3.10+.

Servers:

  ours          statefun.aiohttp.make_app, project .venv (protobuf upb, msgspec)
  official      RequestReplyHandler.handle_async in an aiohttp handler,
                bench/.venv-official (protobuf 3.20.3, pure Python)
  official-upb  the same, bench/.venv-official-upb (protobuf forced to ours' version)
  ceiling       aiohttp answering precomputed bytes (project .venv): the most
                any aiohttp-served SDK could do on this machine
  serve         ``statefun serve served_ours:functions``, as users run it (project .venv)
  serve-metrics the same with ``--metrics``
  serve-tracing the same with ``--tracing``, OTEL_TRACES_EXPORTER=none: every span is
                created, recorded and ended on the request path, and then not exported
                (export runs in the SDK's own thread, at the exporter's cost)

The three ``serve`` servers give the overhead of metrics and of tracing, each
against the plain ``serve`` of the same round. ``--servers`` picks a subset.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import run  # noqa: E402  (venv creation and machine facts, shared with the in-process bench)
from contract import WORKLOADS, load_payloads, payload_dir  # noqa: E402

LUA = """\
wrk.method = "POST"
wrk.path = "/statefun"
wrk.headers["Content-Type"] = "application/octet-stream"
local f = assert(io.open("{path}", "rb"))
wrk.body = f:read("*a")
f:close()

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT {{\\"requests\\": %d, \\"duration_us\\": %d, \\"p50_us\\": %d, \\"p90_us\\": %d, "
    .. "\\"p99_us\\": %d, \\"max_us\\": %d, \\"connect\\": %d, \\"read\\": %d, \\"write\\": %d, "
    .. "\\"status\\": %d, \\"timeout\\": %d}}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclass
class Server:
    label: str
    python: Path
    kind: str
    about: str
    # For kind "serve": the `statefun serve` options, and environment variables.
    options: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[str] | None = None
    url: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    # (workload, connections) -> one wrk result per round
    points: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)

    def start(self) -> None:
        if self.kind == "serve":
            cmd = [str(self.python), "-m", "statefun", "serve", "served_ours:functions"]
            cmd += ["--port", "0", *self.options]
        else:
            cmd = [str(self.python), str(BENCH / "http_server.py"), self.kind]
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            # statefun serve logs every request (aiohttp's access log), as users see it;
            # written here where it costs what a log file would, not to our terminal.
            stderr=subprocess.DEVNULL if self.kind == "serve" else None,
            text=True,
            cwd=str(BENCH),
            env={
                **os.environ,
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONPATH": str(BENCH),
                **self.env,
            },
            start_new_session=True,  # our Ctrl-C does not reach it; we stop it ourselves
        )
        assert self.proc.stdout
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline() if ready else ""
        port = re.match(r"port (\d+)$|statefun: serving .* at http://127\.0\.0\.1:(\d+)/", line)
        if not port:
            raise SystemExit(f"{self.label}: server did not start (got {line!r})")
        self.url = f"http://127.0.0.1:{int(port.group(1) or port.group(2))}/statefun"
        # Whatever else it prints must not fill the pipe and stall it.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def cpu_seconds(self) -> float:
        """CPU time the server has used (user + system), from /proc.

        Per request, it hardly moves when other work on the machine takes the server's
        core away, which throughput does: the steadier measure of what an option costs.
        """
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def servers(with_upb: bool) -> list[Server]:
    ours_py = run.OURS_PY
    out = [
        Server("ours", ours_py, "ours", "`statefun.aiohttp.make_app`, project .venv"),
        Server(
            "official",
            run.venv_python(run.OFFICIAL_VENV),
            "official",
            "3.3.0 `handle_async` in aiohttp, pure-Python protobuf 3.20.3",
        ),
    ]
    if with_upb:
        out.append(
            Server(
                "official-upb",
                run.venv_python(run.OFFICIAL_UPB_VENV),
                "official",
                "the same, protobuf forced to ours' (upb)",
            )
        )
    out.append(Server("ceiling", ours_py, "ceiling", "aiohttp answering precomputed bytes"))
    out.append(Server("serve", ours_py, "serve", "`statefun serve`, project .venv"))
    out.append(
        Server("serve-metrics", ours_py, "serve", "`statefun serve --metrics`", ["--metrics"])
    )
    out.append(
        Server(
            "serve-tracing",
            ours_py,
            "serve",
            "`statefun serve --tracing`, spans recorded, not exported",
            ["--tracing"],
            {"OTEL_TRACES_EXPORTER": "none"},
        )
    )
    return out


OVERHEADS = ("serve-metrics", "serve-tracing")
"""Measured against `serve`, per round."""


def version_in(python: Path, module: str) -> str:
    out = subprocess.run(
        [str(python), "-c", f"import {module} as m; print(m.__version__)"],
        capture_output=True,
        text=True,
        cwd=str(BENCH),
    )
    return out.stdout.strip() if out.returncode == 0 else ""


def ensure_aiohttp(ss: list[Server]) -> str:
    """The official venvs come from bench/run.py without aiohttp: add ours' exact version."""
    want = version_in(run.OURS_PY, "aiohttp")
    if not want:
        raise SystemExit(f"aiohttp is missing from {run.OURS_PY}")
    for py in sorted({s.python for s in ss}):
        if version_in(py, "aiohttp") != want:
            run.sh(str(py), "-m", "pip", "install", "-q", f"aiohttp=={want}")
    return want


def server_info(python: Path) -> dict[str, str]:
    code = (
        "import platform, json, google.protobuf as p, aiohttp;"
        "from google.protobuf.internal import api_implementation as a;"
        "print(json.dumps({'python': platform.python_version(), 'protobuf': p.__version__,"
        " 'impl': a.Type(), 'aiohttp': aiohttp.__version__}))"
    )
    out = subprocess.run(
        [str(python), "-c", code], check=True, capture_output=True, text=True, cwd="/"
    )
    info: dict[str, str] = json.loads(out.stdout)
    return info


def verify(s: Server) -> None:
    out = subprocess.run(
        [str(run.OURS_PY), str(BENCH / "http_server.py"), "verify", s.url],
        capture_output=True,
        text=True,
        cwd=str(BENCH),
        env={**os.environ, "PYTHONPATH": str(BENCH)},
        timeout=60,
    )
    if out.returncode != 0 or out.stdout.strip() != "ok":
        raise SystemExit(f"{s.label}: answers do not match CONTRACT.md:\n{out.stderr}")


def wrk(url: str, script: Path, connections: int, seconds: int, threads: int) -> dict[str, Any]:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    m = re.search(r"^RESULT (\{.*\})$", out.stdout, re.M)
    if out.returncode != 0 or not m:
        raise SystemExit(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    result: dict[str, Any] = json.loads(m.group(1))
    bad = {k: result[k] for k in ("connect", "read", "write", "status", "timeout") if result[k]}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    if bad or non2xx:
        raise SystemExit(f"wrk saw errors against {url}: {bad} {non2xx and non2xx.group(0)}")
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def wrk_version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return (out.stdout + out.stderr).splitlines()[0].strip()


def med(values: list[float]) -> float:
    return statistics.median(values)


def ratio_cell(a: Server, b: Server, key: tuple[str, int]) -> str:
    per_round = [x["rps"] / y["rps"] for x, y in zip(a.points[key], b.points[key], strict=True)]
    m = med(per_round)
    if len(per_round) == 1:
        return f"{m:.2f}"
    return f"{m:.2f} ({min(per_round):.2f}–{max(per_round):.2f})"


def fmt_ms(us: float) -> str:
    return f"{us / 1000:.2f}" if us < 10_000 else f"{us / 1000:.1f}"


def report(
    ss: list[Server],
    args: argparse.Namespace,
    facts: dict[str, str],
    load_end: str,
    elapsed: float,
    wrk_v: str,
    aiohttp_v: str,
) -> str:
    by = {s.label: s for s in ss}
    rows: list[str] = []
    add = rows.append
    add("# Benchmark results: over HTTP")
    add("")
    cmd = " ".join(["python bench/run_http.py", *sys.argv[1:]])
    add(
        f"Date: {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}. Command: `{cmd}` "
        f"({args.rounds} round{'s' if args.rounds > 1 else ''}, {args.duration:g} s per point after "
        f"{args.warmup:g} s warm-up per server and workload; {elapsed:.0f} s in all)."
    )
    add("")
    add(
        f"Machine: {facts['nproc']} CPUs (`nproc`), {facts['cpu']}, Linux {facts['kernel']}; load average "
        f"{facts['loadavg']} at start, {load_end} at end. **The load generator and the server share these "
        f"{facts['nproc']} cores**: wrk runs `-t{args.threads}` and each server is one Python process (one "
        "event loop), so a server has at most about one core; the machine is shared with other work, so read "
        "the ratios, not absolute numbers."
    )
    add("")
    add(
        f"Load: `{wrk_v}`, `wrk -t{args.threads} -c<16|64> -d{args.duration:g}s --timeout 5s --latency -s post.lua "
        "http://127.0.0.1:<port>/statefun`, the script POSTing the payload file's bytes with "
        "`Content-Type: application/octet-stream` over keep-alive connections (closed loop: p50/p99 are "
        "wrk's, without coordinated-omission correction). Every run had zero socket errors and zero non-2xx "
        "answers (checked), and every server's four answers were decoded and checked against CONTRACT.md "
        "over HTTP before loading."
    )
    add("")
    add("| server | what | Python | protobuf | aiohttp |")
    add("|---|---|---|---|---|")
    for s in ss:
        i = s.info
        add(
            f"| {s.label} | {s.about} | {i['python']} | {i['protobuf']} {i['impl']} | {i['aiohttp']} |"
        )
    add("")
    if "ours" in by:
        rows.extend(_against_ours(ss, args))
    if "serve" in by and any(label in by for label in OVERHEADS):
        rows.extend(_overheads(ss, args))
    add(
        f"Order of servers per point: round 1 {', '.join(s.label for s in ss)}; later rounds"
        " alternate reversed and forward."
    )
    add("")
    return "\n".join(rows)


def _against_ours(ss: list[Server], args: argparse.Namespace) -> list[str]:
    """The per-workload tables and the summary, every server against `ours`."""
    ours = next(s for s in ss if s.label == "ours")
    rows: list[str] = []
    add = rows.append
    add(
        "Requests/s, p50 and p99 are medians over rounds; *ours ÷ X* is the median of per-round "
        "requests/s ratios (range over rounds in brackets): above 1, ours serves more."
    )
    add("")
    for w in args.workloads:
        add(f"## {w}")
        add("")
        add("| connections | server | requests/s | p50 ms | p99 ms | ours ÷ this server |")
        add("|---:|---|---:|---:|---:|---:|")
        for c in args.connections:
            key = (w, c)
            for s in ss:
                pts = s.points[key]
                r = "1" if s is ours else ratio_cell(ours, s, key)
                add(
                    f"| {c} | {s.label} | {med([p['rps'] for p in pts]):,.0f} | "
                    f"{fmt_ms(med([p['p50_us'] for p in pts]))} | {fmt_ms(med([p['p99_us'] for p in pts]))} | {r} |"
                )
        add("")
    add("## Summary: requests/s of ours against the others")
    add("")
    others = [s for s in ss if s is not ours]
    add("| workload | connections | " + " | ".join(f"ours ÷ {s.label}" for s in others) + " |")
    add("|---|---:|" + "---:|" * len(others))
    for w in args.workloads:
        for c in args.connections:
            add(f"| {w} | {c} | " + " | ".join(ratio_cell(ours, s, (w, c)) for s in others) + " |")
    add("")
    add(
        "*ours ÷ ceiling* is the share of the bare aiohttp request rate ours keeps (the ceiling's "
        "answer is our SDK's, precomputed; it still reads every body and writes every answer)."
        " The ceiling shares ours' venv."
    )
    add("")
    return rows


def overhead_cell(base: Server, s: Server, key: tuple[str, int]) -> str:
    """How much less `s` serves than `base`, in per cent: the median of per-round costs."""
    per_round = [
        100 * (1 - x["rps"] / y["rps"])
        for x, y in zip(s.points[key], base.points[key], strict=True)
    ]
    m = med(per_round)
    if len(per_round) == 1:
        return f"{m:.1f} %"
    return f"{m:.1f} % ({min(per_round):.1f} – {max(per_round):.1f})"


def cpu_cell(base: Server, s: Server, key: tuple[str, int]) -> str:
    """How much more CPU a request of `s` takes than one of `base`: the median of per-round ratios."""
    per_round = [
        100 * (x["cpu_us"] / y["cpu_us"] - 1)
        for x, y in zip(s.points[key], base.points[key], strict=True)
    ]
    m = med(per_round)
    if len(per_round) == 1:
        return f"{m:.1f} %"
    return f"{m:.1f} % ({min(per_round):.1f} – {max(per_round):.1f})"


def _overheads(ss: list[Server], args: argparse.Namespace) -> list[str]:
    """What --metrics and --tracing cost, against the plain `statefun serve` of each round."""
    by = {s.label: s for s in ss}
    base = by["serve"]
    variants = [by[label] for label in OVERHEADS if label in by]
    rows = ["## Metrics and tracing: `statefun serve` with each, against without", ""]
    add = rows.append
    add(
        "Cost is the median over rounds of 1 − (requests/s with ÷ requests/s without, in the same"
        " round); range in brackets. Above 0, the option costs throughput."
    )
    add("")
    head = "| workload | connections | serve req/s |"
    line = "|---|---:|---:|"
    for s in variants:
        head += f" {s.label} req/s | {s.label} cost |"
        line += "---:|---:|"
    add(head)
    add(line)
    for w in args.workloads:
        for c in args.connections:
            key = (w, c)
            cells = f"| {w} | {c} | {med([p['rps'] for p in base.points[key]]):,.0f} |"
            for s in variants:
                rps = med([p["rps"] for p in s.points[key]])
                cells += f" {rps:,.0f} | {overhead_cell(base, s, key)} |"
            add(cells)
    add("")
    add(
        "CPU: the server process's user + system time (from /proc) over each point, per request"
        " answered; cost is the median over rounds of (CPU per request with ÷ without) − 1. It"
        " moves far less than requests/s when other work takes the server's core."
    )
    add("")
    head = "| workload | connections | serve CPU µs/req |"
    line = "|---|---:|---:|"
    for s in variants:
        head += f" {s.label} CPU µs/req | {s.label} CPU cost |"
        line += "---:|---:|"
    add(head)
    add(line)
    for w in args.workloads:
        for c in args.connections:
            key = (w, c)
            cells = f"| {w} | {c} | {med([p['cpu_us'] for p in base.points[key]]):,.0f} |"
            for s in variants:
                cpu = med([p["cpu_us"] for p in s.points[key]])
                cells += f" {cpu:,.0f} | {cpu_cell(base, s, key)} |"
            add(cells)
    add("")
    add(
        "`serve-tracing` runs with `OTEL_TRACES_EXPORTER=none`: the SDK's TracerProvider creates,"
        " records and ends every span (sampled, as by default), and no exporter sends them; an"
        " exporter works in the SDK's batch thread, at its own cost, which sampling"
        " (`OTEL_TRACES_SAMPLER`) cuts. All three log every request (aiohttp's access log, on in"
        " `statefun serve`), to /dev/null here."
    )
    add("")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke check, ~85 s")
    parser.add_argument(
        "--duration", type=int, help="whole seconds per point (default 10, quick 3)"
    )
    parser.add_argument(
        "--rounds", type=int, help="rounds, order reversed each (default 2, quick 1)"
    )
    parser.add_argument(
        "--warmup", type=int, help="warm-up seconds (whole seconds; default 2, quick 0)"
    )
    parser.add_argument("--threads", type=int, default=1, choices=(1, 2), help="wrk -t (default 1)")
    parser.add_argument(
        "--connections", type=lambda s: [int(x) for x in s.split(",")], default=[16, 64]
    )
    parser.add_argument(
        "--no-upb",
        dest="upb",
        action="store_false",
        default=None,
        help="skip official-upb (default: skipped with --quick, included otherwise)",
    )
    parser.add_argument(
        "--workloads",
        type=lambda s: s.split(","),
        default=list(WORKLOADS),
        help="only these workloads, comma-separated (e.g. w1_greeter)",
    )
    parser.add_argument(
        "--servers",
        type=lambda s: s.split(","),
        help="only these servers, comma-separated (e.g. serve,serve-metrics,serve-tracing)",
    )
    parser.add_argument("--out", type=Path, default=BENCH / "results-http.md")
    args = parser.parse_args()
    out_given = "--out" in sys.argv
    args.duration = args.duration or (3 if args.quick else 10)
    args.rounds = args.rounds or (1 if args.quick else 2)
    args.warmup = args.warmup if args.warmup is not None else (0 if args.quick else 2)
    if args.upb is None:
        args.upb = not args.quick
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the servers

    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    started = time.monotonic()
    facts = run.machine()
    ss = servers(args.upb)
    if args.servers:
        unknown = set(args.servers) - {s.label for s in ss}
        if unknown:
            raise SystemExit(f"unknown servers {sorted(unknown)}: {[s.label for s in ss]}")
        ss = [s for s in ss if s.label in args.servers]
    if set(args.workloads) - set(WORKLOADS):
        raise SystemExit(f"unknown workloads {args.workloads}: {list(WORKLOADS)}")
    if any(s.kind == "official" for s in ss):
        run.ensure_venvs(args.upb)
    aiohttp_v = ensure_aiohttp(ss)
    for s in ss:
        s.info = server_info(s.python)
    payloads = load_payloads()
    tmp = Path(tempfile.mkdtemp(prefix="statefun-http-bench-"))
    scripts: dict[str, Path] = {}
    for w in WORKLOADS:
        manifest = json.loads((payload_dir() / "manifest.json").read_text())
        path = (payload_dir() / manifest["workloads"][w]["file"]).resolve()
        if path.read_bytes() != payloads[w]:
            raise SystemExit(f"{path} is not the manifest's {w}")
        scripts[w] = tmp / f"{w}.lua"
        scripts[w].write_text(LUA.format(path=str(path).replace("\\", "\\\\")))
    try:
        for s in ss:
            s.start()
            verify(s)
            print(f"verified {s.label} at {s.url}", file=sys.stderr)
        npoints = len(args.workloads) * len(args.connections) * len(ss) * args.rounds
        done = 0
        for w in args.workloads:
            if args.warmup > 0:
                for s in ss:
                    wrk(s.url, scripts[w], max(args.connections), args.warmup, args.threads)
            for c in args.connections:
                for r in range(args.rounds):
                    order = ss if r % 2 == 0 else ss[::-1]
                    for s in order:
                        cpu = s.cpu_seconds()
                        p = wrk(s.url, scripts[w], c, args.duration, args.threads)
                        p["cpu_us"] = (s.cpu_seconds() - cpu) / p["requests"] * 1e6
                        s.points.setdefault((w, c), []).append(p)
                        done += 1
                        print(
                            f"  [{done}/{npoints}] {w} c={c} round {r + 1} {s.label}: "
                            f"{p['rps']:,.0f} req/s, p50 {p['p50_us'] / 1000:.2f} ms, "
                            f"p99 {p['p99_us'] / 1000:.2f} ms",
                            file=sys.stderr,
                        )
        load_end = " ".join(f"{x:.2f}" for x in os.getloadavg())
    finally:
        for s in ss:
            s.stop()
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
    text = report(ss, args, facts, load_end, time.monotonic() - started, wrk_version(), aiohttp_v)
    sys.stdout.write(text + "\n")
    if not args.quick or out_given:
        args.out.write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
