"""protocol.md §6, "Behaviours that are easy to get wrong": one test class per point.

Points about the runtime or HTTP alone (§6.14 response framing, §6.21 cold
start) have no SDK-core behaviour to test here; framing is in
``tests/test_aiohttp.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statefun import (
    INT,
    LONG,
    STRING,
    Address,
    CancelDelayed,
    DefinitionError,
    Effect,
    Egress,
    Functions,
    Handler,
    InvalidResult,
    InvalidTypeName,
    KafkaRecord,
    KinesisRecord,
    Message,
    Result,
    Send,
    SendAfter,
    State,
    StateTypeMismatch,
    ValueSpec,
    json_type,
)
from statefun._generated.request_reply_pb2 import FromFunction, TypedValue

from .builders import ABSENT_VALUE, answer, call, missing_specs, request, typed

SELF = Address("test.fns/subject", "s-1")
PEER = Address("test.fns/peer", "p-1")
COUNT = ValueSpec("count", INT)
NAME = ValueSpec("name", STRING)
MODIFY = FromFunction.PersistedValueMutation.MODIFY
DELETE = FromFunction.PersistedValueMutation.DELETE


class Recorder:
    """A registry with one function that records what it saw and returns fixed effects."""

    def __init__(self, specs: Sequence[ValueSpec[Any]] = (COUNT,), accepts: Any = INT) -> None:
        self.seen: list[tuple[Message[Any], dict[str, object]]] = []
        self.effects: list[Effect] = []
        self.step: Callable[[State, Message[Any]], State] | None = None
        functions = Functions()
        specs_ = tuple(specs)

        @functions.bind(SELF.typename, accepts=accepts, specs=specs_)
        def subject(state: State, msg: Message[Any]) -> Result:
            self.seen.append((msg, {s.name: state.get(s) for s in specs_}))
            if self.step is not None:
                state = self.step(state, msg)
            return Result(state, self.effects)

        self.handler = Handler(functions)

    def run(self, body: bytes) -> bytes:
        return self.handler.handle_sync(body)


class TestCallerMayBeAbsent:
    """§6.1"""

    def test_no_caller_field_is_none(self) -> None:
        rec = Recorder()
        rec.run(request(SELF, call(typed(INT, 1)), state={"count": None}))
        assert rec.seen[0][0].caller is None

    def test_caller_with_every_field_empty_is_none(self) -> None:
        rec = Recorder()
        invocation = call(typed(INT, 1))
        invocation.caller.SetInParent()
        assert invocation.HasField("caller")
        rec.run(request(SELF, invocation, state={"count": None}))
        assert rec.seen[0][0].caller is None

    def test_a_caller_is_an_address(self) -> None:
        rec = Recorder()
        rec.run(request(SELF, call(typed(INT, 1), caller=PEER), state={"count": None}))
        caller = rec.seen[0][0].caller
        assert caller == PEER
        assert caller is not None
        assert (caller.namespace, caller.name, caller.id) == ("test.fns", "peer", "p-1")


class TestAbsentStateIsNotAnEmptyValue:
    """§6.2: presence of a state is its name in the list; of a value, state_value with has_value."""

    def test_listed_without_state_value_runs_the_function_with_none(self) -> None:
        rec = Recorder()
        result = answer(rec.run(request(SELF, call(typed(INT, 1)), state={"count": ABSENT_VALUE})))
        assert rec.seen[0][1] == {"count": None}
        assert len(result.state_mutations) == 0

    def test_has_value_false_is_no_value(self) -> None:
        rec = Recorder()
        no_value = TypedValue(typename="", has_value=False)
        rec.run(request(SELF, call(typed(INT, 1)), state={"count": no_value}))
        assert rec.seen[0][1] == {"count": None}

    def test_not_listed_is_missing(self) -> None:
        rec = Recorder()
        specs = missing_specs(rec.run(request(SELF, call(typed(INT, 1)))))
        assert [s.state_name for s in specs] == ["count"]
        assert rec.seen == []


class TestZeroLengthValuesAreRealValues:
    """§6.3"""

    def test_empty_bytes_with_has_value_read_as_zero(self) -> None:
        rec = Recorder()
        zero = TypedValue(typename=INT.typename, has_value=True, value=b"")
        rec.run(request(SELF, call(typed(INT, 1)), state={"count": zero}))
        assert rec.seen[0][1] == {"count": 0}

    def test_setting_zero_is_modify_with_has_value(self) -> None:
        rec = Recorder()
        rec.step = lambda state, msg: state.set(COUNT, 0)
        result = answer(rec.run(request(SELF, call(typed(INT, 1)), state={"count": typed(INT, 5)})))
        [mutation] = result.state_mutations
        assert (mutation.mutation_type, mutation.state_name) == (MODIFY, "count")
        assert (mutation.state_value.has_value, mutation.state_value.value) == (True, b"")

    def test_removing_a_value_is_delete_never_modify_without_value(self) -> None:
        rec = Recorder()
        rec.step = lambda state, msg: state.delete(COUNT)
        result = answer(rec.run(request(SELF, call(typed(INT, 1)), state={"count": typed(INT, 5)})))
        [mutation] = result.state_mutations
        assert (mutation.mutation_type, mutation.state_name) == (DELETE, "count")
        assert not mutation.HasField("state_value")


class TestModifyIsSetExplicitly:
    """§6.4: DELETE is the proto3 default, so MODIFY must be on the wire."""

    def test_modify_is_one_on_the_wire(self) -> None:
        rec = Recorder()
        rec.step = lambda state, msg: state.set(COUNT, 3)
        result = answer(rec.run(request(SELF, call(typed(INT, 1)), state={"count": None})))
        [mutation] = result.state_mutations
        assert mutation.mutation_type == 1
        # Field 1 (mutation_type) is written: varint tag 0x08, value 1.
        assert mutation.SerializeToString().startswith(b"\x08\x01")


class TestModifyTypenameIsTheRegisteredOne:
    """§6.5"""

    def test_modify_typename_equals_the_incomplete_type_typename(self) -> None:
        profile = ValueSpec("profile", json_type("example/Profile", dict[str, int]))
        rec = Recorder(specs=[profile])
        [registered] = missing_specs(rec.run(request(SELF, call(typed(INT, 1)))))
        rec.step = lambda state, msg: state.set(profile, {"a": 1})
        body = request(SELF, call(typed(INT, 1)), state={"profile": None})
        [mutation] = answer(rec.run(body)).state_mutations
        assert mutation.state_value.typename == registered.type_typename == "example/Profile"

    def test_state_stored_under_another_type_is_an_error(self) -> None:
        rec = Recorder()
        body = request(SELF, call(typed(INT, 1)), state={"count": typed(LONG, 5)})
        with pytest.raises(StateTypeMismatch) as info:
            rec.run(body)
        assert str(info.value) == (
            "state `count` is stored as `io.statefun.types/long` but its ValueSpec says"
            " `io.statefun.types/int`; a registered state cannot change type, use a new state name"
        )
        assert (info.value.name, info.value.expected, info.value.received) == (
            "count",
            "io.statefun.types/int",
            "io.statefun.types/long",
        )
        assert rec.seen == []


class TestTypenameParsing:
    """§6.6: the runtime parses state types, function types and egress ids strictly."""

    @pytest.mark.parametrize("typename", ["a/b/c", "a//b"])
    def test_state_types_need_exactly_one_slash(self, typename: str) -> None:
        message_type = json_type(typename, int)  # fine for messages
        with pytest.raises(InvalidTypeName) as info:
            ValueSpec("x", message_type)
        assert str(info.value) == (
            f"ValueSpec `x` type {typename!r} is not a valid typename:"
            " the runtime needs exactly one `/` here"
        )

    @pytest.mark.parametrize(
        ("typename", "reason"),
        [
            ("a/", "namespace and name must both be non-empty"),
            ("/b", "namespace and name must both be non-empty"),
            ("ab", "expected `<namespace>/<name>`"),
        ],
    )
    def test_every_typename_needs_both_parts(self, typename: str, reason: str) -> None:
        with pytest.raises(InvalidTypeName) as info:
            json_type(typename, int)
        assert str(info.value) == f"Type typename {typename!r} is not a valid typename: {reason}"

    def test_message_typenames_pass_unparsed(self) -> None:
        deep = json_type("example.com/v1/Greet", str)
        rec = Recorder(specs=[], accepts=deep)
        rec.effects = [Send(PEER, deep, "hi")]
        result = answer(rec.run(request(SELF, call(typed(deep, "yo")))))
        assert rec.seen[0][0].value == "yo"
        assert result.outgoing_messages[0].argument.typename == "example.com/v1/Greet"


class TestNeverAnEmptyIncomplete:
    """§6.7 and §6.8"""

    def test_a_function_without_specs_never_asks(self) -> None:
        rec = Recorder(specs=[])
        result = answer(rec.run(request(SELF, call(typed(INT, 1)))))
        assert len(result.state_mutations) == 0

    @given(st.sets(st.sampled_from(["a", "b", "c", "d"])), st.booleans())
    def test_incomplete_lists_exactly_the_missing_names(
        self, present: set[str], extra: bool
    ) -> None:
        specs = [ValueSpec(n, INT) for n in "abcd"]
        rec = Recorder(specs=specs)
        state: dict[str, TypedValue | None] = {n: None for n in sorted(present)}
        if extra:
            state["undeclared"] = typed(INT, 1)
        body = rec.run(request(SELF, call(typed(INT, 1)), state=state))
        missing = [n for n in "abcd" if n not in present]
        kind = FromFunction.FromString(body).WhichOneof("response")
        if missing:
            assert kind == "incomplete_invocation_context"
            specs_sent = missing_specs(body)
            assert [s.state_name for s in specs_sent] == missing  # declaration order
            assert all(s.type_typename == "io.statefun.types/int" for s in specs_sent)
            assert rec.seen == []
        else:
            assert kind == "invocation_result"
            assert len(rec.seen) == 1


class TestDurationsAreMilliseconds:
    """§6.9"""

    def test_delay_is_truncated_to_whole_milliseconds(self) -> None:
        rec = Recorder(specs=[])
        rec.effects = [
            SendAfter(timedelta(milliseconds=1500, microseconds=999), PEER, INT, 1),
            SendAfter(timedelta(microseconds=999), PEER, INT, 2),
            SendAfter(timedelta(days=400), PEER, INT, 3),
        ]
        result = answer(rec.run(request(SELF, call(typed(INT, 1)))))
        assert [d.delay_in_ms for d in result.delayed_invocations] == [1500, 0, 400 * 86_400_000]

    def test_negative_delay_fails_where_it_is_written(self) -> None:
        with pytest.raises(DefinitionError) as info:
            SendAfter(timedelta(seconds=-1), PEER, INT, 1)
        assert str(info.value) == (
            "SendAfter: delay=datetime.timedelta(days=-1, seconds=86399) must not be negative"
        )

    def test_expiry_is_sent_in_milliseconds(self) -> None:
        spec = ValueSpec("x", INT, expire_after_call=timedelta(seconds=1, microseconds=1500))
        rec = Recorder(specs=[spec])
        [sent] = missing_specs(rec.run(request(SELF, call(typed(INT, 1)))))
        assert sent.expiration_spec.mode == FromFunction.ExpirationSpec.AFTER_INVOKE
        assert sent.expiration_spec.expire_after_millis == 1001


class TestCancellationTokens:
    """§6.10"""

    def test_cancel_needs_a_token(self) -> None:
        with pytest.raises(DefinitionError) as info:
            CancelDelayed("")
        assert str(info.value) == "CancelDelayed: token must not be empty"

    def test_an_empty_token_on_a_send_is_refused_too(self) -> None:
        with pytest.raises(DefinitionError) as info:
            SendAfter(timedelta(0), PEER, INT, 1, cancellation_token="")
        assert str(info.value) == "SendAfter: cancellation_token must not be empty"

    def test_two_pending_sends_with_one_token_fail_before_anything_is_sent(self) -> None:
        rec = Recorder(specs=[])
        rec.effects = [
            SendAfter(timedelta(0), PEER, INT, 1, cancellation_token="t"),
            SendAfter(timedelta(0), PEER, INT, 2, cancellation_token="t"),
        ]
        with pytest.raises(InvalidResult) as info:
            rec.run(request(SELF, call(typed(INT, 1))))
        assert isinstance(info.value.__cause__, DefinitionError)
        assert str(info.value.__cause__) == (
            "two delayed messages use cancellation token 't' in one response;"
            " the runtime would fail the job on the second"
        )
        assert (info.value.function, info.value.id, info.value.batch_size) == (
            SELF.typename,
            SELF.id,
            1,
        )

    def test_a_token_is_free_again_once_cancelled(self) -> None:
        rec = Recorder(specs=[])
        rec.effects = [
            SendAfter(timedelta(0), PEER, INT, 1, cancellation_token="t"),
            CancelDelayed("t"),
            SendAfter(timedelta(0), PEER, INT, 2, cancellation_token="t"),
        ]
        result = answer(rec.run(request(SELF, call(typed(INT, 1)))))
        assert [
            (d.is_cancellation_request, d.cancellation_token) for d in result.delayed_invocations
        ] == [(False, "t"), (True, "t"), (False, "t")]

    def test_a_send_without_token_sends_no_token(self) -> None:
        rec = Recorder(specs=[])
        rec.effects = [SendAfter(timedelta(seconds=1), PEER, INT, 1)]
        [delayed] = answer(rec.run(request(SELF, call(typed(INT, 1))))).delayed_invocations
        assert [field.name for field, _ in delayed.ListFields()] == [
            "delay_in_ms",
            "target",
            "argument",
        ]


class TestEffectOrdering:
    """§6.11: groups in the runtime's order; within each group, the function's order."""

    def test_groups_keep_their_own_order(self) -> None:
        rec = Recorder(specs=[])
        rec.effects = [
            KafkaRecord("test.io/out", topic="k1", value=b""),
            SendAfter(timedelta(seconds=1), PEER, INT, 1, cancellation_token="a"),
            Send(PEER, INT, 1),
            CancelDelayed("a"),
            Egress("test.io/plain", INT, 9),
            Send(PEER, INT, 2),
            CancelDelayed("b"),
            KinesisRecord("test.io/kin", stream="s", partition_key="p", value=b""),
            SendAfter(timedelta(seconds=2), PEER, INT, 2, cancellation_token="b"),
        ]
        result = answer(rec.run(request(SELF, call(typed(INT, 1)))))
        assert [INT.decode(m.argument.value) for m in result.outgoing_messages] == [1, 2]
        assert [
            (d.is_cancellation_request, d.cancellation_token) for d in result.delayed_invocations
        ] == [(False, "a"), (True, "a"), (True, "b"), (False, "b")]
        assert [e.egress_type for e in result.outgoing_egresses] == ["out", "plain", "kin"]


class TestOneContextPerBatch:
    """§6.12 and §6.13"""

    def test_state_threads_and_callers_reset_in_order(self) -> None:
        rec = Recorder()
        rec.step = lambda state, msg: state.set(COUNT, (state.get(COUNT) or 0) + msg.value)
        body = request(
            SELF,
            call(typed(INT, 1), caller=PEER),
            call(typed(INT, 10)),
            call(typed(INT, 100), caller=Address("test.fns/other", "o")),
            state={"count": typed(INT, 1000)},
        )
        result = answer(rec.run(body))
        assert [(m.value, m.caller, s) for m, s in rec.seen] == [
            (1, PEER, {"count": 1000}),
            (10, None, {"count": 1001}),
            (100, Address("test.fns/other", "o"), {"count": 1011}),
        ]
        [mutation] = result.state_mutations  # one mutation, after the whole batch
        assert INT.decode(mutation.state_value.value) == 1111


class TestEmptyIds:
    """§6.15: the runtime accepts an empty id (an empty Kafka key); so does the SDK."""

    def test_empty_target_id(self) -> None:
        rec = Recorder(specs=[])
        rec.run(request(Address(SELF.typename, ""), call(typed(INT, 1))))
        assert rec.seen[0][0].target == Address(SELF.typename, "")


class TestGenericEgressTypenames:
    """§6.16"""

    def test_kafka_and_kinesis_records_use_the_exact_type_urls(self) -> None:
        rec = Recorder(specs=[])
        rec.effects = [
            KafkaRecord("test.io/k", topic="t", value="v"),
            KinesisRecord("test.io/n", stream="s", partition_key="p", value="v"),
        ]
        result = answer(rec.run(request(SELF, call(typed(INT, 1)))))
        assert [e.argument.typename for e in result.outgoing_egresses] == [
            "type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord",
            "type.googleapis.com/io.statefun.sdk.egress.KinesisEgressRecord",
        ]
        assert all(e.argument.has_value for e in result.outgoing_egresses)


class TestEgressValuesAreExplicit:
    """§6.17: no SDK-specific auto-encoding of numbers; the value must be bytes or text."""

    def test_numbers_are_refused(self) -> None:
        with pytest.raises(DefinitionError) as info:
            KafkaRecord("test.io/k", topic="t", value=1)  # type: ignore[arg-type]
        assert str(info.value) == (
            "KafkaRecord: value must be `bytes` or `str`, got `int`;"
            " encode other values with their Type first, e.g. INT.encode(n)"
        )


class TestStateIsReloadedPerRequest:
    """§6.20: states the function does not declare are ignored."""

    def test_undeclared_states_are_ignored(self) -> None:
        rec = Recorder()
        rec.step = lambda state, msg: state.set(COUNT, 1)
        body = request(
            SELF,
            call(typed(INT, 1)),
            state={"old_name": typed(STRING, "x"), "count": None},
        )
        result = answer(rec.run(body))
        assert [m.state_name for m in result.state_mutations] == ["count"]

    def test_a_renamed_state_is_missing(self) -> None:
        rec = Recorder(specs=[ValueSpec("new_name", STRING)])
        specs = missing_specs(rec.run(request(SELF, call(typed(INT, 1)), state={"old_name": None})))
        assert [s.state_name for s in specs] == ["new_name"]


class TestPythonSpecifics:
    """§6.22: where the official Python SDK trips, this one does not."""

    def test_handle_sync_works_inside_a_running_loop(self) -> None:
        rec = Recorder(specs=[])
        body = request(SELF, call(typed(INT, 1)))

        async def inside() -> bytes:
            return rec.run(body)

        answer(asyncio.run(inside()))
        assert len(rec.seen) == 1

    def test_a_sync_function_returning_a_coroutine_is_awaited(self) -> None:
        functions = Functions()

        async def later(state: State) -> Result:
            return Result(state, [Send(PEER, INT, 7)])

        @functions.bind(SELF.typename, accepts=INT)
        def subject(state: State, msg: Message[int]) -> Awaitable[Result]:
            return later(state)

        result = answer(Handler(functions).handle_sync(request(SELF, call(typed(INT, 1)))))
        assert [INT.decode(m.argument.value) for m in result.outgoing_messages] == [7]

    def test_bound_methods_can_be_registered(self) -> None:
        class Counter:
            def __init__(self) -> None:
                self.calls = 0

            def handle(self, state: State, msg: Message[int]) -> Result:
                self.calls += 1
                return Result(state)

        counter = Counter()
        functions = Functions()
        functions.bind(SELF.typename, accepts=INT)(counter.handle)
        Handler(functions).handle_sync(request(SELF, call(typed(INT, 1))))
        assert counter.calls == 1

    def test_a_value_changed_in_place_persists_only_when_set(self) -> None:
        items = ValueSpec("items", json_type("example/Items", list[int]))
        rec = Recorder(specs=[items])
        kept: list[list[int]] = []

        def append_without_set(state: State, msg: Message[int]) -> State:
            value = state.get(items)
            assert value is not None
            value.append(msg.value)
            kept.append(value)
            return state

        rec.step = append_without_set
        body = request(SELF, call(typed(INT, 4)), state={"items": typed(items.type, [1])})
        assert len(answer(rec.run(body)).state_mutations) == 0

        rec.step = lambda state, msg: state.set(items, [*(state.get(items) or []), msg.value])
        [mutation] = answer(rec.run(body)).state_mutations
        assert items.type.decode(mutation.state_value.value) == [1, 4]
