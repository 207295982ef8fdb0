"""What Metrics and Tracing add to a request, in process: µs per request, with and without.

    .venv/bin/python bench/middleware_cost.py            # prints Markdown
    .venv/bin/python bench/middleware_cost.py --out bench/results-middleware.md

The same four contract payloads as bench/run.py, through ``Handler.handle_sync``
with no middleware, with ``Metrics`` (a private registry) and with ``Tracing``
(an SDK TracerProvider without exporter: every span made, recorded and ended;
and sampling one trace in ten, the rest made but not recorded).
Configurations take turns, round after round; each figure is the fastest round
(the least disturbed by other work on the machine), and the added µs are what
each option adds to every request over HTTP too, whatever HTTP costs besides.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import impl_ours  # noqa: E402
from contract import WORKLOADS, load_payloads  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased  # noqa: E402
from prometheus_client import CollectorRegistry  # noqa: E402

from statefun import Handler  # noqa: E402
from statefun.metrics import Metrics  # noqa: E402
from statefun.tracing import Tracing  # noqa: E402


def handlers() -> dict[str, Callable[[bytes], bytes]]:
    return {
        "plain": Handler(impl_ours.registry()).handle_sync,
        "metrics": Handler(
            impl_ours.registry(), middleware=[Metrics(CollectorRegistry())]
        ).handle_sync,
        "tracing": Handler(
            impl_ours.registry(), middleware=[Tracing(TracerProvider())]
        ).handle_sync,
        # What OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.1 sets up.
        "tracing 1/10": Handler(
            impl_ours.registry(),
            middleware=[Tracing(TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.1))))],
        ).handle_sync,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--seconds", type=float, default=0.2, help="per round and configuration")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    payloads = load_payloads()
    configs = handlers()
    best: dict[tuple[str, str], float] = {}
    for w in WORKLOADS:
        body = payloads[w]
        for handle in configs.values():
            handle(body)
        # Enough requests per round for about `seconds` of the slowest configuration.
        start = time.perf_counter()
        configs["tracing"](body)
        n = max(10, int(args.seconds / max(time.perf_counter() - start, 1e-6)))
        for r in range(args.rounds):
            order = list(configs.items())
            for name, handle in order if r % 2 == 0 else order[::-1]:
                start = time.perf_counter()
                for _ in range(n):
                    handle(body)
                us = (time.perf_counter() - start) / n * 1e6
                best[w, name] = min(best.get((w, name), us), us)
    rows = [
        "# Middleware cost, in process",
        "",
        f"Command: `python bench/middleware_cost.py {' '.join(sys.argv[1:])}`. Fastest of"
        f" {args.rounds} interleaved rounds, µs per request through `Handler.handle_sync`.",
        "",
        "| workload | plain µs | Metrics µs (adds) | Tracing µs (adds) | Tracing, 1 trace in 10 |",
        "|---|---:|---:|---:|---:|",
    ]
    for w in WORKLOADS:
        plain = best[w, "plain"]
        cells = [f"{best[w, c]:.1f} ({best[w, c] - plain:+.1f})" for c in list(configs)[1:]]
        rows.append(f"| {w} | {plain:.1f} | " + " | ".join(cells) + " |")
    text = "\n".join(rows) + "\n"
    sys.stdout.write(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
