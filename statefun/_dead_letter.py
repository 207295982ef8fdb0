"""Dead letters: a message a function can never process, set aside instead of failing the job.

By default a message the function cannot process fails its batch: the runtime
retries, and when its call budget runs out the job restarts from a checkpoint
and meets the same message again, forever. A function bound with
``on_error=DeadLetters(...)`` instead sends such a message, with what is needed
to replay it, to an egress, and carries on with the rest of the batch.
"""

# No `from __future__ import annotations` here: DeadLetter's annotations must be
# real objects, because statefun/__init__.py renames its module to `statefun`,
# where msgspec.inspect (the testing strategies) could not look up strings.
from datetime import datetime

import msgspec

from ._address import Address
from ._effects import Effect, Egress, KafkaRecord, KinesisRecord
from ._errors import DefinitionError, Permanent
from ._typename import split_strict
from .serdes.json import json_type

__all__ = ("DEAD_LETTER", "DeadLetter", "DeadLetters")


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """A message set aside, with everything needed to replay it.

    The JSON a dead-letter egress receives; ``value`` is base64 there.

    >>> from datetime import timezone
    >>> letter = DeadLetter(function="shop/cart", id="u1", typename="shop/Add", value=b"{}",
    ...                     error_type="statefun.SerdeError", error="...",
    ...                     time=datetime(2024, 5, 1, tzinfo=timezone.utc))
    >>> letter.target
    Address(typename='shop/cart', id='u1')
    >>> letter.caller_id is None  # it came from an ingress
    True
    """

    function: str
    """The function type the message was for."""
    id: str
    """The id of the instance it was for."""
    typename: str
    """The typename it arrived as."""
    value: bytes
    """Its bytes, exactly as they arrived."""
    error_type: str
    """The qualified name of the error, e.g. ``statefun.SerdeError``."""
    error: str
    """The error's message."""
    time: datetime
    """When it was set aside (UTC, the function server's clock)."""
    caller_function: str | None = None
    """The function type that sent it; None for a message from an ingress."""
    caller_id: str | None = None
    """The id of the instance that sent it."""

    @property
    def target(self) -> Address:
        """The address the message was for: where a replay sends it."""
        return Address(self.function, self.id)

    @property
    def caller(self) -> Address | None:
        """Who sent it, as the function saw it; None for a message from an ingress."""
        if self.caller_function is None or self.caller_id is None:
            return None
        return Address(self.caller_function, self.caller_id)


DEAD_LETTER = json_type("io.statefun.sdk/DeadLetter", DeadLetter)
"""The Type of a :class:`DeadLetter` sent to a plain (not Kafka or Kinesis) egress."""


class DeadLetters:
    """The policy that sets aside messages a function cannot process.

    ``egress`` is the egress id from module.yaml; with ``topic`` it is a Kafka
    egress and each dead letter a record keyed by the target id, with ``stream``
    a Kinesis egress (partition key the target id, or the function type for an
    empty id), with neither a typed egress receiving :data:`DEAD_LETTER`.

    What qualifies is explicit: a message that cannot be decoded as its declared
    type, a message of a type the function does not accept, and an exception the
    function raises that is permanent: a :class:`statefun.Permanent`, or an
    instance of one of ``permanent``. Anything else still fails the batch: a
    state value that cannot be decoded, a timeout, any other error.

    >>> policy = DeadLetters("shop/dead-letters", topic="dead-letters", permanent=(KeyError,))
    >>> policy.qualifies(KeyError("sku-9"))
    True
    >>> policy.qualifies(TimeoutError())
    False
    """

    __slots__ = ("egress", "topic", "stream", "permanent")

    egress: str
    topic: str | None
    stream: str | None
    permanent: tuple[type[BaseException], ...]

    def __init__(
        self,
        egress: str,
        *,
        topic: str | None = None,
        stream: str | None = None,
        permanent: tuple[type[BaseException], ...] = (),
    ) -> None:
        split_strict(egress, "DeadLetters egress id")
        if topic is not None and stream is not None:
            raise DefinitionError(
                "DeadLetters: give a Kafka `topic` or a Kinesis `stream`, not both"
            )
        for name, value in (("topic", topic), ("stream", stream)):
            if value is not None and (not isinstance(value, str) or not value):
                raise DefinitionError(f"DeadLetters: `{name}` must be a non-empty `str`")
        if not isinstance(permanent, tuple) or not all(
            isinstance(kind, type) and issubclass(kind, BaseException) for kind in permanent
        ):
            raise DefinitionError(
                f"DeadLetters: `permanent` must be a tuple of exception classes, got {permanent!r}"
            )
        object.__setattr__(self, "egress", egress)
        object.__setattr__(self, "topic", topic)
        object.__setattr__(self, "stream", stream)
        object.__setattr__(self, "permanent", permanent)

    def qualifies(self, error: BaseException) -> bool:
        """Whether ``error``, raised by the function, sets the message aside."""
        return isinstance(error, (Permanent, *self.permanent))

    def effect(self, letter: DeadLetter) -> Effect:
        """The egress effect that carries ``letter``."""
        if self.topic is not None:
            return KafkaRecord(self.egress, topic=self.topic, key=letter.id, value=_encode(letter))
        if self.stream is not None:
            # Kinesis refuses an empty partition key, and the runtime sends an empty
            # id for a Kafka record with an empty key (protocol.md §6.15).
            return KinesisRecord(
                self.egress,
                stream=self.stream,
                partition_key=letter.id or letter.function,
                value=_encode(letter),
            )
        return Egress(self.egress, DEAD_LETTER, letter)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("DeadLetters is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DeadLetters):
            return NotImplemented
        return (self.egress, self.topic, self.stream, self.permanent) == (
            other.egress,
            other.topic,
            other.stream,
            other.permanent,
        )

    def __hash__(self) -> int:
        return hash((self.egress, self.topic, self.stream, self.permanent))

    def __repr__(self) -> str:
        where = f", topic={self.topic!r}" if self.topic else ""
        where += f", stream={self.stream!r}" if self.stream else ""
        kinds = f", permanent=({', '.join(k.__name__ for k in self.permanent)},)"
        return f"DeadLetters({self.egress!r}{where}{kinds if self.permanent else ''})"


def _encode(letter: DeadLetter) -> bytes:
    return DEAD_LETTER.encode(letter)


def error_name(error: BaseException) -> str:
    """``module.QualName`` of an error's class, as a dead letter records it."""
    kind = type(error)
    return f"{kind.__module__}.{kind.__qualname__}"
