"""``python -m tests.e2e.harness fetch|up``, the command line ``scripts/e2e`` calls.

``up`` picks free ports, so it says which: once everything runs it prints one JSON line on
stdout (``kafka``, ``kafka_controller``, ``flink_rest``, ``function``, ``run``) and writes the
same object to ``ports.json`` in the run folder; the log lines go to stderr.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from collections.abc import Callable

from .common import HOST, log
from .fetch import fetch_runtime
from .function_server import PORT_ARG, FunctionServer
from .kafka_broker import KafkaBroker
from .processes import RunDir, run_until_signalled
from .statefun_job import StatefunJob


def _main(argv: list[str]) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m tests.e2e.harness")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("fetch", help="fetch the runtime jars into the cache (no-op when warm)")
    up = sub.add_parser("up", help="run Kafka + the StateFun job until Ctrl-C")
    up.add_argument("module_dir", help="folder containing module.yaml")
    up.add_argument("--topics", default="", help="comma-separated topics to create first")
    up.add_argument(
        "--function",
        default=None,
        help=f"function server command line (shell-split); {PORT_ARG} in it becomes the port "
        "module.yaml points at, and `--port PORT` is appended when it has none",
    )
    args = ap.parse_args(argv)

    t0 = time.monotonic()
    rt = fetch_runtime()
    log(
        f"runtime at {rt.root} (statefun {rt.statefun_variant}, kafka {rt.kafka_version}), "
        f"{time.monotonic() - t0:.1f}s"
    )
    if args.cmd == "fetch":
        print(rt.root)
        return 0

    run = RunDir()

    def start() -> Callable[[], None]:
        kafka = KafkaBroker(rt, run).start()
        if args.topics:
            kafka.create_topics([t for t in args.topics.split(",") if t])
        if args.function:
            fn_argv = shlex.split(args.function)
            if not any(PORT_ARG in a for a in fn_argv):
                fn_argv += ["--port", PORT_ARG]
            FunctionServer(run, fn_argv).start()
        job = StatefunJob(rt, run, args.module_dir).start()
        ports = {
            "kafka": kafka.bootstrap,
            "kafka_controller": f"{HOST}:{kafka.controller_port}",
            "flink_rest": job.rest,
            "function": f"{HOST}:{run.ports.function}",
            "run": str(run.path),
        }
        (run.path / "ports.json").write_text(json.dumps(ports, indent=2) + "\n")
        log(
            f"up: Kafka {kafka.bootstrap}, Flink REST {job.rest}, function port "
            f"{run.ports.function}, logs in {run.path}; Ctrl-C to stop"
        )
        print(json.dumps(ports), flush=True)
        return job.check_alive

    return run_until_signalled(run, start)


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
