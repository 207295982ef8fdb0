"""Test-only function for ``tests/e2e/test_handshake.py``: ``e2e/counter`` in two versions.

``E2E_HANDSHAKE_VERSION=1`` (default) declares one state, ``count``; version 2 also declares
``notes``, a spec the runtime has never seen. Each message (a note, as a STRING) adds one to
``count`` (version 2 also appends the note to ``notes``) and writes a :class:`Report` to
``e2e-counter-out`` (key = id).
"""

from __future__ import annotations

import os

import msgspec

from statefun import (
    INT,
    STRING,
    Functions,
    KafkaRecord,
    Message,
    Result,
    State,
    ValueSpec,
    json_type,
)

VERSION = int(os.environ.get("E2E_HANDSHAKE_VERSION", "1"))
OUT = "e2e-counter-out"


class Report(msgspec.Struct, frozen=True):
    version: int
    count: int
    notes: list[str] | None


REPORT = json_type("e2e/CounterReport", Report)
COUNT = ValueSpec("count", INT)
NOTES = ValueSpec("notes", json_type("e2e/Notes", list[str]))

functions = Functions()


@functions.bind("e2e/counter", accepts=STRING, specs=[COUNT, NOTES] if VERSION >= 2 else [COUNT])
def counter(state: State, msg: Message[str]) -> Result:
    count = (state.get(COUNT) or 0) + 1
    state = state.set(COUNT, count)
    notes = None
    if VERSION >= 2:
        notes = [*(state.get(NOTES) or []), msg.value]
        state = state.set(NOTES, notes)
    report = REPORT.encode(Report(VERSION, count, notes))
    return Result(
        state, [KafkaRecord("e2e/counter-out", topic=OUT, key=msg.target.id, value=report)]
    )
