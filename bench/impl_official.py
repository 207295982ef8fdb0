"""Contestant "official": the contract's four functions with apache-flink-statefun 3.3.0.

Written with that SDK's public API only (StatefulFunctions, ValueSpec, IntType,
StringType, make_json_type, message_builder, kafka_egress_message,
ctx.send_after); it runs in its own venv, where ``statefun`` is the official
package. Each request goes through ``RequestReplyHandler.handle_async(body)``,
driven by the same ``drive`` as ours (its ``handle_sync`` is ``asyncio.run``,
which would add a new event loop per request and measure asyncio, not the SDK).

W2 is written the way that SDK is meant to be used: a storage read decodes the
TypedValue again and an assignment encodes at once (protocol.md §4.8), so the
natural per-invocation read-modify-write pays for JSON 100 times. That is the
SDK's cost, not the benchmark's.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

# Imported by name at run time: under mypy (our venv) `statefun` is our package.
sf: Any = importlib.import_module("statefun")

NAME = "official"


def greeting(name: str, seen: int) -> str:
    return f"Hello {name}! You have been seen {seen} times."


def registry() -> Any:
    functions = sf.StatefulFunctions()
    profile_type = sf.make_json_type("bench.types/profile")

    def greeter(ctx: Any, msg: Any) -> None:
        name = msg.as_string()
        seen = (ctx.storage.seen or 0) + 1
        ctx.storage.seen = seen
        ctx.send_egress(
            sf.kafka_egress_message(
                typename="bench.io/greetings",
                topic="greetings",
                key=ctx.address.id,
                value=greeting(name, seen),
            )
        )

    def batch(ctx: Any, msg: Any) -> None:
        delta = msg.as_int()
        storage = ctx.storage
        storage.counter = (storage.counter or 0) + delta
        profile = storage.profile
        profile["n"] += 1
        profile["last"] = delta
        profile["total"] += delta
        storage.profile = profile

    def fanout(ctx: Any, msg: Any) -> None:
        arg = msg.as_string()
        own_id = ctx.address.id
        for i in range(10):
            ctx.send(
                sf.message_builder(
                    target_typename="bench.fns/sink", target_id=f"sink-{i}", str_value=f"{arg}#{i}"
                )
            )
        ctx.send_after(
            timedelta(seconds=5),
            sf.message_builder(target_typename="bench.fns/timer", target_id=own_id, str_value=arg),
            cancellation_token=f"timeout-{arg}",
        )
        for topic in ("events-a", "events-b"):
            ctx.send_egress(
                sf.kafka_egress_message(
                    typename="bench.io/events", topic=topic, key=own_id, value=f"{arg}@{topic}"
                )
            )

    def cold(ctx: Any, msg: Any) -> None:
        ctx.storage.visits = (ctx.storage.visits or 0) + 1

    # register() is bind() without the decorator (same public API; keeps mypy's types).
    functions.register(
        "bench.fns/greeter", greeter, specs=[sf.ValueSpec(name="seen", type=sf.IntType)]
    )
    functions.register(
        "bench.fns/batch",
        batch,
        specs=[
            sf.ValueSpec(name="counter", type=sf.IntType),
            sf.ValueSpec(name="profile", type=profile_type),
            sf.ValueSpec(name="label", type=sf.StringType),
        ],
    )
    functions.register("bench.fns/fanout", fanout)
    functions.register(
        "bench.fns/cold",
        cold,
        specs=[
            sf.ValueSpec(name="visits", type=sf.IntType),
            sf.ValueSpec(name="name", type=sf.StringType, expire_after_write=timedelta(seconds=60)),
            sf.ValueSpec(name="profile", type=profile_type, expire_after_call=timedelta(hours=1)),
        ],
    )
    return functions


def setup(drive: Callable[[Coroutine[Any, Any, bytes]], bytes]) -> Callable[[bytes], bytes]:
    handle = sf.RequestReplyHandler(registry()).handle_async

    def call(body: bytes) -> bytes:
        return drive(handle(body))

    return call
