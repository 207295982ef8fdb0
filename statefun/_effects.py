"""Effects: what a function asks the runtime to do, returned as values.

A function returns ``Result(new_state, effects)``; the interpreter turns the
effects into the ``FromFunction`` response. Each effect is an immutable value,
equal to another with the same content, so tests compare them with ``==``.
Anything the runtime would reject fails here, where the effect is built.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Generic, ParamSpec, TypeVar

from ._address import Address
from ._errors import DefinitionError
from ._millis import ONE_MS
from ._slots import slot_setters
from ._state import State
from ._type import Codec, Type
from ._typename import split_strict

__all__ = (
    "CancelDelayed",
    "Effect",
    "Egress",
    "KafkaRecord",
    "KinesisRecord",
    "Result",
    "Send",
    "SendAfter",
)

T_co = TypeVar("T_co", covariant=True)
P = ParamSpec("P")


def _name_of(value: object) -> str:
    return type(value).__name__


def _check_target(effect: str, target: object) -> None:
    if not isinstance(target, Address):
        raise DefinitionError(f"{effect}: target must be an Address, got `{type(target).__name__}`")


def _check_type(effect: str, type_: object) -> None:
    if not isinstance(type_, Type):
        raise DefinitionError(
            f"{effect}: type must be a statefun Type (e.g. INT, json_type(...)),"
            f" got `{type(type_).__name__}`"
        )


def _check_text(effect: str, name: str, value: object, *, allow_empty: bool) -> None:
    if not isinstance(value, str):
        raise DefinitionError(f"{effect}: {name} must be a `str`, got `{type(value).__name__}`")
    if not allow_empty and not value:
        raise DefinitionError(f"{effect}: {name} must not be empty")


def _one_value(effect: str, value: tuple[object, ...], keywords: dict[str, object]) -> object:
    # The value is typed through the Type's encoder (see _type.Encoder), which
    # makes it a star-parameter; the call must still give exactly one.
    if keywords:
        raise DefinitionError(
            f"{effect}: give the value by position, after the type:"
            f" {effect}(..., type, value), not {', '.join(f'{k}=' for k in keywords)}"
        )
    if len(value) != 1:
        raise DefinitionError(f"{effect}: expected one value after the type, got {len(value)}")
    return value[0]


def _to_bytes(effect: str, value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytearray, memoryview)):
        # isinstance() leaves pyright a memoryview[Unknown]; bytes() takes any buffer.
        return bytes(value)  # pyright: ignore[reportUnknownArgumentType]
    raise DefinitionError(
        f"{effect}: value must be `bytes` or `str`, got `{type(value).__name__}`;"
        " encode other values with their Type first, e.g. INT.encode(n)"
    )


class Effect:
    """The base of the six effects: :class:`Send`, :class:`SendAfter`,
    :class:`CancelDelayed`, :class:`Egress`, :class:`KafkaRecord` and
    :class:`KinesisRecord`. The set is closed; the interpreter knows no others.
    """

    __slots__ = ()


# Effect is a plain base class rather than a Union of generic aliases so that
# mypy infers `Send(target, INT, value)` from its own arguments, and so still
# rejects a value that does not match the type, even inside a list literal.


@dataclass(frozen=True, slots=True, init=False)
class Send(Effect, Generic[T_co]):
    """Send ``value`` (of ``type``) to the function at ``target``.

    >>> Send(Address("example/greeter", "Ana"), GREET, GreetRequest("Ana", 1))
    """

    target: Address
    type: Type[T_co]
    value: T_co

    def __init__(
        self, target: Address, type: Codec[T_co, P], *value: P.args, **_: P.kwargs
    ) -> None:
        _check_target("Send", target)
        _check_type("Send", type)
        _send_target(self, target)
        _send_type(self, type)
        _send_value(self, _one_value("Send", value, _))


@dataclass(frozen=True, slots=True, init=False)
class SendAfter(Effect, Generic[T_co]):
    """Send ``value`` to ``target`` once ``delay`` has passed.

    With a ``cancellation_token`` the message can be cancelled until it is
    delivered (:class:`CancelDelayed`). A token must be unique among the pending
    delayed messages of the sending instance's id: the runtime fails the job on
    a duplicate.

    >>> SendAfter(timedelta(seconds=5), Address("example/timer", "t1"), STRING, "ping",
    ...           cancellation_token="ping-t1")
    """

    delay: timedelta
    target: Address
    type: Type[T_co]
    value: T_co
    cancellation_token: str | None

    def __init__(
        self,
        delay: timedelta,
        target: Address,
        type: Type[T_co],
        value: T_co,
        *,
        cancellation_token: str | None = None,
    ) -> None:
        if not isinstance(delay, timedelta):
            raise DefinitionError(f"SendAfter: delay must be a timedelta, got `{_name_of(delay)}`")
        if delay < _ZERO:
            raise DefinitionError(f"SendAfter: delay={delay!r} must not be negative")
        _check_target("SendAfter", target)
        _check_type("SendAfter", type)
        if cancellation_token is not None:
            _check_text("SendAfter", "cancellation_token", cancellation_token, allow_empty=False)
        _after_delay(self, delay)
        _after_target(self, target)
        _after_type(self, type)
        _after_value(self, value)
        _after_cancellation_token(self, cancellation_token)

    @property
    def delay_ms(self) -> int:
        """The delay in whole milliseconds, as the runtime receives it."""
        return self.delay // ONE_MS


@dataclass(frozen=True, slots=True, init=False)
class CancelDelayed(Effect):
    """Cancel the pending delayed message sent with ``token``.

    Cancelling a token that is unknown or already delivered does nothing.

    >>> CancelDelayed("ping-t1")
    """

    token: str

    def __init__(self, token: str) -> None:
        _check_text("CancelDelayed", "token", token, allow_empty=False)
        _cancel_token(self, token)


@dataclass(frozen=True, slots=True, init=False)
class Egress(Effect, Generic[T_co]):
    """Send ``value`` (of ``type``) to the egress ``egress`` declared in module.yaml.

    For the generic Kafka and Kinesis egresses use :class:`KafkaRecord` and
    :class:`KinesisRecord`: those egresses accept nothing else.

    >>> Egress("example/audit", GREET, GreetRequest("Ana", 1))
    """

    egress: str
    type: Type[T_co]
    value: T_co
    namespace: str = field(init=False, repr=False, compare=False)
    name: str = field(init=False, repr=False, compare=False)

    def __init__(self, egress: str, type: Codec[T_co, P], *value: P.args, **_: P.kwargs) -> None:
        namespace, name = split_strict(egress, "Egress id")
        _check_type("Egress", type)
        _egress_egress(self, egress)
        _egress_type(self, type)
        _egress_value(self, _one_value("Egress", value, _))
        _egress_namespace(self, namespace)
        _egress_name(self, name)


@dataclass(frozen=True, slots=True, init=False)
class KafkaRecord(Effect):
    """A record for a Kafka egress (``io.statefun.kafka.v1/egress``) to produce.

    ``value`` may be given as ``str`` (written as UTF-8) or ``bytes``; it is kept
    as bytes. A ``key`` of ``None`` produces a record without a key.

    >>> KafkaRecord("example/greets", topic="greetings", key="Ana", value="Hello Ana!")
    """

    egress: str
    topic: str
    value: bytes
    key: str | None
    namespace: str = field(init=False, repr=False, compare=False)
    name: str = field(init=False, repr=False, compare=False)

    def __init__(
        self, egress: str, *, topic: str, value: bytes | str, key: str | None = None
    ) -> None:
        namespace, name = split_strict(egress, "KafkaRecord egress id")
        _check_text("KafkaRecord", "topic", topic, allow_empty=False)
        if key is not None:
            _check_text("KafkaRecord", "key", key, allow_empty=True)
        data = _to_bytes("KafkaRecord", value)
        _kafka_egress(self, egress)
        _kafka_topic(self, topic)
        _kafka_value(self, data)
        _kafka_key(self, key)
        _kafka_namespace(self, namespace)
        _kafka_name(self, name)


@dataclass(frozen=True, slots=True, init=False)
class KinesisRecord(Effect):
    """A record for a Kinesis egress (``io.statefun.kinesis.v1/egress``) to put.

    >>> KinesisRecord("example/out", stream="greetings", partition_key="Ana", value=b"hi")
    """

    egress: str
    stream: str
    partition_key: str
    value: bytes
    explicit_hash_key: str | None
    namespace: str = field(init=False, repr=False, compare=False)
    name: str = field(init=False, repr=False, compare=False)

    def __init__(
        self,
        egress: str,
        *,
        stream: str,
        partition_key: str,
        value: bytes | str,
        explicit_hash_key: str | None = None,
    ) -> None:
        namespace, name = split_strict(egress, "KinesisRecord egress id")
        _check_text("KinesisRecord", "stream", stream, allow_empty=False)
        _check_text("KinesisRecord", "partition_key", partition_key, allow_empty=False)
        if explicit_hash_key is not None:
            _check_text("KinesisRecord", "explicit_hash_key", explicit_hash_key, allow_empty=False)
        data = _to_bytes("KinesisRecord", value)
        _kinesis_egress(self, egress)
        _kinesis_stream(self, stream)
        _kinesis_partition_key(self, partition_key)
        _kinesis_value(self, data)
        _kinesis_explicit_hash_key(self, explicit_hash_key)
        _kinesis_namespace(self, namespace)
        _kinesis_name(self, name)


@dataclass(frozen=True, slots=True, init=False)
class Result:
    """What a function returns: its new state and the effects to carry out, in order.

    >>> Result(state.set(VISITS, 1), [Send(Address("example/greeter", "Ana"), GREET, greet)])
    >>> Result(state)  # no effects
    """

    state: State
    effects: tuple[Effect, ...]

    def __init__(self, state: State, effects: Iterable[Effect] = ()) -> None:
        if type(state) is not State:
            raise DefinitionError(f"Result: state must be a State, got `{_name_of(state)}`")
        if effects:
            effects = tuple(effects)
            for effect in effects:
                if not isinstance(effect, Effect):
                    raise DefinitionError(
                        f"Result: {effect!r} is not an effect; expected one of"
                        " Send, SendAfter, CancelDelayed, Egress, KafkaRecord, KinesisRecord"
                    )
        else:
            effects = ()
        _result_state(self, state)
        _result_effects(self, effects)


# Effects are built for every message a function sends: the constructors above
# validate, then set the slots directly instead of through a frozen dataclass's
# object.__setattr__, which costs about twice as much.
_ZERO = timedelta(0)
_send_target, _send_type, _send_value = slot_setters(Send, "target", "type", "value")
_after_delay, _after_target, _after_type, _after_value, _after_cancellation_token = slot_setters(
    SendAfter, "delay", "target", "type", "value", "cancellation_token"
)
(_cancel_token,) = slot_setters(CancelDelayed, "token")
_egress_egress, _egress_type, _egress_value, _egress_namespace, _egress_name = slot_setters(
    Egress, "egress", "type", "value", "namespace", "name"
)
_kafka_egress, _kafka_topic, _kafka_value, _kafka_key, _kafka_namespace, _kafka_name = slot_setters(
    KafkaRecord, "egress", "topic", "value", "key", "namespace", "name"
)
(
    _kinesis_egress,
    _kinesis_stream,
    _kinesis_partition_key,
    _kinesis_value,
    _kinesis_explicit_hash_key,
    _kinesis_namespace,
    _kinesis_name,
) = slot_setters(
    KinesisRecord,
    "egress",
    "stream",
    "partition_key",
    "value",
    "explicit_hash_key",
    "namespace",
    "name",
)
_result_state, _result_effects = slot_setters(Result, "state", "effects")
