"""User-defined serdes: ``custom_type`` and any object meeting the ``Serde`` protocol."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statefun import DefinitionError, Serde, SerdeError, Type, custom_type


def encode_utf8(value: str) -> bytes:
    return value.encode("utf-8")


def decode_utf8(data: bytes) -> str:
    return data.decode("utf-8")


NAME = custom_type("example/Name", encode=encode_utf8, decode=decode_utf8)


class Utf8:
    """A serde written by a user: two methods, nothing inherited."""

    def encode(self, value: str, /) -> bytes:
        return value.encode("utf-8")

    def decode(self, data: bytes, /) -> str:
        return data.decode("utf-8")


class TestCustomType:
    @given(st.text())
    def test_round_trip(self, value: str) -> None:
        assert NAME.decode(NAME.encode(value)) == value
        assert NAME.encode(value) == value.encode()

    def test_equal_when_both_functions_are(self) -> None:
        same = custom_type("example/Name", encode=encode_utf8, decode=decode_utf8)
        assert same == NAME
        assert hash(same) == hash(NAME)
        assert custom_type("example/Name", encode=encode_utf8, decode=bytes.decode) != NAME

    def test_functions_must_be_callable(self) -> None:
        with pytest.raises(DefinitionError) as info:
            custom_type("example/Name", encode=encode_utf8, decode=None)  # type: ignore[arg-type]
        assert str(info.value) == "custom_type needs callable `encode` and `decode`"

    def test_errors_of_user_functions_name_the_typename(self) -> None:
        with pytest.raises(SerdeError) as info:
            NAME.decode(b"\xff")
        assert str(info.value) == (
            "`example/Name`: cannot decode 1 bytes: 'utf-8' codec can't decode byte 0xff"
            " in position 0: invalid start byte"
        )
        assert isinstance(info.value.__cause__, UnicodeDecodeError)

    def test_a_serde_error_raised_by_the_user_passes_unchanged(self) -> None:
        def refuse(data: bytes) -> str:
            raise SerdeError("example/Name", "no")

        refusing = custom_type("example/Name", encode=encode_utf8, decode=refuse)
        with pytest.raises(SerdeError) as info:
            refusing.decode(b"")
        assert str(info.value) == "`example/Name`: no"
        assert info.value.__cause__ is None


class TestSerdeProtocol:
    def test_a_plain_class_is_a_serde(self) -> None:
        serde: Serde[str] = Utf8()
        name = Type("example/Name", serde)
        assert name.encode("Ana") == b"Ana"
        assert name.decode(b"Ana") == "Ana"

    @given(st.text())
    def test_round_trip(self, value: str) -> None:
        name = Type("example/Name", Utf8())
        assert name.decode(name.encode(value)) == value
