"""`LocalRuntime`: StateFun's runtime in one process, for tests and development.

Shaped like Starlette's ``TestClient``: it drives the functions through the
same bytes handler a server uses, re-raises a function's own exception by
default, and gives back plain values to compare with ``==``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from collections.abc import Callable, Coroutine, Iterable
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import Any, TypeVar, overload

from .._address import Address
from .._effects import KafkaRecord, KinesisRecord
from .._errors import DefinitionError, StateTypeMismatch
from .._millis import ONE_MS
from .._registry import Functions
from .._spec import ValueSpec
from .._type import Type
from ._clock import Clock, VirtualClock
from ._engine import Engine
from ._errors import NotIdle
from ._module import Module
from ._records import EgressRecord, IngressRecord, PendingTimer, RawMessage, decode_egress
from ._transport import HttpTransport, InProcess, Transport

__all__ = ("AsyncLocalRuntime", "LocalRuntime", "run_module")

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_MAX_REQUESTS = 10_000
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
"""Where a VirtualClock starts, as a date: a dead letter at 1.5 s says 1970-01-01T00:00:01.5Z."""


class _Base:
    """Everything but running: feeding input and reading results."""

    __slots__ = ("_engine", "clock", "module")

    def __init__(
        self,
        functions: Functions | None = None,
        *,
        module: Module | str | os.PathLike[str] | None = None,
        transport: Transport | None = None,
        clock: Clock | None = None,
        raise_function_errors: bool = True,
        max_requests: int = DEFAULT_MAX_REQUESTS,
    ) -> None:
        if functions is not None and not isinstance(functions, Functions):
            raise DefinitionError(
                f"{type(self).__name__}: functions must be a statefun.Functions registry,"
                f" got `{type(functions).__name__}`"
            )
        if module is not None and not isinstance(module, Module):
            module = Module.load(module)
        the_clock: Clock = clock if clock is not None else VirtualClock()
        if transport is None:
            if functions is not None:
                # On the virtual clock, dead letters are stamped with its time counted
                # from the epoch, so that a test can compare them with ==.
                virtual = isinstance(the_clock, VirtualClock)
                transport = InProcess(
                    functions,
                    clock=(lambda: EPOCH + timedelta(milliseconds=the_clock.now_ms()))
                    if virtual
                    else None,
                )
            elif module is not None:
                transport = HttpTransport(module)
            else:
                raise DefinitionError(
                    f"{type(self).__name__} needs functions, a module or a transport to call"
                )
        if max_requests < 1:
            raise DefinitionError(f"max_requests={max_requests!r} must be at least 1")
        # Which function types exist: the module's endpoints say so, as in the
        # real runtime; without a module, the registry; with only a transport, any.
        serves: Callable[[str], bool]
        if module is not None:
            mod = module
            serves = lambda typename: mod.endpoint(typename) is not None  # noqa: E731
        elif functions is not None:
            serves = functions.__contains__
        else:
            serves = lambda typename: True  # noqa: E731
        self.clock: Clock = the_clock
        self.module = module
        self._engine = Engine(
            transport=transport,
            serves=serves,
            module=module,
            clock=self.clock,
            raise_function_errors=raise_function_errors,
            max_requests=max_requests,
        )

    # -- input ------------------------------------------------------------------

    def send(
        self, target: Address, type_: Type[T], value: T, *, caller: Address | None = None
    ) -> None:
        """Queue a message for ``target``, like an ingress record (no caller) by default.

        >>> runtime.send(Address("example/person", "Ana"), GREET, GreetRequest("Ana"))
        """
        self.send_raw(target, type_.typename, type_.encode(value), caller=caller)

    def send_raw(
        self, target: Address, typename: str, data: bytes, *, caller: Address | None = None
    ) -> None:
        """Queue a message given as its typename and bytes, exactly as they travel."""
        self._engine.deliver(
            target, [RawMessage(typename, bytes(data), caller)], f"a message to {target}"
        )

    def send_batch(
        self, target: Address, type_: Type[T], values: Iterable[T], *, caller: Address | None = None
    ) -> None:
        """Queue messages that reach ``target`` together, in one request if it is idle.

        The runtime batches messages that arrive while a request to the same
        address is in flight; this makes that happen on purpose.
        """
        batch = [RawMessage(type_.typename, type_.encode(v), caller) for v in values]
        if batch:
            self._engine.deliver(target, batch, f"a batch to {target}")

    def ingest(self, topic: str, key: str | None, value: bytes | str) -> None:
        """Feed a Kafka record, routed as module.yaml's ingress says (key = target id).

        >>> runtime = LocalRuntime(functions, module="examples/greeter/module.yaml")
        >>> runtime.ingest("names", "Ana", b'{"name": "Ana"}')
        >>> runtime.run_until_idle()
        >>> runtime.state(Address("example/person", "Ana"), VISITS)
        1
        """
        data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        self._engine.ingest(topic, key, data)

    # -- reading ----------------------------------------------------------------

    @property
    def now(self) -> timedelta:
        """The time on the runtime's clock since it started."""
        return timedelta(milliseconds=self.clock.now_ms())

    def state(self, address: Address, spec: ValueSpec[T]) -> T | None:
        """The value of ``spec`` at ``address``, or None (never written, deleted or expired).

        >>> ana = Address("example/person", "Ana")
        >>> runtime.state(ana, VISITS) is None
        True
        >>> runtime.send(ana, GREET, GreetRequest("Ana"))
        >>> runtime.send(ana, GREET, GreetRequest("Ana"))
        >>> runtime.run_until_idle()
        >>> runtime.state(ana, VISITS)
        2
        """
        found = self._engine.state_bytes(address, spec.name)
        if found is None:
            return None
        typename, data = found
        if typename != spec.type.typename:
            raise StateTypeMismatch(spec.name, spec.type.typename, typename)
        return spec.type.decode(data)

    def state_snapshot(self) -> dict[Address, dict[str, bytes]]:
        """Every live state value, as bytes by state name, per address."""
        return self._engine.snapshot()

    @overload
    def egress(self, egress_id: str | None = None) -> list[EgressRecord]: ...

    @overload
    def egress(self, egress_id: str, type_: Type[T]) -> list[T]: ...

    def egress(
        self, egress_id: str | None = None, type_: Type[T] | None = None
    ) -> list[EgressRecord] | list[T]:
        """The records sent to ``egress_id`` (every egress if None), oldest first.

        With a ``type_``, their values decoded as that type; for Kafka and
        Kinesis records, the values inside the records.

        >>> from examples.timeouts.functions import COMMAND, REMINDER, Command, functions
        >>> runtime = LocalRuntime(functions)
        >>> job = Address("example/timeouts", "job-1")
        >>> runtime.send(job, COMMAND, Command("start", "b", delay_ms=1500, text="fires after 1.5 s"))
        >>> runtime.advance(timedelta(seconds=2))
        >>> runtime.egress("example/timeouts-out", REMINDER)
        [Reminder(token='b', text='fires after 1.5 s', delay_ms=1500)]
        """
        records = [r for r in self._engine.egress_log if egress_id is None or r.egress == egress_id]
        if type_ is None:
            return records
        if egress_id is None:
            raise DefinitionError("egress(): give the egress id to decode its records with a type")
        values: list[T] = []
        for record in records:
            decoded = decode_egress(record)
            if isinstance(decoded, (KafkaRecord, KinesisRecord)):
                values.append(type_.decode(decoded.value))
            else:
                values.append(record.decode(type_))
        return values

    def egress_since(self, position: int) -> list[EgressRecord]:
        """The records sent to any egress after the first ``position``, oldest first.

        Reads a growing log piece by piece, copying only what is new: keep a
        position, add the length of each answer to it. ``statefun run`` prints
        every record once this way.

        >>> printed = 0
        >>> runtime.send(Address("example/person", "Ana"), GREET, GreetRequest("Ana"))
        >>> runtime.run_until_idle()
        >>> new = runtime.egress_since(printed)
        >>> printed += len(new)
        >>> printed, runtime.egress_since(printed)
        (1, [])
        """
        if position < 0:
            raise DefinitionError(f"egress_since: position={position!r} must not be negative")
        return self._engine.egress_log[position:]

    def kafka_records(self, egress_id: str | None = None) -> list[KafkaRecord]:
        """The Kafka egress records (of ``egress_id``, or all), as :class:`statefun.KafkaRecord`.

        >>> runtime.send(Address("example/person", "Ana"), GREET, GreetRequest("Ana"))
        >>> runtime.run_until_idle()
        >>> runtime.kafka_records("example/greets")
        [KafkaRecord(egress='example/greets', topic='greetings', value=b'Hello Ana!...', key='Ana')]
        """
        return [r for r in map(decode_egress, self.egress(egress_id)) if isinstance(r, KafkaRecord)]

    def kinesis_records(self, egress_id: str | None = None) -> list[KinesisRecord]:
        """The Kinesis egress records (of ``egress_id``, or all), as :class:`statefun.KinesisRecord`."""
        return [
            r for r in map(decode_egress, self.egress(egress_id)) if isinstance(r, KinesisRecord)
        ]

    def pending_timers(self) -> list[PendingTimer]:
        """The delayed messages not yet delivered nor cancelled, the soonest first."""
        return self._engine.pending_timers()

    # -- running, shared by both facades ------------------------------------------

    async def _request(self, target: Address, messages: Iterable[RawMessage]) -> None:
        batch = list(messages)
        if not batch:
            raise DefinitionError(
                "request(): give at least one message; the runtime never sends none"
            )
        await self._engine.request(target, batch)

    def _virtual_clock(self, method: str) -> VirtualClock:
        if not isinstance(self.clock, VirtualClock):
            raise DefinitionError(
                f"{method}() moves a VirtualClock; this runtime runs on {self.clock!r}"
            )
        return self.clock

    async def _advance(self, delta: timedelta) -> None:
        clock = self._virtual_clock("advance")
        if delta < timedelta(0):
            raise DefinitionError(f"advance: delta={delta!r} must not be negative")
        end = clock.now_ms() + delta // ONE_MS
        await self._engine.run_until_idle()
        # Stop at every due time in between: what fires may schedule more
        # messages that fall due before `end`.
        for _ in range(self._engine.max_requests):
            due = self._engine.next_due_ms()
            if due is None or due > end:
                break
            clock.set_ms(due)
            await self._engine.run_until_idle()
        else:
            raise NotIdle(
                f"timers still fall due after {self._engine.max_requests} steps (max_requests)"
            )
        clock.set_ms(end)
        await self._engine.run_until_idle()

    async def _advance_until_idle(self, limit: timedelta) -> None:
        clock = self._virtual_clock("advance_until_idle")
        end = clock.now_ms() + limit // ONE_MS
        await self._engine.run_until_idle()
        for _ in range(self._engine.max_requests):
            due = self._engine.next_due_ms()
            if due is None:
                return
            if due > end:
                break
            await self._advance(timedelta(milliseconds=due - clock.now_ms()))
        raise NotIdle(
            f"timers are still pending after advancing up to {limit} (limit) or"
            f" {self._engine.max_requests} steps (max_requests); a function may reschedule"
            " a timer forever"
        )


class LocalRuntime(_Base):
    """Runs StateFun functions in this process, as Apache Flink StateFun would.

    A development and test tool: per-address state learnt through the real
    handshake, one request in flight per address, delayed messages on a virtual
    clock, egress capture, and a loud :class:`RuntimeFailure` wherever the real
    runtime would fail the job. Production stays on Apache Flink StateFun.

    >>> runtime = LocalRuntime(functions)
    >>> runtime.send(Address("example/person", "Ana"), GREET, GreetRequest("Ana"))
    >>> runtime.run_until_idle()
    >>> runtime.kafka_records("example/greets")
    [KafkaRecord(egress='example/greets', topic='greetings', value=b'Hello Ana! ...', key='Ana')]

    Parameters
    ----------
    functions
        The registry to run in process, through :class:`statefun.Handler`.
    module
        A module.yaml (path or :class:`Module`): which function types exist, the
        Kafka ingress routes for :meth:`ingest`, the egresses that may be used.
        Without ``functions``, each function type is called at its endpoint URL.
    transport
        How requests reach the functions, instead of the above
        (:class:`InProcess`, :class:`HttpTransport`, :class:`MockTransport`).
    clock
        A :class:`VirtualClock` (the default: time moves only with :meth:`advance`)
        or a :class:`RealClock`.
    raise_function_errors
        Re-raise a function's own exception, with a note saying where (default).
        If False, report it as the runtime sees it: an :class:`EndpointFailure` (500).
    max_requests
        How many requests one run may make before :class:`NotIdle` is raised.
    """

    __slots__ = ()

    def __init__(
        self,
        functions: Functions | None = None,
        *,
        module: Module | str | os.PathLike[str] | None = None,
        transport: Transport | None = None,
        clock: Clock | None = None,
        raise_function_errors: bool = True,
        max_requests: int = DEFAULT_MAX_REQUESTS,
    ) -> None:
        super().__init__(
            functions,
            module=module,
            transport=transport,
            clock=clock,
            raise_function_errors=raise_function_errors,
            max_requests=max_requests,
        )

    def run_until_idle(self) -> None:
        """Deliver every queued message and everything it causes, without moving the clock.

        Timers already due are delivered too.
        """
        self._run(self._engine.run_until_idle())

    def advance(self, delta: timedelta) -> None:
        """Move the virtual clock forward by ``delta``, delivering timers as they fall due.

        >>> runtime.advance(timedelta(seconds=5))
        >>> runtime.now
        datetime.timedelta(seconds=5)
        """
        self._run(self._advance(delta))

    def request(self, target: Address, messages: Iterable[RawMessage]) -> None:
        """Send ``messages`` to ``target`` as one request now, and apply its response.

        The response is applied as the runtime applies it (state written, egress
        recorded, timers scheduled), but the messages it sends are only queued:
        they are delivered by the next :meth:`run_until_idle`. Requests made one
        after another therefore all see the rest of the world as it was, which
        is how :func:`statefun.testing.properties.assert_batch_equivalent`
        compares N requests of one message with one request of N.

        >>> ANA = Address("example/person", "Ana")
        >>> runtime.request(ANA, [RawMessage(GREET.typename, GREET.encode(GreetRequest("Ana")))])
        >>> runtime.state(ANA, VISITS)
        1

        Raises :class:`RoutingFailure` for a function type nobody serves, and
        ``RuntimeError`` if ``target`` still has a request in flight (a run that failed).
        """
        self._run(self._request(target, messages))

    def advance_until_idle(self, *, limit: timedelta = timedelta(days=366)) -> None:
        """Move the virtual clock from timer to timer until none is pending.

        Raises :class:`NotIdle` if timers are still pending after ``limit``.
        """
        self._run(self._advance_until_idle(limit))

    def close(self) -> None:
        """Nothing is left open between runs; this is here for ``with`` blocks."""

    def __enter__(self) -> LocalRuntime:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self, coroutine: Coroutine[Any, Any, R]) -> R:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._run_in_new_loop(coroutine)
        # Called from async code: a loop cannot run inside another in one
        # thread, so this run gets a helper thread (as Starlette's TestClient does).
        with concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="statefun-local"
        ) as portal:
            return portal.submit(self._run_in_new_loop, coroutine).result()

    def _run_in_new_loop(self, coroutine: Coroutine[Any, Any, R]) -> R:
        # One loop per run, with the transport's connections closed at its end:
        # nothing stays open between runs, so a runtime needs no closing.
        async def run() -> R:
            try:
                return await coroutine
            finally:
                await self._engine.transport.aclose()

        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(run())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def __repr__(self) -> str:
        return f"LocalRuntime(transport={self._engine.transport!r}, clock={self.clock!r})"


class AsyncLocalRuntime(_Base):
    """:class:`LocalRuntime` for async code: the same API, with ``await`` on what runs.

    >>> import asyncio
    >>> async def main() -> list[KafkaRecord]:
    ...     async with AsyncLocalRuntime(functions) as runtime:
    ...         runtime.send(Address("example/person", "Ana"), GREET, GreetRequest("Ana"))
    ...         await runtime.run_until_idle()
    ...         return runtime.kafka_records("example/greets")
    >>> asyncio.run(main())
    [KafkaRecord(egress='example/greets', topic='greetings', value=b'Hello Ana! ...', key='Ana')]
    """

    __slots__ = ()

    async def run_until_idle(self) -> None:
        """See :meth:`LocalRuntime.run_until_idle`."""
        await self._engine.run_until_idle()

    async def advance(self, delta: timedelta) -> None:
        """See :meth:`LocalRuntime.advance`."""
        await self._advance(delta)

    async def request(self, target: Address, messages: Iterable[RawMessage]) -> None:
        """See :meth:`LocalRuntime.request`."""
        await self._request(target, messages)

    async def advance_until_idle(self, *, limit: timedelta = timedelta(days=366)) -> None:
        """See :meth:`LocalRuntime.advance_until_idle`."""
        await self._advance_until_idle(limit)

    def next_due(self) -> timedelta | None:
        """When the next pending timer falls due on the runtime's clock, if any."""
        due = self._engine.next_due_ms()
        return None if due is None else timedelta(milliseconds=due)

    async def aclose(self) -> None:
        """Close the transport's connections."""
        await self._engine.transport.aclose()

    async def __aenter__(self) -> AsyncLocalRuntime:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncLocalRuntime(transport={self._engine.transport!r}, clock={self.clock!r})"


def run_module(
    module: Module | str | os.PathLike[str],
    records: Iterable[IngressRecord],
    *,
    functions: Functions | None = None,
    transport: Transport | None = None,
) -> list[KafkaRecord | KinesisRecord | EgressRecord]:
    """Feed Kafka ``records`` through a module and return every egress record.

    Each record is delivered and run until idle before the next one (timers not
    yet due stay pending), as ``statefun run`` does with its input lines; then
    the virtual clock runs from timer to timer until none is left. So the same
    records give the same egress, in the same order, as ``statefun run
    --virtual-clock``. Kafka and Kinesis records come back as
    :class:`statefun.KafkaRecord` / :class:`statefun.KinesisRecord`; this is the
    local half of a differential test against Apache Flink StateFun.

    >>> run_module("examples/greeter/module.yaml",
    ...            [IngressRecord("names", "Ana", b'{"name": "Ana"}')],
    ...            functions=functions)
    [KafkaRecord(egress='example/greets', topic='greetings', value=b'Hello Ana! ...', key='Ana')]
    """
    with LocalRuntime(functions, module=module, transport=transport) as runtime:
        for record in records:
            runtime.ingest(record.topic, record.key, record.value)
            runtime.run_until_idle()
        runtime.advance_until_idle()
        return [decode_egress(record) for record in runtime.egress()]
