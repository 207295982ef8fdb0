"""Errors of the local runtime.

::

    StatefunError
     ├── RuntimeFailure                     the real runtime would fail the job here
     │    ├── RoutingFailure (LookupError)  no function type, ingress topic or key to route by
     │    ├── DelayFailure (ValueError)     a delayed message or cancellation the runtime rejects
     │    ├── StateFailure                  a state registration or mutation the runtime rejects
     │    ├── EgressFailure (LookupError)   an unknown egress, or a record its kind cannot take
     │    └── EndpointFailure               non-2xx, wrong content type or unreadable response
     ├── ModuleError (ValueError)           module.yaml cannot be read as the runtime reads it
     └── NotIdle (RuntimeError)             work is still left after the runtime's step budget

A :class:`RuntimeFailure` carries ``reason``: the message the real runtime's
exception would carry, so a failure here reads like the job failure it stands for.
"""

from __future__ import annotations

from .._errors import StatefunError

__all__ = (
    "DelayFailure",
    "EgressFailure",
    "EndpointFailure",
    "ModuleError",
    "NotIdle",
    "RoutingFailure",
    "RuntimeFailure",
    "StateFailure",
)


class RuntimeFailure(StatefunError):
    """Raised where Apache Flink StateFun would fail the job, with the same reason.

    Nothing of the response that caused it is applied, so the runtime can still
    be inspected afterwards.

    Attributes
    ----------
    reason
        What the real runtime's exception says (e.g. ``"Unknown egress example/nope"``).
    where
        Which address or input caused it, in the user's terms.
    """

    def __init__(self, reason: str, where: str = "") -> None:
        self.reason = reason
        self.where = where
        super().__init__(f"{reason} ({where})" if where else reason)

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return str(self.args[0])


class RoutingFailure(RuntimeFailure, LookupError):
    """Raised for a message to a function type no endpoint serves, or an ingress record
    that cannot be routed (unknown topic, missing key)."""

    @classmethod
    def no_provider(cls, typename: str, where: str) -> RoutingFailure:
        """The failure for a message to ``typename``, which no endpoint serves."""
        return cls(f"Cannot find a provider for type {typename}", where)


class DelayFailure(RuntimeFailure, ValueError):
    """Raised for a negative delay, a cancellation token that is already pending for
    the sender's id, or a cancellation without a token."""


class StateFailure(RuntimeFailure):
    """Raised for a state registered twice with different types, a mutation of a state
    never registered, a MODIFY whose typename is not the registered one, or an
    IncompleteInvocationContext that registers nothing new (the runtime would loop)."""


class EgressFailure(RuntimeFailure, LookupError):
    """Raised for an egress id that module.yaml does not declare, or a record of a
    typename the generic Kafka or Kinesis egress does not accept."""


class EndpointFailure(RuntimeFailure):
    """Raised when a function endpoint answers with a non-2xx status, another content
    type than ``application/octet-stream``, or a body that is not a ``FromFunction``.

    ``status`` is the HTTP status when there was one. A function that raised (an
    HTTP 500) shows up as this error when ``raise_function_errors=False``; its
    exception is the ``__cause__``.
    """

    def __init__(self, reason: str, where: str = "", *, status: int | None = None) -> None:
        self.status = status
        super().__init__(reason, where)


class ModuleError(StatefunError, ValueError):
    """Raised when a module.yaml cannot be read the way the runtime reads it."""


class NotIdle(StatefunError, RuntimeError):
    """Raised when work is still left after the runtime's budget of requests or time.

    Usually a function sends itself messages in a loop, or reschedules a timer
    forever; raise ``max_requests`` or the ``limit`` if the work is really finite.
    """
