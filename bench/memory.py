"""Memory benchmark: resident size over a million W1 requests, and W2's memory per request.

    python bench/memory.py            # full run (~4 min), writes bench/results-memory.md
    python bench/memory.py --quick    # smoke check (<1 min), writes nothing unless --out

1. ``statefun serve`` (bench/http_server.py's ``ours``: the CLI, its defaults) on
   127.0.0.1, pinned to one core, takes 1,000,000 W1 requests (100,000 with
   --quick) from wrk in bounded chunks: each chunk's Lua script stops wrk's
   thread once it has counted its share of answers (and ``-d`` bounds its time).
   VmRSS is read from /proc after every chunk. The claim: flat, the largest
   sample after the first chunk (the warm-up) within 10 % of that chunk's.
2. W2 memory per request, in process (bench/worker.py's ``mem`` op): the
   tracemalloc peak of one request after warm-up, for ours, the floor and the
   official SDK, and ru_maxrss growth over a loop of requests. The claim: ours
   within 2× the floor. tracemalloc sees the Python heap only; upb's arenas are
   malloc'd outside it, for ours and the floor alike (same venv, same protobuf).

Standard library only: run it with any Python 3.10+.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import TypedDict, cast

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import analysis  # noqa: E402
import run  # noqa: E402
import run_http  # noqa: E402
from contract import payload_dir  # noqa: E402


def rss_run(
    total: int, chunk: int, connections: int, server_cpu: int | None, wrk_cpu: int | None
) -> tuple[list[tuple[int, int]], int, float]:
    """Serve ``total`` W1 requests in chunks; (requests so far, VmRSS KiB) after each."""
    [server] = run_http.servers(["ours"])
    tmp = Path(tempfile.mkdtemp(prefix="statefun-memory-"))
    body = (payload_dir() / "w1_greeter.bin").resolve()
    script = tmp / "w1.lua"
    script.write_text(run_http.wrk_script(body, limit=chunk))
    samples: list[tuple[int, int]] = []
    started = time.monotonic()
    try:
        server.start(server_cpu, tmp)
        run_http.verify(server)
        print(f"verified {server.label} at {server.url} (pid {server.pid})", file=sys.stderr)
        served = 0
        samples.append((0, run_http.vmrss_kib(server.pid)))
        for _ in range(2 * (total // chunk) + 2):  # bounded, even if chunks come up short
            if served >= total:
                break
            p = run_http.wrk(server.url, script, connections, 300, 1, wrk_cpu)
            served += p["requests"]
            samples.append((served, run_http.vmrss_kib(server.pid)))
            print(
                f"  {served:>9,} requests: VmRSS {samples[-1][1] / 1024:.1f} MiB "
                f"({p['rps']:,.0f} req/s)",
                file=sys.stderr,
            )
        hwm = _vmhwm_kib(server.pid)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return samples, hwm, time.monotonic() - started


def _vmhwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


class Memory(TypedDict):
    """worker.py's ``mem`` answer for one contestant."""

    tracemalloc_peak: int
    arena_bytes: int | None  # None where protobuf is pure Python: no arenas
    rss_delta_kib: int


def w2_memory(loop: int) -> dict[str, Memory]:
    cs = [
        run.Contestant("ours", run.OURS_PY, "impl_ours", "floor", "this SDK"),
        run.Contestant("floor", run.OURS_PY, "impl_floor", "floor", "bare protobuf + msgspec"),
        run.Contestant(
            "official",
            run.venv_python(run.OFFICIAL_VENV),
            "impl_official",
            "official",
            "apache-flink-statefun 3.3.0 as pip installs it",
        ),
    ]
    out: dict[str, Memory] = {}
    try:
        for c in cs:
            c.start()
        for c in cs:
            c.ask(op="verify")
            out[c.label] = cast(Memory, c.ask(op="mem", w="w2_batch", loop=loop, reps=7))
    finally:
        for c in cs:
            c.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke check, under a minute")
    parser.add_argument(
        "--requests", type=int, help="W1 requests (default 1,000,000; quick 100,000)"
    )
    parser.add_argument("--chunks", type=int, default=20, help="RSS samples (default 20)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="pin nothing")
    parser.add_argument("--out", type=Path, default=BENCH / "results-memory.md")
    args = parser.parse_args()
    out_given = "--out" in sys.argv
    total = args.requests or (100_000 if args.quick else 1_000_000)
    chunk = max(1, total // args.chunks)
    loop = 300 if args.quick else 3000
    server_cpu = (os.cpu_count() or 1) - 1 if args.pin else None
    wrk_cpu = 0 if args.pin else None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the server
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    started = time.monotonic()
    facts = run.machine()
    run.ensure_venvs(False)

    samples, hwm, rss_seconds = rss_run(total, chunk, args.connections, server_cpu, wrk_cpu)
    flat = analysis.flatness(samples, chunk)
    rss_verdict = analysis.Verdict(
        f"VmRSS flat within 10 % over {samples[-1][0]:,} W1 requests through `statefun serve`",
        flat.within(0.10),
        f"{flat.baseline_kib / 1024:.1f} MiB after the first {chunk:,}, at most "
        f"{flat.highest_kib / 1024:.1f} MiB after ({flat.growth:+.1%}), "
        f"{flat.last_kib / 1024:.1f} MiB at the end",
    )
    print("W2 memory per request", file=sys.stderr)
    mem = w2_memory(loop)
    total = {label: m["tracemalloc_peak"] + (m["arena_bytes"] or 0) for label, m in mem.items()}
    mem_verdict = analysis.mem_claim(total["ours"], total["floor"])
    heap_ratio = mem["ours"]["tracemalloc_peak"] / mem["floor"]["tracemalloc_peak"]

    lines: list[str] = []
    add = lines.append
    add("# Benchmark results: memory")
    add("")
    cmd = " ".join(["python bench/memory.py", *sys.argv[1:]])
    add(
        f"Date: {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}. Command: `{cmd}` "
        f"({time.monotonic() - started:.0f} s in all)."
    )
    add("")
    add(
        f"Machine: {facts['nproc']} CPUs (`nproc`), {facts['cpu']}, Linux {facts['kernel']}; load "
        f"average {facts['loadavg']} at start; "
        + (
            f"the server pinned to CPU {server_cpu}, wrk to CPU {wrk_cpu}."
            if args.pin
            else "nothing pinned."
        )
    )
    add("")
    add(f"## Resident size over {samples[-1][0]:,} W1 requests")
    add("")
    add(
        f"`statefun serve app_ours:functions` with the CLI's defaults (no access log), "
        f"wrk `-t1 -c{args.connections}` in {len(samples) - 1} chunks of ~{chunk:,} requests "
        f"(each stopped by its Lua script at its count; {rss_seconds:.0f} s), VmRSS from "
        f"`/proc/PID/status` after each chunk; VmHWM (the peak) {hwm / 1024:.1f} MiB at the end."
    )
    add("")
    add("| requests served | VmRSS MiB |")
    add("|---:|---:|")
    for n, kib in samples:
        add(f"| {n:,} | {kib / 1024:.1f} |")
    add("")
    add(f"**{rss_verdict.text()}.**")
    add("")
    add("## W2 memory per request (in process)")
    add("")
    add(
        "The Python heap's peak during one W2 request (100 invocations; tracemalloc, after 20 "
        "warm-up requests, the least of 7), plus what upb protobuf mallocs outside that heap for "
        "the request and its answer (the arenas of one parsed ToFunction and one FromFunction, "
        "held 200 times and counted by glibc's `mallinfo2`; ours and the floor parse the same "
        "request and answer the same bytes, so their arenas match; the official SDK's pure-Python "
        f"protobuf keeps everything on the Python heap). ru_maxrss growth over {loop:,} more "
        "requests shows nothing is kept."
    )
    add("")
    add(
        "| contestant | Python heap peak | upb arenas | per request | "
        f"RSS growth over {loop:,} requests |"
    )
    add("|---|---:|---:|---:|---:|")
    for label, m in mem.items():
        arena = m["arena_bytes"]
        add(
            f"| {label} | {m['tracemalloc_peak'] / 1024:,.1f} KiB | "
            + (f"{arena / 1024:,.1f} KiB" if arena is not None else "none (pure Python)")
            + f" | {total[label] / 1024:,.1f} KiB | {m['rss_delta_kib']:,} KiB |"
        )
    add("")
    add(
        f"**{mem_verdict.text()}** on the whole (heap and arenas); on the Python heap alone ours "
        f"takes {heap_ratio:.2f}× the floor's: the State, Message and Result values a batch builds, "
        "which the floor does without."
    )
    add("")
    text = "\n".join(lines)
    sys.stdout.write(text + "\n")
    if not args.quick or out_given:
        args.out.write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
