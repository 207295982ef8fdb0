"""The benchmark contract (bench/CONTRACT.md): payloads and expected answers.

Runs inside every worker, whatever its venv: it reads answers with whichever
generated protobuf classes that venv has (ours under ``statefun._generated``,
the official SDK's as ``statefun.*_pb2``) and compares *decoded* values with
the contract's expected answer, never JSON bytes. ``check`` raises
``ContractError`` on the first difference.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

WORKLOADS = ("w1_greeter", "w2_batch", "w3_fanout", "w4_cold")
INVOCATIONS = {"w1_greeter": 1, "w2_batch": 100, "w3_fanout": 1, "w4_cold": 1}

KAFKA_TYPENAME = "type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord"
INT_TYPENAME = "io.statefun.types/int"
STRING_TYPENAME = "io.statefun.types/string"
PROFILE_TYPENAME = "bench.types/profile"


def payload_dir() -> Path:
    """``$BENCH_PAYLOADS`` if set, else ``bench/payloads/``, which every clone carries."""
    env = os.environ.get("BENCH_PAYLOADS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent / "payloads"


def load_payloads(directory: Path | None = None) -> dict[str, bytes]:
    """The four request bodies, checked against manifest.json (size and sha256)."""
    directory = directory or payload_dir()
    manifest = json.loads((directory / "manifest.json").read_text())
    out: dict[str, bytes] = {}
    for name in WORKLOADS:
        entry = manifest["workloads"][name]
        data = (directory / entry["file"]).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if len(data) != entry["bytes"] or digest != entry["sha256"]:
            raise ContractError(
                f"{name}: payload does not match manifest.json ({len(data)} B, {digest})"
            )
        out[name] = data
    return out


def greeting(name: str, seen: int) -> str:
    return f"Hello {name}! You have been seen {seen} times."


class ContractError(AssertionError):
    pass


def generated() -> Any:
    """The generated protobuf modules of this venv, as a namespace with pb2 attributes."""
    try:  # ours
        from statefun._generated import kafka_egress_pb2, request_reply_pb2, types_pb2
    except ImportError:  # the official SDK ships them at the package top level
        from statefun import kafka_egress_pb2, request_reply_pb2, types_pb2  # type: ignore[attr-defined,no-redef]

    class Pb:
        rr = request_reply_pb2
        types = types_pb2
        kafka = kafka_egress_pb2

    return Pb


def _eq(what: str, got: object, want: object) -> None:
    if got != want:
        raise ContractError(f"{what}: got {got!r}, expected {want!r}")


def check(name: str, request: bytes, answer: bytes) -> None:
    """Raise ContractError unless ``answer`` decodes to the contract's answer for ``name``."""
    pb = generated()
    response = pb.rr.FromFunction.FromString(answer)
    if name == "w4_cold":
        _check_w4(pb, response)
        return
    _eq(f"{name}: response kind", response.WhichOneof("response"), "invocation_result")
    result = response.invocation_result

    def string(tv: Any) -> str:
        _eq(f"{name}: typename", tv.typename, STRING_TYPENAME)
        _eq(f"{name}: has_value", tv.has_value, True)
        return str(pb.types.StringWrapper.FromString(tv.value).value)

    def integer(tv: Any) -> int:
        _eq(f"{name}: typename", tv.typename, INT_TYPENAME)
        _eq(f"{name}: has_value", tv.has_value, True)
        return int(pb.types.IntWrapper.FromString(tv.value).value)

    def kafka() -> list[tuple[str, str, str, bytes]]:
        out: list[tuple[str, str, str, bytes]] = []
        for egress in result.outgoing_egresses:
            _eq(f"{name}: egress typename", egress.argument.typename, KAFKA_TYPENAME)
            _eq(f"{name}: egress has_value", egress.argument.has_value, True)
            rec = pb.kafka.KafkaProducerRecord.FromString(egress.argument.value)
            out.append(
                (
                    f"{egress.egress_namespace}/{egress.egress_type}",
                    rec.topic,
                    rec.key,
                    rec.value_bytes,
                )
            )
        return out

    MODIFY = pb.rr.FromFunction.PersistedValueMutation.MODIFY
    if name == "w1_greeter":
        _eq(
            "w1: mutations",
            [
                (m.mutation_type, m.state_name, integer(m.state_value))
                for m in result.state_mutations
            ],
            [(MODIFY, "seen", 42)],
        )
        _eq(
            "w1: kafka",
            kafka(),
            [("bench.io/greetings", "greetings", "alice", greeting("Alice", 42).encode())],
        )
        _eq("w1: messages", len(result.outgoing_messages), 0)
        _eq("w1: delayed", len(result.delayed_invocations), 0)
    elif name == "w2_batch":
        req = pb.rr.ToFunction.FromString(request)
        [original] = [
            s.state_value.value for s in req.invocation.state if s.state_name == "profile"
        ]
        # The contract names no order for mutations (the Java SDK sends them in hash order).
        mutations = sorted(result.state_mutations, key=lambda m: m.state_name)
        _eq("w2: mutated states", [m.state_name for m in mutations], ["counter", "profile"])
        counter, profile = mutations
        _eq("w2: counter", (counter.mutation_type, integer(counter.state_value)), (MODIFY, 6050))
        _eq(
            "w2: profile kind",
            (profile.mutation_type, profile.state_value.typename, profile.state_value.has_value),
            (MODIFY, PROFILE_TYPENAME, True),
        )
        _eq(
            "w2: profile",
            json.loads(profile.state_value.value),
            {**json.loads(original), "n": 100, "last": 100, "total": 5050},
        )
        _eq("w2: messages", len(result.outgoing_messages), 0)
        _eq("w2: delayed", len(result.delayed_invocations), 0)
        _eq("w2: egress", len(result.outgoing_egresses), 0)
    elif name == "w3_fanout":
        _eq(
            "w3: messages",
            [
                ((m.target.namespace, m.target.type, m.target.id), string(m.argument))
                for m in result.outgoing_messages
            ],
            [(("bench.fns", "sink", f"sink-{i}"), f"order-42#{i}") for i in range(10)],
        )
        _eq("w3: delayed count", len(result.delayed_invocations), 1)
        d = result.delayed_invocations[0]
        _eq(
            "w3: delayed",
            (
                d.is_cancellation_request,
                d.delay_in_ms,
                d.cancellation_token,
                (d.target.namespace, d.target.type, d.target.id),
                string(d.argument),
            ),
            (False, 5000, "timeout-order-42", ("bench.fns", "timer", "hub-1"), "order-42"),
        )
        _eq(
            "w3: kafka",
            kafka(),
            [
                ("bench.io/events", t, "hub-1", f"order-42@{t}".encode())
                for t in ("events-a", "events-b")
            ],
        )
        _eq("w3: mutations", len(result.state_mutations), 0)
    else:
        raise ContractError(f"unknown workload {name}")


def _check_w4(pb: Any, response: Any) -> None:
    _eq("w4: response kind", response.WhichOneof("response"), "incomplete_invocation_context")
    mode = pb.rr.FromFunction.ExpirationSpec
    # Decoded values, in the contract's order of names: the runtime reads an absent
    # expiration_spec as mode NONE (proto3 defaults), and registers the specs in any order;
    # the Java SDK omits the spec for NONE and lists the specs in hash order.
    order = {"visits": 0, "name": 1, "profile": 2}
    _eq(
        "w4: missing specs",
        sorted(
            (
                (
                    s.state_name,
                    s.type_typename,
                    s.expiration_spec.mode,
                    s.expiration_spec.expire_after_millis,
                )
                for s in response.incomplete_invocation_context.missing_values
            ),
            key=lambda spec: order.get(spec[0], len(order)),
        ),
        [
            ("visits", INT_TYPENAME, mode.NONE, 0),
            ("name", STRING_TYPENAME, mode.AFTER_WRITE, 60_000),
            ("profile", PROFILE_TYPENAME, mode.AFTER_INVOKE, 3_600_000),
        ],
    )
