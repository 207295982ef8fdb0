"""Contestant "ours": the contract's four functions written with this project's public API.

One ``Functions`` registry holds all four (as one endpoint would serve them);
each request goes through ``Handler.handle(body)``, the coroutine the aiohttp
adapter awaits, driven by ``drive`` exactly like the official SDK's
``handle_async`` (neither ever suspends here: every function is a plain def).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

import msgspec

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

NAME = "ours"


def greeting(name: str, seen: int) -> str:
    return f"Hello {name}! You have been seen {seen} times."


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


SEEN = ValueSpec("seen", INT)
COUNTER = ValueSpec("counter", INT)
PROFILE = ValueSpec("profile", json_type("bench.types/profile", Profile))
LABEL = ValueSpec("label", STRING)
VISITS = ValueSpec("visits", INT)
COLD_NAME = ValueSpec("name", STRING, expire_after_write=timedelta(seconds=60))
COLD_PROFILE = ValueSpec(
    "profile",
    json_type("bench.types/profile", dict[str, Any]),
    expire_after_call=timedelta(hours=1),
)


def registry() -> Functions:
    functions = Functions()

    @functions.bind("bench.fns/greeter", accepts=STRING, specs=[SEEN])
    def greeter(state: State, msg: Message[str]) -> Result:
        seen = (state.get(SEEN) or 0) + 1
        record = KafkaRecord(
            "bench.io/greetings",
            topic="greetings",
            key=msg.target.id,
            value=greeting(msg.value, seen),
        )
        return Result(state.set(SEEN, seen), [record])

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

    @functions.bind("bench.fns/fanout", accepts=STRING)
    def fanout(state: State, msg: Message[str]) -> Result:
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

    @functions.bind("bench.fns/cold", accepts=STRING, specs=[VISITS, COLD_NAME, COLD_PROFILE])
    def cold(state: State, msg: Message[str]) -> Result:
        return Result(state.set(VISITS, (state.get(VISITS) or 0) + 1))

    return functions


# What `python -m statefun serve bench.impl_ours:functions` serves (bench/soak.py): the CLI
# takes a registry by attribute, as a user's module would have it.
functions = registry()


def setup(drive: Callable[[Coroutine[Any, Any, bytes]], bytes]) -> Callable[[bytes], bytes]:
    """One callable for every workload: request body in, response body out."""
    handle = Handler(registry()).handle

    def call(body: bytes) -> bytes:
        return drive(handle(body))

    return call
