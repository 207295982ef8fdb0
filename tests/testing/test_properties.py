"""The ready-made properties find what they are meant to find."""

from __future__ import annotations

import ast
import itertools
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import statefun.testing.properties as properties
import statefun.testing.strategies as sst
from statefun import (
    BOOL,
    INT,
    LONG,
    STRING,
    Address,
    DefinitionError,
    Egress,
    Functions,
    Message,
    Result,
    SendAfter,
    State,
    Type,
    ValueSpec,
    custom_type,
)
from statefun._generated.request_reply_pb2 import FromFunction
from statefun.local import LocalRuntime, MockTransport
from statefun.testing.properties import (
    assert_batch_equivalent,
    assert_deterministic,
    assert_roundtrip,
    outcome,
)

COUNTER = itertools.count()
LAST = ValueSpec("last", INT)
X = Address("test/leaky", "x")

leaky = Functions()


@leaky.bind("test/leaky", accepts=STRING, specs=[LAST])
def leak(state: State, msg: Message[str]) -> Result:
    """Reads a hidden global: not deterministic."""
    return Result(state.set(LAST, next(COUNTER)))


def once_per_request(body: bytes) -> bytes:
    """An endpoint that answers each request with one egress record, whatever the batch
    holds: batch-sensitive (the pure functions of this SDK cannot be)."""
    response = FromFunction()
    egress = response.invocation_result.outgoing_egresses.add()
    egress.egress_namespace, egress.egress_type = "test", "out"
    return response.SerializeToString()


timer = Functions()


@timer.bind("test/timer", accepts=STRING)
def schedule(state: State, msg: Message[str]) -> Result:
    return Result(
        state, [SendAfter(timedelta(seconds=1), Address("test/sink", "s"), STRING, msg.value)]
    )


@timer.bind("test/sink", accepts=STRING)
def sink(state: State, msg: Message[str]) -> Result:
    return Result(state, [Egress("test/out", STRING, msg.value)])


def test_roundtrip_finds_a_lossy_serde() -> None:
    lossy: Type[str] = custom_type(
        "test/Lossy", encode=lambda s: s.strip().encode(), decode=bytes.decode
    )
    with pytest.raises(AssertionError, match="came back as"):
        assert_roundtrip(lossy, st.text())


def test_determinism_finds_hidden_state() -> None:
    with pytest.raises(AssertionError) as info:
        assert_deterministic(leaky, STRING, [Message(X, "a")])
    assert str(info.value).startswith(
        "the first run and the second run differ:\n  state `last` of Address(typename='test/leaky', id='x'):"
    )


def test_batch_equivalence_finds_a_batch_sensitive_function() -> None:
    messages = [Message(Address("test/batchy", "b"), v) for v in ["a", "b"]]
    with pytest.raises(AssertionError) as info:
        assert_batch_equivalent(
            lambda: LocalRuntime(transport=MockTransport(once_per_request)), STRING, messages
        )
    assert str(info.value) == (
        "2 single requests and one batch of 2 differ:\n"
        "  egress: EgressRecord(egress='test/out', typename='', value=b'') only after 2 single requests"
    )


def test_batch_equivalence_wants_one_target() -> None:
    with pytest.raises(DefinitionError, match="every message must go to one address, got 2"):
        assert_batch_equivalent(
            leaky, STRING, [Message(Address("a/b", "1"), "x"), Message(Address("a/b", "2"), "x")]
        )


def test_timers_are_let_run_or_compared_pending() -> None:
    messages = [Message(Address("test/timer", "t"), "x")]
    assert_deterministic(timer, STRING, messages)
    assert_deterministic(lambda: LocalRuntime(timer), STRING, messages, advance=timedelta(0))
    assert_batch_equivalent(timer, STRING, messages, advance=timedelta(milliseconds=10))


tally = Functions()
TOTAL = ValueSpec("total", LONG)  # two INTs may not sum to an INT
SEEN_TYPENAMES: list[str | None] = []
T = Address("test/tally", "t")


@tally.bind("test/tally", accepts=INT | LONG | STRING, specs=[TOTAL])
def count(state: State, msg: Message[int | str]) -> Result:
    """INT adds, LONG subtracts (both decode to int: the typename tells), STRING egresses."""
    SEEN_TYPENAMES.append(msg.typename)
    total = state.get(TOTAL) or 0
    match msg.value:
        case int(n) if msg.typename == LONG.typename:
            return Result(state.set(TOTAL, total - n))
        case int(n):
            return Result(state.set(TOTAL, total + n))
        case str(text):
            return Result(state, [Egress("test/out", STRING, f"{text}={total}")])
    raise AssertionError(msg)


MIXED = [
    Message(T, 5, typename=INT.typename),
    Message(T, "a", typename=STRING.typename),
    Message(T, 2, typename=LONG.typename),
    Message(T, "b", typename=STRING.typename),
]


class TestMixedBatches:
    """A function that accepts a union is checked on messages of all its types."""

    def test_batch_equivalence_on_a_mixed_batch(self) -> None:
        SEEN_TYPENAMES.clear()
        assert_batch_equivalent(tally, INT | LONG | STRING, MIXED)
        # Each message went out as the member its typename names, not as the first.
        assert set(SEEN_TYPENAMES) == {INT.typename, LONG.typename, STRING.typename}

    def test_determinism_on_a_mixed_batch(self) -> None:
        SEEN_TYPENAMES.clear()
        assert_deterministic(tally, INT | LONG | STRING, MIXED)
        assert SEEN_TYPENAMES[-4:] == [m.typename for m in MIXED]

    def test_a_batch_sensitive_function_is_found_on_a_mixed_batch(self) -> None:
        batchy = Address("test/batchy", "b")
        with pytest.raises(AssertionError, match="^2 single requests and one batch of 2 differ"):
            assert_batch_equivalent(
                lambda: LocalRuntime(transport=MockTransport(once_per_request)),
                INT | STRING,
                [
                    Message(batchy, 1, typename=INT.typename),
                    Message(batchy, "a", typename=STRING.typename),
                ],
            )

    def test_a_union_needs_each_messages_typename(self) -> None:
        message = Message(T, 5)
        with pytest.raises(DefinitionError) as info:
            assert_batch_equivalent(tally, INT | LONG | STRING, [MIXED[0], message])
        assert str(info.value) == (
            "assert_batch_equivalent: message 2 of 2 has no typename, and accepts has 3 types"
            " (`io.statefun.types/int`, `io.statefun.types/long`, `io.statefun.types/string`);"
            " say which, e.g. Message(target, value, typename='io.statefun.types/int'):"
            f" {message!r}"
        )

    def test_a_typename_the_function_does_not_accept(self) -> None:
        message = Message(T, True, typename=BOOL.typename)
        with pytest.raises(DefinitionError) as info:
            assert_deterministic(tally, INT | STRING, [message])
        assert str(info.value) == (
            "assert_deterministic: message 1 of 1 has typename `io.statefun.types/bool`, which"
            " accepts does not have (`io.statefun.types/int`, `io.statefun.types/string`):"
            f" {message!r}"
        )

    def test_one_type_checks_the_typename_too(self) -> None:
        with pytest.raises(
            ValueError, match="has typename `io.statefun.types/long`, which accepts"
        ):
            assert_deterministic(tally, INT, [Message(T, 1, typename=LONG.typename)])

    def test_strategies_draw_mixed_batches(self) -> None:
        @settings(max_examples=20, deadline=None)
        @given(st.lists(st.one_of(sst.messages(INT, to=T), sst.messages(STRING, to=T)), max_size=4))
        def mixed(messages: list[Message[int | str]]) -> None:
            assert_batch_equivalent(tally, INT | LONG | STRING, messages)

        mixed()


def test_outcome() -> None:
    runtime = LocalRuntime(timer)
    runtime.send(Address("test/timer", "t"), STRING, "x")
    runtime.run_until_idle()
    result = outcome(runtime)
    assert (result.egress, result.state, len(result.timers)) == ((), {}, 1)


def test_the_properties_use_only_public_api() -> None:
    """What they need of the local runtime is what users get: no private module or member."""

    def private(name: str) -> bool:
        return name.startswith("_") and not name.startswith("__")

    tree = ast.parse(Path(properties.__file__).read_text())
    used = [
        ast.unparse(node)
        for node in ast.walk(tree)
        if (isinstance(node, ast.ImportFrom) and any(map(private, (node.module or "").split("."))))
        or (isinstance(node, ast.Attribute) and private(node.attr))
    ]
    assert used == []
