"""The runtime side of the protocol, in one process (protocol.md §1.9–§1.15).

One :class:`Engine` plays the part of every ``RequestReplyFunction`` of a
StateFun job: it keeps per-address state and backlogs, sends one request per
address at a time, learns state specs through ``IncompleteInvocationContext``,
applies responses in the runtime's order (messages, delayed messages, egress,
state) and keeps delayed messages on a clock.

Scheduling is deterministic: messages are handed out in arrival order, and
requests complete one at a time in the order they were started. A message for
an address with a request in flight joins its backlog, and the whole backlog is
the next batch, as in the runtime.

A response is checked completely before any of it is applied, so when the real
runtime would fail the job the engine raises a :class:`RuntimeFailure` and its
state stays as it was before that response. The failed batch stays first in
line: running again re-sends it, as a restarted job would.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from google.protobuf.message import DecodeError

from .._address import Address, trusted_address
from .._errors import DefinitionError, InvocationFailed, RequestError
from .._generated.kafka_egress_pb2 import KafkaProducerRecord
from .._generated.kinesis_egress_pb2 import KinesisEgressRecord
from .._generated.request_reply_pb2 import FromFunction, ToFunction
from ._clock import Clock
from ._errors import (
    DelayFailure,
    EgressFailure,
    EndpointFailure,
    NotIdle,
    RoutingFailure,
    RuntimeFailure,
    StateFailure,
)
from ._module import Module, parse_runtime_typename
from ._records import KAFKA_TYPENAME, KINESIS_TYPENAME, EgressRecord, PendingTimer, RawMessage
from ._transport import Transport

__all__ = ("Engine",)

UNSET_STATE_TYPE = "io.statefun.types/unset"

_MODIFY = FromFunction.PersistedValueMutation.MODIFY
_DELETE = FromFunction.PersistedValueMutation.DELETE
_AFTER_WRITE = FromFunction.ExpirationSpec.AFTER_WRITE
_AFTER_INVOKE = FromFunction.ExpirationSpec.AFTER_INVOKE


@dataclass(frozen=True, slots=True)
class _Registered:
    typename: str
    mode: int  # FromFunction.ExpirationSpec mode; anything unknown means no expiry
    ttl_ms: int

    def expiry(self, now: int) -> int | None:
        """When a value written (or, for AFTER_INVOKE, read) at ``now`` expires."""
        if self.mode in (_AFTER_WRITE, _AFTER_INVOKE) and self.ttl_ms > 0:
            return now + self.ttl_ms
        return None


@dataclass(slots=True)
class _Stored:
    value: bytes
    expires_at: int | None


@dataclass(slots=True)
class _Timer:
    due: int
    seq: int
    target: Address
    message: RawMessage
    sender: Address
    token: str | None
    cancelled: bool = False

    def public(self) -> PendingTimer:
        return PendingTimer(
            due=timedelta(milliseconds=self.due),
            target=self.target,
            typename=self.message.typename,
            value=self.message.value,
            caller=self.sender,
            cancellation_token=self.token,
        )


@dataclass(frozen=True, slots=True)
class _Schedule:
    """A checked delayed message: deliver ``message`` to ``target`` after ``delay_ms``."""

    delay_ms: int
    target: Address
    message: RawMessage
    token: str | None


@dataclass(frozen=True, slots=True)
class _Cancel:
    """A checked cancellation of the sender's pending message with ``token``."""

    token: str


@dataclass(slots=True)
class _Plan:
    """A checked response, ready to apply."""

    # `lambda: []`, not `list`: pyright types a bare `list` factory as list[Unknown].
    messages: list[tuple[Address, RawMessage]] = field(default_factory=lambda: [])
    # In the response's order: a cancellation applies to what was scheduled before it.
    delayed: list[_Schedule | _Cancel] = field(default_factory=lambda: [])
    egress: list[EgressRecord] = field(default_factory=lambda: [])
    mutations: list[tuple[str, bytes | None]] = field(default_factory=lambda: [])


class Engine:
    """The runtime's state machine; :class:`LocalRuntime` is its public face."""

    def __init__(
        self,
        *,
        transport: Transport,
        serves: Callable[[str], bool],
        module: Module | None,
        clock: Clock,
        raise_function_errors: bool,
        max_requests: int,
    ) -> None:
        self.transport = transport
        self.serves = serves
        self.module = module
        self.clock = clock
        self.raise_function_errors = raise_function_errors
        self.max_requests = max_requests
        # Per function type, as the runtime keeps them on each RequestReplyFunction.
        self.registered: dict[str, dict[str, _Registered]] = {}
        self.values: dict[Address, dict[str, _Stored]] = {}
        self.egress_log: list[EgressRecord] = []
        self.mailbox: deque[tuple[Address, list[RawMessage]]] = deque()
        self.backlog: dict[Address, list[RawMessage]] = {}
        self.in_flight: deque[tuple[Address, list[RawMessage]]] = deque()
        self.busy: set[Address] = set()
        self.timers: list[tuple[int, int, _Timer]] = []
        self.tokens: dict[tuple[str, str], _Timer] = {}
        self._seq = itertools.count()

    # -- input --------------------------------------------------------------

    def deliver(self, target: Address, messages: list[RawMessage], where: str) -> None:
        """Queue ``messages`` for ``target``; fails like the runtime's routing would."""
        self._check_served(target.typename, where)
        self.mailbox.append((target, messages))

    def ingest(self, topic: str, key: str | None, value: bytes) -> None:
        """Route a Kafka record through the module's ingress table (protocol.md §3.6)."""
        if self.module is None:
            raise DefinitionError(
                "ingest() routes by module.yaml; create the runtime with module=..."
            )
        routes = self.module.routes(topic)
        where = f"Kafka record on topic {topic!r} with key {key!r}"
        if not routes:
            raise RoutingFailure(f"No Kafka ingress in module.yaml consumes topic {topic!r}", where)
        if key is None:
            raise RoutingFailure(
                "Kafka record keys must not be null: the key is the target id", where
            )
        for route in routes:
            for target in route.targets:
                address = Address(target, key)
                self.deliver(address, [RawMessage(route.value_type, value)], where)

    # -- running ------------------------------------------------------------

    async def run_until_idle(self) -> None:
        """Do all the work there is without the clock moving."""
        requests = 0
        while True:
            self._fire_due_timers()
            self._hand_out()
            if not self.in_flight:
                return
            requests += 1
            if requests > self.max_requests:
                raise NotIdle(
                    f"still busy after {self.max_requests} requests"
                    " (max_requests); a function may be sending messages in a loop"
                )
            target, batch = self.in_flight[0]
            await self._complete(target, batch)
            self.in_flight.popleft()
            more = self.backlog.pop(target, None)
            if more:
                self.in_flight.append((target, more))
            else:
                self.busy.discard(target)

    async def request(self, target: Address, batch: list[RawMessage]) -> None:
        """Send ``batch`` to ``target`` as one request now and apply the response,
        without delivering what it causes (that waits for :meth:`run_until_idle`)."""
        self._check_served(target.typename, f"a batch to {target}")
        if target in self.busy:
            raise NotIdle(f"{target} has a request in flight; run until idle first")
        await self._complete(target, batch)

    def next_due_ms(self) -> int | None:
        """When the next pending timer falls due, if any."""
        while self.timers and self.timers[0][2].cancelled:
            heapq.heappop(self.timers)
        return self.timers[0][0] if self.timers else None

    def pending_timers(self) -> list[PendingTimer]:
        return [entry[2].public() for entry in sorted(self.timers) if not entry[2].cancelled]

    def _fire_due_timers(self) -> None:
        now = self.clock.now_ms()
        while self.timers and self.timers[0][0] <= now:
            _, _, timer = heapq.heappop(self.timers)
            if timer.cancelled:
                continue
            if timer.token is not None:
                self.tokens.pop((timer.sender.id, timer.token), None)
            self.mailbox.append((timer.target, [timer.message]))

    def _hand_out(self) -> None:
        while self.mailbox:
            target, messages = self.mailbox.popleft()
            if target in self.busy:
                self.backlog.setdefault(target, []).extend(messages)
            else:
                self.busy.add(target)
                self.in_flight.append((target, list(messages)))

    # -- one request ----------------------------------------------------------

    async def _complete(self, target: Address, batch: list[RawMessage]) -> None:
        where = f"{target.typename} id={target.id!r}"
        # Each Incomplete answer must register something new (else the runtime
        # loops forever); an endpoint that keeps inventing states is cut off too.
        for _ in range(self.max_requests):
            body = self._request(target, batch)
            response = await self._call(target, body, batch, where)
            if response.HasField("incomplete_invocation_context"):
                self._register(target, response.incomplete_invocation_context, where)
                continue
            # A 200 with no response set is a successful, empty InvocationResponse.
            plan = self._check(target, response.invocation_result, where)
            self._apply(target, plan)
            return
        raise NotIdle(
            f"{where} answered IncompleteInvocationContext {self.max_requests} times (max_requests)"
        )

    def _request(self, target: Address, batch: list[RawMessage]) -> bytes:
        request = ToFunction()
        invocation_batch = request.invocation
        invocation_batch.target.namespace = target.namespace
        invocation_batch.target.type = target.name
        invocation_batch.target.id = target.id
        now = self.clock.now_ms()
        for name, registered in self.registered.get(target.typename, {}).items():
            persisted = invocation_batch.state.add()
            persisted.state_name = name
            value = self._read(target, name, now)
            if value is not None:
                if registered.mode == _AFTER_INVOKE:
                    # Attaching a state reads it, and a read resets AFTER_INVOKE expiry.
                    value.expires_at = registered.expiry(now)
                persisted.state_value.typename = registered.typename
                persisted.state_value.has_value = True
                persisted.state_value.value = value.value
        for invocation in batch:
            out = invocation_batch.invocations.add()
            if invocation.caller is not None:
                out.caller.namespace = invocation.caller.namespace
                out.caller.type = invocation.caller.name
                out.caller.id = invocation.caller.id
            out.argument.typename = invocation.typename
            out.argument.has_value = True
            out.argument.value = invocation.value
        return request.SerializeToString()

    def _read(self, address: Address, name: str, now: int) -> _Stored | None:
        values = self.values.get(address, {})
        stored = values.get(name)
        if stored is not None and stored.expires_at is not None and stored.expires_at <= now:
            del values[name]  # Flink never returns an expired value, and clears it on access
            return None
        return stored

    async def _call(
        self, target: Address, body: bytes, batch: list[RawMessage], where: str
    ) -> FromFunction:
        failed: InvocationFailed | None = None
        other: Exception | None = None
        try:
            answer = await self.transport.request(target, body)
        except RuntimeFailure:
            raise
        except InvocationFailed as exc:
            failed = exc
        except RequestError as exc:
            raise EndpointFailure(
                f"Non successful HTTP response code {exc.status}: {exc}", where, status=exc.status
            ) from exc
        except Exception as exc:
            other = exc
        # Raised outside the `except` blocks so that the function's own exception
        # does not get our InvocationFailed attached as its context.
        if failed is not None:
            cause = failed.__cause__
            if self.raise_function_errors and isinstance(cause, Exception):
                _add_note(
                    cause,
                    f"while invoking {failed.function} id={failed.id!r} with {failed.typename}"
                    f" (message {failed.index + 1} of {failed.batch_size})",
                )
                raise cause
            raise EndpointFailure(
                f"Non successful HTTP response code 500: {failed}", where, status=500
            ) from failed
        if other is not None:
            if self.raise_function_errors:
                _add_note(
                    other,
                    f"while answering a request for {where}"
                    f" ({len(batch)} message{'s' if len(batch) != 1 else ''})",
                )
                raise other
            raise EndpointFailure(
                f"Non successful HTTP response code 500: {type(other).__name__}: {other}",
                where,
                status=500,
            ) from other
        try:
            # Every path that left `answer` unbound raised above; pyright cannot follow that.
            return FromFunction.FromString(answer)  # pyright: ignore[reportPossiblyUnboundVariable]
        except DecodeError as exc:
            raise EndpointFailure(f"Unable to parse a Protobuf message: {exc}", where) from None

    # -- applying a response --------------------------------------------------

    def _register(
        self, target: Address, context: FromFunction.IncompleteInvocationContext, where: str
    ) -> None:
        registered = self.registered.setdefault(target.typename, {})
        new: dict[str, _Registered] = {}
        for spec in context.missing_values:
            typename = spec.type_typename or UNSET_STATE_TYPE
            try:
                parse_runtime_typename(typename)
            except ValueError as exc:
                raise StateFailure(
                    f"State `{spec.state_name}` has an invalid type: {exc}", where
                ) from None
            known = registered.get(spec.state_name) or new.get(spec.state_name)
            if known is not None:
                if known.typename != typename:
                    raise StateFailure(
                        f"State `{spec.state_name}` is registered with type `{known.typename}`,"
                        f" and cannot be registered again with type `{typename}`",
                        where,
                    )
                continue
            expiration = spec.expiration_spec
            new[spec.state_name] = _Registered(
                typename, expiration.mode, expiration.expire_after_millis
            )
        if not new:
            raise StateFailure(
                "IncompleteInvocationContext registers no new state; the runtime would"
                " re-send the same batch forever",
                where,
            )
        registered.update(new)

    def _check(self, target: Address, result: FromFunction.InvocationResponse, where: str) -> _Plan:
        plan = _Plan()
        for message in result.outgoing_messages:
            plan.messages.append(self._route(message, target, f"a message from {where}"))
        self._check_delayed(target, result, plan, where)
        for egress in result.outgoing_egresses:
            egress_id = f"{egress.egress_namespace}/{egress.egress_type}"
            argument = egress.argument
            self._check_egress(egress_id, argument.typename, argument.value, f"from {where}")
            plan.egress.append(EgressRecord(egress_id, argument.typename, argument.value))
        registered = self.registered.get(target.typename, {})
        for mutation in result.state_mutations:
            name = mutation.state_name
            known = registered.get(name)
            if known is None:
                raise StateFailure(f"Accessing a non-existing function state {name}", where)
            if mutation.mutation_type == _DELETE:
                plan.mutations.append((name, None))
            elif mutation.mutation_type == _MODIFY:
                typename = mutation.state_value.typename
                if typename != known.typename:
                    raise StateFailure(
                        f"State `{name}` is registered with type `{known.typename}`,"
                        f" but was modified with type `{typename}`",
                        where,
                    )
                plan.mutations.append((name, mutation.state_value.value))
            else:
                raise StateFailure(
                    f"Unexpected state mutation type {mutation.mutation_type}", where
                )
        return plan

    def _check_delayed(
        self, target: Address, result: FromFunction.InvocationResponse, plan: _Plan, where: str
    ) -> None:
        # Tokens are scoped by the sender's id across function types (protocol.md §1.13).
        pending = {token for (sender_id, token) in self.tokens if sender_id == target.id}
        for delayed in result.delayed_invocations:
            token = delayed.cancellation_token
            if delayed.is_cancellation_request:
                if not token:
                    raise DelayFailure(
                        "Can not handle a cancellation request without a cancellation token.", where
                    )
                pending.discard(token)
                plan.delayed.append(_Cancel(token))
                continue
            if delayed.delay_in_ms < 0:
                raise DelayFailure(
                    f"A delayed message must have a non-negative delay, got {delayed.delay_in_ms} ms",
                    where,
                )
            if token:
                if token in pending:
                    raise DelayFailure(
                        f"Trying to associate a message with cancellation token {token!r},"
                        f" but a message with that token is already pending for id {target.id!r}",
                        where,
                    )
                pending.add(token)
            to, message = self._route(delayed, target, f"a delayed message from {where}")
            plan.delayed.append(_Schedule(delayed.delay_in_ms, to, message, token or None))

    def _route(
        self,
        message: FromFunction.Invocation | FromFunction.DelayedInvocation,
        sender: Address,
        where: str,
    ) -> tuple[Address, RawMessage]:
        """Where a message goes and what arrives there; fails as the runtime does for an
        unknown function type. The receiver sees the sender as its caller."""
        to = message.target
        self._check_served(f"{to.namespace}/{to.type}", where)
        argument = message.argument
        return (
            trusted_address(to.namespace, to.type, to.id),
            RawMessage(argument.typename, argument.value, sender),
        )

    def _check_served(self, typename: str, where: str) -> None:
        if not self.serves(typename):
            raise RoutingFailure.no_provider(typename, where)

    def _check_egress(self, egress_id: str, typename: str, value: bytes, where: str) -> None:
        if self.module is None:
            return  # without module.yaml every egress id is taken as declared
        egress = self.module.egress(egress_id)
        if egress is None:
            raise EgressFailure(f"Unknown egress {egress_id}", where)
        expected = KAFKA_TYPENAME if egress.kind == "kafka" else KINESIS_TYPENAME
        record = KafkaProducerRecord if egress.kind == "kafka" else KinesisEgressRecord
        if typename != expected:
            raise EgressFailure(
                f"The generic {egress.kind.capitalize()} egress expects only messages of type"
                f" {expected}, got {typename}",
                f"egress {egress_id} {where}",
            )
        try:
            record.FromString(value)
        except DecodeError:
            raise EgressFailure(
                f"Unable to parse a {record.__name__}", f"egress {egress_id} {where}"
            ) from None

    def _apply(self, target: Address, plan: _Plan) -> None:
        now = self.clock.now_ms()
        self.mailbox.extend((to, [message]) for to, message in plan.messages)
        for delayed in plan.delayed:
            match delayed:
                case _Schedule(delay_ms, to, message, token):
                    timer = _Timer(now + delay_ms, next(self._seq), to, message, target, token)
                    heapq.heappush(self.timers, (timer.due, timer.seq, timer))
                    if token is not None:
                        self.tokens[(target.id, token)] = timer
                case _Cancel(token):
                    cancelled = self.tokens.pop((target.id, token), None)
                    if cancelled is not None:
                        cancelled.cancelled = True
        self.egress_log.extend(plan.egress)
        registered = self.registered.get(target.typename, {})
        values = self.values.setdefault(target, {})
        for name, value in plan.mutations:
            if value is None:
                values.pop(name, None)
            else:
                values[name] = _Stored(value, registered[name].expiry(now))

    # -- reading --------------------------------------------------------------

    def state_bytes(self, address: Address, name: str) -> tuple[str, bytes] | None:
        """The registered typename and stored bytes of a state, if it has a live value."""
        stored = self.values.get(address, {}).get(name)
        if stored is None:
            return None
        if stored.expires_at is not None and stored.expires_at <= self.clock.now_ms():
            return None
        registered = self.registered.get(address.typename, {}).get(name)
        typename = registered.typename if registered is not None else UNSET_STATE_TYPE
        return typename, stored.value

    def snapshot(self) -> dict[Address, dict[str, bytes]]:
        now = self.clock.now_ms()
        out: dict[Address, dict[str, bytes]] = {}
        for address, values in self.values.items():
            live = {
                name: stored.value
                for name, stored in values.items()
                if stored.expires_at is None or stored.expires_at > now
            }
            if live:
                out[address] = live
        return out


def _add_note(exc: BaseException, note: str) -> None:
    add_note = getattr(exc, "add_note", None)  # PEP 678, Python 3.11+
    if add_note is not None:
        add_note(note)
