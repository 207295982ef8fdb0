"""`Address`: which function instance a message is for, or came from."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
from msgspec.structs import force_setattr

from ._errors import DefinitionError
from ._typename import split_strict

__all__ = ("Address",)

# Not a valid namespace, and compared by identity: only the default is this object.
_DERIVE = "<derived from typename>"


class Address(msgspec.Struct, frozen=True, gc=False):
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
    # The two halves of the typename, kept because every message sent needs them.
    # Given by the SDK only (trusted_address, for the runtime's addresses, whose
    # parts may even be empty); a user passes the typename alone, and it is parsed.
    namespace: str = _DERIVE
    name: str = _DERIVE

    if TYPE_CHECKING:  # the constructor users call: the halves are the SDK's business

        def __init__(self, typename: str, id: str) -> None: ...

    def __post_init__(self) -> None:
        if self.namespace is _DERIVE:
            namespace, name = split_strict(self.typename, "Address typename")
            force_setattr(self, "namespace", namespace)
            force_setattr(self, "name", name)
        if type(self.id) is not str:
            raise DefinitionError(f"Address id must be a `str`, got `{type(self.id).__name__}`")

    def __repr__(self) -> str:
        return f"Address(typename={self.typename!r}, id={self.id!r})"


def trusted_address(namespace: str, name: str, id: str) -> Address:
    """An Address from the runtime's parts, which need no parsing."""
    return Address(f"{namespace}/{name}", id, namespace, name)  # type: ignore[call-arg]
