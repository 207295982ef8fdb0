"""Raw protobuf pieces, and the valid requests that mutation starts from.

The corpus is the benchmark's payloads (``bench/payloads/*.bin``), the same
payloads sent to the fuzz functions, and requests built with
``tests/wire/builders.py`` that reach every branch of the fuzz registry: a
plain answer, an incomplete one, dead letters, a failure.
"""

from __future__ import annotations

from pathlib import Path

from statefun import INT, LONG, STRING, Address
from statefun._generated.request_reply_pb2 import ToFunction, TypedValue

from ..wire.builders import call, request, typed
from .model import ASYNC, COUNTER, DOC, LENIENT, RAISES, SYNC, Doc, fuzz_functions

__all__ = ("corpus", "known_typenames", "length_delimited", "varint")

PAYLOADS = Path(__file__).resolve().parents[2] / "bench" / "payloads"


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def length_delimited(field: int, payload: bytes) -> bytes:
    """Field ``field`` of wire type 2 holding ``payload``: a string, bytes or a message."""
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def _retarget(body: bytes, typename: str) -> bytes:
    message = ToFunction.FromString(body)
    namespace, name = typename.split("/")
    message.invocation.target.namespace = namespace
    message.invocation.target.type = name
    return message.SerializeToString()


def _raw(typename: str, value: bytes) -> TypedValue:
    return TypedValue(typename=typename, has_value=True, value=value)


def known_typenames() -> list[str]:
    """Typenames a mutation may put anywhere: every function's and every message type's."""
    functions = fuzz_functions()
    names = {function.typename for function in functions}
    names |= {t.typename for function in functions for t in function.accepts}
    names |= {spec.type.typename for function in functions for spec in function.specs}
    return sorted(names)


def corpus() -> list[bytes]:
    """Every seed, in a fixed order: input numbers must mean the same inputs in every run."""
    bench = [path.read_bytes() for path in sorted(PAYLOADS.glob("*.bin"))]
    seeds = [*bench]
    for body in bench:
        seeds += [_retarget(body, typename) for typename in (SYNC, COUNTER, *LENIENT)]
    peer = Address("fuzz/peer", "p-1")
    ints = [call(typed(INT, n), peer if n % 2 else None) for n in (-3, 0, 1, 2, 7)]
    for lenient in LENIENT:
        target = Address(lenient, "L")
        seeds.append(request(target, ints[0], ints[3], ints[4]))
        seeds.append(request(target, call(typed(DOC, Doc("d", 2))), call(_raw("x/y", b"\xff"))))
        seeds.append(request(Address(lenient, ""), call(_raw(DOC.typename, b"{"), peer)))
    seeds += [
        request(Address(SYNC, "s"), call(typed(STRING, "héllo")), call(typed(INT, 42))),
        request(Address(SYNC, "s"), call(_raw(STRING.typename, b"\xc3("))),
        request(Address(ASYNC, "a"), call(typed(DOC, Doc("Ana", 1)), peer)),
        request(
            Address(COUNTER, "c"),
            ints[3],
            ints[4],
            state={"count": typed(LONG, 5), "label": typed(STRING, "x")},
        ),
        request(Address(COUNTER, "c"), ints[3], state={"count": None, "label": None}),
        request(Address(COUNTER, "c"), ints[3], state={"count": None}),
        request(Address(COUNTER, "c"), ints[3], state={"count": typed(INT, 1), "label": None}),
        request(Address(RAISES, "r"), ints[3]),
        request(Address("fuzz/nobody", "n"), ints[3]),
        b"",
    ]
    return seeds
