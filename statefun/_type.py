"""`Type[T]`: a typename and the serde that turns `T` into bytes and back."""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar, final

from ._errors import SerdeError
from ._typename import split

__all__ = ("Serde", "Type")

T = TypeVar("T")


class Serde(Protocol[T]):
    """Turns values of one Python type into bytes and back.

    Any object with these two methods is a serde; there is nothing to inherit.

    >>> class Utf8:
    ...     def encode(self, value: str, /) -> bytes:
    ...         return value.encode()
    ...     def decode(self, data: bytes, /) -> str:
    ...         return data.decode()
    """

    def encode(self, value: T, /) -> bytes:
        """Return the bytes of ``value``."""
        ...

    def decode(self, data: bytes, /) -> T:
        """Return the value that ``data`` holds."""
        ...


@final
class Type(Generic[T]):
    """A StateFun type: the typename the runtime sees plus the serde for its values.

    Messages, state and egress values each travel as ``typename`` + bytes. Build
    one with :func:`json_type`, :func:`protobuf_type`, :func:`custom_type`, or use
    the built-in primitives (``INT``, ``STRING``, ...).

    >>> Type("example/Name", Utf8()).encode("Ana")
    b'Ana'
    """

    __slots__ = ("typename", "serde")

    typename: str
    serde: Serde[T]

    def __init__(self, typename: str, serde: Serde[T]) -> None:
        split(typename, "Type typename")
        object.__setattr__(self, "typename", typename)
        object.__setattr__(self, "serde", serde)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def encode(self, value: T) -> bytes:
        """Encode ``value``; failures raise :class:`SerdeError` naming this typename."""
        try:
            return self.serde.encode(value)
        except SerdeError:
            raise
        except Exception as exc:
            raise SerdeError(
                self.typename, f"cannot encode a `{type(value).__name__}`: {exc}"
            ) from exc

    def decode(self, data: bytes) -> T:
        """Decode ``data``; failures raise :class:`SerdeError` naming this typename."""
        try:
            return self.serde.decode(data)
        except SerdeError:
            raise
        except Exception as exc:
            raise SerdeError(self.typename, f"cannot decode {len(data)} bytes: {exc}") from exc

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Type):
            return NotImplemented
        # isinstance() leaves pyright a Type[Unknown] (mypy: Type[Any]); serdes compare as objects.
        return self.typename == other.typename and self.serde == other.serde  # pyright: ignore[reportUnknownMemberType]

    def __hash__(self) -> int:
        return hash(self.typename)

    def __repr__(self) -> str:
        return f"Type({self.typename!r}, {self.serde!r})"
