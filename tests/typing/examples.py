# pyright: reportUnnecessaryTypeIgnoreComment=true
"""Usage examples whose types are checked, never run.

``test_mypy.py`` runs mypy over this file. Each ``reveal_type(x)  # assert "T"``
line must reveal exactly ``T`` (module prefixes dropped). Each line ending in
``# type: ignore[code]`` is misuse that mypy must reject: ``warn_unused_ignores``
turns an ignore that is not needed into an error, so these lines prove the
rejection, not merely allow it.

pyright strict checks it too (``scripts/test``): the comment on the first line makes
an ignore that pyright does not need an error as well, so pyright must reject each
misuse and accept everything else. Its reveals are printed, not compared.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TypeVar

import msgspec

from statefun import (
    BOOL,
    DOUBLE,
    FLOAT,
    INT,
    LONG,
    STRING,
    Address,
    CancelDelayed,
    Egress,
    Functions,
    Handler,
    KafkaRecord,
    Message,
    Result,
    Send,
    SendAfter,
    State,
    ValueSpec,
    custom_type,
    json_type,
    protobuf_type,
)
from statefun._generated.kafka_egress_pb2 import KafkaProducerRecord


class Greet(msgspec.Struct, frozen=True):
    name: str


class Bye(msgspec.Struct, frozen=True):
    name: str


T = TypeVar("T")

GREET = json_type("example/Greet", Greet)
BYE = json_type("example/Bye", Bye)
VISITS = ValueSpec("visits", INT)
GREETER = Address("example/greeter", "Ana")

functions = Functions()


def types() -> None:
    reveal_type(BOOL)  # assert "Type[bool]"
    reveal_type(INT)  # assert "Type[int]"
    reveal_type(LONG)  # assert "Type[int]"
    reveal_type(FLOAT)  # assert "Type[float]"
    reveal_type(DOUBLE)  # assert "Type[float]"
    reveal_type(STRING)  # assert "Type[str]"
    reveal_type(GREET)  # assert "Type[Greet]"
    reveal_type(json_type("example/Counts", dict[str, int]))  # assert "Type[dict[str, int]]"
    reveal_type(protobuf_type(KafkaProducerRecord))  # assert "Type[KafkaProducerRecord]"
    reveal_type(custom_type("example/Name", encode=str.encode, decode=bytes.decode))  # assert "Type[str]"
    reveal_type(GREET.decode(b"{}"))  # assert "Greet"
    reveal_type(INT.encode(1))  # assert "bytes"
    reveal_type(GREET | BYE)  # assert "TypeUnion[Greet | Bye]"
    reveal_type(GREET | BYE | INT | STRING | BOOL | DOUBLE)  # assert "TypeUnion[Greet | Bye | int | str | bool | float]"
    reveal_type(GREET | (BYE | INT))  # assert "TypeUnion[Greet | Bye | int]"
    reveal_type((GREET | BYE).types)  # assert "tuple[Type[Any], ...]"
    INT.encode("1")  # type: ignore[arg-type]
    GREET.encode(Bye("Ana"))  # type: ignore[arg-type]
    INT | "io.statefun.types/long"  # type: ignore[operator]


def specs() -> None:
    reveal_type(VISITS)  # assert "ValueSpec[int]"
    reveal_type(ValueSpec("seen", STRING, expire_after_write=timedelta(days=1)))  # assert "ValueSpec[str]"
    reveal_type(ValueSpec("greet", GREET, expire_after_call=timedelta(hours=1)))  # assert "ValueSpec[Greet]"
    reveal_type(VISITS.expire_mode)  # assert "Literal['none'] | Literal['after_write'] | Literal['after_call']"
    ValueSpec("visits", int)  # type: ignore[arg-type]
    ValueSpec("visits", INT, expire_after_write=60)  # type: ignore[arg-type]
    ValueSpec("visits", INT, timedelta(seconds=1))  # type: ignore[call-arg]


def state(state: State) -> None:
    reveal_type(state.get(VISITS))  # assert "int | None"
    reveal_type(state.get(ValueSpec("greet", GREET)))  # assert "Greet | None"
    reveal_type(state.set(VISITS, 1))  # assert "State"
    reveal_type(state.delete(VISITS))  # assert "State"
    reveal_type(State.of(VISITS))  # assert "State"
    # Reading type-checks where a wider type is expected, too.
    wide: object = state.get(VISITS)
    text = f"{state.get(VISITS)}"
    reveal_type(text)  # assert "str"
    reveal_type(wide)  # assert "object"
    state.set(VISITS, "x")  # type: ignore[arg-type]
    state.set(VISITS, None)  # type: ignore[arg-type]
    state.set(VISITS)  # type: ignore[call-arg]
    state.set(VISITS, 1, 2)  # type: ignore[call-arg]
    state.set(VISITS, value=1)  # type: ignore[call-arg]
    state.get("visits")  # type: ignore[arg-type]


def generic_helpers(state: State) -> None:
    # A helper generic over the spec's type keeps set() strict.
    def put(state: State, spec: ValueSpec[T], value: T) -> State:
        return state.set(spec, value)

    def read(state: State, spec: ValueSpec[T]) -> T | None:
        return state.get(spec)

    reveal_type(read(state, VISITS))  # assert "int | None"
    put(state, VISITS, 1)
    put(state, VISITS, "x")  # type: ignore[misc]


def effects(msg: Message[Greet]) -> None:
    reveal_type(Send(GREETER, GREET, Greet("Ana")))  # assert "Send[Greet]"
    reveal_type(SendAfter(timedelta(seconds=1), GREETER, INT, 1))  # assert "SendAfter[int]"
    reveal_type(Egress("example/out", STRING, "hi"))  # assert "Egress[str]"
    reveal_type(CancelDelayed("token").token)  # assert "str"
    reveal_type(KafkaRecord("example/k", topic="t", value="v").value)  # assert "bytes"
    reveal_type(Result(State.of(), [Send(GREETER, INT, 1)]).effects)  # assert "tuple[Effect, ...]"
    Send(GREETER, INT, "x")  # type: ignore[arg-type]
    Send(GREETER, INT)  # type: ignore[call-arg]
    Result(State.of(), [Send(GREETER, INT, "x")])  # type: ignore[arg-type]
    Result(State.of(), [Send(GREETER, GREET, Bye("Ana"))])  # type: ignore[arg-type]
    Egress("example/out", STRING, 1)  # type: ignore[arg-type]
    SendAfter(timedelta(0), GREETER, INT, "x")  # type: ignore[misc]
    Send("example/greeter", INT, 1)  # type: ignore[arg-type]
    SendAfter(5, GREETER, INT, 1)  # type: ignore[arg-type]
    SendAfter(timedelta(0), GREETER, INT, 1, "token")  # type: ignore[call-arg]
    KafkaRecord("example/k", topic="t", value=1)  # type: ignore[arg-type]
    Result(State.of(), ["send"])  # type: ignore[list-item]
    msg.value = Greet("Bo")  # type: ignore[misc]


def messages(msg: Message[Greet]) -> None:
    reveal_type(msg.value)  # assert "Greet"
    reveal_type(msg.target)  # assert "Address"
    reveal_type(msg.caller)  # assert "Address | None"
    reveal_type(msg.typename)  # assert "str | None"


@functions.bind("example/person", accepts=GREET, specs=[VISITS])
def person(state: State, msg: Message[Greet]) -> Result:
    visits = (state.get(VISITS) or 0) + 1
    return Result(state.set(VISITS, visits), [Send(GREETER, GREET, msg.value)])


@functions.bind("example/two", accepts=GREET | BYE)
def two(state: State, msg: Message[Greet | Bye]) -> Result:
    reveal_type(msg.value)  # assert "Greet | Bye"
    return Result(state)


@functions.bind("example/three", accepts=GREET | BYE | INT)
def three(state: State, msg: Message[Greet | Bye | int]) -> Result:
    return Result(state)


# Any number of types: the union is as long as the `|` chain.
@functions.bind("example/six", accepts=GREET | BYE | INT | STRING | BOOL | DOUBLE)
def six(state: State, msg: Message[Greet | Bye | int | str | bool | float]) -> Result:
    reveal_type(msg.value)  # assert "Greet | Bye | int | str | bool | float"
    return Result(state)


# A handler may take a wider message than it is bound to.
@functions.bind("example/wide", accepts=GREET | BYE)
def wide(state: State, msg: Message[object]) -> Result:
    return Result(state)


@functions.bind("example/later", accepts=INT)
async def later(state: State, msg: Message[int]) -> Result:
    return Result(state)


def registered() -> None:
    # bind gives the function back unchanged, so tests call it directly.
    reveal_type(person)  # assert "def (State, Message[Greet]) -> Result"
    reveal_type(later)  # assert "def (State, Message[int]) -> Coroutine[Any, Any, Result]"
    # An async function stays a coroutine function, so a test can asyncio.run it.
    reveal_type(asyncio.run(later(State.of(), Message(GREETER, 1))))  # assert "Result"
    reveal_type(Handler(functions).handle_sync(b""))  # assert "bytes"
    Handler(functions).handle_sync("body")  # type: ignore[arg-type]


# A function that accepts two types must take a Message of their union.
@functions.bind("example/narrow", accepts=GREET | BYE)  # type: ignore[arg-type]
def narrow(state: State, msg: Message[Greet]) -> Result:
    return Result(state)


# The tuple spelling is gone: one way to say it.
@functions.bind("example/tuple", accepts=(GREET, BYE))  # type: ignore[arg-type]
def tupled(state: State, msg: Message[Greet | Bye]) -> Result:
    return Result(state)


# The message type must match what the function accepts.
@functions.bind("example/wrong", accepts=GREET)  # type: ignore[arg-type]
def wrong(state: State, msg: Message[int]) -> Result:
    return Result(state)


# A function must return a Result.
@functions.bind("example/nothing", accepts=INT)  # type: ignore[type-var]
def nothing(state: State, msg: Message[int]) -> None:
    return None
