"""Effects and ``Result``: immutable values, equal by content, checked where they are built."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

import statefun
from statefun import (
    INT,
    STRING,
    Address,
    CancelDelayed,
    DefinitionError,
    Effect,
    Egress,
    InvalidTypeName,
    KafkaRecord,
    KinesisRecord,
    Result,
    Send,
    SendAfter,
    State,
)

PEER = Address("example/peer", "p")


def examples() -> list[Effect]:
    """One of each effect; built fresh on each call, so equality is by content."""
    return [
        Send(PEER, INT, 1),
        SendAfter(timedelta(seconds=1), PEER, STRING, "x", cancellation_token="t"),
        CancelDelayed("t"),
        Egress("example/out", INT, 2),
        KafkaRecord("example/kafka", topic="topic", key="k", value=b"v"),
        KinesisRecord(
            "example/kinesis", stream="s", partition_key="p", value=b"v", explicit_hash_key="h"
        ),
    ]


class TestValues:
    def test_the_set_is_closed(self) -> None:
        # dataclass(slots=True) builds a second class and the first one lingers
        # in __subclasses__, so compare names; the classes used are the public ones.
        # Tests may define rogue effects of their own; only the package's count.
        names = {c.__name__ for c in Effect.__subclasses__() if c.__module__.startswith("statefun")}
        assert names == {type(e).__name__ for e in examples()}
        assert len(names) == 6
        assert all(getattr(statefun, type(e).__name__) is type(e) for e in examples())

    @pytest.mark.parametrize("index", range(6))
    def test_equal_and_hashable_by_content(self, index: int) -> None:
        first, second = examples()[index], examples()[index]
        assert first is not second
        assert first == second
        assert hash(first) == hash(second)

    def test_different_content_differs(self) -> None:
        assert Send(PEER, INT, 1) != Send(PEER, INT, 2)
        assert Send(PEER, INT, 1) != Send(Address("example/peer", "q"), INT, 1)
        assert SendAfter(timedelta(1), PEER, INT, 1) != SendAfter(timedelta(2), PEER, INT, 1)
        assert KafkaRecord("example/k", topic="t", value=b"") != KafkaRecord(
            "example/k", topic="t", value=b"", key=""
        )

    @pytest.mark.parametrize("index", range(6))
    def test_immutable(self, index: int) -> None:
        effect = examples()[index]
        field = dataclasses.fields(effect)[0].name  # type: ignore[arg-type]
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(effect, field, None)

    def test_reprs_read_as_the_constructor_call(self) -> None:
        assert repr(CancelDelayed("t")) == "CancelDelayed(token='t')"
        assert repr(KafkaRecord("example/kafka", topic="topic", value="v")) == (
            "KafkaRecord(egress='example/kafka', topic='topic', value=b'v', key=None)"
        )
        assert repr(Send(PEER, INT, 1)) == (
            "Send(target=Address(typename='example/peer', id='p'),"
            " type=Type('io.statefun.types/int', IntSerde()), value=1)"
        )


class TestSend:
    def test_target_must_be_an_address(self) -> None:
        with pytest.raises(DefinitionError) as info:
            Send("example/peer", INT, 1)  # type: ignore[arg-type]
        assert str(info.value) == "Send: target must be an Address, got `str`"

    def test_type_must_be_a_type(self) -> None:
        with pytest.raises(DefinitionError) as info:
            Send(PEER, int, 1)  # type: ignore[arg-type]
        assert str(info.value) == (
            "Send: type must be a statefun Type (e.g. INT, json_type(...)), got `type`"
        )

    # The value is a star-parameter, for mypy's sake (statefun._type.Encoder):
    # a call with another number of values must still fail, and say so.
    def test_exactly_one_value(self) -> None:
        calls: list[tuple[Callable[[], object], str]] = [
            (lambda: Send(PEER, INT), "Send: expected one value after the type, got 0"),  # type: ignore[call-arg]
            (lambda: Send(PEER, INT, 1, 2), "Send: expected one value after the type, got 2"),  # type: ignore[call-arg]
            (
                lambda: Send(PEER, INT, value=1),  # type: ignore[call-arg]
                "Send: give the value by position, after the type: Send(..., type, value),"
                " not value=",
            ),
        ]
        for call, message in calls:
            with pytest.raises(DefinitionError) as info:
                call()
            assert str(info.value) == message
        with pytest.raises(DefinitionError) as info:
            Egress("example/out", INT)  # type: ignore[call-arg]
        assert str(info.value) == "Egress: expected one value after the type, got 0"


class TestSendAfter:
    def test_fields(self) -> None:
        effect = SendAfter(timedelta(seconds=1, microseconds=1999), PEER, INT, 1)
        assert (effect.delay_ms, effect.cancellation_token) == (1001, None)

    def test_zero_delay_is_allowed(self) -> None:
        assert SendAfter(timedelta(0), PEER, INT, 1).delay_ms == 0

    def test_negative_delay(self) -> None:
        with pytest.raises(DefinitionError) as info:
            SendAfter(timedelta(microseconds=-1), PEER, INT, 1)
        assert str(info.value) == (
            "SendAfter: delay=datetime.timedelta(days=-1, seconds=86399, microseconds=999999)"
            " must not be negative"
        )

    def test_delay_must_be_a_timedelta(self) -> None:
        with pytest.raises(DefinitionError) as info:
            SendAfter(5, PEER, INT, 1)  # type: ignore[arg-type]
        assert str(info.value) == "SendAfter: delay must be a timedelta, got `int`"

    def test_token_is_keyword_only(self) -> None:
        with pytest.raises(TypeError):
            SendAfter(timedelta(0), PEER, INT, 1, "t")  # type: ignore[call-arg]

    @pytest.mark.parametrize(
        ("token", "message"),
        [
            ("", "SendAfter: cancellation_token must not be empty"),
            (1, "SendAfter: cancellation_token must be a `str`, got `int`"),
        ],
    )
    def test_bad_tokens(self, token: Any, message: str) -> None:
        with pytest.raises(DefinitionError) as info:
            SendAfter(timedelta(0), PEER, INT, 1, cancellation_token=token)
        assert str(info.value) == message

    def test_target_and_type_are_checked(self) -> None:
        with pytest.raises(DefinitionError) as info:
            SendAfter(timedelta(0), None, INT, 1)  # type: ignore[arg-type]
        assert str(info.value) == "SendAfter: target must be an Address, got `NoneType`"
        with pytest.raises(DefinitionError) as info:
            SendAfter(timedelta(0), PEER, None, 1)  # type: ignore[arg-type]
        assert str(info.value) == (
            "SendAfter: type must be a statefun Type (e.g. INT, json_type(...)), got `NoneType`"
        )


class TestCancelDelayed:
    def test_empty_token(self) -> None:
        with pytest.raises(DefinitionError) as info:
            CancelDelayed("")
        assert str(info.value) == "CancelDelayed: token must not be empty"

    def test_token_must_be_a_str(self) -> None:
        with pytest.raises(DefinitionError) as info:
            CancelDelayed(None)  # type: ignore[arg-type]
        assert str(info.value) == "CancelDelayed: token must be a `str`, got `NoneType`"


class TestEgress:
    def test_id_parts(self) -> None:
        effect = Egress("example/out", INT, 1)
        assert (effect.namespace, effect.name) == ("example", "out")

    def test_egress_ids_are_parsed_strictly(self) -> None:
        with pytest.raises(InvalidTypeName) as info:
            Egress("example/v1/out", INT, 1)
        assert str(info.value) == (
            "Egress id 'example/v1/out' is not a valid typename: the runtime needs exactly one `/` here"
        )

    def test_type_is_checked(self) -> None:
        with pytest.raises(DefinitionError) as info:
            Egress("example/out", "int", 1)  # type: ignore[arg-type]
        assert str(info.value) == (
            "Egress: type must be a statefun Type (e.g. INT, json_type(...)), got `str`"
        )


class TestKafkaRecord:
    @pytest.mark.parametrize(
        "value", ["héllo", b"h\xc3\xa9llo", bytearray(b"h\xc3\xa9llo"), memoryview(b"h\xc3\xa9llo")]
    )
    def test_values_are_kept_as_bytes(self, value: Any) -> None:
        record = KafkaRecord("example/k", topic="t", value=value)
        assert record.value == b"h\xc3\xa9llo"
        assert type(record.value) is bytes

    def test_key_none_and_empty_key_differ(self) -> None:
        assert KafkaRecord("example/k", topic="t", value=b"").key is None
        assert KafkaRecord("example/k", topic="t", value=b"", key="").key == ""

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"topic": "", "value": b""}, "KafkaRecord: topic must not be empty"),
            ({"topic": 1, "value": b""}, "KafkaRecord: topic must be a `str`, got `int`"),
            (
                {"topic": "t", "value": b"", "key": b"k"},
                "KafkaRecord: key must be a `str`, got `bytes`",
            ),
            (
                {"topic": "t", "value": 1.5},
                "KafkaRecord: value must be `bytes` or `str`, got `float`;"
                " encode other values with their Type first, e.g. INT.encode(n)",
            ),
        ],
    )
    def test_refused(self, kwargs: dict[str, Any], message: str) -> None:
        with pytest.raises(DefinitionError) as info:
            KafkaRecord("example/k", **kwargs)
        assert str(info.value) == message

    def test_egress_id_is_parsed_strictly(self) -> None:
        with pytest.raises(InvalidTypeName) as info:
            KafkaRecord("kafka", topic="t", value=b"")
        assert str(info.value) == (
            "KafkaRecord egress id 'kafka' is not a valid typename: expected `<namespace>/<name>`"
        )


class TestKinesisRecord:
    def test_fields(self) -> None:
        record = KinesisRecord("example/k", stream="s", partition_key="p", value="v")
        assert (record.namespace, record.name, record.value, record.explicit_hash_key) == (
            "example",
            "k",
            b"v",
            None,
        )

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"stream": "", "partition_key": "p"}, "KinesisRecord: stream must not be empty"),
            (
                {"stream": "s", "partition_key": ""},
                "KinesisRecord: partition_key must not be empty",
            ),
            (
                {"stream": "s", "partition_key": "p", "explicit_hash_key": ""},
                "KinesisRecord: explicit_hash_key must not be empty",
            ),
        ],
    )
    def test_refused(self, kwargs: dict[str, Any], message: str) -> None:
        with pytest.raises(DefinitionError) as info:
            KinesisRecord("example/k", value=b"", **kwargs)
        assert str(info.value) == message


class TestResult:
    def test_effects_become_a_tuple_in_order(self) -> None:
        state = State.of()
        effects = examples()
        result = Result(state, iter(effects))
        assert result.state is state
        assert result.effects == tuple(effects)

    def test_no_effects(self) -> None:
        assert Result(State.of()).effects == ()

    def test_equal_by_content(self) -> None:
        assert Result(State.of(), [CancelDelayed("t")]) == Result(State.of(), [CancelDelayed("t")])

    def test_state_must_be_a_state(self) -> None:
        with pytest.raises(DefinitionError) as info:
            Result({})  # type: ignore[arg-type]
        assert str(info.value) == "Result: state must be a State, got `dict`"

    def test_effects_must_be_effects(self) -> None:
        with pytest.raises(DefinitionError) as info:
            Result(State.of(), ["send"])  # type: ignore[list-item]
        assert str(info.value) == (
            "Result: 'send' is not an effect; expected one of"
            " Send, SendAfter, CancelDelayed, Egress, KafkaRecord, KinesisRecord"
        )
