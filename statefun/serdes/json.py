"""JSON types, encoded and decoded by msgspec.

Anything msgspec handles works: ``msgspec.Struct``, dataclasses, ``TypedDict``,
``dict[str, int]``, lists, primitives. Decoding validates against the type.

>>> class Greet(msgspec.Struct):
...     name: str
>>> GREET = json_type("example/Greet", Greet)
>>> GREET.decode(b'{"name": "Ana"}')
Greet(name='Ana')
"""

from __future__ import annotations

from typing import Generic, TypeVar, cast

import msgspec

from .._errors import SerdeError
from .._type import Type

__all__ = ("json_type",)

T = TypeVar("T")


class JsonSerde(Generic[T]):
    """msgspec JSON for one Python type; equal when the type is."""

    __slots__ = ("python_type", "_encoder", "_decoder", "_typename")

    def __init__(self, python_type: type[T], typename: str) -> None:
        self.python_type = python_type
        self._typename = typename
        self._encoder = msgspec.json.Encoder()
        self._decoder: msgspec.json.Decoder[T] = msgspec.json.Decoder(python_type)

    def encode(self, value: T, /) -> bytes:
        return self._encoder.encode(value)

    def decode(self, data: bytes, /) -> T:
        try:
            return self._decoder.decode(data)
        except msgspec.DecodeError as exc:
            # Keep msgspec's message (what was expected, what came, where).
            raise SerdeError(self._typename, str(exc)) from exc

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JsonSerde):
            return False
        # isinstance() gives pyright JsonSerde[Unknown], mypy [Any]: [object] suits both.
        return self.python_type == cast("JsonSerde[object]", other).python_type

    def __hash__(self) -> int:
        return hash(self.python_type)

    def __repr__(self) -> str:
        return f"JsonSerde({getattr(self.python_type, '__name__', self.python_type)!s})"


def json_type(typename: str, python_type: type[T]) -> Type[T]:
    """Return a :class:`Type` whose values are ``python_type`` encoded as JSON.

    Parameters
    ----------
    typename
        ``<namespace>/<name>``, e.g. ``"example/GreetRequest"``.
    python_type
        What values decode to: a ``msgspec.Struct``, a dataclass, ``dict[str, int]``...

    >>> json_type("example/Counts", dict[str, int]).encode({"a": 1})
    b'{"a":1}'
    """
    return Type(typename, JsonSerde(python_type, typename))
