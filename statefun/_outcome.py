"""How a request that raised is named in metrics and spans: its function, and the kind of error.

Shared by :mod:`statefun.metrics` and :mod:`statefun.tracing`, so that a scrape
and a trace say the same word for the same failure. A request middleware sees
only the body and what ``proceed`` raised; the SDK's errors carry the rest.
"""

from __future__ import annotations

from typing import NamedTuple

from ._errors import (
    InvalidResult,
    InvocationFailed,
    InvocationTimeout,
    MalformedRequest,
    SerdeError,
    StateTypeMismatch,
    UnknownFunction,
    UnknownMessageType,
)
from ._generated.request_reply_pb2 import ToFunction

__all__ = ("UNKNOWN", "Failure", "failure", "invocation_kind")

UNKNOWN = "unknown"
"""The function label of a request whose function type is not a registered one.

Never a registered type's name, which always holds a ``/``. An unregistered
type is not used as a label value either: whoever can reach the port could
otherwise make the server keep a new series for every name it sends.
"""


class Failure(NamedTuple):
    """What a failed request was, as far as it can be known."""

    function: str
    """The function type, or :data:`UNKNOWN`."""
    id: str | None
    """The instance id, when known."""
    batch_size: int | None
    """How many messages the batch held, when known."""
    kind: str
    """``malformed``, ``unknown_function``, ``state_mismatch``, ``bad_message``,
    ``function_error``, ``timeout``, ``invalid_result`` or ``internal``."""


def failure(exc: Exception, body: bytes, *, function_raised: bool) -> Failure:
    """Name the failure ``exc`` of the request ``body``.

    ``function_raised`` says whether the failing message reached the function
    (an invocation middleware saw its call raise): a message that could not be
    decoded fails the batch before any call, with a :class:`SerdeError` cause,
    and so can a function that raises a SerdeError of its own.
    """
    if isinstance(exc, MalformedRequest):
        return Failure(UNKNOWN, None, None, "malformed")
    if isinstance(exc, UnknownFunction):
        return Failure(UNKNOWN, None, None, "unknown_function")
    if isinstance(exc, InvocationFailed):
        return Failure(exc.function, exc.id, exc.batch_size, _invocation_kind(exc, function_raised))
    if isinstance(exc, InvalidResult):
        return Failure(exc.function, exc.id, exc.batch_size, "invalid_result")
    if isinstance(exc, StateTypeMismatch):
        # Raised once the target is known to be registered, before any call: the body
        # parsed then, so it parses now, on this rare path only.
        batch = ToFunction.FromString(body).invocation
        target = batch.target
        function = f"{target.namespace}/{target.type}"
        return Failure(function, target.id, len(batch.invocations), "state_mismatch")
    return Failure(UNKNOWN, None, None, "internal")


def invocation_kind(exc: BaseException) -> str:
    """The kind of error a function's call raised, as an invocation middleware sees it."""
    return "timeout" if isinstance(exc, InvocationTimeout) else "function_error"


def _invocation_kind(exc: InvocationFailed, function_raised: bool) -> str:
    cause = exc.__cause__
    if not function_raised and isinstance(cause, (UnknownMessageType, SerdeError)):
        return "bad_message"
    return "timeout" if isinstance(cause, InvocationTimeout) else "function_error"
