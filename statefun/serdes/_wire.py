"""Just enough of the protobuf wire format to read and write one-field wrappers.

The built-in primitives are single-field protobuf messages (protocol.md §2.1).
Writing their few bytes by hand is byte-exact with protobuf and several times
cheaper than building a message object per value.
"""

from __future__ import annotations

VARINT, I64, LEN, SGROUP, EGROUP, I32 = 0, 1, 2, 3, 4, 5


def varint(n: int) -> bytes:
    """Encode a non-negative int as a protobuf varint."""
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 64:
            raise ValueError("varint longer than 10 bytes")


def read_field1(data: bytes, wire_type: int) -> int | bytes | None:
    """Return the last field-1 value in ``data`` (protobuf's "last one wins").

    Fields other than 1 are skipped as unknown fields. Field 1 with another wire
    type is an error: protobuf would silently read a default there, which turns a
    wrongly typed value into 0 instead of failing.
    Returns an int for VARINT, the raw bytes for I32/I64/LEN, and None if absent.
    """
    values = field1_values(data, wire_type)
    return values[-1] if values else None


def field1_values(data: bytes, wire_type: int) -> list[int | bytes]:
    """Return every field-1 value in ``data``, in order; the rules of `read_field1`.

    A decoder that validates a value (a string's UTF-8) must check each one: protobuf
    parses every occurrence and fails on any, even one a later occurrence replaces.
    """
    found: list[int | bytes] = []
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _read_varint(data, pos)
        field, wt = key >> 3, key & 7
        value, pos = _read_value(data, pos, field, wt)
        if field == 1:
            if wt != wire_type:
                raise ValueError(f"field 1 has wire type {wt}, expected {wire_type}")
            found.append(value)
        elif field == 0:
            raise ValueError("field number 0 is invalid")
    return found


def _read_value(data: bytes, pos: int, field: int, wt: int) -> tuple[int | bytes, int]:
    """Read the value of one field whose key was just read; return it and the next position."""
    if wt == VARINT:
        return _read_varint(data, pos)
    if wt == I64 or wt == I32:
        size = 8 if wt == I64 else 4
        if pos + size > len(data):
            raise ValueError("truncated fixed-width field")
        return data[pos : pos + size], pos + size
    if wt == LEN:
        size, pos = _read_varint(data, pos)
        if pos + size > len(data):
            raise ValueError("truncated length-delimited field")
        return data[pos : pos + size], pos + size
    if wt == SGROUP:
        # An unknown (proto2-style) group is valid; protobuf skips it whole.
        return b"", _skip_group(data, pos, field)
    raise ValueError(f"unsupported wire type {wt}")


def _skip_group(data: bytes, pos: int, group: int) -> int:
    """Return the position just after the end-group tag that closes ``group``."""
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        field, wt = key >> 3, key & 7
        if wt == EGROUP:
            if field != group:
                raise ValueError(f"group {group} closed by end-group tag of field {field}")
            return pos
        _, pos = _read_value(data, pos, field, wt)
    raise ValueError(f"group {group} is not closed")
