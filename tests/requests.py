"""Builders for ToFunction request bytes, shared by the wire-level tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from statefun._generated.request_reply_pb2 import FromFunction, ToFunction


def to_function(
    target: str,
    id: str,
    arguments: Iterable[tuple[str, bytes]],
    *,
    state: Mapping[str, tuple[str, bytes] | None] | None = None,
    caller: tuple[str, str] | None = None,
) -> bytes:
    """A serialized ToFunction for ``target``/``id``.

    ``arguments`` are (typename, value bytes) pairs, one invocation each.
    ``state`` maps a state name to (typename, value bytes), or to None for a
    registered state with no value (its ``state_value`` left unset, as the runtime does).
    """
    request = ToFunction()
    batch = request.invocation
    namespace, _, name = target.rpartition("/")
    batch.target.namespace, batch.target.type, batch.target.id = namespace, name, id
    for state_name, value in (state or {}).items():
        persisted = batch.state.add()
        persisted.state_name = state_name
        if value is not None:
            persisted.state_value.typename, persisted.state_value.value = value
            persisted.state_value.has_value = True
    for typename, data in arguments:
        invocation = batch.invocations.add()
        if caller is not None:
            c_namespace, _, c_name = caller[0].rpartition("/")
            invocation.caller.namespace, invocation.caller.type = c_namespace, c_name
            invocation.caller.id = caller[1]
        invocation.argument.typename = typename
        invocation.argument.has_value = True
        invocation.argument.value = data
    return request.SerializeToString()


def from_function(data: bytes) -> FromFunction:
    """Parse a response body."""
    return FromFunction.FromString(data)
