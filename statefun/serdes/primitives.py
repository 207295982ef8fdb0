"""StateFun's built-in primitive types, byte-exact with the official SDKs.

Each value is the protobuf encoding of a one-field wrapper message
(``io.statefun.sdk.types.IntWrapper`` and friends, protocol.md §2.1): a tag byte
and the value, with the zero value encoded as no bytes at all. The integers are
fixed width (``sfixed32``/``sfixed64``), not varints.

>>> INT.encode(1)
b'\\r\\x01\\x00\\x00\\x00'
>>> INT.encode(0)
b''
"""

from __future__ import annotations

import math
import struct
from typing import Final

from .._type import Type
from ._wire import I32, I64, LEN, VARINT, field1_values, read_field1, varint

__all__ = ("BOOL", "DOUBLE", "FLOAT", "INT", "LONG", "STRING")

_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")
_F32 = struct.Struct("<f")
_F64 = struct.Struct("<d")
# Tag and length of every string shorter than 128 bytes: most strings are.
_STRING_TAGS = [bytes((0x0A, size)) for size in range(0x80)]
_F32_POSITIVE_ZERO = bytes(4)


def _require(value: object, kind: type, name: str) -> None:
    # bool is an int subclass; int is accepted where a float is expected, as in Python.
    if not isinstance(value, kind):
        raise TypeError(f"expected `{name}`, got `{type(value).__name__}`")


class _BoolSerde:
    def encode(self, value: bool, /) -> bytes:
        _require(value, int, "bool")
        return b"\x08\x01" if value else b""

    def decode(self, data: bytes, /) -> bool:
        if data == b"\x08\x01":
            return True
        raw = read_field1(data, VARINT) if data else None
        return bool(raw)

    def __repr__(self) -> str:
        return "BoolSerde()"


class _IntSerde:
    def encode(self, value: int, /) -> bytes:
        _require(value, int, "int")
        if not -0x80000000 <= value <= 0x7FFFFFFF:
            # Not the value itself: this text reaches logs, which never hold payloads.
            raise ValueError("the value is outside the 32-bit range; use LONG")
        return b"\x0d" + _I32.pack(value) if value else b""

    def decode(self, data: bytes, /) -> int:
        if len(data) == 5 and data[0] == 0x0D:
            return int(_I32.unpack_from(data, 1)[0])
        raw = read_field1(data, I32) if data else None
        return int(_I32.unpack(raw)[0]) if isinstance(raw, bytes) else 0

    def __repr__(self) -> str:
        return "IntSerde()"


class _LongSerde:
    def encode(self, value: int, /) -> bytes:
        _require(value, int, "int")
        if not -0x8000000000000000 <= value <= 0x7FFFFFFFFFFFFFFF:
            raise ValueError("the value is outside the 64-bit range")
        return b"\x09" + _I64.pack(value) if value else b""

    def decode(self, data: bytes, /) -> int:
        if len(data) == 9 and data[0] == 0x09:
            return int(_I64.unpack_from(data, 1)[0])
        raw = read_field1(data, I64) if data else None
        return int(_I64.unpack(raw)[0]) if isinstance(raw, bytes) else 0

    def __repr__(self) -> str:
        return "LongSerde()"


def _is_positive_zero(value: float) -> bool:
    # protobuf leaves out +0.0 only; -0.0 has a sign bit and is written.
    return value == 0.0 and math.copysign(1.0, value) > 0


class _FloatSerde:
    def encode(self, value: float, /) -> bytes:
        _require(value, (int, float), "float")  # type: ignore[arg-type]
        try:
            packed = _F32.pack(value)
        except OverflowError:  # protobuf stores an out-of-range double as infinity
            packed = _F32.pack(math.copysign(math.inf, value))
        # Zero is judged after narrowing to 32 bits, as protobuf does: a double
        # too small for a float (1e-46) becomes +0.0 and is left out too.
        return b"" if packed == _F32_POSITIVE_ZERO else b"\x0d" + packed

    def decode(self, data: bytes, /) -> float:
        if len(data) == 5 and data[0] == 0x0D:
            return float(_F32.unpack_from(data, 1)[0])
        raw = read_field1(data, I32) if data else None
        return float(_F32.unpack(raw)[0]) if isinstance(raw, bytes) else 0.0

    def __repr__(self) -> str:
        return "FloatSerde()"


class _DoubleSerde:
    def encode(self, value: float, /) -> bytes:
        _require(value, (int, float), "float")  # type: ignore[arg-type]
        return b"" if _is_positive_zero(value) else b"\x09" + _F64.pack(value)

    def decode(self, data: bytes, /) -> float:
        if len(data) == 9 and data[0] == 0x09:
            return float(_F64.unpack_from(data, 1)[0])
        raw = read_field1(data, I64) if data else None
        return float(_F64.unpack(raw)[0]) if isinstance(raw, bytes) else 0.0

    def __repr__(self) -> str:
        return "DoubleSerde()"


class _StringSerde:
    def encode(self, value: str, /) -> bytes:
        _require(value, str, "str")
        if not value:
            return b""
        data = value.encode("utf-8")
        size = len(data)
        if size < 0x80:  # the length is one varint byte
            return _STRING_TAGS[size] + data
        return b"\x0a" + varint(size) + data

    def decode(self, data: bytes, /) -> str:
        # The common case, a string under 128 bytes: tag, one length byte, text.
        if len(data) >= 2 and data[0] == 0x0A and data[1] == len(data) - 2:
            return data[2:].decode("utf-8")
        # Every occurrence is decoded, not only the last that wins: protobuf refuses a
        # message whose any occurrence is not UTF-8, and so must we.
        text = ""
        for raw in field1_values(data, LEN) if data else ():
            text = raw.decode("utf-8") if isinstance(raw, bytes) else ""
        return text

    def __repr__(self) -> str:
        return "StringSerde()"


BOOL: Final[Type[bool]] = Type("io.statefun.types/bool", _BoolSerde())
"""``io.statefun.types/bool``: a ``BooleanWrapper``."""

INT: Final[Type[int]] = Type("io.statefun.types/int", _IntSerde())
"""``io.statefun.types/int``: a signed 32-bit ``IntWrapper`` (``sfixed32``)."""

LONG: Final[Type[int]] = Type("io.statefun.types/long", _LongSerde())
"""``io.statefun.types/long``: a signed 64-bit ``LongWrapper`` (``sfixed64``)."""

FLOAT: Final[Type[float]] = Type("io.statefun.types/float", _FloatSerde())
"""``io.statefun.types/float``: a 32-bit ``FloatWrapper``."""

DOUBLE: Final[Type[float]] = Type("io.statefun.types/double", _DoubleSerde())
"""``io.statefun.types/double``: a 64-bit ``DoubleWrapper``."""

STRING: Final[Type[str]] = Type("io.statefun.types/string", _StringSerde())
"""``io.statefun.types/string``: a UTF-8 ``StringWrapper``."""
