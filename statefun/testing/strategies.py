"""Hypothesis strategies for StateFun values.

>>> import statefun.testing.strategies as sst
>>> sst.addresses("example/person").example()
Address(typename='example/person', id=...)
>>> sst.messages(GREET).example()
Message(target=Address(...), value=GreetRequest(name=..., visits=...), ...)

Importing this module also registers :class:`statefun.Address` with Hypothesis,
so ``st.from_type(Address)`` works. Needs Hypothesis, the ``testing`` extra.
"""

from __future__ import annotations

from typing import Any, TypeVar

try:
    from hypothesis import strategies as st
    from hypothesis.errors import InvalidArgument
except ImportError:
    raise ImportError(
        "statefun.testing.strategies needs Hypothesis (the `testing` extra): pip install hypothesis, or pip install -e '.[testing]' in the SDK's checkout"
    ) from None

from .. import BOOL, DOUBLE, FLOAT, INT, LONG, STRING, Address, Message, Type, TypeUnion
from ..serdes.json import JsonSerde
from ._json_values import json_values

__all__ = ("addresses", "ids", "messages", "typenames", "values")

T = TypeVar("T")

# Names the runtime accepts everywhere: one `/`, no empty parts (protocol.md §6.6).
_NAMESPACE = r"[a-z][a-z0-9_]{0,7}(\.[a-z][a-z0-9_]{0,7}){0,2}"
_NAME = r"[A-Za-z][A-Za-z0-9_]{0,11}"

_PRIMITIVES: tuple[tuple[Type[Any], st.SearchStrategy[Any]], ...] = (
    (BOOL, st.booleans()),
    (INT, st.integers(-(2**31), 2**31 - 1)),
    (LONG, st.integers(-(2**63), 2**63 - 1)),
    # NaN is left out: it is not equal to itself, so no round trip could pass.
    (FLOAT, st.floats(width=32, allow_nan=False)),
    (DOUBLE, st.floats(allow_nan=False)),
    (STRING, st.text()),
)


def _check_size(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidArgument(
            f"Expected a non-negative int but got {name}={value!r} (type={type(value).__name__})"
        )
    return value


def typenames(*, namespaces: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[str]:
    """Typenames the runtime parses everywhere: ``<namespace>/<name>``, exactly one ``/``.

    >>> typenames().example().count("/")
    1
    """
    ns = namespaces if namespaces is not None else st.from_regex(_NAMESPACE, fullmatch=True)

    # A def, not a lambda: builds() types its target as Callable[..., T], so nothing
    # would type a lambda's parameters (pyright strict rejects that; mypy says Any).
    def typename(namespace: str, name: str) -> str:
        return f"{namespace}/{name}"

    return st.builds(typename, ns, st.from_regex(_NAME, fullmatch=True))


def ids(*, min_size: int = 1, max_size: int = 16) -> st.SearchStrategy[str]:
    """Instance ids: any text, like Kafka keys. Empty ids are left out by default
    because most SDKs reject them (protocol.md §6.15); ``min_size=0`` allows them.
    """
    min_size = _check_size("min_size", min_size)
    max_size = _check_size("max_size", max_size)
    if max_size < min_size:
        raise InvalidArgument(f"Cannot have max_size={max_size} < min_size={min_size}")
    return st.text(min_size=min_size, max_size=max_size)


_ids = ids  # `addresses` and `messages` take parameters of these names


def addresses(
    typename: str | st.SearchStrategy[str] | None = None,
    *,
    ids: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[Address]:
    """Addresses of function instances, of ``typename`` (a fixed one, a strategy, or any).

    >>> addresses("example/person").example()
    Address(typename='example/person', id=...)
    """
    types: st.SearchStrategy[str]
    if typename is None:
        types = typenames()
    elif isinstance(typename, str):
        Address(typename, "")  # fail now, not on first draw, if it is not a function type
        types = st.just(typename)
    else:
        types = typename
    return st.builds(Address, types, ids if ids is not None else _ids())


def values(type_: Type[T] | TypeUnion[T]) -> st.SearchStrategy[T]:
    """Values of a StateFun :class:`Type` that its serde encodes and decodes back
    unchanged: primitives, and JSON types. Of a union (``ADD | REMOVE``), values
    of any of its types.

    For a JSON type the strategy follows the Python type as msgspec sees it: Structs
    (tagged, renamed, array-like), dataclasses, TypedDicts and NamedTuples, with each
    field that has a default sometimes left out; enums, Literals, unions; containers;
    dates, times, UUIDs, decimals, bytes; ``msgspec.Meta`` bounds, lengths and
    patterns. Floats are finite, ints 64-bit, timezones whole-minute offsets, as
    JSON carries them. Other types, and JSON types with a class msgspec does not
    know, need a strategy of your own.

    >>> -(2**31) <= values(INT).example() < 2**31  # INT is 32 bits wide
    True
    """
    if isinstance(type_, TypeUnion):
        return st.one_of([values(member) for member in type_.types])
    if not isinstance(type_, Type):
        raise InvalidArgument(
            f"Expected a statefun Type but got type_={type_!r} (type={type(type_).__name__})"
        )
    for primitive, strategy in _PRIMITIVES:
        if type_ == primitive:
            return strategy  # the same Type, so values of T
    if isinstance(type_.serde, JsonSerde):
        return json_values(type_.serde.python_type, type_.typename)
    raise InvalidArgument(
        f"Cannot derive values of `{type_.typename}` from its serde {type_.serde!r};"
        " pass a strategy instead, e.g. messages(type_, values=st.builds(...))"
    )


_values = values


def messages(
    type_: Type[T] | TypeUnion[T],
    *,
    to: Address | st.SearchStrategy[Address] | None = None,
    values: st.SearchStrategy[T] | None = None,
    callers: st.SearchStrategy[Address | None] | None = None,
) -> st.SearchStrategy[Message[T]]:
    """Messages of ``type_``, as a function receives them, ``typename`` set.

    Of a union (``ADD | REMOVE``), messages of any of its types: a mixed batch.

    Parameters
    ----------
    to
        The target: one address, a strategy, or any address (default).
    values
        The values; default :func:`values` of ``type_``. Not with a union:
        which type a value is could not be told.
    callers
        Who sent them; default none, as from an ingress.

    >>> messages(GREET, to=Address("example/person", "Ana")).example()
    Message(target=Address(typename='example/person', id='Ana'), value=GreetRequest(...), ...)
    """
    targets = st.just(to) if isinstance(to, Address) else to if to is not None else addresses()
    if isinstance(type_, TypeUnion):
        if values is not None:
            raise InvalidArgument(
                "messages() of a union takes no `values`: give messages(member, values=...)"
                " of each member and combine them with st.one_of"
            )
        return st.one_of([messages(member, to=targets, callers=callers) for member in type_.types])
    payloads = values if values is not None else _values(type_)
    senders: st.SearchStrategy[Address | None] = callers if callers is not None else st.none()

    def message(target: Address, value: T, caller: Address | None) -> Message[T]:
        return Message(target, value, caller, type_.typename)

    return st.builds(message, targets, payloads, senders)


st.register_type_strategy(Address, addresses())
