"""`Address`: which function instance a message is for, or came from."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._errors import DefinitionError
from ._slots import slot_setter
from ._typename import split_strict

__all__ = ("Address",)


@dataclass(frozen=True, slots=True, init=False)
class Address:
    """A function instance: its function type and an id within that type.

    >>> Address("example/greeter", "Ana").name
    'greeter'

    Parameters
    ----------
    typename
        The function type, ``<namespace>/<name>`` with exactly one ``/``.
    id
        The instance id, any string (Kafka ingress uses the record key).
    """

    typename: str
    id: str
    namespace: str = field(init=False, repr=False, compare=False)
    name: str = field(init=False, repr=False, compare=False)

    def __init__(self, typename: str, id: str) -> None:
        namespace, name = split_strict(typename, "Address typename")
        if not isinstance(id, str):
            raise DefinitionError(f"Address id must be a `str`, got `{type(id).__name__}`")
        _set_typename(self, typename)
        _set_id(self, id)
        _set_namespace(self, namespace)
        _set_name(self, name)


# Functions build addresses for every message they send: set the slots directly
# rather than through the frozen dataclass's object.__setattr__.
_new = object.__new__
_set_typename = slot_setter(Address, "typename")
_set_id = slot_setter(Address, "id")
_set_namespace = slot_setter(Address, "namespace")
_set_name = slot_setter(Address, "name")


def trusted_address(namespace: str, name: str, id: str) -> Address:
    """Build an Address from the runtime's parts without re-validating them."""
    address: Address = _new(Address)
    _set_typename(address, f"{namespace}/{name}")
    _set_id(address, id)
    _set_namespace(address, namespace)
    _set_name(address, name)
    return address
