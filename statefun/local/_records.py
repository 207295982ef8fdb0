"""What goes into and comes out of the local runtime, as frozen values.

Compare them with ``==``. Kafka and Kinesis egress records come back as the
very :class:`statefun.KafkaRecord` / :class:`statefun.KinesisRecord` effects a
function builds, so a test can expect exactly what the function returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from google.protobuf.message import DecodeError

from .._address import Address
from .._effects import KafkaRecord, KinesisRecord
from .._errors import DefinitionError
from .._generated.kafka_egress_pb2 import KafkaProducerRecord
from .._generated.kinesis_egress_pb2 import KinesisEgressRecord
from .._interpreter import KAFKA_TYPENAME, KINESIS_TYPENAME
from .._type import Type

__all__ = (
    "KAFKA_TYPENAME",
    "KINESIS_TYPENAME",
    "EgressRecord",
    "IngressRecord",
    "PendingTimer",
    "RawMessage",
    "decode_egress",
)

T = TypeVar("T")


def _check_typename(what: str, have: str, type_: Type[T]) -> None:
    if have != type_.typename:
        raise DefinitionError(f"{what} holds `{have}`, not `{type_.typename}`")


@dataclass(frozen=True, slots=True)
class EgressRecord:
    """A value a function sent to an egress, exactly as the runtime received it.

    >>> record = EgressRecord("example/audit", GREET.typename, b'{"name": "Ana", "visits": 1}')
    >>> record.decode(GREET)        # the value, if it is of that type
    GreetRequest(name='Ana', visits=1)
    >>> record.decode(STRING)
    Traceback (most recent call last):
    ...
    statefun.DefinitionError: egress record for `example/audit` holds `example/GreetRequest`, not `io.statefun.types/string`
    """

    egress: str
    typename: str
    value: bytes

    def decode(self, type_: Type[T]) -> T:
        """Decode the value as ``type_``; DefinitionError if the typename is another."""
        _check_typename(f"egress record for `{self.egress}`", self.typename, type_)
        return type_.decode(self.value)


@dataclass(frozen=True, slots=True)
class RawMessage:
    """A message on its way to a function, exactly as it travels: typename, bytes and sender.

    ``caller`` is the function that sent it (None for an ingress record); the
    receiver sees it as ``Message.caller``. :meth:`LocalRuntime.request` takes these.

    >>> RawMessage(GREET.typename, GREET.encode(GreetRequest("Ana")))
    RawMessage(typename='example/GreetRequest', value=b'{"name":"Ana","visits":0}', caller=None)
    """

    typename: str
    value: bytes
    caller: Address | None = None

    def decode(self, type_: Type[T]) -> T:
        """Decode the message as ``type_``; DefinitionError if the typename is another."""
        _check_typename("message", self.typename, type_)
        return type_.decode(self.value)


@dataclass(frozen=True, slots=True)
class PendingTimer:
    """A delayed message waiting for its time.

    ``due`` is the time on the runtime's clock when it will be delivered;
    ``caller`` is the function that sent it, as the receiver will see it.
    """

    due: timedelta
    target: Address
    typename: str
    value: bytes
    caller: Address
    cancellation_token: str | None = None

    def decode(self, type_: Type[T]) -> T:
        """Decode the message as ``type_``; DefinitionError if the typename is another."""
        _check_typename(f"timer for {self.target}", self.typename, type_)
        return type_.decode(self.value)


@dataclass(frozen=True, slots=True, init=False)
class IngressRecord:
    """A Kafka record to feed the runtime: ``key`` becomes the target id (protocol.md §3.6).

    ``value`` may be given as ``str`` (taken as UTF-8) or ``bytes``.

    >>> IngressRecord("names", "Ana", b'{"name": "Ana"}')
    IngressRecord(topic='names', key='Ana', value=b'{"name": "Ana"}')
    """

    topic: str
    key: str | None
    value: bytes

    def __init__(self, topic: str, key: str | None, value: bytes | str) -> None:
        object.__setattr__(self, "topic", topic)
        object.__setattr__(self, "key", key)
        object.__setattr__(
            self, "value", value.encode("utf-8") if isinstance(value, str) else bytes(value)
        )


def decode_egress(record: EgressRecord) -> KafkaRecord | KinesisRecord | EgressRecord:
    """Turn a generic Kafka/Kinesis egress record back into the effect that made it.

    Other records, and records whose bytes do not parse, are returned unchanged.
    """
    try:
        if record.typename == KAFKA_TYPENAME:
            kafka = KafkaProducerRecord.FromString(record.value)
            return KafkaRecord(
                record.egress, topic=kafka.topic, key=kafka.key or None, value=kafka.value_bytes
            )
        if record.typename == KINESIS_TYPENAME:
            kinesis = KinesisEgressRecord.FromString(record.value)
            return KinesisRecord(
                record.egress,
                stream=kinesis.stream,
                partition_key=kinesis.partition_key,
                value=kinesis.value_bytes,
                explicit_hash_key=kinesis.explicit_hash_key or None,
            )
    except (DecodeError, ValueError):
        return record
    return record
