"""The four benchmark workloads (bench/CONTRACT.md), written with our API.

``bench/payloads/`` holds the contract's real ``ToFunction`` requests (the
manifest's sha256 is checked below), the same files the benchmark reads. Each
function here is the contract's, and each answer is compared, decoded, with
the contract's expected answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from statefun import (
    INT,
    STRING,
    Address,
    Functions,
    Handler,
    KafkaRecord,
    Message,
    Result,
    Send,
    SendAfter,
    State,
    ValueSpec,
    json_type,
)
from statefun._generated.kafka_egress_pb2 import KafkaProducerRecord
from statefun._generated.request_reply_pb2 import FromFunction, ToFunction

from .builders import answer, missing_specs

BENCH = Path(__file__).resolve().parents[2] / "bench"
PAYLOADS = BENCH / "payloads"
KAFKA_TYPENAME = "type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord"
MODIFY = FromFunction.PersistedValueMutation.MODIFY


def payload(name: str) -> bytes:
    return (PAYLOADS / f"{name}.bin").read_bytes()


def greeting(name: str, seen: int) -> str:
    return f"Hello {name}! You have been seen {seen} times."


def kafka_records(
    result: FromFunction.InvocationResponse,
) -> list[tuple[str, str, KafkaProducerRecord]]:
    out: list[tuple[str, str, KafkaProducerRecord]] = []
    for egress in result.outgoing_egresses:
        assert egress.argument.typename == KAFKA_TYPENAME
        assert egress.argument.has_value
        record = KafkaProducerRecord.FromString(egress.argument.value)
        out.append((egress.egress_namespace, egress.egress_type, record))
    return out


@pytest.mark.parametrize("name", ["w1_greeter", "w2_batch", "w3_fanout", "w4_cold"])
def test_payloads_are_the_contracts(name: str) -> None:
    manifest = json.loads((PAYLOADS / "manifest.json").read_text())
    entry = manifest["workloads"][name]
    data = payload(name)
    assert len(data) == entry["bytes"]
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]


def test_a_clone_benchmarks_with_its_own_payloads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bench/ copied alone, with nothing beside it: the contract check still finds its payloads."""
    clone = tmp_path / "clone" / "bench"
    shutil.copytree(BENCH, clone, ignore=shutil.ignore_patterns(".venv*", "__pycache__", "target"))
    monkeypatch.delenv("BENCH_PAYLOADS", raising=False)

    def python(*args: str, stdin: str = "") -> str:
        done = subprocess.run(
            [sys.executable, *args],
            cwd=clone,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "--quick" in python("run.py", "--help")
    verify = '{"op": "verify"}\n{"op": "quit"}\n'
    for contestant in ("impl_ours", "impl_floor"):
        assert python("worker.py", contestant, stdin=verify) == '{"ok": true}\n'


# W1 ---------------------------------------------------------------------------

SEEN = ValueSpec("seen", INT)


def w1_step(state: State, msg: Message[str]) -> Result:
    seen = (state.get(SEEN) or 0) + 1
    record = KafkaRecord(
        "bench.io/greetings", topic="greetings", key=msg.target.id, value=greeting(msg.value, seen)
    )
    return Result(state.set(SEEN, seen), [record])


def w1_sync() -> Functions:
    functions = Functions()

    @functions.bind("bench.fns/greeter", accepts=STRING, specs=[SEEN])
    def greeter(state: State, msg: Message[str]) -> Result:
        return w1_step(state, msg)

    return functions


def w1_async() -> Functions:
    functions = Functions()

    @functions.bind("bench.fns/greeter", accepts=STRING, specs=[SEEN])
    async def greeter(state: State, msg: Message[str]) -> Result:
        await asyncio.sleep(0)
        return w1_step(state, msg)

    return functions


@pytest.mark.parametrize("registry", [w1_sync, w1_async], ids=["sync def", "async def"])
@pytest.mark.parametrize("driver", ["handle_sync", "handle"])
def test_w1_greeter(registry: Callable[[], Functions], driver: str) -> None:
    handler = Handler(registry())
    body = payload("w1_greeter")
    out = (
        handler.handle_sync(body) if driver == "handle_sync" else asyncio.run(handler.handle(body))
    )
    result = answer(out)
    assert [
        (m.mutation_type, m.state_name, m.state_value.typename, INT.decode(m.state_value.value))
        for m in result.state_mutations
    ] == [(MODIFY, "seen", "io.statefun.types/int", 42)]
    assert kafka_records(result) == [
        (
            "bench.io",
            "greetings",
            KafkaProducerRecord(
                topic="greetings", key="alice", value_bytes=greeting("Alice", 42).encode()
            ),
        )
    ]
    assert len(result.outgoing_messages) == 0
    assert len(result.delayed_invocations) == 0


# W2 ---------------------------------------------------------------------------


class Profile(msgspec.Struct, frozen=True):
    id: str
    owner: str
    email: str
    plan: str
    tags: tuple[str, ...]
    limits: dict[str, int]
    n: int
    last: int
    total: int


COUNTER = ValueSpec("counter", INT)
PROFILE = ValueSpec("profile", json_type("bench.types/profile", Profile))
LABEL = ValueSpec("label", STRING)


def w2() -> Functions:
    functions = Functions()

    @functions.bind("bench.fns/batch", accepts=INT, specs=[COUNTER, PROFILE, LABEL])
    def batch(state: State, msg: Message[int]) -> Result:
        delta = msg.value
        profile = state.get(PROFILE)
        assert profile is not None
        profile = msgspec.structs.replace(
            profile, n=profile.n + 1, last=delta, total=profile.total + delta
        )
        counter = (state.get(COUNTER) or 0) + delta
        return Result(state.set(COUNTER, counter).set(PROFILE, profile))

    return functions


def test_w2_batch() -> None:
    body = payload("w2_batch")
    request = ToFunction.FromString(body)
    [original_profile] = [
        s.state_value.value for s in request.invocation.state if s.state_name == "profile"
    ]
    result = answer(Handler(w2()).handle_sync(body))
    mutations = {m.state_name: m for m in result.state_mutations}
    assert list(mutations) == ["counter", "profile"]  # no mutation for `label`
    assert len(result.state_mutations) == 2
    counter, profile = mutations["counter"], mutations["profile"]
    assert (counter.mutation_type, counter.state_value.typename) == (
        MODIFY,
        "io.statefun.types/int",
    )
    assert INT.decode(counter.state_value.value) == 6050
    assert (profile.mutation_type, profile.state_value.typename) == (MODIFY, "bench.types/profile")
    assert json.loads(profile.state_value.value) == {
        **json.loads(original_profile),
        "n": 100,
        "last": 100,
        "total": 5050,
    }
    assert len(result.outgoing_messages) == 0
    assert len(result.delayed_invocations) == 0
    assert len(result.outgoing_egresses) == 0


# W3 ---------------------------------------------------------------------------


def w3(seen: list[Message[str]]) -> Functions:
    functions = Functions()

    @functions.bind("bench.fns/fanout", accepts=STRING)
    def fanout(state: State, msg: Message[str]) -> Result:
        seen.append(msg)
        arg, own_id = msg.value, msg.target.id
        sends = [
            Send(Address("bench.fns/sink", f"sink-{i}"), STRING, f"{arg}#{i}") for i in range(10)
        ]
        timer = SendAfter(
            timedelta(seconds=5),
            Address("bench.fns/timer", own_id),
            STRING,
            arg,
            cancellation_token=f"timeout-{arg}",
        )
        records = [
            KafkaRecord("bench.io/events", topic=topic, key=own_id, value=f"{arg}@{topic}")
            for topic in ("events-a", "events-b")
        ]
        return Result(state, [*sends, timer, *records])

    return functions


def test_w3_fanout() -> None:
    seen: list[Message[str]] = []
    result = answer(Handler(w3(seen)).handle_sync(payload("w3_fanout")))
    assert seen == [
        Message(
            Address("bench.fns/fanout", "hub-1"),
            "order-42",
            Address("bench.fns/greeter", "alice"),
            "io.statefun.types/string",
        )
    ]
    assert [
        (
            m.target.namespace,
            m.target.type,
            m.target.id,
            m.argument.typename,
            STRING.decode(m.argument.value),
        )
        for m in result.outgoing_messages
    ] == [
        ("bench.fns", "sink", f"sink-{i}", "io.statefun.types/string", f"order-42#{i}")
        for i in range(10)
    ]
    [delayed] = result.delayed_invocations
    assert (
        delayed.is_cancellation_request,
        delayed.delay_in_ms,
        delayed.cancellation_token,
        (delayed.target.namespace, delayed.target.type, delayed.target.id),
        delayed.argument.typename,
        STRING.decode(delayed.argument.value),
    ) == (
        False,
        5000,
        "timeout-order-42",
        ("bench.fns", "timer", "hub-1"),
        "io.statefun.types/string",
        "order-42",
    )
    assert kafka_records(result) == [
        (
            "bench.io",
            "events",
            KafkaProducerRecord(topic=t, key="hub-1", value_bytes=f"order-42@{t}".encode()),
        )
        for t in ("events-a", "events-b")
    ]
    assert len(result.state_mutations) == 0


# W4 ---------------------------------------------------------------------------


def w4(calls: list[Any]) -> Functions:
    functions = Functions()
    visits = ValueSpec("visits", INT)
    name = ValueSpec("name", STRING, expire_after_write=timedelta(seconds=60))
    profile = ValueSpec(
        "profile",
        json_type("bench.types/profile", dict[str, Any]),
        expire_after_call=timedelta(hours=1),
    )

    @functions.bind("bench.fns/cold", accepts=STRING, specs=[visits, name, profile])
    def cold(state: State, msg: Message[str]) -> Result:
        calls.append(msg)
        return Result(state.set(visits, (state.get(visits) or 0) + 1))

    return functions


def test_w4_cold() -> None:
    calls: list[Any] = []
    specs = missing_specs(Handler(w4(calls)).handle_sync(payload("w4_cold")))
    mode = FromFunction.ExpirationSpec
    assert [
        (
            s.state_name,
            s.type_typename,
            s.HasField("expiration_spec"),
            s.expiration_spec.mode,
            s.expiration_spec.expire_after_millis,
        )
        for s in specs
    ] == [
        ("visits", "io.statefun.types/int", True, mode.NONE, 0),
        ("name", "io.statefun.types/string", True, mode.AFTER_WRITE, 60_000),
        ("profile", "bench.types/profile", True, mode.AFTER_INVOKE, 3_600_000),
    ]
    assert calls == []
