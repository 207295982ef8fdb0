"""Effects: what a function asks the runtime to do, returned as values.

A function returns ``Result(new_state, effects)``; the interpreter turns the
effects into the ``FromFunction`` response. Each effect is an immutable value,
equal to another with the same content, so tests compare them with ``==``.
Anything the runtime would reject fails here, where the effect is built.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import KW_ONLY, dataclass, field
from datetime import timedelta
from typing import Generic, TypeVar

from ._address import Address
from ._errors import DefinitionError
from ._state import State
from ._type import Type
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


def _to_bytes(effect: str, value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
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


@dataclass(frozen=True, slots=True)
class Send(Effect, Generic[T_co]):
    """Send ``value`` (of ``type``) to the function at ``target``.

    >>> Send(Address("example/greeter", "Ana"), GREET, GreetRequest("Ana", 1))
    """

    target: Address
    type: Type[T_co]
    value: T_co

    def __post_init__(self) -> None:
        _check_target("Send", self.target)
        _check_type("Send", self.type)


@dataclass(frozen=True, slots=True)
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
    _: KW_ONLY
    cancellation_token: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.delay, timedelta):
            raise DefinitionError(
                f"SendAfter: delay must be a timedelta, got `{type(self.delay).__name__}`"
            )
        if self.delay < timedelta(0):
            raise DefinitionError(f"SendAfter: delay={self.delay!r} must not be negative")
        _check_target("SendAfter", self.target)
        _check_type("SendAfter", self.type)
        if self.cancellation_token is not None:
            _check_text("SendAfter", "cancellation_token", self.cancellation_token, allow_empty=False)

    @property
    def delay_ms(self) -> int:
        """The delay in whole milliseconds, as the runtime receives it."""
        return self.delay // timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class CancelDelayed(Effect):
    """Cancel the pending delayed message sent with ``token``.

    Cancelling a token that is unknown or already delivered does nothing.

    >>> CancelDelayed("ping-t1")
    """

    token: str

    def __post_init__(self) -> None:
        _check_text("CancelDelayed", "token", self.token, allow_empty=False)


@dataclass(frozen=True, slots=True)
class Egress(Effect, Generic[T_co]):
    """Send ``value`` (of ``type``) to the egress ``egress`` declared in module.yaml.

    For the generic Kafka and Kinesis egresses use :class:`KafkaRecord` and
    :class:`KinesisRecord`: those egresses accept nothing else.
    """

    egress: str
    type: Type[T_co]
    value: T_co
    namespace: str = field(init=False, repr=False, compare=False)
    name: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        namespace, name = split_strict(self.egress, "Egress id")
        _check_type("Egress", self.type)
        object.__setattr__(self, "namespace", namespace)
        object.__setattr__(self, "name", name)


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
    namespace: str = field(repr=False, compare=False)
    name: str = field(repr=False, compare=False)

    def __init__(
        self, egress: str, *, topic: str, value: bytes | str, key: str | None = None
    ) -> None:
        namespace, name = split_strict(egress, "KafkaRecord egress id")
        _check_text("KafkaRecord", "topic", topic, allow_empty=False)
        if key is not None:
            _check_text("KafkaRecord", "key", key, allow_empty=True)
        object.__setattr__(self, "egress", egress)
        object.__setattr__(self, "topic", topic)
        object.__setattr__(self, "value", _to_bytes("KafkaRecord", value))
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "namespace", namespace)
        object.__setattr__(self, "name", name)


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
    namespace: str = field(repr=False, compare=False)
    name: str = field(repr=False, compare=False)

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
        object.__setattr__(self, "egress", egress)
        object.__setattr__(self, "stream", stream)
        object.__setattr__(self, "partition_key", partition_key)
        object.__setattr__(self, "value", _to_bytes("KinesisRecord", value))
        object.__setattr__(self, "explicit_hash_key", explicit_hash_key)
        object.__setattr__(self, "namespace", namespace)
        object.__setattr__(self, "name", name)




@dataclass(frozen=True, slots=True, init=False)
class Result:
    """What a function returns: its new state and the effects to carry out, in order.

    >>> Result(state.set(VISITS, 1), [Send(Address("example/greeter", "Ana"), GREET, greet)])
    >>> Result(state)  # no effects
    """

    state: State
    effects: tuple[Effect, ...]

    def __init__(self, state: State, effects: Iterable[Effect] = ()) -> None:
        if not isinstance(state, State):
            raise DefinitionError(f"Result: state must be a State, got `{type(state).__name__}`")
        effects = tuple(effects)
        for effect in effects:
            if not isinstance(effect, Effect):
                raise DefinitionError(
                    f"Result: {effect!r} is not an effect; expected one of"
                    " Send, SendAfter, CancelDelayed, Egress, KafkaRecord, KinesisRecord"
                )
        object.__setattr__(self, "state", state)
        object.__setattr__(self, "effects", effects)
