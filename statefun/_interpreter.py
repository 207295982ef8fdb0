"""The interpreter: turns a batch's final state and effects into ``FromFunction`` bytes.

Pure: values in, bytes out. The runtime applies a response in a fixed order
(messages, delayed messages, egress, state; protocol.md §1.11), so effects are
grouped by kind here, each group keeping the order the function returned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

import msgspec

from ._address import Address
from ._effects import CancelDelayed, Effect, Egress, KafkaRecord, KinesisRecord, Send, SendAfter
from ._errors import DefinitionError, SerdeError
from ._generated.kafka_egress_pb2 import KafkaProducerRecord
from ._generated.kinesis_egress_pb2 import KinesisEgressRecord
from ._generated.request_reply_pb2 import Address as PbAddress
from ._generated.request_reply_pb2 import FromFunction, TypedValue
from ._spec import ValueSpec
from ._state import ABSENT, Origin, State, check_declared, declared, origin_of, written
from ._typename import split_strict

__all__ = ("Emitted", "incomplete", "interpret", "interpret_counted")

KAFKA_TYPENAME = "type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord"
KINESIS_TYPENAME = "type.googleapis.com/io.statefun.sdk.egress.KinesisEgressRecord"

_MODIFY = FromFunction.PersistedValueMutation.MODIFY
_DELETE = FromFunction.PersistedValueMutation.DELETE
_EXPIRE_MODE = {
    "none": FromFunction.ExpirationSpec.NONE,
    "after_write": FromFunction.ExpirationSpec.AFTER_WRITE,
    "after_call": FromFunction.ExpirationSpec.AFTER_INVOKE,
}


def incomplete(missing: Iterable[ValueSpec[Any]]) -> bytes:
    """The answer that asks the runtime to register ``missing`` and send the batch again."""
    missing = list(missing)
    if not missing:
        # The runtime would register nothing and resend the batch forever (protocol.md §1.10).
        raise DefinitionError("an IncompleteInvocationContext must name at least one missing spec")
    response = FromFunction()
    context = response.incomplete_invocation_context
    for spec in missing:
        value = context.missing_values.add()
        value.state_name = spec.name
        value.type_typename = spec.type.typename
        value.expiration_spec.mode = _EXPIRE_MODE[spec.expire_mode]
        value.expiration_spec.expire_after_millis = spec.expire_after_millis
    return response.SerializeToString()


class Emitted(msgspec.Struct, frozen=True, gc=False):
    """What a response carries, counted: for the shell's logs and metrics."""

    messages: int
    """Messages to functions, sent now."""
    delayed: int
    """Delayed messages and cancellations."""
    egress: int
    """Egress records."""
    state_written: int
    """Bytes of state values written (MODIFY mutations)."""


def interpret(
    specs: Mapping[str, ValueSpec[Any]], origin: Origin, state: State, effects: Iterable[Effect]
) -> bytes:
    """Serialize the ``InvocationResponse`` for a batch that ended in ``state`` with ``effects``."""
    return interpret_counted(specs, origin, state, effects)[0]


def interpret_counted(
    specs: Mapping[str, ValueSpec[Any]], origin: Origin, state: State, effects: Iterable[Effect]
) -> tuple[bytes, Emitted]:
    """:func:`interpret`, and what the response carries."""
    response = FromFunction()
    result = response.invocation_result
    result.SetInParent()
    _effects(result, effects)
    size = _mutations(result, specs, origin, state)
    emitted = Emitted(
        len(result.outgoing_messages),
        len(result.delayed_invocations),
        len(result.outgoing_egresses),
        size,
    )
    return response.SerializeToString(), emitted


def _effects(result: FromFunction.InvocationResponse, effects: Iterable[Effect]) -> None:
    pending_tokens: set[str] = set()
    # Dispatch on the exact class (a subclass is looked up once, by its base): isinstance()
    # against the generic effect classes costs several times `type(x) is C`, per effect.
    # The casts: pyright sees Send[Unknown], mypy Send[Any]; any T will do, since an
    # effect's Type encodes the effect's own value.
    kinds = _KINDS
    for effect in effects:
        kind = kinds.get(type(effect)) or _kind_of(effect)
        try:
            if kind is Send:
                send = cast("Send[object]", effect)
                out = result.outgoing_messages.add()
                _address(out.target, send.target)
                _typed(out.argument, send.type.typename, send.type.encode(send.value))
            elif kind is KafkaRecord:
                record = cast(KafkaRecord, effect)
                kafka = KafkaProducerRecord(topic=record.topic, value_bytes=record.value)
                if record.key is not None:
                    kafka.key = record.key
                _egress(result, record.egress, KAFKA_TYPENAME, kafka.SerializeToString())
            elif kind is SendAfter:
                later = cast("SendAfter[object]", effect)
                token = later.cancellation_token
                delayed = result.delayed_invocations.add()
                if token is not None:
                    if token in pending_tokens:
                        raise DefinitionError(
                            f"two delayed messages use cancellation token {token!r} in one"
                            " response; the runtime would fail the job on the second"
                        )
                    pending_tokens.add(token)
                    delayed.cancellation_token = token
                delayed.delay_in_ms = later.delay_ms
                _address(delayed.target, later.target)
                _typed(delayed.argument, later.type.typename, later.type.encode(later.value))
            elif kind is CancelDelayed:
                token = cast(CancelDelayed, effect).token
                pending_tokens.discard(token)
                cancel = result.delayed_invocations.add()
                cancel.is_cancellation_request = True
                cancel.cancellation_token = token
            elif kind is Egress:
                egress = cast("Egress[object]", effect)
                data = egress.type.encode(egress.value)
                _egress(result, egress.egress, egress.type.typename, data)
            else:  # KinesisRecord: _kind_of raised for anything else
                put = cast(KinesisRecord, effect)
                kinesis = KinesisEgressRecord(
                    stream=put.stream,
                    partition_key=put.partition_key,
                    value_bytes=put.value,
                )
                if put.explicit_hash_key is not None:
                    kinesis.explicit_hash_key = put.explicit_hash_key
                _egress(result, put.egress, KINESIS_TYPENAME, kinesis.SerializeToString())
        except SerdeError as exc:
            raise exc.at(_describe(effect)) from exc.__cause__


_SIX: tuple[type[Effect], ...] = (
    Send,
    SendAfter,
    CancelDelayed,
    Egress,
    KafkaRecord,
    KinesisRecord,
)
_KINDS: dict[type, type[Effect]] = {kind: kind for kind in _SIX}


def _kind_of(effect: object) -> type[Effect]:
    """Which of the six ``effect`` is, for a subclass of one; raises for anything else."""
    for kind in _SIX:
        if isinstance(effect, kind):
            _KINDS[type(effect)] = kind
            return kind
    raise DefinitionError(f"{effect!r} is not one of the six effects")


def _describe(effect: Effect) -> str:
    """Which effect, in the user's terms, for an error about its value."""
    target = getattr(effect, "target", None)
    if isinstance(target, Address):
        return f"{type(effect).__name__} to `{target.typename}` id={target.id!r}"
    return f"{type(effect).__name__} to `{getattr(effect, 'egress', '?')}`"


def _address(out: PbAddress, address: Address) -> None:
    out.namespace = address.namespace
    out.type = address.name
    out.id = address.id


def _typed(out: TypedValue, typename: str, data: bytes) -> None:
    # has_value is always true: an empty value is a real value (the zero of
    # a primitive), and the runtime stores a MODIFY's bytes regardless.
    out.typename = typename
    out.has_value = True
    out.value = data


def _egress(result: FromFunction.InvocationResponse, to: str, typename: str, data: bytes) -> None:
    namespace, name = split_strict(to)  # checked when the effect was built: a cache hit
    egress = result.outgoing_egresses.add()
    egress.egress_namespace = namespace
    egress.egress_type = name
    _typed(egress.argument, typename, data)


def _mutations(
    result: FromFunction.InvocationResponse,
    specs: Mapping[str, ValueSpec[Any]],
    origin: Origin,
    state: State,
) -> int:
    """Add the mutations; return how many bytes of state values they write."""
    size = 0
    derived = origin_of(state) is origin
    if derived:
        # Derived from the batch's own state: only what was written can differ.
        changes: Iterable[tuple[str, object]] = written(state).items()
    else:
        # A State built from scratch says what every value should now be.
        check_declared(specs.values(), state)
        state_specs = declared(state)
        changes = [
            (name, ABSENT if name not in state_specs else _value_or_absent(state, spec))
            for name, spec in specs.items()
        ]
    for name, value in changes:
        before = origin.raw.get(name)
        if value is ABSENT:
            if before is not None:
                mutation = result.state_mutations.add()
                mutation.mutation_type = _DELETE
                mutation.state_name = name
            continue
        spec = specs[name]
        try:
            data = spec.type.encode(value)
        except SerdeError as exc:
            raise exc.at(f"state `{name}`") from exc.__cause__
        if data == before and not (derived and spec.expire_after_write is not None):
            # Written back unchanged: nothing to send. But a set() of a value with
            # expire_after_write must restart its TTL (Flink's OnCreateAndWrite), so it is sent,
            # as the official SDKs send every assignment.
            continue
        mutation = result.state_mutations.add()
        mutation.mutation_type = _MODIFY
        mutation.state_name = name
        _typed(mutation.state_value, spec.type.typename, data)
        size += len(data)
    return size


def _value_or_absent(state: State, spec: ValueSpec[Any]) -> object:
    value = state.get(spec)
    return ABSENT if value is None else value
