"""`Address`: which function instance a message is for, or came from."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._slots import slot_setter
from ._typename import split_strict

__all__ = ("Address",)


@dataclass(frozen=True, slots=True)
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

    def __post_init__(self) -> None:
        namespace, name = split_strict(self.typename, "Address typename")
        if not isinstance(self.id, str):
            raise TypeError(f"Address id must be a `str`, got `{type(self.id).__name__}`")
        object.__setattr__(self, "namespace", namespace)
        object.__setattr__(self, "name", name)


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
