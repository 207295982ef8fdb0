"""`Type[T]`: a typename and the serde that turns `T` into bytes and back.

``A | B`` of two Types is a :class:`TypeUnion`: what a function that accepts
several message types declares.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, ParamSpec, Protocol, TypeVar, final

from ._errors import DefinitionError, SerdeError
from ._typename import split

__all__ = ("Codec", "Decoder", "Encoder", "Member", "Serde", "Type", "TypeUnion")

T = TypeVar("T")
U = TypeVar("U")
T_co = TypeVar("T_co", covariant=True)
P = ParamSpec("P")


class Serde(Protocol[T]):
    """Turns values of one Python type into bytes and back.

    Any object with these two methods is a serde; there is nothing to inherit.

    >>> class Utf8:
    ...     def encode(self, value: str, /) -> bytes:
    ...         return value.encode()
    ...     def decode(self, data: bytes, /) -> str:
    ...         return data.decode()
    >>> Utf8().decode(Utf8().encode("Ana"))
    'Ana'
    """

    def encode(self, value: T, /) -> bytes:
        """Return the bytes of ``value``."""
        ...

    def decode(self, data: bytes, /) -> T:
        """Return the value that ``data`` holds."""
        ...


# How signatures that take a value *of* a Type see that Type. A value typed
# ``P.args`` is checked against a signature already taken from the Type, where
# one typed ``T`` would join the Type's T with the value's own type; so on a
# mismatch mypy says "Argument 3 to "Send" has incompatible type "str"; expected
# "int"" instead of "Cannot infer value of type parameter". Type[T] is all three.


class Encoder(Protocol[P]):
    """Something with ``encode(value) -> bytes``, seen through its parameters."""

    def encode(self, *args: P.args, **kwargs: P.kwargs) -> bytes:
        """Return the bytes of the value."""
        ...


class Decoder(Protocol[T_co]):
    """Something with ``decode(data) -> T``; covariant, so a ``Type[int]`` reads as an object."""

    def decode(self, data: bytes, /) -> T_co:
        """Return the value that ``data`` holds."""
        ...


class Codec(Encoder[P], Decoder[T_co], Protocol[T_co, P]):
    """Both: what an effect's ``type`` is seen as, so that its value is checked against it."""


class Member(Decoder[T_co], Protocol[T_co]):
    """A Type as ``|`` sees it: covariant, so that ``INT | STRING | LONG`` type-checks
    where a union is expected (``accepts=``) although INT and LONG share ``int``."""

    @property
    def typename(self) -> str:
        """The typename the runtime sees."""
        ...


@final
class Type(Generic[T]):
    """A StateFun type: the typename the runtime sees plus the serde for its values.

    Messages, state and egress values each travel as ``typename`` + bytes. Build
    one with :func:`json_type`, :func:`protobuf_type`, :func:`custom_type`, or use
    the built-in primitives (``INT``, ``STRING``, ...). ``A | B`` is a
    :class:`TypeUnion`, for a function that accepts both.

    >>> class Utf8:  # a Serde
    ...     def encode(self, value: str, /) -> bytes:
    ...         return value.encode()
    ...     def decode(self, data: bytes, /) -> str:
    ...         return data.decode()
    >>> NAME = Type("example/Name", Utf8())
    >>> NAME.encode("Ana")
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

    def encode(self, value: T, /) -> bytes:
        """Encode ``value``; failures raise :class:`SerdeError` naming this typename."""
        try:
            return self.serde.encode(value)
        except SerdeError:
            raise
        except Exception as exc:
            raise SerdeError(
                self.typename, f"cannot encode a `{type(value).__name__}`: {exc}"
            ) from exc

    def decode(self, data: bytes, /) -> T:
        """Decode ``data``; failures raise :class:`SerdeError` naming this typename."""
        try:
            return self.serde.decode(data)
        except SerdeError:
            raise
        except Exception as exc:
            raise SerdeError(self.typename, f"cannot decode {len(data)} bytes: {exc}") from exc

    def __or__(self, other: Member[U] | TypeUnion[U], /) -> TypeUnion[T | U]:
        """``A | B``: the union of two types, for ``Functions.bind(accepts=...)``."""
        return _union(self, other)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Type):
            return NotImplemented
        # isinstance() leaves pyright a Type[Unknown] (mypy: Type[Any]); serdes compare as objects.
        return self.typename == other.typename and self.serde == other.serde  # pyright: ignore[reportUnknownMemberType]

    def __hash__(self) -> int:
        return hash(self.typename)

    def __repr__(self) -> str:
        return f"Type({self.typename!r}, {self.serde!r})"


@final
class TypeUnion(Generic[T_co]):
    """Several :class:`Type`\\ s, each with its own typename: ``ADD | REMOVE``.

    A function bound with ``accepts=ADD | REMOVE`` receives ``Message[Add | Remove]``
    and may ``match`` on the value; ``Message.typename`` tells apart types that
    decode to one Python type (``INT | LONG``). Build one with ``|``, of any length.

    >>> (INT | STRING).types == (INT, STRING)
    True
    >>> INT | INT
    Traceback (most recent call last):
    ...
    statefun.DefinitionError: `io.statefun.types/int` is in the union twice
    """

    __slots__ = ("_types",)

    _types: tuple[Type[Any], ...]

    @property
    def types(self) -> tuple[Type[Any], ...]:
        """The member types, in the order they were joined."""
        return self._types

    def __init__(self) -> None:
        raise DefinitionError("build a TypeUnion with `|`, e.g. ADD | REMOVE")

    def __or__(self, other: Member[U] | TypeUnion[U], /) -> TypeUnion[T_co | U]:
        """``A | B | C``: this union with one more type, or another union."""
        return _union(self, other)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("TypeUnion is immutable")

    def __iter__(self) -> Iterator[Type[Any]]:
        return iter(self._types)

    def __len__(self) -> int:
        return len(self._types)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TypeUnion):
            return NotImplemented
        return self.types == other.types

    def __hash__(self) -> int:
        return hash(self.types)

    def __repr__(self) -> str:
        return " | ".join(map(repr, self.types))


def members(types: Type[Any] | TypeUnion[Any]) -> tuple[Type[Any], ...]:
    """The Types of a Type or a union, in order."""
    return types.types if isinstance(types, TypeUnion) else (types,)


def _union(left: Type[Any] | TypeUnion[Any], right: object) -> TypeUnion[Any]:
    if not isinstance(right, (Type, TypeUnion)):
        # NotImplemented would let Python say "unsupported operand"; ours names the fix.
        raise DefinitionError(
            f"cannot join a `{type(right).__name__}` to a union of statefun Types;"
            " every part of `A | B` must be a Type (e.g. INT, json_type(...))"
        )
    # isinstance() leaves pyright Type[Unknown] | TypeUnion[Unknown] (mypy: [Any]).
    types = members(left) + members(right)  # pyright: ignore[reportUnknownArgumentType]
    seen: set[str] = set()
    for t in types:
        if t.typename in seen:
            raise DefinitionError(f"`{t.typename}` is in the union twice")
        seen.add(t.typename)
    # object.__new__(TypeUnion) is a TypeUnion[Unknown] to pyright, whatever `union` declares.
    union: TypeUnion[Any] = object.__new__(TypeUnion)  # pyright: ignore[reportUnknownVariableType]
    object.__setattr__(union, "_types", types)
    return union
