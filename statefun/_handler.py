"""`Handler`: one request body in, one response body out.

bytes -> ToFunction -> (state, messages) -> the function, message by message ->
final state and effects -> the interpreter -> bytes. No I/O and no web
framework: the aiohttp adapter and the local runtime both sit on top of this.
:meth:`Handler.answer` also says what happened (the function, the batch, the
dead letters), for the shell to log and count.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, cast

import msgspec
from google.protobuf.message import DecodeError

from ._address import Address, trusted_address
from ._dead_letter import DeadLetter, DeadLetters, error_name
from ._effects import Effect, Result
from ._errors import (
    DefinitionError,
    EventLoopRequired,
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
from ._interpreter import Emitted, incomplete, interpret_counted
from ._message import Message
from ._middleware import Invocation, InvocationMiddleware, RequestMiddleware, split
from ._registry import AnyFunction, Function, Functions
from ._spec import ValueSpec
from ._state import Origin, State, from_runtime
from ._type import Type

__all__ = ("DEFAULT_INVOCATION_TIMEOUT", "Answer", "Handler")

DEFAULT_INVOCATION_TIMEOUT = timedelta(seconds=30)
"""How long one ``async`` invocation may take: well inside the runtime's call budget
(1 min on the OkHttp transport, 2 min on the async one), so its retry can still succeed."""

# A long batch gives the event loop a turn, so that a huge batch cannot hold up
# small requests to the same server: after every YIELD_EVERY messages for
# certain (a guarantee in messages, which a test can check whatever the
# machine's speed), and sooner when the function is slow enough that
# _YIELD_AFTER_SECONDS have passed (checked every _CLOCK_CHECK_EVERY messages).
YIELD_EVERY = 128
_YIELD_AFTER_SECONDS = 0.002
_CLOCK_CHECK_EVERY = 16


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


_NOTHING = Emitted(0, 0, 0, 0)


class Answer(msgspec.Struct, frozen=True, gc=False):
    """One request answered: the response body, and what the shell may log or count.

    In an event loop, with ``body`` the bytes of a ``ToFunction`` request::

        answer = await handler.answer(body)
        answer.outcome, answer.function, answer.batch_size  # ('ok', 'example/person', 1)
    """

    body: bytes
    """The ``FromFunction`` bytes to send back."""
    function: str
    """The function type the request was for."""
    id: str
    """The instance id."""
    batch_size: int
    """How many messages the request carried."""
    outcome: Literal["ok", "incomplete"]
    """``"incomplete"`` when the runtime was asked to register state first."""
    dead_letters: tuple[DeadLetter, ...] = ()
    """The messages set aside under the function's :class:`DeadLetters` policy."""
    emitted: Emitted = _NOTHING
    """What the response carries, counted (nothing for an incomplete one)."""
    state_read: int = 0
    """Bytes of state values the runtime sent."""


class _Yield:
    """Awaiting this hands control to the event loop once, like ``asyncio.sleep(0)``."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        yield


_YIELD = _Yield()


class _Plan:
    """What answering one function's requests needs, worked out once when serving starts."""

    __slots__ = ("typename", "fn", "types", "decoders", "specs", "dead_letters", "incomplete_cache")

    def __init__(self, function: Function) -> None:
        self.typename = function.typename
        self.fn: AnyFunction = function.fn
        # typename -> Type, to decode every incoming message
        self.types: dict[str, Type[Any]] = {t.typename: t for t in function.accepts}
        # The serdes' own decode, one call less per message than Type.decode; on a
        # failure the fold asks Type.decode again, for its SerdeError.
        self.decoders: dict[str, Callable[[bytes], object]] = {
            t.typename: t.serde.decode for t in function.accepts
        }
        self.specs: dict[str, ValueSpec[Any]] = {spec.name: spec for spec in function.specs}
        self.dead_letters: DeadLetters | None = function.on_error
        # missing spec names -> the serialized IncompleteInvocationContext
        self.incomplete_cache: dict[tuple[str, ...], bytes] = {}


class Handler:
    """Serves a :class:`Functions` registry: one request body in, one response body out.

    >>> handler = Handler(functions)
    >>> handler.handle_sync(b"not a request")
    Traceback (most recent call last):
    ...
    statefun.MalformedRequest: the body is not a ToFunction protobuf message (...)

    With ``body`` the bytes of a ``ToFunction`` request::

        response = await handler.handle(body)   # in an event loop
        response = handler.handle_sync(body)    # when every function is sync

    Errors: :class:`MalformedRequest` and :class:`UnknownFunction` for requests
    that cannot be served, :class:`InvocationFailed` (caused by the function's
    own exception) when a function raises; nothing of that batch is emitted.
    Creating a Handler freezes the registry.

    Parameters
    ----------
    functions
        The registry to serve.
    invocation_timeout
        How long an ``async`` function may take for one message before the
        request fails (a 500, which the runtime retries); ``None`` for no limit.
        A plain function cannot be interrupted, so it has no limit.
    clock
        What time it is, for the dead letters' ``time`` (UTC by default).
    middleware
        Objects that wrap each request (``async request(body, proceed)``) or each
        invocation (``async invocation(call, proceed)``), outermost first; see
        :class:`RequestMiddleware` and :class:`InvocationMiddleware`.
    """

    __slots__ = ("functions", "_plans", "_timeout", "_clock", "_requests", "_invocations")

    def __init__(
        self,
        functions: Functions,
        *,
        invocation_timeout: timedelta | None = DEFAULT_INVOCATION_TIMEOUT,
        clock: Callable[[], datetime] = _utc_now,
        middleware: Sequence[RequestMiddleware | InvocationMiddleware] = (),
    ) -> None:
        if not isinstance(functions, Functions):
            raise DefinitionError(
                f"Handler serves a Functions registry, got `{type(functions).__name__}`"
            )
        if invocation_timeout is not None and (
            not isinstance(invocation_timeout, timedelta) or invocation_timeout <= timedelta(0)
        ):
            raise DefinitionError(
                f"invocation_timeout={invocation_timeout!r} must be a positive timedelta or None"
            )
        functions.freeze()
        self.functions = functions
        self._plans = {function.typename: _Plan(function) for function in functions}
        self._timeout = None if invocation_timeout is None else invocation_timeout.total_seconds()
        self._clock = clock
        self._requests, self._invocations = split(middleware)

    async def answer(self, body: bytes) -> Answer:
        """Answer one ``ToFunction`` request body, saying what happened."""
        if self._requests:
            return await self._through(body, self._timeout)
        return await self._answer(body, self._timeout)

    async def handle(self, body: bytes) -> bytes:
        """Answer one ``ToFunction`` request body with a ``FromFunction`` body."""
        # Not through answer(): one coroutine less per request, when there is no middleware.
        if self._requests:
            return (await self._through(body, self._timeout)).body
        return (await self._answer(body, self._timeout)).body

    def handle_sync(self, body: bytes) -> bytes:
        """Like :meth:`handle`, without an event loop; usable inside a running loop too.

        Async functions work as long as they await nothing that needs a real
        event loop (network, timers); otherwise this raises :class:`EventLoopRequired`.
        Without a loop there is no clock to time them by, so ``invocation_timeout``
        does not apply here.
        """
        if self._requests:
            return run_sync(self._through(body, None)).body
        return run_sync(self._answer(body, None)).body

    async def _through(self, body: bytes, timeout: float | None) -> Answer:
        """:meth:`_answer`, inside the request middleware."""

        async def innermost(body: bytes) -> Answer:
            return await self._answer(body, timeout)

        proceed: Callable[[bytes], Awaitable[Answer]] = innermost
        for middleware in reversed(self._requests):
            proceed = _wrap_request(middleware, proceed)
        return await proceed(body)

    async def _answer(self, body: bytes, timeout: float | None) -> Answer:
        batch = _parse(body)
        target = batch.target
        typename = f"{target.namespace}/{target.type}"
        plan = self._plans.get(typename)
        if plan is None:
            raise UnknownFunction(typename)
        size = len(batch.invocations)
        present = _present_values(plan, batch)
        missing = tuple(name for name in plan.specs if name not in present)
        if missing:
            return Answer(_incomplete(plan, missing), typename, target.id, size, "incomplete")
        origin = Origin(present)
        state, effects, letters = await _fold(
            plan,
            batch,
            from_runtime(plan.specs, origin),
            timeout,
            self._clock,
            self._invocations,
        )
        try:
            response, emitted = interpret_counted(plan.specs, origin, state, effects)
        except Exception as exc:
            raise InvalidResult(typename, target.id, size, exc) from exc
        read = sum(len(data) for data in present.values() if data)
        return Answer(response, typename, target.id, size, "ok", letters, emitted, read)


def _wrap_request(
    middleware: RequestMiddleware, inner: Callable[[bytes], Awaitable[Answer]]
) -> Callable[[bytes], Awaitable[Answer]]:
    async def wrapped(body: bytes) -> Answer:
        return await middleware.request(body, inner)

    return wrapped


_NO_LETTERS: tuple[DeadLetter, ...] = ()


def _parse(body: bytes) -> ToFunction.InvocationBatchRequest:
    try:
        request = ToFunction.FromString(body)
    except (DecodeError, UnicodeDecodeError, RecursionError) as exc:
        # upb says DecodeError for everything; the pure-Python protobuf raises
        # UnicodeDecodeError for a string field that is not UTF-8, and (3.20)
        # RecursionError for deeply nested groups.
        raise MalformedRequest(f"the body is not a ToFunction protobuf message ({exc})") from None
    if not request.HasField("invocation"):
        raise MalformedRequest("the ToFunction message holds no invocation batch")
    batch = request.invocation
    if not batch.HasField("target"):
        raise MalformedRequest("the invocation batch has no target address")
    return batch


def _present_values(
    plan: _Plan, batch: ToFunction.InvocationBatchRequest
) -> dict[str, bytes | None]:
    """The bytes of every state the runtime sent, by name; None for a state with no value.

    A state is present when its *name* is listed, whatever its value: deciding by
    value would ask for an empty state again and again (protocol.md §6.2).
    """
    present: dict[str, bytes | None] = {}
    for persisted in batch.state:
        name = persisted.state_name
        value = persisted.state_value
        if not (persisted.HasField("state_value") and value.has_value):
            present[name] = None
            continue
        present[name] = value.value
        spec = plan.specs.get(name)
        if spec is not None and value.typename != spec.type.typename:
            raise StateTypeMismatch(name, spec.type.typename, value.typename)
    return present


async def _fold(
    plan: _Plan,
    batch: ToFunction.InvocationBatchRequest,
    state: State,
    timeout: float | None,
    clock: Callable[[], datetime],
    middleware: tuple[InvocationMiddleware, ...] = (),
) -> tuple[State, list[Effect], tuple[DeadLetter, ...]]:
    """Call the function once per message, in order, threading the state through."""
    effects: list[Effect] = []
    letters = _NO_LETTERS
    target = batch.target
    address = trusted_address(target.namespace, target.type, target.id)
    typename = plan.typename
    fn = plan.fn
    types = plan.types
    decoders = plan.decoders
    policy = plan.dead_letters
    callers: dict[tuple[str, str, str], Address] = {}  # batches often repeat a caller
    invocations = batch.invocations
    count = len(invocations)
    last_yield = time.perf_counter() if count > _CLOCK_CHECK_EVERY else 0.0
    for index, invocation in enumerate(invocations):
        if (
            index
            and index % _CLOCK_CHECK_EVERY == 0
            and (
                index % YIELD_EVERY == 0 or time.perf_counter() - last_yield >= _YIELD_AFTER_SECONDS
            )
        ):
            await _YIELD
            last_yield = time.perf_counter()
        argument = invocation.argument
        arg_typename = argument.typename
        caller = None
        if invocation.HasField("caller"):
            c = invocation.caller
            key = (c.namespace, c.type, c.id)
            caller = callers.get(key)
            if caller is None and (key[0] or key[1] or key[2]):
                caller = callers[key] = trusted_address(*key)
        try:
            decode = decoders.get(arg_typename)
            if decode is None:
                raise UnknownMessageType(typename, arg_typename, tuple(types))
            data = argument.value
            try:
                value = decode(data)
            except Exception:
                value = types[arg_typename].decode(data)  # raises the SerdeError
        except (UnknownMessageType, SerdeError) as exc:
            # A message that is not what the function accepts can never succeed.
            if policy is None:
                raise InvocationFailed(
                    typename, target.id, arg_typename, index, count, exc
                ) from exc
            letters += (_letter(typename, target.id, invocation, caller, exc, clock),)
            effects.append(policy.effect(letters[-1]))
            continue
        try:
            message = Message(address, value, caller, arg_typename)
            if middleware:
                call = Invocation(typename, message, index, count)
                result: Any = await _through(middleware, fn, state, call, timeout)
            else:
                result = fn(state, message)
                if type(result) is not Result:
                    result = await _settle(result, typename, timeout)
        except Exception as exc:
            if policy is None or not policy.qualifies(exc):
                raise InvocationFailed(
                    typename, target.id, arg_typename, index, count, exc
                ) from exc
            # Set aside: none of its effects, and the state as it was before it.
            letters += (_letter(typename, target.id, invocation, caller, exc, clock),)
            effects.append(policy.effect(letters[-1]))
            continue
        state = result.state
        effects.extend(result.effects)
    return state, effects, letters


async def _through(
    middleware: tuple[InvocationMiddleware, ...],
    fn: AnyFunction,
    state: State,
    call: Invocation,
    timeout: float | None,
) -> Result:
    """One invocation inside the invocation middleware; the state stays out of their reach."""

    async def innermost(call: Invocation) -> Result:
        result: object = fn(state, call.message)
        if type(result) is Result:
            return result
        return await _settle(result, call.function, timeout)

    proceed: Callable[[Invocation], Awaitable[Result]] = innermost
    for item in reversed(middleware):
        proceed = _wrap_invocation(item, proceed)
    result = await proceed(call)
    if not isinstance(result, Result):
        raise DefinitionError(
            f"an invocation middleware returned `{type(result).__name__}` for function"
            f" `{call.function}`; it must return the Result that proceed() gave, or another"
        )
    return result


def _wrap_invocation(
    middleware: InvocationMiddleware, inner: Callable[[Invocation], Awaitable[Result]]
) -> Callable[[Invocation], Awaitable[Result]]:
    async def wrapped(call: Invocation) -> Result:
        return await middleware.invocation(call, inner)

    return wrapped


def _letter(
    function: str,
    id: str,
    invocation: ToFunction.Invocation,
    caller: Address | None,
    error: BaseException,
    clock: Callable[[], datetime],
) -> DeadLetter:
    return DeadLetter(
        function=function,
        id=id,
        typename=invocation.argument.typename,
        value=invocation.argument.value,
        error_type=error_name(error),
        error=str(error),
        time=clock(),
        caller_function=None if caller is None else caller.typename,
        caller_id=None if caller is None else caller.id,
    )


async def _settle(result: object, typename: str, timeout: float | None) -> Result:
    if isinstance(result, Awaitable):
        # isinstance() leaves pyright an Awaitable[Unknown]; what it gives is checked next.
        awaitable = cast("Awaitable[object]", result)
        result = await (awaitable if timeout is None else _within(awaitable, timeout, typename))
    if not isinstance(result, Result):
        raise DefinitionError(
            f"function `{typename}` returned `{type(result).__name__}`; it must return a Result"
        )
    return result


# A TimeoutError the function raises itself (its own client timing out) is its
# own error; only the limit running out is an InvocationTimeout.
if sys.version_info >= (3, 11):

    async def _within(awaitable: Awaitable[object], seconds: float, function: str) -> object:
        limit = asyncio.timeout(seconds)
        try:
            async with limit:
                return await awaitable
        except TimeoutError:
            if limit.expired():
                raise InvocationTimeout(function, seconds) from None
            raise

else:  # Python 3.10 has no asyncio.timeout; wait_for runs the awaitable as a task

    async def _within(awaitable: Awaitable[object], seconds: float, function: str) -> object:
        task = asyncio.ensure_future(awaitable)
        done, _ = await asyncio.wait((task,), timeout=seconds)
        if not done:
            task.cancel()
            raise InvocationTimeout(function, seconds)
        return task.result()


def _incomplete(plan: _Plan, missing: tuple[str, ...]) -> bytes:
    cached = plan.incomplete_cache.get(missing)
    if cached is None:
        cached = incomplete(plan.specs[name] for name in missing)
        plan.incomplete_cache[missing] = cached
    return cached


def run_sync(coroutine: Coroutine[Any, Any, Answer]) -> Answer:
    """Drive a coroutine that only ever yields to give the loop a turn."""
    try:
        while True:
            if coroutine.send(None) is not None:
                coroutine.close()
                raise EventLoopRequired(
                    "a function awaited something that needs an event loop;"
                    " use `await handler.handle(body)` instead of handle_sync"
                )
    except StopIteration as done:
        result: Answer = done.value
        return result
