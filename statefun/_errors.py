"""Every exception this SDK raises.

::

    StatefunError
     ├── DefinitionError (ValueError)      a function, spec, type or effect is ill-formed
     │    └── InvalidTypeName               a typename the runtime would reject
     ├── SerdeError (ValueError)            a value could not be encoded or decoded
     ├── StateError                         state was used in a way the function did not declare
     │    ├── UndeclaredState (LookupError) a spec the function did not declare
     │    └── StateTypeMismatch (TypeError) stored state has another typename than its spec
     ├── UnknownMessageType (TypeError)     a message of a type the function does not accept
     ├── RequestError                       the request itself is wrong (the HTTP layer maps these)
     │    ├── MalformedRequest (ValueError) not a valid ToFunction: 400
     │    └── UnknownFunction (LookupError) no function of that type is registered: 404
     ├── Permanent                          raised by a function: this message can never succeed
     ├── InvocationTimeout (TimeoutError)   an async function took longer than invocation_timeout
     ├── InvocationFailed                   a function raised; the cause is its own exception
     ├── InvalidResult                      a batch's results cannot become a response
     └── EventLoopRequired (RuntimeError)   handle_sync met a function that awaits real I/O

Errors a user can fix in code also subclass the builtin they would expect, so
``except ValueError`` keeps working. Two things are not ours, on purpose:
assigning to an immutable value raises ``AttributeError``, as a frozen
dataclass does; and a serde may raise anything, which :class:`Type` turns into
a :class:`SerdeError` (the serde's own error is the ``__cause__``). The local
runtime adds its own branch (``statefun.local``'s errors module).
"""

from __future__ import annotations

from ._text import one_line

__all__ = (
    "DefinitionError",
    "InvocationTimeout",
    "Permanent",
    "EventLoopRequired",
    "InvalidResult",
    "InvalidTypeName",
    "InvocationFailed",
    "MalformedRequest",
    "RequestError",
    "SerdeError",
    "StateError",
    "StateTypeMismatch",
    "StatefunError",
    "UndeclaredState",
    "UnknownFunction",
    "UnknownMessageType",
)


class StatefunError(Exception):
    """The root of every error raised by this SDK."""


class DefinitionError(StatefunError, ValueError):
    """Raised where a function, spec, type or effect is built with values the runtime would reject."""


class InvalidTypeName(DefinitionError):
    """Raised for a typename that is not ``<namespace>/<name>`` as the runtime parses it."""

    def __init__(self, what: str, typename: object, reason: str) -> None:
        self.what = what
        self.typename = typename
        self.reason = reason
        super().__init__(f"{what} {typename!r} is not a valid typename: {reason}")


class SerdeError(StatefunError, ValueError):
    """Raised when a value cannot be encoded to, or decoded from, its typename's bytes.

    The serializer's own exception, if any, is the ``__cause__``. ``where`` says
    which value it was, when the SDK knows (``state `stock```, a ``Send`` to ...).
    """

    def __init__(self, typename: str, message: str, *, where: str | None = None) -> None:
        self.typename = typename
        self.message = message
        self.where = where
        prefix = "" if where is None else f"{where}: "
        # msgspec's message may quote the payload (an unknown field's name).
        super().__init__(one_line(f"{prefix}`{typename}`: {message}"))

    def at(self, where: str) -> SerdeError:
        """This error, saying which value it was (raise it ``from`` this one's cause)."""
        return SerdeError(self.typename, self.message, where=where)


class StateError(StatefunError):
    """Raised when state is used in a way the function did not declare."""


class UndeclaredState(StateError, LookupError):
    """Raised when a function reads or writes a spec it did not declare."""

    def __init__(
        self,
        name: str,
        declared: tuple[str, ...],
        *,
        declared_as: object = None,
        given: object = None,
    ) -> None:
        self.name = name
        self.declared = declared
        if declared_as is not None:
            # The same name with another type or expiry: a copy that drifted.
            message = (
                f"state `{name}` is declared as {declared_as!r}, not {given!r};"
                " use the declared ValueSpec"
            )
        else:
            listed = ", ".join(f"`{d}`" for d in declared) or "none"
            message = (
                f"state `{name}` is not declared by this function (declared: {listed});"
                " add its ValueSpec to `specs=` (in a test, to `State.of(...)`)"
            )
        super().__init__(message)

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return str(self.args[0])


class StateTypeMismatch(StateError, TypeError):
    """Raised when the runtime holds a state under another typename than its spec declares.

    The runtime cannot change a registered state's type while the job runs, nor
    after a restore: give the new type a new state name instead.
    """

    def __init__(self, name: str, expected: str, received: str) -> None:
        self.name = name
        self.expected = expected
        self.received = received
        super().__init__(
            f"state `{name}` is stored as `{one_line(received)}` but its ValueSpec says"
            f" `{expected}`;"
            " a registered state cannot change type, use a new state name"
        )


class UnknownMessageType(StatefunError, TypeError):
    """Raised when a function receives a message of a typename it does not accept."""

    def __init__(self, function: str, typename: str, accepted: tuple[str, ...]) -> None:
        self.function = function
        self.typename = typename
        self.accepted = accepted
        listed = ", ".join(f"`{a}`" for a in accepted)
        super().__init__(
            f"function `{function}` cannot handle `{one_line(typename)}`; it accepts {listed}"
        )


class RequestError(StatefunError):
    """Raised when a request cannot be served; the HTTP layer turns it into a 4xx answer."""

    status = 400


class MalformedRequest(RequestError, ValueError):
    """Raised when the request body is not a usable ``ToFunction`` message."""

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(one_line(reason))


class UnknownFunction(RequestError, LookupError):
    """Raised when a request targets a function type that is not registered."""

    status = 404

    def __init__(self, typename: str) -> None:
        self.typename = typename
        super().__init__(f"no function is registered for `{one_line(typename)}`")

    def __str__(self) -> str:
        return str(self.args[0])


class Permanent(StatefunError):
    """Raise it (or a subclass) from a function to say this message can never succeed.

    Under a :class:`statefun.DeadLetters` policy the message is set aside and the
    batch carries on; under the default policy it fails the batch like any error.

    The cart example raises ``Permanent(f"quantity must be positive, got {quantity}")``
    and binds its function with ``on_error=DeadLetters("shop/dead-letters", ...)``:

    >>> from examples.cart.functions import ADD, Add, functions
    >>> runtime = LocalRuntime(functions)
    >>> runtime.send(Address("shop/cart", "u1"), ADD, Add("pen", quantity=0))
    >>> runtime.run_until_idle()
    >>> [letter.error for letter in runtime.egress("shop/dead-letters", DEAD_LETTER)]
    ['quantity must be positive, got 0']
    """


class InvocationFailed(StatefunError):
    """Raised when a function raised while handling a batch; nothing of the batch is emitted.

    The function's own exception is the ``__cause__``. The attributes say where it
    happened: ``function`` (typename), ``id``, ``typename`` of the message, and
    ``index`` of that message in a batch of ``batch_size``.
    """

    def __init__(
        self,
        function: str,
        id: str,
        typename: str,
        index: int,
        batch_size: int,
        cause: BaseException | None = None,
    ) -> None:
        self.function = function
        self.id = id
        self.typename = typename
        self.index = index
        self.batch_size = batch_size
        # The cause goes into the message too, so that a one-line answer or log
        # line says what went wrong, not only where.
        reason = "" if cause is None else f": {type(cause).__name__}: {cause}"
        super().__init__(
            one_line(
                f"function `{function}` id={id!r} failed on `{typename}`"
                f" (message {index + 1} of {batch_size}){reason}"
            )
        )


class InvalidResult(StatefunError):
    """Raised when what a batch returned cannot become a response; nothing of it is emitted.

    For example a value its serde cannot encode, two pending delayed messages
    with one cancellation token, or a State declaring specs the function does
    not. The underlying error is the ``__cause__``; ``function``, ``id`` and
    ``batch_size`` say which batch it was.
    """

    def __init__(self, function: str, id: str, batch_size: int, reason: object) -> None:
        self.function = function
        self.id = id
        self.batch_size = batch_size
        super().__init__(
            one_line(
                f"function `{function}` id={id!r}: the results of a batch of {batch_size}"
                f" message{'s' if batch_size != 1 else ''} cannot be sent: {reason}"
            )
        )


class EventLoopRequired(StatefunError, RuntimeError):
    """Raised by ``Handler.handle_sync`` when a function awaits something that needs a
    running event loop (network, timers): use ``await handler.handle(body)`` there."""


class InvocationTimeout(StatefunError, TimeoutError):
    """The cause of an :class:`InvocationFailed` when an ``async`` function took longer than
    the handler's ``invocation_timeout``: the request is answered 500 and the runtime retries."""

    def __init__(self, function: str, limit: float) -> None:
        self.function = function
        self.limit = limit
        super().__init__(
            f"function `{function}` did not finish within {limit:g} s (invocation_timeout)"
        )
