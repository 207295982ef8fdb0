"""The greeter example end to end: our SDK's ``statefun serve`` behind the real StateFun 3.3.0
runtime (Flink 1.16.2 MiniCluster) with Kafka, using the repo's ``examples/greeter/module.yaml``.

Contract: a record on ``names`` (key = name, value = JSON ``{"name": ...}``) reaches
``example/person`` (id = key), which counts visits and sends ``{"name", "visits"}`` to
``example/greeter``; the greeter writes ``Hello <name>! You have been seen <n> times.`` to
``greetings`` with key = name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import pytest

from . import harness
from .conftest import FunctionServerFactory, StatefunJobFactory

pytestmark = pytest.mark.e2e

GREETER_DIR = harness.REPO_ROOT / "examples" / "greeter"
SERVE = harness.serve_argv("examples.greeter.functions:functions")
NAMES = ["Ana", "Bo", "Cy"]
TOPICS = ["names", "greetings"]


def greet_records(names: Iterable[str], rounds: int = 1) -> list[tuple[str, str]]:
    """``rounds`` visits of every name, interleaved (Ana, Bo, Cy, Ana, ...)."""
    return [(n, json.dumps({"name": n})) for _ in range(rounds) for n in names]


def greetings_by_name(records: Iterable[tuple[bytes | None, bytes]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in records:
        assert key is not None, f"greeting without a key: {value!r}"
        out.setdefault(key.decode("utf-8"), []).append(value.decode("utf-8"))
    return out


def expected(names: Iterable[str], first: int, last: int) -> dict[str, list[str]]:
    return {
        n: [f"Hello {n}! You have been seen {v} times." for v in range(first, last + 1)]
        for n in names
    }


Greeter = tuple[harness.KafkaBroker, harness.FunctionServer, harness.StatefunJob]


@pytest.fixture
def greeter(
    kafka: harness.KafkaBroker,
    function_server: FunctionServerFactory,
    statefun_job: StatefunJobFactory,
) -> Greeter:
    """Fresh topics, our SDK serving the greeter, and the StateFun job with the example module."""
    assert (GREETER_DIR / "module.yaml").is_file(), f"missing {GREETER_DIR / 'module.yaml'}"
    kafka.reset_topics(TOPICS)
    fn = function_server(SERVE)
    job = statefun_job(GREETER_DIR)
    return kafka, fn, job


@pytest.mark.e2e_timeout(180)
def test_every_visit_is_greeted_in_order(greeter: Greeter) -> None:
    kafka, _, job = greeter
    kafka.produce("names", greet_records(NAMES, rounds=3))

    got = kafka.consume("greetings", count=9, timeout=90, settle=3)

    job.check_alive()
    assert greetings_by_name(got) == expected(NAMES, 1, 3), f"got {got!r}"


@pytest.mark.e2e_timeout(240)
def test_function_server_crash_is_retried(greeter: Greeter) -> None:
    kafka, fn, job = greeter
    kafka.produce("names", greet_records(NAMES, rounds=1))
    assert greetings_by_name(kafka.consume("greetings", 3, timeout=90)) == expected(NAMES, 1, 1)

    fn.kill()  # SIGKILL: the runtime's calls now fail and are retried
    since = job.log_offset()
    kafka.produce("names", greet_records(NAMES, rounds=2))
    job.wait_for_log("Connection refused", timeout=60, since=since)  # a call really failed
    fn.start()

    got = kafka.consume("greetings", count=9, timeout=120, settle=3)
    job.check_alive()
    # state lives in the runtime: the crash loses no visit and greets none twice
    assert greetings_by_name(got) == expected(NAMES, 1, 3), f"got {got!r}"


@pytest.mark.e2e_timeout(300)
def test_state_survives_savepoint_and_restore(
    greeter: Greeter, statefun_job: StatefunJobFactory
) -> None:
    kafka, _, job = greeter
    kafka.produce("names", greet_records(NAMES, rounds=2))
    assert greetings_by_name(kafka.consume("greetings", 6, timeout=90)) == expected(NAMES, 1, 2)

    savepoint = job.cancel_with_savepoint()
    kafka.produce("names", greet_records(NAMES, rounds=1))  # arrives while no job runs
    statefun_job(GREETER_DIR, savepoint=savepoint)

    got = kafka.consume("greetings", count=9, timeout=120, settle=3)
    assert greetings_by_name(got) == expected(NAMES, 1, 3), f"got {got!r}"
