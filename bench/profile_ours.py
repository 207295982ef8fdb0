"""Where our SDK spends its time beyond the floor: cProfile shares plus isolated timings.

    .venv/bin/python bench/profile_ours.py [--requests N] [--top K]

Part 1: cProfile of N requests per workload through ``Handler.handle``, the
functions with the most own time (cProfile inflates the share of many small
Python calls: read it as a ranking, and part 2 for magnitudes).
Part 2: the pieces of one request timed in isolation with ``timeit`` (best of
several repeats, so the numbers are each piece's cost on a quiet moment):
parse, the handler loop's per-invocation work, the user function, the
interpreter, against the floor's whole request. It reaches into SDK internals
(``statefun._state``, ``statefun._interpreter``) to time them apart; nothing
here is used by the benchmark itself.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import impl_floor  # noqa: E402
import impl_ours  # noqa: E402
from contract import WORKLOADS, load_payloads  # noqa: E402
from worker import drive  # noqa: E402

from statefun import INT, STRING, Address, Handler, KafkaRecord, Result, Send, SendAfter  # noqa: E402
from statefun._address import trusted_address  # noqa: E402
from statefun._generated.request_reply_pb2 import ToFunction  # noqa: E402
from statefun._interpreter import interpret  # noqa: E402
from statefun._message import Message as trusted_message  # noqa: E402
from statefun._state import Origin, from_runtime  # noqa: E402


def best_us(fn: Callable[[], object], number: int, repeat: int = 7) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def profile(handle: Callable[[bytes], bytes], body: bytes, n: int, top: int) -> str:
    for _ in range(50):
        handle(body)
    prof: Any = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        handle(body)
    prof.disable()
    stats: Any = pstats.Stats(prof)
    total = stats.total_tt
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)
    out = io.StringIO()
    out.write(f"{'own %':>6} {'cum %':>6} {'calls/req':>9}  function\n")
    for (file, line, func), (_cc, nc, tt, ct, _) in rows[:top]:
        where = f"{Path(file).name}:{line}" if line else file
        out.write(
            f"{100 * tt / total:6.1f} {100 * ct / total:6.1f} {nc / n:9.1f}  {func} ({where})\n"
        )
    return out.getvalue()


def pieces(payloads: dict[str, bytes]) -> None:
    functions = impl_ours.registry()
    handler = Handler(functions)

    def ours(body: bytes) -> bytes:
        return drive(handler.handle(body))

    floor = impl_floor.setup(drive)

    for w in ("w2_batch", "w3_fanout", "w1_greeter"):
        body = payloads[w]
        request = ToFunction.FromString(body)
        batch = request.invocation
        fn: Any = functions.get(f"{batch.target.namespace}/{batch.target.type}")
        assert fn is not None
        k = 20 if w == "w2_batch" else 300
        t_ours = best_us(lambda: ours(body), k)
        t_floor = best_us(lambda: floor(body), k)
        print(
            f"\n### {w}: ours {t_ours:.1f} µs, floor {t_floor:.1f} µs, gap {t_ours - t_floor:.1f} µs"
        )

        raw = {s.state_name: s.state_value.value for s in batch.state}
        address = trusted_address(batch.target.namespace, batch.target.type, batch.target.id)
        spec_map = {spec.name: spec for spec in fn.specs}
        arg_type = fn.accepts[0]
        values = [arg_type.decode(i.argument.value) for i in batch.invocations]
        invs = list(batch.invocations)

        def run_fn() -> tuple[Any, list[Any]]:
            origin = Origin(dict(raw))
            state = from_runtime(spec_map, origin)
            effects: list[Any] = []
            for v in values:
                r = fn.fn(state, trusted_message(address, v, None, arg_type.typename))
                state = r.state
                effects.extend(r.effects)
            return (origin, state), effects

        (origin, final), effects = run_fn()
        rows = [
            ("parse ToFunction.FromString", lambda: ToFunction.FromString(body)),
            (
                "read batch: invocations, argument fields, caller key",
                lambda: [
                    (
                        i.argument.typename,
                        i.argument.value,
                        i.HasField("caller"),
                        (i.caller.namespace, i.caller.type, i.caller.id),
                    )
                    for i in batch.invocations
                ],
            ),
            (
                f"decode {len(invs)} argument(s) via Type.decode",
                lambda: [arg_type.decode(i.argument.value) for i in invs],
            ),
            (
                f"{len(invs)} x trusted_message",
                lambda: [trusted_message(address, v, None, "t") for v in values],
            ),
            ("user function(s) incl. State.get/set, Result, effects", run_fn),
            (
                "interpret (effects + mutations -> bytes)",
                lambda: interpret(spec_map, origin, final, effects),
            ),
        ]
        for label, f in rows:
            print(f"  {best_us(f, k):8.1f} µs  {label}")

    # Micro-costs of the objects a function builds (W3 builds 10 Send, 1 SendAfter, 2 KafkaRecord).
    from datetime import timedelta

    print("\n### object costs (µs each)")
    a = Address("bench.fns/sink", "sink-1")
    micro: list[tuple[str, Callable[[], object]]] = [
        ("Address(typename, id) (validated)", lambda: Address("bench.fns/sink", "sink-1")),
        ("trusted_address(...)", lambda: trusted_address("bench.fns", "sink", "sink-1")),
        ("Send(address, STRING, value)", lambda: Send(a, STRING, "x")),
        (
            "SendAfter(5 s, ..., token)",
            lambda: SendAfter(timedelta(seconds=5), a, STRING, "x", cancellation_token="t"),
        ),
        (
            "KafkaRecord(...)",
            lambda: KafkaRecord("bench.io/events", topic="events-a", key="hub-1", value="v"),
        ),
        ("Result(state, 13 effects)", lambda: None),  # filled below
        ("STRING.encode('order-42#1') via Type", lambda: STRING.encode("order-42#1")),
        ("STRING.serde.encode direct", lambda: STRING.serde.encode("order-42#1")),
        ("INT.decode(5 bytes) via Type", lambda: INT.decode(b"\x0d\x01\x00\x00\x00")),
        ("INT.serde.decode direct", lambda: INT.serde.decode(b"\x0d\x01\x00\x00\x00")),
    ]
    effects13 = (
        [Send(a, STRING, "x")] * 10
        + [SendAfter(timedelta(seconds=5), a, STRING, "x")]
        + [KafkaRecord("bench.io/events", topic="t", value="v")] * 2
    )
    st = from_runtime({}, Origin({}))
    micro[5] = ("Result(state, 13 effects)", lambda: Result(st, effects13))
    for label, f in micro:
        print(f"  {best_us(f, 20000):8.3f}  {label}")

    # W2, one invocation's work, piece by piece (the floor does only the first and a dict update).
    import msgspec

    body = payloads["w2_batch"]
    batch = ToFunction.FromString(body).invocation
    inv = batch.invocations[7]
    fn = functions.get("bench.fns/batch")
    assert fn is not None
    origin = Origin({s.state_name: s.state_value.value for s in batch.state})
    spec_map = {spec.name: spec for spec in fn.specs}
    types = {t.typename: t for t in fn.accepts}
    state = from_runtime(spec_map, origin)
    state.get(impl_ours.PROFILE)
    state.get(impl_ours.COUNTER)
    address = trusted_address("bench.fns", "batch", "acct-7")
    msg = trusted_message(address, 8, None, INT.typename)
    profile = state.get(impl_ours.PROFILE)
    assert profile is not None
    callers: dict[tuple[str, str, str], Address] = {}
    from statefun._generated.types_pb2 import IntWrapper

    def loop_overhead() -> None:  # what handle() does per invocation besides the calls below
        argument = inv.argument
        types.get(argument.typename)
        if inv.HasField("caller"):
            c = inv.caller
            key = (c.namespace, c.type, c.id)
            callers.get(key)

    print("\n### W2 per invocation (µs)")
    d = {"n": 0, "last": 0, "total": 0}
    per: list[tuple[str, Callable[[], object]]] = [
        (
            "floor: IntWrapper.FromString(inv.argument.value).value + dict updates",
            lambda: (
                IntWrapper.FromString(inv.argument.value).value,
                d.update(n=1, last=1, total=1),
            ),
        ),
        (
            "handler: argument, types.get(typename), HasField(caller), caller key + dict get",
            loop_overhead,
        ),
        ("handler: INT.decode(argument.value) via Type", lambda: INT.decode(inv.argument.value)),
        ("handler: trusted_message", lambda: trusted_message(address, 8, None, INT.typename)),
        (
            "user: state.get x2 (cached)",
            lambda: (state.get(impl_ours.PROFILE), state.get(impl_ours.COUNTER)),
        ),
        (
            "user: msgspec.structs.replace(profile, 3 fields)",
            lambda: msgspec.structs.replace(profile, n=1, last=2, total=3),
        ),
        (
            "user: state.set(COUNTER).set(PROFILE)",
            lambda: state.set(impl_ours.COUNTER, 5).set(impl_ours.PROFILE, profile),
        ),
        ("user: Result(state)", lambda: Result(state)),
        ("whole user function", lambda: fn.fn(state, msg)),
    ]
    for label, f in per:
        print(f"  {best_us(f, 20000):8.3f}  {label}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--top", type=int, default=14)
    args = parser.parse_args()
    payloads = load_payloads()
    handle = impl_ours.setup(drive)
    for w in WORKLOADS:
        n = args.requests // 20 if w == "w2_batch" else args.requests
        print(f"\n## cProfile {w} ({n} requests)\n")
        print(profile(handle, payloads[w], n, args.top))
    print("\n## Pieces timed in isolation (best of 7)")
    pieces(payloads)


if __name__ == "__main__":
    main()
