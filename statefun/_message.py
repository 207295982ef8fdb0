"""`Message[T]`: what a function is called with."""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

from ._address import Address

__all__ = ("Message",)

T_co = TypeVar("T_co", covariant=True)


class Message(msgspec.Struct, Generic[T_co], frozen=True, gc=False):
    """A message delivered to a function, its value already decoded.

    >>> Message(Address("example/person", "Ana"), GreetRequest("Ana"))
    Message(target=Address(typename='example/person', id='Ana'),
            value=GreetRequest(name='Ana', visits=0), caller=None, typename=None)

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
