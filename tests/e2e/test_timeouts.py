"""Delayed messages and cancellation through the real runtime (issue 3, test 3), and the
timeouts example through the local runtime and Flink side by side (issue 4).

Both use ``examples/timeouts`` as shipped: its ``module.yaml`` (``timeouts-in`` ->
``example/timeouts`` -> egress ``example/timeouts-out`` on ``timeouts-out``) and its functions,
served by ``statefun serve``. One StateFun job serves the whole module; each test uses its own
job ids (Kafka keys) and reads only its own keys from ``timeouts-out``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterable

import pytest

from examples.timeouts.functions import functions as timeouts_functions
from statefun import KafkaRecord
from statefun.local import IngressRecord, run_module

from . import harness
from .conftest import FunctionServerFactory, StatefunJobFactory

pytestmark = pytest.mark.e2e

MODULE = harness.REPO_ROOT / "examples" / "timeouts"
SERVE = harness.serve_argv("examples.timeouts.functions:functions")
IN, OUT = "timeouts-in", "timeouts-out"


@pytest.fixture(scope="module")
def timeouts_job(
    kafka: harness.KafkaBroker,
    module_function_server: FunctionServerFactory,
    module_statefun_job: StatefunJobFactory,
) -> harness.StatefunJob:
    kafka.reset_topics([IN, OUT])
    module_function_server(SERVE)
    return module_statefun_job(MODULE)


def command(action: str, token: str, delay_ms: int = 1000, text: str = "") -> str:
    return json.dumps({"action": action, "token": token, "delay_ms": delay_ms, "text": text})


def new_id(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


@pytest.mark.e2e_timeout(120)
def test_only_the_uncancelled_reminder_fires_after_its_delay(
    kafka: harness.KafkaBroker, timeouts_job: harness.StatefunJob
) -> None:
    job_id = new_id("timer")
    cancelled_ms, fired_ms = 2000, 3000  # the cancelled one would fire first
    produced_at = time.time()
    kafka.produce(
        IN,
        [
            (job_id, command("start", "a", cancelled_ms, "cancelled")),
            (job_id, command("cancel", "a")),
            (job_id, command("start", "b", fired_ms, "fired")),
        ],
    )

    def mine(recs: Iterable[harness.Received]) -> list[harness.Received]:
        return [r for r in recs if r.key == job_id.encode()]

    # settle past the point where "a" would have fired (it is due 1 s before "b")
    got = mine(kafka.consume_records(OUT, lambda recs: bool(mine(recs)), timeout=60, settle=3))

    timeouts_job.check_alive()
    assert [json.loads(r.value) for r in got] == [
        {"token": "b", "text": "fired", "delay_ms": fired_ms}
    ], got
    (record,) = got
    by_timestamp = record.timestamp - produced_at
    by_arrival = record.arrived - produced_at
    harness.log(
        f"reminder b ({fired_ms} ms): Kafka timestamp +{by_timestamp:.3f}s, arrival +{by_arrival:.3f}s"
    )
    assert fired_ms / 1000 <= by_timestamp < fired_ms / 1000 + 15, (
        f"record written {by_timestamp:.3f}s after"
    )
    assert fired_ms / 1000 <= by_arrival < fired_ms / 1000 + 15, (
        f"record arrived {by_arrival:.3f}s after"
    )


def by_key(records: Iterable[tuple[str, str, str]]) -> dict[str, list[tuple[str, str, str]]]:
    out: dict[str, list[tuple[str, str, str]]] = {}
    for r in records:
        out.setdefault(r[1], []).append(r)
    return out


@pytest.mark.e2e_timeout(120)
def test_local_runtime_and_flink_give_the_same_reminders(
    kafka: harness.KafkaBroker, timeouts_job: harness.StatefunJob
) -> None:
    """Differential: the same commands through ``statefun.local.run_module`` (virtual clock)
    and through Flink (wall clock) give the same records: same multiset, same order per key.
    Delays differ by at least 500 ms, so the wall-clock order is the virtual one."""
    one, two, three = new_id("diff"), new_id("diff"), new_id("diff")
    inputs = [
        (one, command("start", "x", 1500, "x")),
        (one, command("start", "y", 3000, "y")),
        (two, command("start", "p", 1000, "p")),
        (one, command("cancel", "x")),
        (two, command("start", "p", 500, "ignored: p is pending")),
        (three, command("start", "a", 2500, "first a")),
        (one, command("start", "z", 500, "z")),
        (two, command("cancel", "nothing-pending")),
        (three, command("cancel", "a")),
        (three, command("start", "a", 1000, "second a: the token is free again")),
    ]
    local = run_module(
        MODULE / "module.yaml",
        [IngressRecord(IN, k, v) for k, v in inputs],
        functions=timeouts_functions,
    )
    expected: list[tuple[str, str, str]] = []
    for r in local:
        assert isinstance(r, KafkaRecord), r
        assert r.key is not None
        expected.append((r.topic, r.key, r.value.decode()))
    assert len(expected) == 4, f"the local runtime's answer changed: {expected}"

    kafka.produce(IN, inputs)
    ids = {one.encode(), two.encode(), three.encode()}

    def mine(recs: Iterable[harness.Received]) -> list[harness.Received]:
        return [r for r in recs if r.key in ids]

    got = mine(
        kafka.consume_records(
            OUT, lambda recs: len(mine(recs)) >= len(expected), timeout=60, settle=3
        )
    )
    timeouts_job.check_alive()
    real = [(OUT, (r.key or b"").decode(), r.value.decode()) for r in got]
    assert Counter(real) == Counter(expected), f"flink {real}\nlocal {expected}"
    assert by_key(real) == by_key(expected)
