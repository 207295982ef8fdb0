"""Test-only functions for ``tests/e2e/test_features.py``, routed by ``module.yaml`` next to this
file and served with ``statefun serve tests.e2e.apps.features.functions:functions``.

``e2e/ttl`` keeps one value that expires 4 s after it was written and one that expires 4 s after
the last call, and reports both on every command (topic ``e2e-ttl-out``).

``e2e/echo-<kind>`` (one per serde: the six primitives, a msgspec Struct and two protobuf
messages) stores each message it gets and writes the value it had stored *before*, encoded with
the same type, to ``e2e-echo-out`` (key = id). So a value only comes out after it went in
through Kafka, was stored as state by the runtime and came back in the next request.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal, TypeVar

import msgspec
from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp

from statefun import (
    BOOL,
    DOUBLE,
    FLOAT,
    INT,
    LONG,
    STRING,
    Effect,
    Functions,
    KafkaRecord,
    Message,
    Result,
    State,
    Type,
    ValueSpec,
    json_type,
    protobuf_type,
)

T = TypeVar("T")

EGRESS = "e2e/out"
TTL_OUT = "e2e-ttl-out"
ECHO_OUT = "e2e-echo-out"
TTL = timedelta(seconds=4)

functions = Functions()


class TtlCommand(msgspec.Struct, frozen=True):
    """``set`` both values to ``value``, or ``get`` them; ``seq`` is echoed back."""

    op: Literal["set", "get"]
    seq: int
    value: str = ""


class TtlReport(msgspec.Struct, frozen=True):
    """The values as the function left them (after a ``set``: as written), and the
    expire-after-write value as it found it."""

    seq: int
    written: str | None
    called: str | None
    written_before: str | None


TTL_COMMAND = json_type("e2e/TtlCommand", TtlCommand)
TTL_REPORT = json_type("e2e/TtlReport", TtlReport)
WRITTEN = ValueSpec("written", STRING, expire_after_write=TTL)
CALLED = ValueSpec("called", STRING, expire_after_call=TTL)


@functions.bind("e2e/ttl", accepts=TTL_COMMAND, specs=[WRITTEN, CALLED])
def ttl(state: State, msg: Message[TtlCommand]) -> Result:
    command = msg.value
    before = state.get(WRITTEN)
    if command.op == "set":
        state = state.set(WRITTEN, command.value).set(CALLED, command.value)
    report = TtlReport(command.seq, state.get(WRITTEN), state.get(CALLED), before)
    record = KafkaRecord(EGRESS, topic=TTL_OUT, key=msg.target.id, value=TTL_REPORT.encode(report))
    return Result(state, [record])


class Sample(msgspec.Struct, frozen=True):
    """A JSON value with the shapes JSON serdes get wrong: unicode, nesting, null, floats."""

    name: str
    tags: list[str]
    score: float
    counts: dict[str, int]
    parent: str | None = None


SAMPLE = json_type("e2e/Sample", Sample)


def bind_echo(kind: str, type_: Type[T]) -> None:
    last = ValueSpec("last", type_)

    @functions.bind(f"e2e/echo-{kind}", accepts=type_, specs=[last])
    def echo(state: State, msg: Message[T]) -> Result:
        before = state.get(last)
        effects: list[Effect] = []
        if before is not None:
            value = type_.encode(before)
            effects.append(KafkaRecord(EGRESS, topic=ECHO_OUT, key=msg.target.id, value=value))
        return Result(state.set(last, msg.value), effects)


ECHO_TYPES: dict[str, Type[Any]] = {
    "bool": BOOL,
    "int": INT,
    "long": LONG,
    "float": FLOAT,
    "double": DOUBLE,
    "string": STRING,
    "json": SAMPLE,
    "struct": protobuf_type(Struct),
    "timestamp": protobuf_type(Timestamp),
}
for _kind, _type in ECHO_TYPES.items():
    bind_echo(_kind, _type)
