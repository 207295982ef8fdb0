"""Build ``ToFunction`` request bytes and read ``FromFunction`` answers, as the runtime does.

Everything here uses the generated protobuf classes directly, never the SDK's
own encoding, so a test built on it checks the SDK against the protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from statefun import Address, Type
from statefun._generated.request_reply_pb2 import FromFunction, ToFunction, TypedValue

__all__ = (
    "ABSENT_VALUE",
    "answer",
    "call",
    "missing_specs",
    "request",
    "typed",
)

T = TypeVar("T")

ABSENT_VALUE = None
"""A state listed by name with ``state_value`` unset: registered, but holding no value."""


def typed(type_: Type[T], value: T) -> TypedValue:
    """The TypedValue the runtime would carry for ``value``: ``has_value`` and the bytes."""
    return TypedValue(typename=type_.typename, has_value=True, value=type_.encode(value))


def call(argument: TypedValue, caller: Address | None = None) -> ToFunction.Invocation:
    """One invocation; without ``caller`` it looks like a message from an ingress."""
    invocation = ToFunction.Invocation(argument=argument)
    if caller is not None:
        invocation.caller.namespace = caller.namespace
        invocation.caller.type = caller.name
        invocation.caller.id = caller.id
    return invocation


def request(
    target: Address,
    *invocations: ToFunction.Invocation,
    state: Mapping[str, TypedValue | None] = {},
) -> bytes:
    """The body of one request to ``target``.

    ``state`` lists every state the runtime has registered, in order; a value of
    ``None`` (:data:`ABSENT_VALUE`) leaves ``state_value`` unset, as the runtime
    does for a registered state with no value (protocol.md §1.11).
    """
    message = ToFunction()
    batch = message.invocation
    batch.target.namespace = target.namespace
    batch.target.type = target.name
    batch.target.id = target.id
    for name, value in state.items():
        persisted = batch.state.add(state_name=name)
        if value is not None:
            persisted.state_value.CopyFrom(value)
    batch.invocations.extend(invocations)
    return message.SerializeToString()


def answer(body: bytes) -> FromFunction.InvocationResponse:
    """The InvocationResponse in ``body``; fails the test if the answer is anything else."""
    response = FromFunction.FromString(body)
    assert response.WhichOneof("response") == "invocation_result", response
    return response.invocation_result


def missing_specs(body: bytes) -> list[FromFunction.PersistedValueSpec]:
    """The specs an IncompleteInvocationContext answer asks the runtime to register."""
    response = FromFunction.FromString(body)
    assert response.WhichOneof("response") == "incomplete_invocation_context", response
    return list(response.incomplete_invocation_context.missing_values)
