"""Effects: what a function asks the runtime to do, returned as values.

A function returns ``Result(new_state, effects)``; the interpreter turns the
effects into the ``FromFunction`` response. Each effect is an immutable value,
equal to another with the same content, so tests compare them with ``==``.
Anything the runtime would reject fails here, where the effect is built.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Generic, ParamSpec, TypeVar

import msgspec
from msgspec.structs import force_setattr

from ._address import Address
from ._errors import DefinitionError
from ._millis import ONE_MS
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


class Effect(msgspec.Struct, frozen=True, gc=False):
    """The base of the six effects: :class:`Send`, :class:`SendAfter`,
    :class:`CancelDelayed`, :class:`Egress`, :class:`KafkaRecord` and
    :class:`KinesisRecord`. The set is closed; the interpreter knows no others.
    """


# Effect is a plain base class rather than a Union of generic aliases so that
# mypy infers `Send(target, INT, value)` from its own arguments, and so still
# rejects a value that does not match the type, even inside a list literal.
# Each effect is a frozen msgspec Struct: built in C, about five times cheaper
# than a frozen dataclass, which matters since functions build one per message
# sent. __post_init__ refuses what the runtime would reject.


class Send(Effect, Generic[T_co], frozen=True, gc=False):
    """Send ``value`` (of ``type``) to the function at ``target``.

    >>> Send(Address("example/greeter", "Ana"), GREET, GreetRequest("Ana", 1))
    Send(target=Address(typename='example/greeter', id='Ana'),
         type=Type('example/GreetRequest', JsonSerde(GreetRequest)),
         value=GreetRequest(name='Ana', visits=1))
    """

    target: Address
    type: Type[T_co]
    value: T_co

    if TYPE_CHECKING:  # the value is checked against the Type's encoder: see _type.Encoder

        def __init__(
            self, target: Address, type: Codec[T_co, P], *value: P.args, **_: P.kwargs
        ) -> None: ...

    def __post_init__(self) -> None:
        _check_target("Send", self.target)
        _check_type("Send", self.type)


class _Later(Effect, Generic[T_co], frozen=True, gc=False):
    """SendAfter's positional fields: the token after them is keyword-only."""

    delay: timedelta
    target: Address
    type: Type[T_co]
    value: T_co


class SendAfter(_Later[T_co], frozen=True, gc=False, kw_only=True):
    """Send ``value`` to ``target`` once ``delay`` has passed.

    With a ``cancellation_token`` the message can be cancelled until it is
    delivered (:class:`CancelDelayed`). A token must be unique among the pending
    delayed messages of the sending instance's id: the runtime fails the job on
    a duplicate.

    >>> SendAfter(timedelta(seconds=5), Address("example/timer", "t1"), STRING, "ping",
    ...           cancellation_token="ping-t1")
    SendAfter(delay=datetime.timedelta(seconds=5), target=Address(typename='example/timer', id='t1'),
              type=Type('io.statefun.types/string', StringSerde()), value='ping',
              cancellation_token='ping-t1')
    """

    cancellation_token: str | None = None

    def __post_init__(self) -> None:
        delay = self.delay
        if not isinstance(delay, timedelta):
            raise DefinitionError(f"SendAfter: delay must be a timedelta, got `{_name_of(delay)}`")
        if delay < _ZERO:
            raise DefinitionError(f"SendAfter: delay={delay!r} must not be negative")
        _check_target("SendAfter", self.target)
        _check_type("SendAfter", self.type)
        if self.cancellation_token is not None:
            _check_text(
                "SendAfter", "cancellation_token", self.cancellation_token, allow_empty=False
            )

    @property
    def delay_ms(self) -> int:
        """The delay in whole milliseconds, as the runtime receives it."""
        return self.delay // ONE_MS


class CancelDelayed(Effect, frozen=True, gc=False):
    """Cancel the pending delayed message sent with ``token``.

    Cancelling a token that is unknown or already delivered does nothing.

    >>> CancelDelayed("ping-t1")
    CancelDelayed(token='ping-t1')
    """

    token: str

    def __post_init__(self) -> None:
        _check_text("CancelDelayed", "token", self.token, allow_empty=False)


class _ToEgress(Effect, frozen=True, gc=False):
    """An effect for the egress ``egress`` of module.yaml: a typename, parsed strictly."""

    egress: str

    @property
    def namespace(self) -> str:
        """The egress id's namespace."""
        return split_strict(self.egress)[0]

    @property
    def name(self) -> str:
        """The egress id's name."""
        return split_strict(self.egress)[1]


class Egress(_ToEgress, Generic[T_co], frozen=True, gc=False):
    """Send ``value`` (of ``type``) to the egress ``egress`` declared in module.yaml.

    For the generic Kafka and Kinesis egresses use :class:`KafkaRecord` and
    :class:`KinesisRecord`: those egresses accept nothing else.

    >>> Egress("example/audit", GREET, GreetRequest("Ana", 1))
    Egress(egress='example/audit', type=Type('example/GreetRequest', JsonSerde(GreetRequest)),
           value=GreetRequest(name='Ana', visits=1))
    """

    type: Type[T_co]
    value: T_co

    if TYPE_CHECKING:  # the value is checked against the Type's encoder: see _type.Encoder

        def __init__(
            self, egress: str, type: Codec[T_co, P], *value: P.args, **_: P.kwargs
        ) -> None: ...

    def __post_init__(self) -> None:
        split_strict(self.egress, "Egress id")
        _check_type("Egress", self.type)


class KafkaRecord(_ToEgress, frozen=True, gc=False, kw_only=True):
    """A record for a Kafka egress (``io.statefun.kafka.v1/egress``) to produce.

    ``value`` may be given as ``str`` (written as UTF-8) or ``bytes``; it is kept
    as bytes. A ``key`` of ``None`` produces a record without a key.

    >>> KafkaRecord("example/greets", topic="greetings", key="Ana", value="Hello Ana!")
    KafkaRecord(egress='example/greets', topic='greetings', value=b'Hello Ana!', key='Ana')
    """

    topic: str
    value: bytes
    key: str | None = None

    if TYPE_CHECKING:  # the value may be given as str

        def __init__(
            self, egress: str, *, topic: str, value: bytes | str, key: str | None = None
        ) -> None: ...

    def __post_init__(self) -> None:
        split_strict(self.egress, "KafkaRecord egress id")
        _check_text("KafkaRecord", "topic", self.topic, allow_empty=False)
        if self.key is not None:
            _check_text("KafkaRecord", "key", self.key, allow_empty=True)
        if type(self.value) is not bytes:
            force_setattr(self, "value", _to_bytes("KafkaRecord", self.value))


class KinesisRecord(_ToEgress, frozen=True, gc=False, kw_only=True):
    """A record for a Kinesis egress (``io.statefun.kinesis.v1/egress``) to put.

    >>> KinesisRecord("example/out", stream="greetings", partition_key="Ana", value=b"hi")
    KinesisRecord(egress='example/out', stream='greetings', partition_key='Ana', value=b'hi',
                  explicit_hash_key=None)
    """

    stream: str
    partition_key: str
    value: bytes
    explicit_hash_key: str | None = None

    if TYPE_CHECKING:  # the value may be given as str

        def __init__(
            self,
            egress: str,
            *,
            stream: str,
            partition_key: str,
            value: bytes | str,
            explicit_hash_key: str | None = None,
        ) -> None: ...

    def __post_init__(self) -> None:
        split_strict(self.egress, "KinesisRecord egress id")
        _check_text("KinesisRecord", "stream", self.stream, allow_empty=False)
        _check_text("KinesisRecord", "partition_key", self.partition_key, allow_empty=False)
        if self.explicit_hash_key is not None:
            _check_text(
                "KinesisRecord", "explicit_hash_key", self.explicit_hash_key, allow_empty=False
            )
        if type(self.value) is not bytes:
            force_setattr(self, "value", _to_bytes("KinesisRecord", self.value))


class Result(msgspec.Struct, frozen=True, gc=False):
    """What a function returns: its new state and the effects to carry out, in order.

    >>> state = State.of(VISITS)
    >>> greet = GreetRequest("Ana", 1)
    >>> Result(state.set(VISITS, 1), [Send(Address("example/greeter", "Ana"), GREET, greet)])
    Result(state=State(visits=1),
           effects=(Send(target=Address(typename='example/greeter', id='Ana'),
                         type=Type('example/GreetRequest', JsonSerde(GreetRequest)),
                         value=GreetRequest(name='Ana', visits=1)),))
    >>> Result(state)  # no effects
    Result(state=State(visits=None), effects=())
    """

    state: State
    effects: tuple[Effect, ...] = ()

    if TYPE_CHECKING:  # any iterable of effects; kept as a tuple

        def __init__(self, state: State, effects: Iterable[Effect] = ()) -> None: ...

    def __post_init__(self) -> None:
        if type(self.state) is not State:
            raise DefinitionError(f"Result: state must be a State, got `{_name_of(self.state)}`")
        effects = self.effects
        if type(effects) is not tuple:
            effects = tuple(effects)
            force_setattr(self, "effects", effects)
        for effect in effects:
            if not isinstance(effect, Effect):
                raise DefinitionError(
                    f"Result: {effect!r} is not an effect; expected one of"
                    " Send, SendAfter, CancelDelayed, Egress, KafkaRecord, KinesisRecord"
                )


_ZERO = timedelta(0)
