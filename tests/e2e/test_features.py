"""State expiry (issue 3, test 4) and every serde (test 5) through the real runtime.

One StateFun job serves ``tests/e2e/apps/features`` for the whole module; every test uses its
own ids (Kafka keys) and reads only those from the output topics.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp

from statefun import Address, Type
from statefun.local import LocalRuntime

from . import harness
from .apps.features.functions import (
    ECHO_OUT,
    ECHO_TYPES,
    TTL,
    TTL_COMMAND,
    TTL_OUT,
    TTL_REPORT,
    WRITTEN,
    Sample,
    TtlCommand,
    TtlReport,
)
from .apps.features.functions import functions as features_functions
from .conftest import FunctionServerFactory, StatefunJobFactory

pytestmark = pytest.mark.e2e

MODULE = harness.HERE / "apps" / "features"
SERVE = harness.serve_argv("tests.e2e.apps.features.functions:functions")
IN_TOPICS = ["e2e-ttl-in"] + [f"e2e-{kind}-in" for kind in ECHO_TYPES]


@pytest.fixture(scope="module")
def features_job(
    kafka: harness.KafkaBroker,
    module_function_server: FunctionServerFactory,
    module_statefun_job: StatefunJobFactory,
) -> harness.StatefunJob:
    kafka.reset_topics(IN_TOPICS + [TTL_OUT, ECHO_OUT])
    module_function_server(SERVE)
    return module_statefun_job(MODULE)


def new_id(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


# --------------------------------------------------------------------------------------
# State expiry
# --------------------------------------------------------------------------------------


class TtlClient:
    """Sends commands to one ``e2e/ttl`` address and waits for each report."""

    def __init__(self, kafka: harness.KafkaBroker, job: harness.StatefunJob, key: str):
        self.kafka, self.job, self.key, self.seq = kafka, job, key, 0

    def send(self, op: str, value: str = "") -> tuple[TtlReport, float]:
        """The report and when it arrived (time.time())."""
        self.seq += 1
        seq = self.seq
        command = TtlCommand("set" if op == "set" else "get", seq, value)
        self.kafka.produce("e2e-ttl-in", [(self.key, TTL_COMMAND.encode(command))])

        def report(recs: list[harness.Received]) -> harness.Received | None:
            for r in recs:
                if r.key == self.key.encode() and TTL_REPORT.decode(r.value).seq == seq:
                    return r
            return None

        recs = self.kafka.consume_records(
            TTL_OUT, lambda recs: report(recs) is not None, timeout=30
        )
        self.job.check_alive()
        found = report(recs)
        assert found is not None, f"no report for {op} #{seq} of {self.key}"
        return TTL_REPORT.decode(found.value), found.arrived


def sleep_until(deadline: float) -> None:
    time.sleep(max(0.0, deadline - time.time()))


@pytest.mark.e2e_timeout(120)
def test_expire_after_write_and_after_call(
    kafka: harness.KafkaBroker, features_job: harness.StatefunJob
) -> None:
    """Flink TTL in processing time with NeverReturnExpired (protocol.md §1.12): a value
    written with ``expire_after_write`` is gone TTL after the write however often it is read
    (the runtime reads every state on every call, and reads do not refresh it); a value with
    ``expire_after_call`` lives while calls keep coming and is gone TTL after the last one."""
    fn = TtlClient(kafka, features_job, new_id("ttl"))
    ttl = TTL.total_seconds()

    report, written_by = fn.send("set", "v")  # the write happened before its report arrived
    assert (report.written, report.called) == ("v", "v")
    report, _ = fn.send("get")
    assert (report.written, report.called) == ("v", "v"), "read back right away"

    # calls every second until past the write's TTL: only the after-write value expires
    last_call = written_by
    for i in range(1, int(ttl) + 2):
        sleep_until(written_by + i)
        report, last_call = fn.send("get")
        assert report.called == "v", (
            f"expire_after_call value lost {i}s after the write, calls 1s apart"
        )
    assert time.time() > written_by + ttl
    assert report.written is None, (
        f"expire_after_write value still there {time.time() - written_by:.1f}s after"
    )

    # no calls for longer than the TTL: the after-call value expires too
    sleep_until(last_call + ttl + 1)
    report, _ = fn.send("get")
    assert (report.written, report.called) == (None, None), report

    # an expired value can be written again
    report, _ = fn.send("set", "w")
    report, _ = fn.send("get")
    assert (report.written, report.called) == ("w", "w")


@pytest.mark.e2e_timeout(120)
def test_writing_the_same_value_again_restarts_expire_after_write(
    kafka: harness.KafkaBroker, features_job: harness.StatefunJob
) -> None:
    """``state.set(spec, v)`` with the value the state already holds is a write: with
    ``expire_after_write`` it must restart the TTL, as the official SDKs do (every assignment is
    a MODIFY) and as Flink's ``OnCreateAndWrite`` means."""
    fn = TtlClient(kafka, features_job, new_id("rewrite"))
    ttl = TTL.total_seconds()
    _, first = fn.send(
        "set", "v"
    )  # written before `first`, so gone by `first + ttl` unless rewritten
    sleep_until(first + ttl / 2)
    report, _ = fn.send("set", "v")
    assert report.written_before == "v", (
        "not a rewrite of the same value: the first write had expired"
    )
    sleep_until(first + ttl + 0.5)  # past the first write's TTL, within the second's
    report, _ = fn.send("get")
    assert report.written == "v", (
        "the second write of the same value did not restart expire_after_write"
    )


def test_the_local_runtime_agrees_on_rewrites() -> None:
    """The same timeline on the local runtime's virtual clock (no JVM needed)."""
    runtime = LocalRuntime(features_functions)
    address = Address("e2e/ttl", "rewrite")
    ttl = TTL.total_seconds()
    runtime.send(address, TTL_COMMAND, TtlCommand("set", 1, "v"))
    runtime.run_until_idle()
    runtime.advance(timedelta(seconds=ttl / 2))
    runtime.send(address, TTL_COMMAND, TtlCommand("set", 2, "v"))
    runtime.run_until_idle()
    runtime.advance(timedelta(seconds=ttl / 2 + 0.5))
    assert runtime.state(address, WRITTEN) == "v"
    runtime.advance(timedelta(seconds=ttl / 2))
    assert runtime.state(address, WRITTEN) is None


# --------------------------------------------------------------------------------------
# Serdes
# --------------------------------------------------------------------------------------


def struct(value: dict[str, Any]) -> Struct:
    s = Struct()
    s.update(value)
    return s


def timestamp(seconds: int, nanos: int) -> Timestamp:
    return Timestamp(seconds=seconds, nanos=nanos)


# Zero values of the primitives encode to no bytes at all: an empty Kafka value, an empty
# stored state. They must come back as values, not as "absent".
VALUES: dict[str, list[Any]] = {
    "bool": [True, False, True],
    "int": [7, 0, -1, 2**31 - 1, -(2**31)],
    "long": [0, 2**63 - 1, -(2**63), 42],
    "float": [1.5, 0.0, -0.25, 2.0**100],  # exactly representable in float32
    "double": [0.1, 0.0, -1e308, 2.5],
    "string": ["héllo ✓ 🌍", "", "a\x00b", "x" * 5000],
    "json": [
        Sample("Zoë", ["a", "ü"], 0.5, {"x": 1}),
        Sample("", [], -0.0, {}, parent="Zoë"),
        Sample('line\nbreak "quoted"', ["\u2028"], 1e-300, {"big": 2**53}),
    ],
    "struct": [
        struct(
            {"name": "Zoë", "n": 1.5, "ok": True, "none": None, "list": [1, "two", {"three": 3}]}
        ),
        Struct(),
        struct({"nested": {"deeper": {"deepest": "✓"}}}),
    ],
    "timestamp": [
        timestamp(1_700_000_000, 123_456_789),
        Timestamp(),
        timestamp(-62_135_596_800, 0),
    ],
}


def test_every_kind_has_values() -> None:
    assert set(VALUES) == set(ECHO_TYPES)


@pytest.mark.e2e_timeout(90)
@pytest.mark.parametrize("kind", list(ECHO_TYPES))
def test_serde_crosses_the_runtime(
    kafka: harness.KafkaBroker, features_job: harness.StatefunJob, kind: str
) -> None:
    """Values go in as Kafka records (bytes = the type's encoding, as the ingress passes them on
    unchanged), are stored as state by the runtime and come out of the next call as egress."""
    type_: Type[Any] = ECHO_TYPES[kind]
    values = VALUES[kind]
    key = new_id(kind)
    sentinel = values[0]  # the last value is only written out when one more arrives
    kafka.produce(f"e2e-{kind}-in", [(key, type_.encode(v)) for v in [*values, sentinel]])

    def mine(recs: list[tuple[bytes | None, bytes]]) -> list[bytes]:
        return [v for k, v in recs if k == key.encode()]

    got = mine(
        kafka.consume_until(
            ECHO_OUT, lambda recs: len(mine(recs)) >= len(values), timeout=60, settle=1
        )
    )
    features_job.check_alive()
    decoded = [type_.decode(v) for v in got]
    assert decoded == values
    if kind == "json":  # msgspec equality is by value; the typed decode above already validated
        assert [msgspec.json.decode(v) for v in got] == [msgspec.to_builtins(v) for v in values]
