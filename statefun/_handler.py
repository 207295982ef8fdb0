"""`Handler`: one request body in, one response body out.

bytes -> ToFunction -> (state, messages) -> the function, message by message ->
final state and effects -> the interpreter -> bytes. No I/O and no web
framework: the aiohttp adapter and the local runtime both sit on top of this.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Coroutine, Generator
from typing import Any, cast

from google.protobuf.message import DecodeError

from ._address import Address, trusted_address
from ._effects import Effect, Result
from ._errors import (
    DefinitionError,
    EventLoopRequired,
    InvalidResult,
    InvocationFailed,
    MalformedRequest,
    StateTypeMismatch,
    UnknownFunction,
    UnknownMessageType,
)
from ._generated.request_reply_pb2 import ToFunction
from ._interpreter import incomplete, interpret
from ._message import trusted_message
from ._registry import AnyFunction, Function, Functions
from ._spec import ValueSpec
from ._state import Origin, State, from_runtime
from ._type import Type

__all__ = ("Handler",)

# A long batch gives the event loop a turn, so that a huge batch cannot hold up
# small requests to the same server: after every YIELD_EVERY messages for
# certain (a guarantee in messages, which a test can check whatever the
# machine's speed), and sooner when the function is slow enough that
# _YIELD_AFTER_SECONDS have passed (checked every _CLOCK_CHECK_EVERY messages).
YIELD_EVERY = 128
_YIELD_AFTER_SECONDS = 0.002
_CLOCK_CHECK_EVERY = 16


class _Yield:
    """Awaiting this hands control to the event loop once, like ``asyncio.sleep(0)``."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        yield


_YIELD = _Yield()


class _Plan:
    """What answering one function's requests needs, worked out once when serving starts."""

    __slots__ = ("typename", "fn", "types", "specs", "incomplete_cache")

    def __init__(self, function: Function) -> None:
        self.typename = function.typename
        self.fn: AnyFunction = function.fn
        # typename -> Type, to decode every incoming message
        self.types: dict[str, Type[Any]] = {t.typename: t for t in function.accepts}
        self.specs: dict[str, ValueSpec[Any]] = {spec.name: spec for spec in function.specs}
        # missing spec names -> the serialized IncompleteInvocationContext
        self.incomplete_cache: dict[tuple[str, ...], bytes] = {}


class Handler:
    """Serves a :class:`Functions` registry: one request body in, one response body out.

    >>> handler = Handler(functions)
    >>> response = await handler.handle(request_body)   # in an event loop
    >>> response = handler.handle_sync(request_body)     # when every function is sync

    Errors: :class:`MalformedRequest` and :class:`UnknownFunction` for requests
    that cannot be served, :class:`InvocationFailed` (caused by the function's
    own exception) when a function raises; nothing of that batch is emitted.
    Creating a Handler freezes the registry.
    """

    __slots__ = ("functions", "_plans")

    def __init__(self, functions: Functions) -> None:
        if not isinstance(functions, Functions):
            raise DefinitionError(
                f"Handler serves a Functions registry, got `{type(functions).__name__}`"
            )
        functions.freeze()
        self.functions = functions
        self._plans = {function.typename: _Plan(function) for function in functions}

    async def handle(self, body: bytes) -> bytes:
        """Answer one ``ToFunction`` request body with a ``FromFunction`` body."""
        batch = _parse(body)
        target = batch.target
        typename = f"{target.namespace}/{target.type}"
        plan = self._plans.get(typename)
        if plan is None:
            raise UnknownFunction(typename)
        present = _present_values(plan, batch)
        missing = tuple(name for name in plan.specs if name not in present)
        if missing:
            return _incomplete(plan, missing)
        origin = Origin(present)
        state, effects = await _fold(plan, batch, from_runtime(plan.specs, origin))
        try:
            return interpret(plan.specs, origin, state, effects)
        except Exception as exc:
            raise InvalidResult(typename, target.id, len(batch.invocations), exc) from exc

    def handle_sync(self, body: bytes) -> bytes:
        """Like :meth:`handle`, without an event loop; usable inside a running loop too.

        Async functions work as long as they await nothing that needs a real
        event loop (network, timers); otherwise this raises ``RuntimeError``.
        """
        return run_sync(self.handle(body))


def _parse(body: bytes) -> ToFunction.InvocationBatchRequest:
    try:
        request = ToFunction.FromString(body)
    except DecodeError as exc:
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
    plan: _Plan, batch: ToFunction.InvocationBatchRequest, state: State
) -> tuple[State, list[Effect]]:
    """Call the function once per message, in order, threading the state through."""
    effects: list[Effect] = []
    target = batch.target
    address = trusted_address(target.namespace, target.type, target.id)
    typename = plan.typename
    fn = plan.fn
    types = plan.types
    callers: dict[tuple[str, str, str], Address] = {}  # batches often repeat a caller
    invocations = batch.invocations
    count = len(invocations)
    last_yield = time.perf_counter() if count >= _CLOCK_CHECK_EVERY else 0.0
    for index, invocation in enumerate(invocations):
        argument = invocation.argument
        arg_typename = argument.typename
        try:
            type_ = types.get(arg_typename)
            if type_ is None:
                raise UnknownMessageType(typename, arg_typename, tuple(types))
            caller = None
            if invocation.HasField("caller"):
                c = invocation.caller
                key = (c.namespace, c.type, c.id)
                caller = callers.get(key)
                if caller is None and (key[0] or key[1] or key[2]):
                    caller = callers[key] = trusted_address(*key)
            value = type_.decode(argument.value)
            message = trusted_message(address, value, caller, arg_typename)
            result: Any = fn(state, message)
            if type(result) is not Result:
                result = await _settle(result, typename)
        except Exception as exc:
            raise InvocationFailed(typename, target.id, arg_typename, index, count, exc) from exc
        state = result.state
        effects.extend(result.effects)
        if index % _CLOCK_CHECK_EVERY == _CLOCK_CHECK_EVERY - 1 and (
            index % YIELD_EVERY == YIELD_EVERY - 1
            or time.perf_counter() - last_yield >= _YIELD_AFTER_SECONDS
        ):
            await _YIELD
            last_yield = time.perf_counter()
    return state, effects


async def _settle(result: object, typename: str) -> Result:
    if isinstance(result, Awaitable):
        # isinstance() leaves pyright an Awaitable[Unknown]; what it gives is checked next.
        result = await cast("Awaitable[object]", result)
    if not isinstance(result, Result):
        raise DefinitionError(
            f"function `{typename}` returned `{type(result).__name__}`; it must return a Result"
        )
    return result


def _incomplete(plan: _Plan, missing: tuple[str, ...]) -> bytes:
    cached = plan.incomplete_cache.get(missing)
    if cached is None:
        cached = incomplete(plan.specs[name] for name in missing)
        plan.incomplete_cache[missing] = cached
    return cached


def run_sync(coroutine: Coroutine[Any, Any, bytes]) -> bytes:
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
        result: bytes = done.value
        return result
