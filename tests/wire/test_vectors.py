"""Byte vectors: the exact bytes of protocol.md §2.1, and where they sit in a response."""

from __future__ import annotations

from typing import Any

import pytest

from statefun import (
    BOOL,
    DOUBLE,
    FLOAT,
    INT,
    LONG,
    STRING,
    Address,
    Functions,
    Handler,
    Message,
    Result,
    Send,
    State,
    Type,
    ValueSpec,
)

from .builders import answer, call, request, typed

# (type, value, value bytes): the table of protocol.md §2.1, zero values included.
VECTORS: list[tuple[Type[Any], object, str]] = [
    (BOOL, True, "08 01"),
    (BOOL, False, ""),
    (INT, 1, "0d 01 00 00 00"),
    (INT, -1, "0d ff ff ff ff"),
    (INT, 0, ""),
    (INT, 2**31 - 1, "0d ff ff ff 7f"),
    (INT, -(2**31), "0d 00 00 00 80"),
    (LONG, 2**45, "09 00 00 00 00 00 20 00 00"),
    (LONG, -1, "09 ff ff ff ff ff ff ff ff"),
    (LONG, 0, ""),
    (FLOAT, 0.5, "0d 00 00 00 3f"),
    (FLOAT, 0.0, ""),
    (DOUBLE, 1.0, "09 00 00 00 00 00 00 f0 3f"),
    (DOUBLE, 0.0, ""),
    (STRING, "hi", "0a 02 68 69"),
    (STRING, "", ""),
    (STRING, "é", "0a 02 c3 a9"),
    (STRING, "x" * 200, "0a c8 01 " + " ".join(["78"] * 200)),
]
IDS = [f"{t.typename.rpartition('/')[2]}={v!r:.12}" for t, v, _ in VECTORS]


@pytest.mark.parametrize(("type_", "value", "hex_bytes"), VECTORS, ids=IDS)
def test_encode(type_: Type[Any], value: object, hex_bytes: str) -> None:
    assert type_.encode(value) == bytes.fromhex(hex_bytes)


@pytest.mark.parametrize(("type_", "value", "hex_bytes"), VECTORS, ids=IDS)
def test_decode(type_: Type[Any], value: object, hex_bytes: str) -> None:
    decoded = type_.decode(bytes.fromhex(hex_bytes))
    assert decoded == value
    assert type(decoded) is type(value)


def test_typenames() -> None:
    assert [t.typename for t in (BOOL, INT, LONG, FLOAT, DOUBLE, STRING)] == [
        "io.statefun.types/bool",
        "io.statefun.types/int",
        "io.statefun.types/long",
        "io.statefun.types/float",
        "io.statefun.types/double",
        "io.statefun.types/string",
    ]


SELF = Address("test.fns/echo", "e-1")
SINK = Address("test.fns/sink", "s-1")
LAST = ValueSpec("last", INT)


def echo_handler() -> Handler:
    functions = Functions()

    @functions.bind("test.fns/echo", accepts=INT | STRING, specs=[LAST])
    def echo(state: State, msg: Message[int | str]) -> Result:
        if isinstance(msg.value, int):
            return Result(state.set(LAST, msg.value), [Send(SINK, INT, msg.value)])
        return Result(state, [Send(SINK, STRING, msg.value)])

    return Handler(functions)


@pytest.mark.parametrize(
    ("value", "hex_bytes"), [(0, ""), (1, "0d 01 00 00 00"), (-1, "0d ff ff ff ff")]
)
def test_zero_length_values_still_have_a_value(value: int, hex_bytes: str) -> None:
    """§6.3: a zero value is empty bytes with ``has_value=true``, in messages and in MODIFY."""
    body = request(SELF, call(typed(INT, value)), state={"last": typed(INT, 7)})
    result = answer(echo_handler().handle_sync(body))
    [out] = result.outgoing_messages
    assert (out.argument.typename, out.argument.has_value, out.argument.value) == (
        "io.statefun.types/int",
        True,
        bytes.fromhex(hex_bytes),
    )
    [mutation] = result.state_mutations
    assert mutation.mutation_type == mutation.MODIFY
    assert mutation.state_value.has_value is True
    assert mutation.state_value.value == bytes.fromhex(hex_bytes)


def test_empty_string_message() -> None:
    body = request(SELF, call(typed(STRING, "")), state={"last": None})
    [out] = answer(echo_handler().handle_sync(body)).outgoing_messages
    assert (out.argument.has_value, out.argument.value) == (True, b"")
