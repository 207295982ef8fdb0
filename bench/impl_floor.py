"""Contestant "floor": the contract's work with bare generated protobuf classes, no SDK.

As CONTRACT.md defines it: parse the ToFunction, decode each state the
function reads once, run the logic inline, encode each written state once,
serialize the FromFunction. No SDK logic: no type checks, no address objects,
no effect objects, no caches. It uses the generated classes of whichever venv
it runs in (ours: ``statefun._generated``; the official SDK's venv: its
``statefun.*_pb2``), so each SDK is compared with a floor on its own protobuf.
JSON goes through msgspec where installed (our venv: the library our SDK
uses) and the stdlib ``json`` otherwise (the official SDK's venv, the library
that SDK uses). State ``label`` in W2 is never read, so it is never decoded.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from contract import generated

try:
    import msgspec

    _json_decode: Callable[[bytes], Any] = msgspec.json.decode
    _json_encode: Callable[[Any], bytes] = msgspec.json.encode
    JSON = "msgspec"
except ImportError:
    _json_decode = json.loads

    def _json_encode(obj: Any) -> bytes:
        return json.dumps(obj, ensure_ascii=False).encode("utf-8")

    JSON = "json"

NAME = "floor"

_pb = generated()
ToFunction = _pb.rr.ToFunction
FromFunction = _pb.rr.FromFunction
IntWrapper = _pb.types.IntWrapper
StringWrapper = _pb.types.StringWrapper
KafkaProducerRecord = _pb.kafka.KafkaProducerRecord
MODIFY = FromFunction.PersistedValueMutation.MODIFY
EXPIRE = FromFunction.ExpirationSpec
KAFKA = "type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord"
INT_T = "io.statefun.types/int"
STRING_T = "io.statefun.types/string"


def _states(batch: Any) -> dict[str, bytes | None]:
    return {
        s.state_name: (
            s.state_value.value if s.HasField("state_value") and s.state_value.has_value else None
        )
        for s in batch.state
    }


def _kafka(result: Any, namespace: str, type_: str, topic: str, key: str, value: bytes) -> None:
    egress = result.outgoing_egresses.add()
    egress.egress_namespace = namespace
    egress.egress_type = type_
    arg = egress.argument
    arg.typename = KAFKA
    arg.has_value = True
    arg.value = KafkaProducerRecord(topic=topic, key=key, value_bytes=value).SerializeToString()


def _modify(result: Any, name: str, typename: str, data: bytes) -> None:
    m = result.state_mutations.add()
    m.mutation_type = MODIFY
    m.state_name = name
    m.state_value.typename = typename
    m.state_value.has_value = True
    m.state_value.value = data


def greeter(batch: Any) -> bytes:
    states = _states(batch)
    if "seen" not in states:
        return _incomplete([("seen", INT_T, EXPIRE.NONE, 0)])
    raw = states["seen"]
    seen = IntWrapper.FromString(raw).value if raw is not None else 0
    own_id = batch.target.id
    out = FromFunction()
    result = out.invocation_result
    for invocation in batch.invocations:
        name = StringWrapper.FromString(invocation.argument.value).value
        seen += 1
        text = f"Hello {name}! You have been seen {seen} times."
        _kafka(result, "bench.io", "greetings", "greetings", own_id, text.encode())
    _modify(result, "seen", INT_T, IntWrapper(value=seen).SerializeToString())
    return bytes(out.SerializeToString())


def batch_fn(batch: Any) -> bytes:
    states = _states(batch)
    if not {"counter", "profile", "label"} <= states.keys():
        raise NotImplementedError("the contract's W2 sends every state")
    raw_counter, raw_profile = states["counter"], states["profile"]
    counter = IntWrapper.FromString(raw_counter).value if raw_counter is not None else 0
    profile = _json_decode(raw_profile) if raw_profile is not None else None
    assert profile is not None
    for invocation in batch.invocations:
        delta = IntWrapper.FromString(invocation.argument.value).value
        counter += delta
        profile["n"] += 1
        profile["last"] = delta
        profile["total"] += delta
    out = FromFunction()
    result = out.invocation_result
    _modify(result, "counter", INT_T, IntWrapper(value=counter).SerializeToString())
    _modify(result, "profile", "bench.types/profile", _json_encode(profile))
    return bytes(out.SerializeToString())


def fanout(batch: Any) -> bytes:
    own_id = batch.target.id
    out = FromFunction()
    result = out.invocation_result
    for invocation in batch.invocations:
        arg = StringWrapper.FromString(invocation.argument.value).value
        for i in range(10):
            m = result.outgoing_messages.add()
            m.target.namespace = "bench.fns"
            m.target.type = "sink"
            m.target.id = f"sink-{i}"
            m.argument.typename = STRING_T
            m.argument.has_value = True
            m.argument.value = StringWrapper(value=f"{arg}#{i}").SerializeToString()
        d = result.delayed_invocations.add()
        d.cancellation_token = f"timeout-{arg}"
        d.delay_in_ms = 5000
        d.target.namespace = "bench.fns"
        d.target.type = "timer"
        d.target.id = own_id
        d.argument.typename = STRING_T
        d.argument.has_value = True
        d.argument.value = StringWrapper(value=arg).SerializeToString()
        for topic in ("events-a", "events-b"):
            _kafka(result, "bench.io", "events", topic, own_id, f"{arg}@{topic}".encode())
    return bytes(out.SerializeToString())


COLD_SPECS = [
    ("visits", INT_T, EXPIRE.NONE, 0),
    ("name", STRING_T, EXPIRE.AFTER_WRITE, 60_000),
    ("profile", "bench.types/profile", EXPIRE.AFTER_INVOKE, 3_600_000),
]


def _incomplete(missing: list[tuple[str, str, int, int]]) -> bytes:
    out = FromFunction()
    values = out.incomplete_invocation_context.missing_values
    for name, typename, mode, millis in missing:
        v = values.add()
        v.state_name = name
        v.type_typename = typename
        v.expiration_spec.mode = mode
        v.expiration_spec.expire_after_millis = millis
    return bytes(out.SerializeToString())


def cold(batch: Any) -> bytes:
    states = _states(batch)
    missing = [spec for spec in COLD_SPECS if spec[0] not in states]
    if missing:
        return _incomplete(missing)
    raise NotImplementedError("the contract's W4 sends no state")


ROUTES: dict[str, Callable[[Any], bytes]] = {
    "greeter": greeter,
    "batch": batch_fn,
    "fanout": fanout,
    "cold": cold,
}


def setup(drive: Callable[[Coroutine[Any, Any, bytes]], bytes]) -> Callable[[bytes], bytes]:
    routes = ROUTES

    def call(body: bytes) -> bytes:
        batch = ToFunction.FromString(body).invocation
        return routes[batch.target.type](batch)

    return call
