"""The interpreter: a batch's final state and effects in, ``FromFunction`` bytes out.

``interpret`` and ``incomplete`` are called directly here; the batch fold
(state threading through the handler) is checked through request bytes, with a
counting serde proving each state value is decoded and encoded at most once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import pytest

from statefun import (
    INT,
    STRING,
    Address,
    CancelDelayed,
    DefinitionError,
    Effect,
    Egress,
    Functions,
    Handler,
    KafkaRecord,
    KinesisRecord,
    Message,
    Result,
    Send,
    SendAfter,
    SerdeError,
    State,
    Type,
    UndeclaredState,
    ValueSpec,
)
from statefun._generated.kafka_egress_pb2 import KafkaProducerRecord
from statefun._generated.kinesis_egress_pb2 import KinesisEgressRecord
from statefun._generated.request_reply_pb2 import FromFunction
from statefun._interpreter import incomplete, interpret
from statefun._state import Origin, from_runtime, origin_of
from tests.test_effects import public_effects

from .wire.builders import answer, call, request, typed

PEER = Address("example/peer", "p")
VISITS = ValueSpec("visits", INT)
NAME = ValueSpec("name", STRING)
SPECS: Mapping[str, ValueSpec[Any]] = {"visits": VISITS, "name": NAME}
MODIFY = FromFunction.PersistedValueMutation.MODIFY
DELETE = FromFunction.PersistedValueMutation.DELETE


def run(
    effects: Sequence[Effect] = (),
    *,
    raw: Mapping[str, bytes | None] | None = None,
    change: Callable[[State], State] | None = None,
) -> FromFunction.InvocationResponse:
    """Interpret a batch that started from ``raw`` state and ended after ``change``."""
    origin = Origin({"visits": None, "name": None} if raw is None else dict(raw))
    state = from_runtime(SPECS, origin)
    if change is not None:
        state = change(state)
    return answer(interpret(SPECS, origin, state, effects))


def mutations(result: FromFunction.InvocationResponse) -> list[tuple[int, str, bytes | None]]:
    return [
        (m.mutation_type, m.state_name, m.state_value.value if m.HasField("state_value") else None)
        for m in result.state_mutations
    ]


class TestEveryEffectIsMapped:
    """httpx's "all mapped" idea: each effect class has its own case in the interpreter."""

    EXAMPLES: list[tuple[Effect, str]] = [
        (Send(PEER, INT, 1), "outgoing_messages"),
        (SendAfter(timedelta(seconds=1), PEER, INT, 1), "delayed_invocations"),
        (CancelDelayed("t"), "delayed_invocations"),
        (Egress("example/out", INT, 1), "outgoing_egresses"),
        (KafkaRecord("example/k", topic="t", value=b"v"), "outgoing_egresses"),
        (
            KinesisRecord("example/n", stream="s", partition_key="p", value=b"v"),
            "outgoing_egresses",
        ),
    ]

    def test_the_examples_cover_every_effect(self) -> None:
        covered = {type(effect) for effect, _ in self.EXAMPLES}
        assert covered == public_effects()

    @pytest.mark.parametrize(("effect", "group"), EXAMPLES, ids=lambda x: type(x).__name__)
    def test_each_lands_in_its_group(self, effect: Effect, group: str) -> None:
        result = run([effect])
        assert [f.name for f, _ in result.ListFields()] == [group]
        assert len(getattr(result, group)) == 1

    def test_an_unknown_effect_is_refused(self) -> None:
        class Rogue(Effect, frozen=True):
            def __repr__(self) -> str:
                return "Rogue()"

        with pytest.raises(DefinitionError) as info:
            run([Rogue()])
        assert str(info.value) == "Rogue() is not one of the six effects"


class TestEffectsOnTheWire:
    def test_send(self) -> None:
        [out] = run([Send(PEER, STRING, "hi")]).outgoing_messages
        assert (out.target.namespace, out.target.type, out.target.id) == ("example", "peer", "p")
        assert (out.argument.typename, out.argument.has_value, out.argument.value) == (
            "io.statefun.types/string",
            True,
            b"\x0a\x02hi",
        )

    def test_send_after(self) -> None:
        [out] = run(
            [SendAfter(timedelta(seconds=2), PEER, INT, 1, cancellation_token="tok")]
        ).delayed_invocations
        assert (out.is_cancellation_request, out.delay_in_ms, out.cancellation_token) == (
            False,
            2000,
            "tok",
        )
        assert (out.target.type, out.argument.typename, out.argument.has_value) == (
            "peer",
            "io.statefun.types/int",
            True,
        )

    def test_cancel(self) -> None:
        [out] = run([CancelDelayed("tok")]).delayed_invocations
        assert [f.name for f, _ in out.ListFields()] == [
            "is_cancellation_request",
            "cancellation_token",
        ]
        assert (out.is_cancellation_request, out.cancellation_token) == (True, "tok")

    def test_egress(self) -> None:
        [out] = run([Egress("example/out", INT, 5)]).outgoing_egresses
        assert (out.egress_namespace, out.egress_type, out.argument.typename) == (
            "example",
            "out",
            "io.statefun.types/int",
        )
        assert (out.argument.has_value, INT.decode(out.argument.value)) == (True, 5)

    @pytest.mark.parametrize("key", [None, "", "k"])
    def test_kafka(self, key: str | None) -> None:
        [out] = run([KafkaRecord("example/k", topic="t", key=key, value="v")]).outgoing_egresses
        record = KafkaProducerRecord.FromString(out.argument.value)
        assert record == KafkaProducerRecord(topic="t", key=key or "", value_bytes=b"v")
        assert (out.egress_namespace, out.egress_type) == ("example", "k")

    def test_kinesis(self) -> None:
        [out] = run(
            [
                KinesisRecord(
                    "example/n", stream="s", partition_key="p", value=b"v", explicit_hash_key="h"
                )
            ]
        ).outgoing_egresses
        assert KinesisEgressRecord.FromString(out.argument.value) == KinesisEgressRecord(
            stream="s", partition_key="p", value_bytes=b"v", explicit_hash_key="h"
        )

    def test_an_encoding_error_names_the_effect_and_the_type(self) -> None:
        with pytest.raises(SerdeError) as info:
            run([Send(PEER, INT, 2**40)])
        assert str(info.value) == (
            "Send to `example/peer` id='p': `io.statefun.types/int`: cannot encode a `int`:"
            " the value is outside the 32-bit range; use LONG"
        )
        assert isinstance(info.value.__cause__, ValueError)

    def test_an_encoding_error_names_the_egress(self) -> None:
        with pytest.raises(SerdeError) as info:
            run([Egress("example/out", INT, 2**40)])
        assert str(info.value).startswith("Egress to `example/out`: `io.statefun.types/int`:")

    def test_an_encoding_error_names_the_state(self) -> None:
        # Without a type checker, a wrong value is only found when the batch ends.
        state = State.of(VISITS).set(VISITS, "three")  # type: ignore[arg-type]
        with pytest.raises(SerdeError) as info:
            interpret({"visits": VISITS}, origin_of(state), state, [])
        assert str(info.value) == (
            "state `visits`: `io.statefun.types/int`: cannot encode a `str`:"
            " expected `int`, got `str`"
        )


class TestOnlyChangesBecomeMutations:
    def test_untouched_state_gives_none(self) -> None:
        assert mutations(run(raw={"visits": INT.encode(3), "name": None})) == []

    def test_read_only_state_gives_none(self) -> None:
        def read(state: State) -> State:
            assert state.get(VISITS) == 3
            return state

        assert mutations(run(raw={"visits": INT.encode(3), "name": None}, change=read)) == []

    def test_the_same_value_written_back_gives_none(self) -> None:
        raw = {"visits": INT.encode(3), "name": STRING.encode("Ana")}
        assert mutations(run(raw=raw, change=lambda s: s.set(VISITS, 3).set(NAME, "Ana"))) == []

    def test_changed_and_deleted_values(self) -> None:
        raw = {"visits": INT.encode(3), "name": STRING.encode("Ana")}
        result = run(raw=raw, change=lambda s: s.set(VISITS, 4).delete(NAME))
        assert mutations(result) == [(MODIFY, "visits", INT.encode(4)), (DELETE, "name", None)]
        assert result.state_mutations[0].state_value.typename == "io.statefun.types/int"
        assert result.state_mutations[0].state_value.has_value is True

    def test_deleting_what_is_absent_gives_none(self) -> None:
        assert mutations(run(change=lambda s: s.delete(VISITS))) == []

    def test_set_then_deleted_within_the_batch_gives_none(self) -> None:
        assert mutations(run(change=lambda s: s.set(VISITS, 1).delete(VISITS))) == []

    def test_one_mutation_per_state_whatever_the_number_of_writes(self) -> None:
        def many(state: State) -> State:
            for n in range(5):
                state = state.set(VISITS, n)
            return state

        assert mutations(run(change=many)) == [(MODIFY, "visits", INT.encode(4))]


class TestAStateBuiltFromScratch:
    """A function may return ``State.of(...)``: it then says what every value should be."""

    def test_unset_values_are_deleted(self) -> None:
        raw = {"visits": INT.encode(3), "name": STRING.encode("Ana")}
        result = run(raw=raw, change=lambda s: State.of(VISITS, NAME).set(VISITS, 3))
        assert mutations(result) == [(DELETE, "name", None)]

    def test_specs_it_leaves_out_are_deleted(self) -> None:
        raw = {"visits": INT.encode(3), "name": STRING.encode("Ana")}
        result = run(raw=raw, change=lambda s: State.of(NAME).set(NAME, "Bo"))
        assert mutations(result) == [
            (DELETE, "visits", None),
            (MODIFY, "name", STRING.encode("Bo")),
        ]

    def test_it_may_not_declare_more_than_the_function(self) -> None:
        other = ValueSpec("other", INT)
        with pytest.raises(UndeclaredState) as info:
            run(change=lambda s: State.of(VISITS, other))
        assert str(info.value) == (
            "state `other` is not declared by this function (declared: `visits`, `name`);"
            " add its ValueSpec to `specs=` (in a test, to `State.of(...)`)"
        )


class TestIncomplete:
    def test_never_empty(self) -> None:
        with pytest.raises(DefinitionError) as info:
            incomplete([])
        assert (
            str(info.value) == "an IncompleteInvocationContext must name at least one missing spec"
        )

    def test_every_spec_with_type_and_expiration(self) -> None:
        specs: list[ValueSpec[Any]] = [
            VISITS,
            ValueSpec("seen", STRING, expire_after_write=timedelta(seconds=60)),
            ValueSpec("last", INT, expire_after_call=timedelta(milliseconds=1500)),
        ]
        response = FromFunction.FromString(incomplete(specs))
        assert response.WhichOneof("response") == "incomplete_invocation_context"
        mode = FromFunction.ExpirationSpec
        assert [
            (
                v.state_name,
                v.type_typename,
                v.expiration_spec.mode,
                v.expiration_spec.expire_after_millis,
            )
            for v in response.incomplete_invocation_context.missing_values
        ] == [
            ("visits", "io.statefun.types/int", mode.NONE, 0),
            ("seen", "io.statefun.types/string", mode.AFTER_WRITE, 60_000),
            ("last", "io.statefun.types/int", mode.AFTER_INVOKE, 1500),
        ]


class Counting:
    """An INT serde that counts its calls."""

    def __init__(self) -> None:
        self.encodes = 0
        self.decodes = 0

    def encode(self, value: int, /) -> bytes:
        self.encodes += 1
        return INT.encode(value)

    def decode(self, data: bytes, /) -> int:
        self.decodes += 1
        return INT.decode(data)


class TestTheBatchFold:
    def setup_method(self) -> None:
        self.counts = {name: Counting() for name in ("total", "read_only", "unread", "rewritten")}
        self.types = {
            name: Type(f"test.types/{name}", serde) for name, serde in self.counts.items()
        }
        self.specs = {name: ValueSpec(name, t) for name, t in self.types.items()}
        self.seen: list[tuple[int, int | None]] = []
        functions = Functions()
        specs = self.specs

        @functions.bind("test.fns/fold", accepts=INT, specs=list(specs.values()))
        def fold(state: State, msg: Message[int]) -> Result:
            total = state.get(specs["total"])
            self.seen.append((msg.value, total))
            state.get(specs["read_only"])
            state = state.set(specs["rewritten"], 7)
            new_total = (total or 0) + msg.value
            effects = [
                Send(PEER, INT, msg.value),
                KafkaRecord("test.io/k", topic="t", value=str(msg.value)),
            ]
            return Result(state.set(specs["total"], new_total), effects)

        self.handler = Handler(functions)

    def body(self, n: int) -> bytes:
        state = {name: typed(t, 7) for name, t in self.types.items()}
        return request(
            Address("test.fns/fold", "f"),
            *(call(typed(INT, i)) for i in range(1, n + 1)),
            state=state,
        )

    def test_state_threads_through_invocations_in_order(self) -> None:
        self.handler.handle_sync(self.body(5))
        assert self.seen == [(1, 7), (2, 8), (3, 10), (4, 13), (5, 17)]

    def test_effects_accumulate_in_order(self) -> None:
        result = answer(self.handler.handle_sync(self.body(5)))
        assert [INT.decode(m.argument.value) for m in result.outgoing_messages] == [1, 2, 3, 4, 5]
        assert [
            KafkaProducerRecord.FromString(e.argument.value).value_bytes
            for e in result.outgoing_egresses
        ] == [b"1", b"2", b"3", b"4", b"5"]

    def test_each_value_is_decoded_and_encoded_at_most_once(self) -> None:
        # The body itself was encoded through the counting serdes; start from zero.
        body = self.body(50)
        for serde in self.counts.values():
            serde.encodes = serde.decodes = 0
        result = answer(self.handler.handle_sync(body))
        assert {name: (c.decodes, c.encodes) for name, c in self.counts.items()} == {
            "total": (1, 1),
            "read_only": (1, 0),
            "unread": (0, 0),
            "rewritten": (0, 1),  # written back unchanged: encoded once to compare
        }
        assert mutations(result) == [(MODIFY, "total", INT.encode(7 + sum(range(1, 51))))]
