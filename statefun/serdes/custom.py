"""Types built from a pair of plain functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar, cast

from .._errors import DefinitionError
from .._type import Type

__all__ = ("custom_type",)

T = TypeVar("T")


class FunctionSerde(Generic[T]):
    """A serde made of two functions; equal when both functions are."""

    __slots__ = ("_encode", "_decode")

    def __init__(self, encode: Callable[[T], bytes], decode: Callable[[bytes], T]) -> None:
        self._encode = encode
        self._decode = decode

    def encode(self, value: T, /) -> bytes:
        return self._encode(value)

    def decode(self, data: bytes, /) -> T:
        return self._decode(data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FunctionSerde):
            return False
        # isinstance() gives pyright FunctionSerde[Unknown], mypy [Any]: [object] suits both.
        that = cast("FunctionSerde[object]", other)
        return self._encode == that._encode and self._decode == that._decode

    def __hash__(self) -> int:
        return hash((self._encode, self._decode))

    def __repr__(self) -> str:
        return f"FunctionSerde({self._encode!r}, {self._decode!r})"


def custom_type(
    typename: str, *, encode: Callable[[T], bytes], decode: Callable[[bytes], T]
) -> Type[T]:
    """Return a :class:`Type` whose bytes come from your own two functions.

    >>> NAME = custom_type("example/Name", encode=str.encode, decode=bytes.decode)
    >>> NAME.decode(NAME.encode("Ana"))
    'Ana'
    """
    if not callable(encode) or not callable(decode):
        raise DefinitionError("custom_type needs callable `encode` and `decode`")
    return Type(typename, FunctionSerde(encode, decode))
