"""Typename checks, in the runtime's own terms (protocol.md §6.6)."""

from __future__ import annotations

from ._errors import InvalidTypeName


def split(typename: str, what: str = "typename") -> tuple[str, str]:
    """Split ``namespace/name`` at the last ``/``, as every SDK does.

    Both parts must be non-empty. Message and egress argument typenames pass
    through the runtime unparsed, so a namespace may itself hold ``/``.
    """
    if not isinstance(typename, str):
        raise InvalidTypeName(what, typename, f"expected `str`, got `{type(typename).__name__}`")
    namespace, slash, name = typename.rpartition("/")
    if not slash:
        raise InvalidTypeName(what, typename, "expected `<namespace>/<name>`")
    if not namespace or not name:
        raise InvalidTypeName(what, typename, "namespace and name must both be non-empty")
    return namespace, name


# Valid strict typenames seen so far. Functions build the same few addresses and
# egress ids over and over; a bound keeps a stream of distinct names from growing it.
_STRICT: dict[str, tuple[str, str]] = {}
_STRICT_MAX = 4096


def split_strict(typename: str, what: str = "typename") -> tuple[str, str]:
    """Split a typename the runtime parses with ``TypeName.parseFrom``: exactly one ``/``.

    That parse applies to state types, function types and egress ids.
    """
    if type(typename) is str:
        known = _STRICT.get(typename)
        if known is not None:
            return known
    namespace, name = split(typename, what)
    if "/" in namespace:
        raise InvalidTypeName(what, typename, "the runtime needs exactly one `/` here")
    if len(_STRICT) < _STRICT_MAX:
        _STRICT[typename] = (namespace, name)
    return namespace, name
