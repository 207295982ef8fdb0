"""Differential test (issue 4): the greeter gets the same Kafka records through the local
runtime (``statefun.local.run_module``) and through Flink StateFun, and both must write the
same egress records: the same multiset of (topic, key, value) and the same order per key (one
partition, one id per name, so per-key order is defined). The timeouts example has its own
differential test in ``test_timeouts.py``, where it shares that module's job.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable

import pytest

from examples.greeter.functions import functions as greeter_functions
from statefun import KafkaRecord
from statefun.local import IngressRecord, run_module

from . import harness
from .conftest import FunctionServerFactory, StatefunJobFactory
from .test_greeter import GREETER_DIR, SERVE, TOPICS

pytestmark = pytest.mark.e2e

Row = tuple[str, str, str]  # topic, key, value


def by_key(rows: Iterable[Row]) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = {}
    for row in rows:
        out.setdefault(row[1], []).append(row)
    return out


def inputs(seed: int = 3, count: int = 40) -> list[tuple[str, str]]:
    """A fixed, shuffled stream of visits; names with unicode and spaces, one never repeated."""
    rng = random.Random(seed)
    names = ["Ana", "Bo", "Zoë", "Jean Luc", "李"]
    stream = [rng.choice(names) for _ in range(count - 1)] + ["Once"]
    rng.shuffle(stream)
    return [(name, json.dumps({"name": name})) for name in stream]


@pytest.mark.e2e_timeout(180)
def test_local_runtime_and_flink_write_the_same_greetings(
    kafka: harness.KafkaBroker,
    function_server: FunctionServerFactory,
    statefun_job: StatefunJobFactory,
) -> None:
    records = inputs()
    local = run_module(
        GREETER_DIR / "module.yaml",
        [IngressRecord("names", k, v) for k, v in records],
        functions=greeter_functions,
    )
    expected: list[Row] = []
    for r in local:
        assert isinstance(r, KafkaRecord) and r.key is not None, r
        expected.append((r.topic, r.key, r.value.decode()))
    assert len(expected) == len(records)

    kafka.reset_topics(TOPICS)
    function_server(SERVE)
    job = statefun_job(GREETER_DIR)
    kafka.produce("names", records)
    got = kafka.consume("greetings", count=len(records), timeout=90, settle=3)
    job.check_alive()
    real: list[Row] = [("greetings", (k or b"").decode(), v.decode()) for k, v in got]

    assert Counter(real) == Counter(expected), f"flink {real}\nlocal {expected}"
    assert by_key(real) == by_key(expected)
