"""Middleware: wrap every request, or every invocation, without touching the functions.

A middleware is any object with one or both of two ``async`` methods:

- ``request(body, proceed) -> Answer`` wraps the answering of one request body;
- ``invocation(call, proceed) -> Result`` wraps one call of a function with one message.

Each calls ``proceed`` to go on (to the next middleware, and in the end the
handler or the function) and returns what it returns, or raises. An invocation
middleware sees the function type, the message and the :class:`Result`, never
the state: the function stays the only thing that reads and writes it.
Middleware listed first is outermost. The SDK's metrics and tracing are
middleware like this; ``Handler(functions, middleware=[...])`` takes yours.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import msgspec

from ._errors import DefinitionError
from ._message import Message

if TYPE_CHECKING:
    from ._effects import Result
    from ._handler import Answer

__all__ = ("Invocation", "InvocationMiddleware", "RequestMiddleware")


class Invocation(msgspec.Struct, frozen=True, gc=False):
    """One call of a function with one message, as an invocation middleware sees it."""

    function: str
    """The function type."""
    message: Message[object]
    """The message, decoded: target, value, caller and typename."""
    index: int
    """Its place in the batch, from 0."""
    batch_size: int
    """How many messages the batch holds."""


@runtime_checkable
class RequestMiddleware(Protocol):
    """Wraps the answering of each request.

    For example, counting requests::

        class Count:
            def __init__(self) -> None:
                self.requests = 0

            async def request(
                self, body: bytes, proceed: Callable[[bytes], Awaitable[Answer]]
            ) -> Answer:
                self.requests += 1
                return await proceed(body)
    """

    async def request(
        self, body: bytes, proceed: Callable[[bytes], Awaitable[Answer]], /
    ) -> Answer:
        """Answer ``body``, by calling ``proceed(body)`` (or raise)."""
        ...


@runtime_checkable
class InvocationMiddleware(Protocol):
    """Wraps each call of a function with one message; it never sees the state."""

    async def invocation(
        self, call: Invocation, proceed: Callable[[Invocation], Awaitable[Result]], /
    ) -> Result:
        """Return the function's :class:`Result` for ``call``, by calling ``proceed(call)``."""
        ...


def split(
    middleware: Sequence[RequestMiddleware | InvocationMiddleware],
) -> tuple[tuple[RequestMiddleware, ...], tuple[InvocationMiddleware, ...]]:
    """The request and the invocation middleware, each in the given order."""
    requests: list[RequestMiddleware] = []
    invocations: list[InvocationMiddleware] = []
    for item in middleware:
        if isinstance(item, RequestMiddleware):
            requests.append(item)
        if isinstance(item, InvocationMiddleware):
            invocations.append(item)
        if not isinstance(item, (RequestMiddleware, InvocationMiddleware)):
            raise DefinitionError(
                f"middleware {item!r} has neither an async `request(body, proceed)`"
                " nor an async `invocation(call, proceed)` method"
            )
    return tuple(requests), tuple(invocations)
