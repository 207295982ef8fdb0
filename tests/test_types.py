"""``Type[T]``: a typename and the serde for its values."""

from __future__ import annotations

import pytest

from statefun import (
    BOOL,
    DOUBLE,
    FLOAT,
    INT,
    LONG,
    STRING,
    DefinitionError,
    InvalidTypeName,
    SerdeError,
    Type,
    TypeUnion,
)


class Reversed:
    """A user serde whose bytes differ visibly from the value."""

    def encode(self, value: str, /) -> bytes:
        return value[::-1].encode()

    def decode(self, data: bytes, /) -> str:
        return data.decode()[::-1]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Reversed)

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "Reversed()"


class Exploding:
    def encode(self, value: int, /) -> bytes:
        raise RuntimeError("boom")

    def decode(self, data: bytes, /) -> int:
        raise KeyError("bang")


class TestType:
    def test_encode_and_decode_go_through_the_serde(self) -> None:
        name = Type("example/Name", Reversed())
        assert name.encode("abc") == b"cba"
        assert name.decode(b"cba") == "abc"
        assert name.typename == "example/Name"

    def test_typename_is_checked(self) -> None:
        with pytest.raises(InvalidTypeName) as info:
            Type("Name", Reversed())
        assert str(info.value) == (
            "Type typename 'Name' is not a valid typename: expected `<namespace>/<name>`"
        )

    def test_immutable(self) -> None:
        name = Type("example/Name", Reversed())
        with pytest.raises(AttributeError) as info:
            name.typename = "example/Other"
        assert str(info.value) == "Type is immutable"

    def test_equality(self) -> None:
        assert Type("example/Name", Reversed()) == Type("example/Name", Reversed())
        assert Type("example/Name", Reversed()) != Type("example/Other", Reversed())
        assert Type("example/Name", Reversed()) != "example/Name"
        assert hash(Type("example/Name", Reversed())) == hash(Type("example/Name", Reversed()))

    def test_repr(self) -> None:
        assert repr(Type("example/Name", Reversed())) == "Type('example/Name', Reversed())"

    def test_serde_errors_are_wrapped_with_the_typename(self) -> None:
        broken = Type("example/Broken", Exploding())
        with pytest.raises(SerdeError) as encoding:
            broken.encode(1)
        assert str(encoding.value) == "`example/Broken`: cannot encode a `int`: boom"
        assert isinstance(encoding.value.__cause__, RuntimeError)
        with pytest.raises(SerdeError) as decoding:
            broken.decode(b"xyz")
        assert str(decoding.value) == "`example/Broken`: cannot decode 3 bytes: 'bang'"
        assert isinstance(decoding.value.__cause__, KeyError)


class TestTypeUnion:
    def test_any_length_in_order(self) -> None:
        union = INT | STRING | BOOL | LONG | DOUBLE | FLOAT
        assert union.types == (INT, STRING, BOOL, LONG, DOUBLE, FLOAT)
        assert list(union) == [INT, STRING, BOOL, LONG, DOUBLE, FLOAT]
        assert len(union) == 6

    def test_unions_join_unions(self) -> None:
        assert (INT | STRING) | (BOOL | LONG) == INT | STRING | BOOL | LONG
        assert INT | (STRING | BOOL) == INT | STRING | BOOL

    def test_an_immutable_value(self) -> None:
        assert INT | STRING == INT | STRING
        assert INT | STRING != STRING | INT  # order is kept, and shown
        assert hash(INT | STRING) == hash(INT | STRING)
        with pytest.raises(AttributeError):
            (INT | STRING).types = ()  # type: ignore[misc]
        with pytest.raises(AttributeError):
            (INT | STRING).extra = 1

    def test_repr_reads_as_the_expression(self) -> None:
        assert repr(INT | STRING) == (
            "Type('io.statefun.types/int', IntSerde()) | Type('io.statefun.types/string', StringSerde())"
        )

    def test_one_typename_twice(self) -> None:
        other = Type("io.statefun.types/string", Reversed())
        with pytest.raises(DefinitionError) as info:
            _ = INT | STRING | other
        assert str(info.value) == "`io.statefun.types/string` is in the union twice"

    def test_only_types_join(self) -> None:
        with pytest.raises(DefinitionError) as info:
            _ = INT | int
        assert str(info.value) == (
            "cannot join a `type` to a union of statefun Types;"
            " every part of `A | B` must be a Type (e.g. INT, json_type(...))"
        )
        with pytest.raises(DefinitionError):
            _ = (INT | STRING) | "io.statefun.types/bool"  # type: ignore[operator]

    def test_built_only_with_or(self) -> None:
        with pytest.raises(DefinitionError) as info:
            TypeUnion()
        assert str(info.value) == "build a TypeUnion with `|`, e.g. ADD | REMOVE"
