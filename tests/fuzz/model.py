"""The registry every fuzz test serves, and a model of what each request must get.

:func:`expect` reads a request body the way the runtime's contract says it must
be answered (protocol.md §1.6-1.7, §6) and returns the class of answer it must
get: the model is written from that contract and the functions below, not from
``statefun/_handler.py``. :func:`problems` compares what the handler did with
it, and checks what holds for every answer: a 200 body parses as a
``FromFunction``, every reason is one line of UTF-8.

The registry holds, on purpose, one function of each kind the handler treats
differently: a plain ``def``, an ``async def``, one with state specs (one of
them ``expire_after_write``), one that always raises, and three with a
:class:`DeadLetters` policy (Kafka, Kinesis, typed egress). The benchmark's four
functions (``bench/impl_ours.py``) are served too, so that mutations of the
benchmark payloads reach deep; the model checks those only generically.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import msgspec
from google.protobuf.message import DecodeError

from statefun import (
    DEAD_LETTER,
    INT,
    LONG,
    STRING,
    Address,
    Answer,
    DeadLetter,
    DeadLetters,
    Egress,
    Functions,
    Handler,
    InvalidResult,
    InvocationFailed,
    MalformedRequest,
    Message,
    Permanent,
    Result,
    Send,
    SerdeError,
    State,
    StateTypeMismatch,
    Type,
    UnknownFunction,
    ValueSpec,
    json_type,
)
from statefun._generated.kafka_egress_pb2 import KafkaProducerRecord
from statefun._generated.kinesis_egress_pb2 import KinesisEgressRecord
from statefun._generated.request_reply_pb2 import FromFunction, ToFunction
from statefun._http import log_dead_letter

__all__ = (
    "ASYNC",
    "COUNTER",
    "DOC",
    "Doc",
    "Expected",
    "LENIENT",
    "RAISES",
    "STATUS",
    "SYNC",
    "attempt",
    "expect",
    "fuzz_functions",
    "outcome_of",
    "problems",
    "reason_problem",
)

BENCH = Path(__file__).resolve().parents[2] / "bench"


class Doc(msgspec.Struct, frozen=True):
    name: str
    n: int = 0


DOC = json_type("fuzz.types/Doc", Doc)
COUNT = ValueSpec("count", LONG)
LABEL = ValueSpec("label", STRING, expire_after_write=timedelta(minutes=1))
OUT = "fuzz.io/out"
DEAD = "fuzz.io/dead"

SYNC = "fuzz/sync"
ASYNC = "fuzz/async"
COUNTER = "fuzz/counter"
RAISES = "fuzz/raises"
LENIENT = {
    "fuzz/lenient-kafka": DeadLetters(DEAD, topic="dead", permanent=(KeyError,)),
    "fuzz/lenient-kinesis": DeadLetters(DEAD, stream="dead", permanent=(KeyError,)),
    "fuzz/lenient-egress": DeadLetters(DEAD, permanent=(KeyError,)),
}

# The HTTP status of each outcome.
STATUS = {
    "ok": 200,
    "incomplete": 200,
    "malformed": 400,
    "unknown": 404,
    "too_large": 413,
    "failed": 500,
    "invalid": 500,
    "mismatch": 500,
}


def _bench_functions() -> Functions:
    """The benchmark's registry, loaded from its file: bench/ is not a package."""
    spec = importlib.util.spec_from_file_location("_fuzz_bench_impl_ours", BENCH / "impl_ours.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return cast(Functions, module.registry())


def fuzz_functions() -> Functions:
    """A fresh registry: the fuzz functions and the benchmark's."""
    functions = _bench_functions()

    @functions.bind(SYNC, accepts=INT | STRING)
    def sync(state: State, msg: Message[int | str]) -> Result:
        # Echoes request data back out, to check it survives the trip.
        if isinstance(msg.value, str):
            return Result(state, [Egress(OUT, STRING, msg.value)])
        return Result(state, [Egress(OUT, INT, msg.value)])

    @functions.bind(ASYNC, accepts=DOC)
    async def async_(state: State, msg: Message[Doc]) -> Result:
        await asyncio.sleep(0)
        return Result(state, [Send(Address(SYNC, "a"), STRING, msg.value.name)])

    @functions.bind(COUNTER, accepts=INT, specs=[COUNT, LABEL])
    def counter(state: State, msg: Message[int]) -> Result:
        # Modulo keeps any LONG the runtime stored, plus any INT, inside 64 bits.
        count = ((state.get(COUNT) or 0) + msg.value) % 1000
        label = state.get(LABEL)
        new_label = msg.target.id if label is None else label
        return Result(state.set(COUNT, count).set(LABEL, new_label))

    @functions.bind(RAISES, accepts=INT)
    def raises(state: State, msg: Message[int]) -> Result:
        raise ValueError(f"always\nfails on {msg.value}\r\x1b[31m")

    for typename, policy in LENIENT.items():

        @functions.bind(typename, accepts=INT | DOC, on_error=policy)
        def lenient(state: State, msg: Message[int | Doc]) -> Result:
            value = msg.value
            if isinstance(value, Doc):
                return Result(state, [Egress(OUT, DOC, value)])
            if value < 0:
                raise Permanent(f"negative\n{value}\u2028{msg.target.id}")
            if value == 0:
                raise KeyError("zero\nkey")
            if value == 1:
                raise RuntimeError("one is a bug, not a dead letter")
            return Result(state, [Egress(OUT, INT, value)])

    return functions


@dataclass(frozen=True)
class Expected:
    """What the model says a request must get."""

    outcome: str
    """A key of :data:`STATUS`, or ``"ran"``: a function the model does not simulate ran,
    so the answer is ``ok``, ``failed`` or ``invalid``."""
    function: str = ""
    id: str = ""
    batch_size: int = 0
    index: int = -1
    """``failed``: the message that failed."""
    state: str = ""
    """``mismatch``: the state stored under another typename."""
    missing: tuple[str, ...] = ()
    """``incomplete``: the specs to register, in declaration order."""
    messages: int = 0
    egresses: int = 0
    letters: tuple[tuple[str, bytes, str | None, str | None], ...] = ()
    """``ok``: the messages set aside: typename, bytes, caller function and id."""
    mutations: frozenset[str] = frozenset()


def expect(body: bytes, functions: Functions) -> Expected:
    """The answer ``body`` must get from a handler serving ``functions``."""
    try:
        request = ToFunction.FromString(body)
    except (DecodeError, UnicodeDecodeError, RecursionError):
        # Not a ToFunction, whichever protobuf implementation says so and how.
        return Expected("malformed")
    if not request.HasField("invocation") or not request.invocation.HasField("target"):
        return Expected("malformed")
    batch = request.invocation
    target = batch.target
    typename = f"{target.namespace}/{target.type}"
    function = functions.get(typename)
    base: dict[str, Any] = {
        "function": typename,
        "id": target.id,
        "batch_size": len(batch.invocations),
    }
    if function is None:
        return Expected("unknown")
    specs = {spec.name: spec for spec in function.specs}
    raw: dict[str, bytes | None] = {}
    for persisted in batch.state:
        value = persisted.state_value
        if persisted.HasField("state_value") and value.has_value:
            spec = specs.get(persisted.state_name)
            if spec is not None and value.typename != spec.type.typename:
                return Expected("mismatch", state=persisted.state_name, **base)
            raw[persisted.state_name] = value.value
        else:
            # Registered, with no value: present all the same (protocol.md §6.2).
            raw[persisted.state_name] = None
    missing = tuple(name for name in specs if name not in raw)
    if missing:
        return Expected("incomplete", missing=missing, **base)
    if typename not in _ACCEPTS:
        return Expected("ran", **base)
    return _simulate(typename, batch, raw, base)


class _Failed(Exception):
    def __init__(self, index: int) -> None:
        self.index = index


_ACCEPTS: dict[str, dict[str, Type[Any]]] = {
    SYNC: {INT.typename: INT, STRING.typename: STRING},
    ASYNC: {DOC.typename: DOC},
    COUNTER: {INT.typename: INT},
    RAISES: {INT.typename: INT},
    **{typename: {INT.typename: INT, DOC.typename: DOC} for typename in LENIENT},
}


def _decode(types: dict[str, Type[Any]], typename: str, data: bytes) -> tuple[bool, object]:
    """Whether the message is one of ``types`` and decodes, and its value."""
    type_ = types.get(typename)
    if type_ is None:
        return False, None
    try:
        return True, type_.decode(data)
    except SerdeError:
        return False, None


def _simulate(
    typename: str,
    batch: ToFunction.InvocationBatchRequest,
    raw: dict[str, bytes | None],
    base: dict[str, Any],
) -> Expected:
    messages = egresses = 0
    letters: list[tuple[str, bytes, str | None, str | None]] = []
    mutations: set[str] = set()
    count: int | None = None
    label: str | None = None
    read = False
    types = _ACCEPTS[typename]
    try:
        for index, invocation in enumerate(batch.invocations):
            argument = invocation.argument
            if typename in LENIENT:
                ok, value = _decode(types, argument.typename, argument.value)
                if not ok or (isinstance(value, int) and value <= 0):
                    letters.append((argument.typename, argument.value, *_caller(invocation)))
                elif value == 1:
                    raise _Failed(index)
                egresses += 1  # its egress, or the dead letter's
                continue
            ok, value = _decode(types, argument.typename, argument.value)
            if not ok or typename == RAISES:
                raise _Failed(index)
            if typename == SYNC:
                egresses += 1
            elif typename == ASYNC:
                messages += 1
            else:
                assert isinstance(value, int)
                if not read:
                    # The first message reads both states as the runtime sent them.
                    read = True
                    count = _state(LONG, raw["count"], index)
                    label = _state(STRING, raw["label"], index)
                count = ((count or 0) + value) % 1000
                label = batch.target.id if label is None else label
                mutations.add("label")  # expire_after_write: every set is sent
        if count is not None and (raw["count"] is None or LONG.encode(count) != raw["count"]):
            mutations.add("count")
    except _Failed as failed:
        return Expected("failed", index=failed.index, **base)
    return Expected(
        "ok",
        messages=messages,
        egresses=egresses,
        letters=tuple(letters),
        mutations=frozenset(mutations),
        **base,
    )


def _caller(invocation: ToFunction.Invocation) -> tuple[str | None, str | None]:
    caller = invocation.caller
    # Unset, or set with every part empty: no caller (protocol.md §6.1).
    if not (caller.namespace or caller.type or caller.id):
        return None, None
    return f"{caller.namespace}/{caller.type}", caller.id


def _state(type_: Type[Any], data: bytes | None, index: int) -> Any:
    if data is None:
        return None
    try:
        return type_.decode(data)
    except SerdeError:
        raise _Failed(index) from None


async def attempt(handler: Handler, body: bytes) -> Answer | Exception:
    """What the handler did with ``body``: its Answer, or the exception it raised."""
    try:
        return await handler.answer(body)
    except Exception as exc:
        return exc


# C0, DEL, C1 and the Unicode line and paragraph separators.
_BREAKS = frozenset((*map(chr, range(0x20)), *map(chr, range(0x7F, 0xA0)), "\u2028", "\u2029"))


def reason_problem(text: str) -> str | None:
    """Why ``text`` is not one line of UTF-8 safe for an HTTP body or a log, or None."""
    bad = _BREAKS.intersection(text)
    if bad:
        return f"unescaped {sorted(bad)!r} in {text[:200]!r}"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"not UTF-8 ({exc}) in {text[:200]!r}"
    return None


_ERRORS: dict[str, type[Exception]] = {
    "malformed": MalformedRequest,
    "unknown": UnknownFunction,
    "failed": InvocationFailed,
    "invalid": InvalidResult,
    "mismatch": StateTypeMismatch,
}


def outcome_of(got: object) -> str:
    """The outcome a handler's Answer or exception stands for; ``unexpected`` for any other."""
    if isinstance(got, Exception):
        for outcome, kind in _ERRORS.items():
            if type(got) is kind:
                return outcome
        return "unexpected"
    if not isinstance(got, Answer):
        return "unexpected"
    try:
        response = FromFunction.FromString(got.body)
    except Exception:
        return "unexpected"
    which = response.WhichOneof("response")
    return {"invocation_result": "ok", "incomplete_invocation_context": "incomplete"}.get(
        str(which), "unexpected"
    )


def problems(body: bytes, got: object, functions: Functions) -> str | None:
    """What is wrong with ``got``, the handler's answer to ``body``; None when it is right."""
    expected = expect(body, functions)
    outcome = outcome_of(got)
    if outcome == "unexpected":
        if isinstance(got, Exception):
            return f"unexpected {type(got).__name__}: {got!s:.300}"
        return f"an Answer whose body is not a FromFunction response: {got!r:.300}"
    if outcome != expected.outcome and not (
        expected.outcome == "ran" and outcome in ("ok", "failed", "invalid")
    ):
        return f"expected {expected.outcome}, got {outcome}: {got!r:.300}"
    if isinstance(got, Exception):
        return _error_problem(got, expected)
    assert isinstance(got, Answer)
    return _answer_problem(got, expected)


def _error_problem(error: Exception, expected: Expected) -> str | None:
    problem = reason_problem(str(error))
    if problem is not None:
        return f"{type(error).__name__} reason: {problem}"
    if isinstance(error, InvocationFailed):
        where = (error.function, error.id, error.batch_size)
        if where != (expected.function, expected.id, expected.batch_size):
            return f"InvocationFailed names {where}, expected {expected}"
        if expected.outcome == "failed" and error.index != expected.index:
            return f"failed on message {error.index}, expected {expected.index}"
    if isinstance(error, StateTypeMismatch) and error.name != expected.state:
        return f"mismatch names state {error.name!r}, expected {expected.state!r}"
    return None


def _answer_problem(answer: Answer, expected: Expected) -> str | None:
    where = (answer.function, answer.id, answer.batch_size)
    if where != (expected.function, expected.id, expected.batch_size):
        return f"the Answer names {where}, expected {expected}"
    response = FromFunction.FromString(answer.body)
    if expected.outcome == "incomplete":
        names = tuple(m.state_name for m in response.incomplete_invocation_context.missing_values)
        if names != expected.missing:
            return f"asked to register {names}, expected {expected.missing}"
        return None
    for letter in answer.dead_letters:
        with _logged() as records:
            log_dead_letter(letter)
        for record in records:
            problem = reason_problem(record.getMessage())
            if problem is not None:
                return f"dead-letter log record: {problem}"
    if expected.outcome == "ran":
        return None
    result = response.invocation_result
    got = (
        len(result.outgoing_messages),
        len(result.outgoing_egresses),
        len(answer.dead_letters),
        frozenset(m.state_name for m in result.state_mutations),
    )
    want = (expected.messages, expected.egresses, len(expected.letters), expected.mutations)
    if got != want:
        return f"(messages, egresses, dead letters, mutations) {got}, expected {want}"
    return _letters_problem(answer, expected, result)


def _letters_problem(
    answer: Answer, expected: Expected, result: FromFunction.InvocationResponse
) -> str | None:
    """Each dead letter carries its message exactly, in the egress its policy names."""
    policy = LENIENT.get(expected.function)
    if policy is None:
        return None
    carried = [
        _carried(policy, egress.argument.value)
        for egress in result.outgoing_egresses
        if f"{egress.egress_namespace}/{egress.egress_type}" == DEAD
    ]
    letters: list[DeadLetter] = list(answer.dead_letters)
    if carried != letters:
        return f"the dead-letter egresses carry {carried!r:.300}, not the answer's letters"
    got = [(x.typename, x.value, x.caller_function, x.caller_id) for x in letters]
    if got != list(expected.letters):
        return f"dead letters {got!r:.300}, expected {expected.letters!r:.300}"
    for letter in letters:
        if (letter.function, letter.id) != (expected.function, expected.id):
            return f"a dead letter for {(letter.function, letter.id)}, expected {expected}"
    return None


def _carried(policy: DeadLetters, data: bytes) -> DeadLetter:
    if policy.topic is not None:
        data = KafkaProducerRecord.FromString(data).value_bytes
    elif policy.stream is not None:
        data = KinesisEgressRecord.FromString(data).value_bytes
    return DEAD_LETTER.decode(data)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def _logged() -> Generator[list[logging.LogRecord], None, None]:
    """The records the ``statefun`` logger emits inside, kept from every other handler."""
    logger = logging.getLogger("statefun")
    collect = _Collect()
    saved = logger.handlers, logger.propagate, logger.level
    logger.handlers, logger.propagate = [collect], False
    logger.setLevel(logging.DEBUG)
    try:
        yield collect.records
    finally:
        logger.handlers, logger.propagate = saved[0], saved[1]
        logger.setLevel(saved[2])
