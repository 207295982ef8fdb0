"""``protobuf_type``: generated message classes, named like ``google.protobuf.Any`` URLs."""

from __future__ import annotations

import pytest
from google.protobuf.message import DecodeError
from hypothesis import given
from hypothesis import strategies as st

from statefun import SerdeError, ValueSpec, protobuf_type
from statefun._generated.kafka_egress_pb2 import KafkaProducerRecord
from statefun._generated.kinesis_egress_pb2 import KinesisEgressRecord

KAFKA = protobuf_type(KafkaProducerRecord)

records = st.builds(KafkaProducerRecord, key=st.text(), value_bytes=st.binary(), topic=st.text())


class TestTypename:
    def test_default_namespace_is_the_any_type_url(self) -> None:
        assert KAFKA.typename == "type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord"

    def test_namespace_can_be_replaced(self) -> None:
        assert (
            protobuf_type(KafkaProducerRecord, namespace="example").typename
            == "example/io.statefun.sdk.egress.KafkaProducerRecord"
        )

    def test_usable_as_a_state_type(self) -> None:
        # State types need exactly one `/`; the full name has dots only.
        assert ValueSpec("last", KAFKA).type is KAFKA


class TestRoundTrips:
    @given(records)
    def test_bytes_are_protobufs_own(self, record: KafkaProducerRecord) -> None:
        assert KAFKA.encode(record) == record.SerializeToString()

    @given(records)
    def test_round_trip(self, record: KafkaProducerRecord) -> None:
        assert KAFKA.decode(KAFKA.encode(record)) == record


class TestErrors:
    def test_another_message_class(self) -> None:
        with pytest.raises(SerdeError) as info:
            KAFKA.encode(KinesisEgressRecord())  # type: ignore[arg-type]
        assert str(info.value) == (
            "`type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord`:"
            " cannot encode a `KinesisEgressRecord`:"
            " expected `io.statefun.sdk.egress.KafkaProducerRecord`, got `KinesisEgressRecord`"
        )

    def test_garbage_bytes(self) -> None:
        with pytest.raises(SerdeError) as info:
            KAFKA.decode(b"\xff\xff")
        assert str(info.value).startswith(
            "`type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord`:"
            " cannot decode 2 bytes: "
        )  # the rest is protobuf's own wording, which varies by version
        assert isinstance(info.value.__cause__, DecodeError)


class TestIdentity:
    def test_equal_by_class_and_namespace(self) -> None:
        assert protobuf_type(KafkaProducerRecord) == KAFKA
        assert protobuf_type(KafkaProducerRecord, namespace="x") != KAFKA
        assert protobuf_type(KinesisEgressRecord) != KAFKA

    def test_repr(self) -> None:
        assert repr(KAFKA) == (
            "Type('type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord',"
            " ProtobufSerde(io.statefun.sdk.egress.KafkaProducerRecord))"
        )
