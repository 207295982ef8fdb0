"""Growth benchmark: cost per invocation by batch size, and per request by JSON state size.

    python bench/growth.py            # full run (~6 min), writes bench/results-growth.md
                                      # and bench/growth-batch.png, bench/growth-state.png
    python bench/growth.py --quick    # smoke check (<1 min), writes nothing unless --out

In process, like bench/run.py: one long-lived worker per contestant (ours, the
floor, the official SDK as pip installs it), each request built by the worker
itself (bench/growth_payloads.py: W2's function, its three states, deterministic)
and its answer checked before it is timed. Two curves:

- batch: 1, 10, 100, 1,000 and 10,000 invocations in one request, W2's ~210 B
  profile; the cost of a request divided by its invocations;
- state: one request updating a JSON profile of 1 KiB, 100 KiB and 1 MiB, with 1
  message and with 10 (decoding the state once per batch, 10 messages cost about
  what one does; decoding it per message, about 10 times as much).

Rounds interleave the contestants on every point, the first one rotating, and
every ratio is the median of per-round ratios. The claims checked (analysis.py):
at batches of 1,000 or more ours costs at most 2× the floor per invocation; ours'
cost grows with the state's size as the floor's does (per added KiB at most 1.5×
the floor's: one decode and one encode, no more); 10 messages on a 1 MiB state
cost ours less than twice one message; and, strictly, the same cost per added
KiB at every size. The plots are drawn by bench/plot.py with
matplotlib, in bench/.venv-plot (made on first use). Standard library only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import analysis  # noqa: E402
import run  # noqa: E402

PLOT_VENV = BENCH / ".venv-plot"
MATPLOTLIB = "matplotlib==3.11.2"
KIB = 1024

Point = tuple[int, int | None]  # (messages, state_bytes); None: W2's own profile


def contestants() -> list[run.Contestant]:
    return [
        run.Contestant("ours", run.OURS_PY, "impl_ours", "floor", "this SDK, project .venv"),
        run.Contestant("floor", run.OURS_PY, "impl_floor", "floor", "bare protobuf + msgspec"),
        run.Contestant(
            "official",
            run.venv_python(run.OFFICIAL_VENV),
            "impl_official",
            "official",
            "apache-flink-statefun 3.3.0 as pip installs it (protobuf 3.20.3, pure Python)",
        ),
    ]


def ensure_plot_venv() -> Path:
    py = run.venv_python(PLOT_VENV)
    if not py.exists():
        print(f"creating {PLOT_VENV.name} ({MATPLOTLIB})", file=sys.stderr)
        run.sh(run.base_python(), "-m", "venv", str(PLOT_VENV))
        run.sh(str(py), "-m", "pip", "install", "-q", MATPLOTLIB)
    return py


def calibrate(
    cs: list[run.Contestant], points: list[Point], target_ms: float, min_reps: int
) -> dict[tuple[str, Point], int]:
    """Requests per (contestant, point) per round: ~target_ms of them, at least min_reps."""
    reps: dict[tuple[str, Point], int] = {}
    for c in cs:
        for messages, size in points:
            reply = c.ask(op="growth", messages=messages, state_bytes=size, n=2)
            ns = min(reply["ns"])
            reps[(c.label, (messages, size))] = int(min(5000, max(min_reps, target_ms * 1e6 / ns)))
    return reps


def measure(
    cs: list[run.Contestant], points: list[Point], reps: dict[tuple[str, Point], int], rounds: int
) -> dict[tuple[str, Point], list[float]]:
    """Median ns per request of each (contestant, point), one per round."""
    out: dict[tuple[str, Point], list[float]] = {}
    for r in range(rounds):
        for i, point in enumerate(points):
            k = (r + i) % len(cs)
            for c in cs[k:] + cs[:k]:
                messages, size = point
                n = reps[(c.label, point)]
                ns = c.ask(op="growth", messages=messages, state_bytes=size, n=n)["ns"]
                out.setdefault((c.label, point), []).append(statistics.median(ns))
        print(f"  round {r + 1}/{rounds}", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    return out


def fmt_us(ns: float) -> str:
    us = ns / 1000
    return f"{us:,.2f}" if us < 10 else f"{us:,.1f}" if us < 1000 else f"{us:,.0f}"


def fmt_bytes(n: int) -> str:
    return f"{n // (KIB * KIB)} MiB" if n >= KIB * KIB else f"{n // KIB} KiB"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke check, under a minute")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 7, quick 2)")
    parser.add_argument("--target-ms", type=float, help="time per point per round (default 150)")
    parser.add_argument("--out", type=Path, default=BENCH / "results-growth.md")
    parser.add_argument("--plots", type=Path, default=BENCH, help="folder for the PNGs")
    parser.add_argument("--no-plot", dest="plot", action="store_false", help="draw nothing")
    args = parser.parse_args()
    out_given = "--out" in sys.argv
    write = not args.quick or out_given
    args.rounds = args.rounds or (2 if args.quick else 7)
    args.target_ms = args.target_ms or (10.0 if args.quick else 150.0)
    min_reps = 2 if args.quick else 3
    batches = [1, 10, 100, 1000] if args.quick else [1, 10, 100, 1000, 10_000]
    sizes = [KIB, 100 * KIB] if args.quick else [KIB, 100 * KIB, KIB * KIB]
    state_messages = [1, 10]
    batch_points: list[Point] = [(b, None) for b in batches]
    state_points: list[Point] = [(m, s) for s in sizes for m in state_messages]
    points = batch_points + state_points

    started = time.monotonic()
    facts = run.machine()
    run.ensure_venvs(False)
    plot_py = ensure_plot_venv() if args.plot and write else None
    cs = contestants()
    request_bytes: dict[Point, int] = {}
    try:
        for c in cs:
            c.start()
        for c in cs:
            c.info = c.ask(op="info")
        print("building and checking every request, calibrating", file=sys.stderr)
        reps = calibrate(cs, points, args.target_ms, min_reps)
        for point in points:
            request_bytes[point] = cs[0].ask(
                op="growth", messages=point[0], state_bytes=point[1], n=1
            )["bytes"]
        print(f"measuring {args.rounds} rounds", file=sys.stderr)
        ns = measure(cs, points, reps, args.rounds)
    finally:
        for c in cs:
            c.stop()
    load_end = " ".join(f"{x:.2f}" for x in os.getloadavg())
    labels = [c.label for c in cs]

    def med(label: str, point: Point) -> float:
        return statistics.median(ns[(label, point)])

    def ratio(a: str, b: str, point: Point) -> analysis.Spread:
        return analysis.round_ratios(ns[(a, point)], ns[(b, point)])

    # Claims ---------------------------------------------------------------------------
    big = sizes[-1]
    ours_vs_floor = {b: ratio("ours", "floor", (b, None)).median for b in batches}
    linear = (
        {x: analysis.linear_claim({s: med(x, (1, s)) for s in sizes}) for x in labels}
        if len(sizes) >= 3
        else {}
    )
    ten_vs_one = {x: med(x, (10, big)) / med(x, (1, big)) for x in labels}
    verdicts = [
        analysis.batch_claim(ours_vs_floor, 1000, 2.0),
        analysis.like_floor_claim(
            {s: med("ours", (1, s)) for s in sizes}, {s: med("floor", (1, s)) for s in sizes}
        ),
        analysis.decode_once_claim(med("ours", (1, big)), med("ours", (10, big)), 10),
        *([linear["ours"]] if linear else []),
    ]

    lines: list[str] = []
    add = lines.append
    add("# Benchmark results: growth")
    add("")
    cmd = " ".join(["python bench/growth.py", *sys.argv[1:]])
    add(
        f"Date: {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}. Command: `{cmd}` "
        f"({args.rounds} interleaved rounds, ~{args.target_ms:g} ms per point per round, "
        f"{time.monotonic() - started:.0f} s in all)."
    )
    add("")
    add(
        f"Machine: {facts['nproc']} CPUs (`nproc`), {facts['cpu']}, Linux {facts['kernel']}; load "
        f"average {facts['loadavg']} at start, {load_end} at end (shared: read the ratios)."
    )
    add("")
    add("| contestant | what | Python | protobuf |")
    add("|---|---|---|---|")
    for c in cs:
        i = c.info
        add(
            f"| {c.label} | {c.about} | {i['python']} | {i.get('protobuf')} {i.get('protobuf_impl')} |"
        )
    add("")
    add(
        "Every request is CONTRACT.md's W2 function (`bench.fns/batch`, states counter, profile "
        "and label; per invocation `counter += delta`, the profile's n, last and total updated), "
        "built by bench/growth_payloads.py and its answer decoded and checked before timing. Times "
        "are medians of per-request `perf_counter_ns`, the median over rounds; ratios are medians "
        "of per-round ratios (range in brackets)."
    )
    add("")
    add("## Batch size (W2's ~210 B profile)")
    add("")
    add(
        "| invocations | request bytes | "
        + " | ".join(f"{x} µs/invocation" for x in labels)
        + " | ours ÷ floor | official ÷ ours |"
    )
    add("|---:|---:|" + "---:|" * (len(labels) + 2))
    for b in batches:
        p: Point = (b, None)
        add(
            f"| {b:,} | {request_bytes[p]:,} | "
            + " | ".join(fmt_us(med(x, p) / b) for x in labels)
            + f" | {ratio('ours', 'floor', p).text()} | {ratio('official', 'ours', p).text()} |"
        )
    add("")
    add("![cost per invocation by batch size](growth-batch.png)")
    add("")
    add("## JSON state size (one request)")
    add("")
    add(
        "| state | messages | request bytes | "
        + " | ".join(f"{x} µs/request" for x in labels)
        + " | ours ÷ floor | official ÷ ours |"
    )
    add("|---:|---:|---:|" + "---:|" * (len(labels) + 2))
    for s in sizes:
        for m in state_messages:
            p = (m, s)
            add(
                f"| {fmt_bytes(s)} | {m} | {request_bytes[p]:,} | "
                + " | ".join(fmt_us(med(x, p)) for x in labels)
                + f" | {ratio('ours', 'floor', p).text()} | {ratio('official', 'ours', p).text()} |"
            )
    add("")
    add("![cost per request by state size](growth-state.png)")
    add("")
    add("## The claims")
    add("")
    for v in verdicts:
        add(f"- {v.text()}.")
    if linear:
        add(
            "- The last is strict linearity (the same cost per added byte at every size), which "
            "bare JSON itself does not keep on this machine: the floor's figures follow."
        )
    else:
        add("- Strict linearity in state size is not judged: it needs three sizes (a full run).")
    for x in labels:
        add(
            f"- {x}: "
            + (f"{linear[x].detail}; " if linear else "")
            + f"10 messages on {fmt_bytes(big)} cost {ten_vs_one[x]:.2f}× one."
        )
    add("")
    text = "\n".join(lines)
    sys.stdout.write(text + "\n")
    if not write:
        return
    args.out.write_text(text)
    print(f"wrote {args.out}", file=sys.stderr)
    if plot_py is not None:
        caption = (
            f"python bench/growth.py, {dt.date.today().isoformat()}, {facts['cpu']}, "
            f"medians of {args.rounds} interleaved rounds"
        )
        data: dict[str, Any] = {
            "caption": caption,
            "batch": {x: {str(b): med(x, (b, None)) / b / 1000 for b in batches} for x in labels},
            "state": {
                x: {str(m): {str(s): med(x, (m, s)) / 1000 for s in sizes} for m in state_messages}
                for x in labels
            },
        }
        with tempfile.TemporaryDirectory(prefix="statefun-growth-") as tmp:
            path = Path(tmp) / "growth.json"
            path.write_text(json.dumps(data))
            subprocess.run(
                [str(plot_py), str(BENCH / "plot.py"), str(path), str(args.plots)], check=True
            )
        print(f"wrote {args.plots / 'growth-batch.png'}, {args.plots / 'growth-state.png'}")


if __name__ == "__main__":
    main()
