"""Instructions per request, counted by callgrind: ours against the floor, unmoved by load.

    .venv/bin/python bench/instructions.py             # every workload, ours and floor
    .venv/bin/python bench/instructions.py w2_batch    # one workload

Wall-clock ratios on a shared 2-core machine move with whatever else runs;
instruction counts do not (valgrind counts the same total for the same binary,
inputs and environment). Each contestant runs each workload twice under
``valgrind --tool=callgrind``, with ``n`` and ``2 n`` requests; the difference
divided by ``n`` is the cost of one request, start-up and warm-up cancelled out.
Instructions are not time (a cache miss costs more than an add), so this
complements bench/run.py rather than replacing it: use it to see whether a
change to the SDK made a request cheaper, whatever the machine was doing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKLOADS = ("w1_greeter", "w2_batch", "w3_fanout", "w4_cold")
CONTESTANTS = ("impl_ours", "impl_floor")
# Enough requests that a request's instructions dwarf the noise of the loop itself;
# W2 is a hundred invocations a request.
REQUESTS = {"w1_greeter": 400, "w2_batch": 20, "w3_fanout": 200, "w4_cold": 800}

_CHILD = """
import sys
sys.path.insert(0, {here!r})
import contract, worker
module = __import__({contestant!r})
call = module.setup(worker.drive)
body = contract.load_payloads()[{workload!r}]
for _ in range(50):  # warm caches of the SDK (incomplete answers, typename splits)
    call(body)
for _ in range({n}):
    call(body)
"""

_COLLECTED = re.compile(r"Collected : (\d+)")


def instructions(contestant: str, workload: str, n: int) -> int:
    """Instructions of a whole run of ``n`` requests, start-up included."""
    code = _CHILD.format(here=str(HERE), contestant=contestant, workload=workload, n=n)
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={folder}/out",
                sys.executable,
                "-c",
                code,
            ],
            capture_output=True,
            text=True,
            check=False,
            # String hashes decide dict layouts, and so instruction counts: fix them.
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
    match = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or match is None:
        raise SystemExit(f"callgrind failed for {contestant} {workload}:\n{done.stderr[-2000:]}")
    return int(match.group(1))


def per_request(contestant: str, workload: str) -> float:
    n = REQUESTS[workload]
    return (instructions(contestant, workload, 2 * n) - instructions(contestant, workload, n)) / n


def main(argv: list[str]) -> int:
    workloads = argv or list(WORKLOADS)
    print("| workload | ours instructions/request | floor | ours × floor |")
    print("|---|---:|---:|---:|")
    for workload in workloads:
        ours, floor = (per_request(c, workload) for c in CONTESTANTS)
        print(f"| {workload} | {ours:,.0f} | {floor:,.0f} | {ours / floor:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
