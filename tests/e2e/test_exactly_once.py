"""Exactly-once greetings across a function-server crash (issue 3, test 2).

The greeter functions (``examples/greeter/functions.py``, unchanged) behind the real runtime
with ``tests/e2e/apps/greeter_exactly_once/module.yaml``: the same module as the example but
with ``deliverySemantic: exactly-once`` (one Kafka transaction per checkpoint) and a 5 s call
timeout.

The crash is made to matter. With checkpoints every 15 s:

1. round 1 is greeted and committed by checkpoint C1;
2. right after C1, round 2 is greeted: its greetings sit in the open transaction (visible to a
   ``read_uncommitted`` reader, not yet to ``read_committed``);
3. the function server is SIGKILLed and round 3 is produced; the runtime's calls fail, the call
   timeout (5 s) expires long before the next checkpoint, the job fails over to C1: the open
   transaction is aborted, the ingress rewinds to C1's offsets and the person states to C1's
   visit counts;
4. the function server is restarted; rounds 2 and 3 are processed again.

A ``read_committed`` consumer must then see every greeting of rounds 1-3 exactly once, in
order per name; a ``read_uncommitted`` one sees round 2 twice (the aborted copy too), which
shows the replay really happened and at-least-once would have duplicated it.
"""

from __future__ import annotations

import collections
import re
import time

import pytest

from . import harness
from .conftest import FunctionServerFactory, StatefunJobFactory
from .test_greeter import SERVE, expected, greet_records, greetings_by_name

pytestmark = pytest.mark.e2e

MODULE = harness.HERE / "apps" / "greeter_exactly_once"
NAMES = ["Eva", "Finn", "Gus", "Hal"]
TOPICS = ["names", "greetings"]
CHECKPOINT_INTERVAL = "15s"  # long enough that the failover (5 s call timeout) comes first


@pytest.mark.e2e_timeout(240)
def test_every_greeting_exactly_once_across_a_crash(
    kafka: harness.KafkaBroker,
    function_server: FunctionServerFactory,
    statefun_job: StatefunJobFactory,
) -> None:
    kafka.reset_topics(TOPICS)
    fn = function_server(SERVE)
    job = statefun_job(MODULE, checkpoint_interval=CHECKPOINT_INTERVAL)
    n = len(NAMES)

    # 1. round 1, committed by a checkpoint
    kafka.produce("names", greet_records(NAMES, rounds=1))
    assert len(kafka.consume("greetings", n, timeout=60)) == n, "round 1 was never committed"

    # 2. round 2 right after a checkpoint: greeted, but only in the open transaction
    job.wait_for_checkpoint(timeout=60)
    c1 = int(job.checkpoints()["latest"]["completed"]["id"])
    kafka.produce("names", greet_records(NAMES, rounds=1))
    uncommitted = kafka.consume("greetings", 2 * n, timeout=30, read_committed=False)
    assert len(uncommitted) == 2 * n, f"round 2 was not greeted before the crash: {uncommitted!r}"

    # 3. crash the function server mid-stream; round 3 arrives while it is down
    since = job.log_offset()
    fn.kill()
    kafka.produce("names", greet_records(NAMES, rounds=1))
    job.wait_for_log("Connection refused", timeout=30, since=since)
    job.wait_for_log("switched from state RUNNING to RESTARTING", timeout=30, since=since)
    restored = job.wait_for_log("Restoring job", timeout=30, since=since)
    match = re.search(r"from Checkpoint (\d+) ", restored)
    assert match and int(match.group(1)) == c1, (
        f"expected a restore from checkpoint {c1}: {restored}"
    )

    # 4. the function server comes back; the restored job re-sends rounds 2 and 3
    t0 = time.monotonic()
    fn.start()
    got = kafka.consume("greetings", count=3 * n, timeout=90, settle=3)
    harness.log(
        f"all {len(got)} committed greetings {time.monotonic() - t0:.1f}s after the restart"
    )
    job.check_alive()

    assert greetings_by_name(got) == expected(NAMES, 1, 3), f"got {got!r}"
    counts = collections.Counter(got)
    assert all(c == 1 for c in counts.values()), (
        f"duplicates: {[r for r, c in counts.items() if c > 1]}"
    )

    # the aborted transaction really held round 2: a read_uncommitted reader sees it twice
    raw = kafka.consume("greetings", count=4 * n, timeout=10, read_committed=False)
    raw_counts = collections.Counter(raw)
    replayed = sorted(v.decode() for (_, v), c in raw_counts.items() if c > 1)
    assert replayed == sorted(g for gs in expected(NAMES, 2, 2).values() for g in gs), (
        f"expected exactly round 2 in the aborted transaction as well, read_uncommitted gave {raw!r}"
    )
