"""The built-in primitives against the generated ``types_pb2`` wrappers.

Encoding is hand-written for speed; these properties hold it to protobuf's own
bytes for every value, and hold decoding to protobuf's reading of any valid
wrapper encoding (fields repeated, unknown fields, groups, overlong varints).
The fixed byte vectors of protocol.md §2.1 are in ``tests/wire/test_vectors.py``.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest
from google.protobuf.message import DecodeError
from google.protobuf.message import Message as ProtoMessage
from hypothesis import given
from hypothesis import strategies as st

from statefun import BOOL, DOUBLE, FLOAT, INT, LONG, STRING, SerdeError, Type
from statefun._generated.types_pb2 import (
    BooleanWrapper,
    DoubleWrapper,
    FloatWrapper,
    IntWrapper,
    LongWrapper,
    StringWrapper,
)

INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)


def float_bits(value: float) -> bytes:
    """Compare floats by their bits, so that NaN equals itself and -0.0 differs from 0.0."""
    return struct.pack("<d", value)


def varint(n: int, *, padding: int = 0) -> bytes:
    """A varint, overlong by ``padding`` bytes if asked (still valid; protobuf accepts it)."""
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    if padding:
        out.append(n | 0x80)
        out.extend(b"\x80" * (padding - 1))
        out.append(0)
    else:
        out.append(n)
    return bytes(out)


class TestVarintHelper:
    def test_canonical(self) -> None:
        assert varint(0) == b"\x00"
        assert varint(300) == b"\xac\x02"

    def test_overlong_still_means_the_same_number(self) -> None:
        assert varint(1, padding=2) == b"\x81\x80\x00"
        assert BooleanWrapper.FromString(b"\x08" + varint(1, padding=3)).value is True


@st.composite
def unknown_fields(draw: st.DrawFn, depth: int = 0) -> bytes:
    """One field that a wrapper does not declare, of any wire type, groups included."""
    number = draw(st.integers(2, 2**29 - 1))
    kinds = ["varint", "i64", "len", "i32"] + (["group"] if depth < 2 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "varint":
        return varint(number << 3) + varint(draw(st.integers(0, 2**64 - 1)))
    if kind == "i64":
        return varint(number << 3 | 1) + draw(st.binary(min_size=8, max_size=8))
    if kind == "len":
        payload = draw(st.binary(max_size=20))
        return varint(number << 3 | 2) + varint(len(payload)) + payload
    if kind == "i32":
        return varint(number << 3 | 5) + draw(st.binary(min_size=4, max_size=4))
    inner = draw(st.lists(unknown_fields(depth + 1), max_size=3))
    return varint(number << 3 | 3) + b"".join(inner) + varint(number << 3 | 4)


# For each primitive: its Type, the wrapper class, values to encode, and an
# explicit field-1 encoding (protobuf writes nothing for the zero value, but a
# valid encoding may still spell it out).
@st.composite
def _bool_field(draw: st.DrawFn) -> bytes:
    n = draw(st.integers(0, 2**64 - 1))
    return b"\x08" + varint(n, padding=draw(st.integers(0, 1)) if n < 2**56 else 0)


@st.composite
def _i32_field(draw: st.DrawFn) -> bytes:
    return b"\x0d" + draw(st.binary(min_size=4, max_size=4))


@st.composite
def _i64_field(draw: st.DrawFn) -> bytes:
    return b"\x09" + draw(st.binary(min_size=8, max_size=8))


@st.composite
def _string_field(draw: st.DrawFn) -> bytes:
    data = draw(st.text(max_size=40)).encode()
    return b"\x0a" + varint(len(data), padding=draw(st.integers(0, 1))) + data


PRIMITIVES: list[
    tuple[Type[Any], type[ProtoMessage], st.SearchStrategy[Any], st.SearchStrategy[bytes]]
] = [
    (BOOL, BooleanWrapper, st.booleans(), _bool_field()),
    (INT, IntWrapper, INT32, _i32_field()),
    (LONG, LongWrapper, INT64, _i64_field()),
    (FLOAT, FloatWrapper, st.floats(), _i32_field()),
    (DOUBLE, DoubleWrapper, st.floats(), _i64_field()),
    (STRING, StringWrapper, st.text(), _string_field()),
]
IDS = [t.typename.rpartition("/")[2] for t, *_ in PRIMITIVES]


def comparable(value: object) -> object:
    return float_bits(value) if isinstance(value, float) else value


@pytest.mark.parametrize(("type_", "wrapper", "values", "field"), PRIMITIVES, ids=IDS)
class TestAgainstWrappers:
    @given(data=st.data())
    def test_encoding_equals_protobuf(
        self,
        type_: Type[Any],
        wrapper: type[ProtoMessage],
        values: st.SearchStrategy[Any],
        field: st.SearchStrategy[bytes],
        data: st.DataObject,
    ) -> None:
        value = data.draw(values)
        assert type_.encode(value) == wrapper(value=value).SerializeToString()

    @given(data=st.data())
    def test_decodes_what_protobuf_encodes(
        self,
        type_: Type[Any],
        wrapper: type[ProtoMessage],
        values: st.SearchStrategy[Any],
        field: st.SearchStrategy[bytes],
        data: st.DataObject,
    ) -> None:
        value = data.draw(values)
        encoded = wrapper(value=value).SerializeToString()
        expected = getattr(wrapper.FromString(encoded), "value")  # noqa: B009 (Message has no `value`)
        assert comparable(type_.decode(encoded)) == comparable(expected)

    @given(data=st.data())
    def test_decodes_any_valid_encoding_as_protobuf_does(
        self,
        type_: Type[Any],
        wrapper: type[ProtoMessage],
        values: st.SearchStrategy[Any],
        field: st.SearchStrategy[bytes],
        data: st.DataObject,
    ) -> None:
        encoded = b"".join(
            data.draw(field) if data.draw(st.booleans()) else data.draw(unknown_fields())
            for _ in range(data.draw(st.integers(0, 6)))
        )
        expected = getattr(wrapper.FromString(encoded), "value")  # noqa: B009 (Message has no `value`)
        assert comparable(type_.decode(encoded)) == comparable(expected)


class TestRoundTrips:
    @given(st.booleans())
    def test_bool(self, value: bool) -> None:
        assert BOOL.decode(BOOL.encode(value)) is value

    @given(INT32)
    def test_int(self, value: int) -> None:
        assert INT.decode(INT.encode(value)) == value

    @given(INT64)
    def test_long(self, value: int) -> None:
        assert LONG.decode(LONG.encode(value)) == value

    @given(st.floats(width=32))
    def test_float_keeps_every_32_bit_value(self, value: float) -> None:
        assert float_bits(FLOAT.decode(FLOAT.encode(value))) == float_bits(value)

    @given(st.floats())
    def test_float_narrows_a_double_as_a_float32_cast_does(self, value: float) -> None:
        try:
            narrowed = struct.unpack("<f", struct.pack("<f", value))[0]
        except OverflowError:
            narrowed = math.copysign(math.inf, value)
        assert float_bits(FLOAT.decode(FLOAT.encode(value))) == float_bits(narrowed)

    @given(st.floats())
    def test_double(self, value: float) -> None:
        assert float_bits(DOUBLE.decode(DOUBLE.encode(value))) == float_bits(value)

    @given(st.text())
    def test_string(self, value: str) -> None:
        assert STRING.decode(STRING.encode(value)) == value


class TestZeroValues:
    """protocol.md §6.3: the zero value is no bytes at all, and no bytes decode to it."""

    @pytest.mark.parametrize(
        ("type_", "zero"),
        [(BOOL, False), (INT, 0), (LONG, 0), (FLOAT, 0.0), (DOUBLE, 0.0), (STRING, "")],
        ids=IDS,
    )
    def test_zero_is_empty_both_ways(self, type_: Type[Any], zero: object) -> None:
        assert type_.encode(zero) == b""
        decoded = type_.decode(b"")
        assert decoded == zero
        assert type(decoded) is type(zero)

    def test_negative_zero_keeps_its_sign(self) -> None:
        assert FLOAT.encode(-0.0) == b"\x0d\x00\x00\x00\x80"
        assert DOUBLE.encode(-0.0) == b"\x09" + bytes(7) + b"\x80"
        assert math.copysign(1.0, DOUBLE.decode(DOUBLE.encode(-0.0))) == -1.0

    def test_a_double_too_small_for_a_float_is_left_out_like_zero(self) -> None:
        # Regression: the zero check used to run before narrowing to 32 bits.
        assert FLOAT.encode(1e-46) == b"" == FloatWrapper(value=1e-46).SerializeToString()
        assert FLOAT.encode(-1e-46) == b"\x0d\x00\x00\x00\x80"


class TestEncodeErrors:
    def test_int_out_of_range(self) -> None:
        with pytest.raises(SerdeError) as info:
            INT.encode(2**31)
        assert str(info.value) == (
            "`io.statefun.types/int`: cannot encode a `int`:"
            " the value is outside the 32-bit range; use LONG"
        )
        assert isinstance(info.value.__cause__, ValueError)
        assert info.value.typename == "io.statefun.types/int"

    def test_long_out_of_range(self) -> None:
        with pytest.raises(SerdeError) as info:
            LONG.encode(-(2**63) - 1)
        assert str(info.value) == (
            "`io.statefun.types/long`: cannot encode a `int`: the value is outside the 64-bit range"
        )

    @pytest.mark.parametrize(
        ("type_", "value", "expected"),
        [
            (INT, "1", "`io.statefun.types/int`: cannot encode a `str`: expected `int`, got `str`"),
            (
                LONG,
                1.0,
                "`io.statefun.types/long`: cannot encode a `float`: expected `int`, got `float`",
            ),
            (
                BOOL,
                None,
                "`io.statefun.types/bool`: cannot encode a `NoneType`: expected `bool`, got `NoneType`",
            ),
            (
                FLOAT,
                "1",
                "`io.statefun.types/float`: cannot encode a `str`: expected `float`, got `str`",
            ),
            (
                DOUBLE,
                b"",
                "`io.statefun.types/double`: cannot encode a `bytes`: expected `float`, got `bytes`",
            ),
            (
                STRING,
                b"hi",
                "`io.statefun.types/string`: cannot encode a `bytes`: expected `str`, got `bytes`",
            ),
        ],
    )
    def test_wrong_python_type(self, type_: Type[Any], value: object, expected: str) -> None:
        with pytest.raises(SerdeError) as info:
            type_.encode(value)
        assert str(info.value) == expected
        assert isinstance(info.value.__cause__, TypeError)

    def test_ints_are_accepted_as_floats(self) -> None:
        assert DOUBLE.encode(1) == DoubleWrapper(value=1).SerializeToString()
        assert FLOAT.encode(2) == FloatWrapper(value=2).SerializeToString()


class TestDecodeErrors:
    """Decoding is strict where protobuf is silently lenient (protocol.md §6.19)."""

    def test_field_1_with_the_wrong_wire_type(self) -> None:
        # protobuf reads this IntWrapper as 0: a varint where sfixed32 belongs.
        assert IntWrapper.FromString(b"\x08\x05").value == 0
        with pytest.raises(SerdeError) as info:
            INT.decode(b"\x08\x05")
        assert str(info.value) == (
            "`io.statefun.types/int`: cannot decode 2 bytes: field 1 has wire type 0, expected 5"
        )

    @pytest.mark.parametrize(
        ("type_", "data", "reason"),
        [
            (INT, b"\x0d\x01\x00", "truncated fixed-width field"),
            (LONG, b"\x09\x01", "truncated fixed-width field"),
            (STRING, b"\x0a\x05ab", "truncated length-delimited field"),
            (BOOL, b"\x08\x80", "truncated varint"),
            (BOOL, b"\x08" + b"\xff" * 10 + b"\x01", "varint longer than 10 bytes"),
            (INT, b"\x05\x00\x00\x00\x00", "field number 0 is invalid"),
            (INT, b"\x0e", "unsupported wire type 6"),
            (INT, b"\x13\x18\x01", "group 2 is not closed"),
            (INT, b"\x13\x1c", "group 2 closed by end-group tag of field 3"),
            (INT, b"\x13\x1d\x01", "truncated fixed-width field"),
            (INT, b"\x14", "unsupported wire type 4"),
        ],
    )
    def test_invalid_encodings(self, type_: Type[Any], data: bytes, reason: str) -> None:
        with pytest.raises(SerdeError) as info:
            type_.decode(data)
        assert str(info.value) == f"`{type_.typename}`: cannot decode {len(data)} bytes: {reason}"

    def test_invalid_utf8(self) -> None:
        with pytest.raises(SerdeError) as info:
            STRING.decode(b"\x0a\x02\xff\xfe")
        assert str(info.value) == (
            "`io.statefun.types/string`: cannot decode 4 bytes: 'utf-8' codec can't decode"
            " byte 0xff in position 0: invalid start byte"
        )
        assert isinstance(info.value.__cause__, UnicodeDecodeError)

    def test_invalid_utf8_in_a_replaced_occurrence(self) -> None:
        # The last field-1 occurrence wins, but protobuf still refuses the message if an
        # earlier one is not UTF-8; decoding only the winner would accept it.
        data = b"\x0a\x01\xff\x0a\x01a"
        with pytest.raises(DecodeError):
            StringWrapper.FromString(data)
        with pytest.raises(SerdeError) as info:
            STRING.decode(data)
        assert isinstance(info.value.__cause__, UnicodeDecodeError)

    def test_unknown_groups_are_skipped(self) -> None:
        data = b"\x13\x18\x01\x14" + b"\x0d\x07\x00\x00\x00"
        assert INT.decode(data) == IntWrapper.FromString(data).value == 7


def test_reprs() -> None:
    assert repr(INT) == "Type('io.statefun.types/int', IntSerde())"
    assert [repr(t.serde) for t in (BOOL, LONG, FLOAT, DOUBLE, STRING)] == [
        "BoolSerde()",
        "LongSerde()",
        "FloatSerde()",
        "DoubleSerde()",
        "StringSerde()",
    ]
