"""`Message[T]`: what a function is called with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ._address import Address
from ._slots import slot_setter

__all__ = ("Message",)

T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True, slots=True)
class Message(Generic[T_co]):
    """A message delivered to a function, its value already decoded.

    >>> Message(Address("example/person", "Ana"), GreetRequest("Ana"))

    Parameters
    ----------
    target
        The address of the function instance being called (its own address).
    value
        The decoded value, of one of the types the function accepts.
    caller
        Who sent it; ``None`` for messages from an ingress.
    typename
        The typename the value arrived as. Set by the SDK; useful to tell apart
        accepted types that decode to the same Python type (``INT`` and ``LONG``).
    """

    target: Address
    value: T_co
    caller: Address | None = None
    typename: str | None = None


# Typed for Message[object]: `object.__new__(Message)` would give pyright a Message[Unknown].
_new: Callable[[type[Message[object]]], Message[object]] = object.__new__
# Messages are built once per invocation: skip the dataclass __init__.
_set_target = slot_setter(Message, "target")
_set_value = slot_setter(Message, "value")
_set_caller = slot_setter(Message, "caller")
_set_typename = slot_setter(Message, "typename")


def trusted_message(
    target: Address, value: object, caller: Address | None, typename: str
) -> Message[object]:
    """Build a Message from already-checked parts, skipping the dataclass __init__."""
    message: Message[object] = _new(Message)
    _set_target(message, target)
    _set_value(message, value)
    _set_caller(message, caller)
    _set_typename(message, typename)
    return message
