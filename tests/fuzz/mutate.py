"""Mutation fuzzing: flipped, cut and spliced bytes of valid requests, checked against the model.

Input ``i`` of a run with seed ``s`` is built from ``random.Random(s * 2**32 + i)``
alone, so any one input can be rebuilt and replayed without the others::

    .venv/bin/python -m tests.fuzz.mutate --inputs 1000000            # a long run (scripts/fuzz)
    .venv/bin/python -m tests.fuzz.mutate --seed 0 --replay 123456    # one input, in full
    .venv/bin/python -m tests.fuzz.mutate --http --inputs 20000       # over real HTTP

Each input goes to ``Handler.answer`` (or, with ``--http``, is POSTed to the
aiohttp app on 127.0.0.1) and must get exactly what ``tests/fuzz/model.py``
expects; any other answer, and any other exception, is a failure, printed with
the seed and input number that rebuild it. The exit status is 1 if there was one.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import logging
import random
import sys
import time
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, web

from statefun import INT, LONG, STRING, Functions, Handler
from statefun._generated.request_reply_pb2 import FromFunction, ToFunction
from statefun.aiohttp import make_app

from .corpus import corpus, known_typenames, varint
from .model import (
    DOC,
    STATUS,
    Doc,
    Expected,
    attempt,
    expect,
    fuzz_functions,
    outcome_of,
    problems,
    reason_problem,
)

__all__ = ("Report", "mutant", "run_handler", "run_http")

# Bytes a protobuf parser treats specially: varint continuation, the largest
# lengths, tags of the ToFunction fields, wire types 3-7.
_INTERESTING = (
    b"\x00",
    b"\x7f",
    b"\x80",
    b"\xff",
    b"\xff\xff\xff\xff\x0f",
    b"\xff" * 10,
    b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01",
    varint(100 << 3 | 2),
    b"\x0a",
    b"\x12",
    b"\x1a",
    b"\x0b",
    b"\x0c",
    b"\x0e",
    b"\x0f",
    b"\xc3(",
    b"\xed\xa0\x80",
)


def _flip(rng: random.Random, data: bytearray, seeds: list[bytes]) -> None:
    if data:
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)


def _set_byte(rng: random.Random, data: bytearray, seeds: list[bytes]) -> None:
    if data:
        data[rng.randrange(len(data))] = rng.choice((0, 0x7F, 0x80, 0xFF, rng.randrange(256)))


def _insert(rng: random.Random, data: bytearray, seeds: list[bytes]) -> None:
    at = rng.randrange(len(data) + 1)
    piece = rng.choice(_INTERESTING) if rng.random() < 0.5 else rng.randbytes(rng.randrange(1, 9))
    data[at:at] = piece


def _delete(rng: random.Random, data: bytearray, seeds: list[bytes]) -> None:
    if data:
        start = rng.randrange(len(data))
        del data[start : start + rng.randrange(1, 17)]


def _duplicate(rng: random.Random, data: bytearray, seeds: list[bytes]) -> None:
    # Repeats a stretch: a repeated field, a merged message, or a much longer body.
    if data:
        start = rng.randrange(len(data))
        piece = data[start : start + rng.randrange(1, 65)]
        at = rng.randrange(len(data) + 1)
        data[at:at] = piece * rng.choice((1, 1, 2, 16, 512))


def _truncate(rng: random.Random, data: bytearray, seeds: list[bytes]) -> None:
    if data:
        del data[rng.randrange(len(data)) :]


def _splice(rng: random.Random, data: bytearray, seeds: list[bytes]) -> None:
    other = rng.choice(seeds)
    cut = rng.randrange(len(data) + 1)
    data[cut:] = other[rng.randrange(len(other) + 1) :]


def _append(rng: random.Random, data: bytearray, seeds: list[bytes]) -> None:
    # Concatenated messages merge: a whole second request, or a stray field.
    if rng.random() < 0.5:
        data += rng.choice(seeds)
    else:
        data += varint(rng.randrange(1, 2**11) << 3 | rng.randrange(8))
        data += rng.randbytes(rng.randrange(0, 9))


_VALUE_MUTATIONS = (_flip, _set_byte, _insert, _delete, _duplicate, _truncate)
_MUTATIONS: tuple[Callable[[random.Random, bytearray, list[bytes]], None], ...] = (
    _flip,
    _flip,
    _set_byte,
    _insert,
    _delete,
    _duplicate,
    _truncate,
    _splice,
    _append,
)


# Text the runtime would never send, but a protobuf string may hold: line
# breaks, escapes, a forged header, the Unicode separators, huge.
_ODD_TEXT = (
    "",
    "\n",
    "a\r\nX-Injected: 1",
    "\x00",
    "\x1b[31mred",
    "\u2028",
    "\x85",
    "\ufeff",
    "é",
    "😀",
    "/",
    "a/b/c",
    "x" * 70_000,
)


def _odd_char(rng: random.Random) -> str:
    ranges = ((0, 0x20), (0x20, 0x7F), (0x7F, 0xA0), (0xA0, 0xD800), (0xE000, 0x110000))
    low, high = rng.choice(ranges)
    return chr(rng.randrange(low, high))


def _text(rng: random.Random, old: str, known: list[str]) -> str:
    roll = rng.random()
    if roll < 0.3:
        return rng.choice(known)
    if roll < 0.5:
        return rng.choice(_ODD_TEXT)
    if roll < 0.8:
        at = rng.randrange(len(old) + 1)
        return old[:at] + _odd_char(rng) + old[at:]
    return "".join(_odd_char(rng) for _ in range(rng.randrange(9)))


def _value(rng: random.Random, old: bytes, seeds: list[bytes]) -> bytes:
    roll = rng.random()
    if roll < 0.4:
        data = bytearray(old)
        for _ in range(rng.choice((1, 1, 2))):
            rng.choice(_VALUE_MUTATIONS)(rng, data, seeds)
        return bytes(data)
    if roll < 0.8:
        return rng.choice(_VALUES)
    return rng.randbytes(rng.randrange(9))


_VALUES = (
    b"",
    INT.encode(-1),
    INT.encode(0),
    INT.encode(1),
    INT.encode(2),
    INT.encode(2**31 - 1),
    LONG.encode(-(2**63)),
    STRING.encode("Ana"),
    STRING.encode("\n\x00é"),
    b"\x0a\x02\xc3(",
    DOC.encode(Doc("d", -4)),
    b'{"name": "a\\ud800"}',
    b'{"name": 1}',
    b"[" * 10_000,
)


def _strings(message: ToFunction, rng: random.Random) -> list[tuple[Any, str]]:
    """Every string field of ``message`` a mutation may set: (the message holding it, name)."""
    batch = message.invocation
    fields: list[tuple[Any, str]] = [(batch.target, f) for f in ("namespace", "type", "id")]
    if batch.invocations:
        invocation = rng.choice(batch.invocations)
        fields.append((invocation.argument, "typename"))
        fields += [(invocation.caller, f) for f in ("namespace", "type", "id")]
    if batch.state:
        persisted = rng.choice(batch.state)
        fields += [(persisted, "state_name"), (persisted.state_value, "typename")]
    return fields


def _structural(
    rng: random.Random, message: ToFunction, seeds: list[bytes], known: list[str]
) -> None:
    """One change to the parsed request: a field set, cleared, dropped or repeated."""
    batch = message.invocation
    roll = rng.randrange(10)
    if roll < 3:
        holder, name = rng.choice(_strings(message, rng))
        setattr(holder, name, _text(rng, getattr(holder, name), known))
    elif roll < 5:
        values = [i.argument for i in batch.invocations] + [s.state_value for s in batch.state]
        if values:
            value = rng.choice(values)
            if rng.random() < 0.2:
                value.has_value = not value.has_value
            else:
                value.value = _value(rng, value.value, seeds)
    elif roll == 5:
        typename = rng.choice(known)
        batch.target.namespace, _, batch.target.type = typename.rpartition("/")
    elif roll == 6:
        holders: list[tuple[Any, str]] = [(message, "invocation"), (batch, "target")]
        holders += [(i, rng.choice(("argument", "caller"))) for i in batch.invocations[:1]]
        holders += [(s, "state_value") for s in batch.state[:1]]
        holder, name = rng.choice(holders)
        holder.ClearField(name)
    elif roll == 7 and batch.invocations:
        invocation = rng.choice(batch.invocations)
        # A huge batch now and then: they are slow to answer and to check.
        count = 2000 if rng.random() < 0.02 else rng.choice((1, 2, 16, 100))
        batch.invocations.extend([invocation] * count)
    elif roll == 8 and batch.state:
        persisted = rng.choice(batch.state)
        if rng.random() < 0.5:
            batch.state.append(persisted)
        else:
            batch.state.remove(persisted)
    elif batch.invocations:
        del batch.invocations[rng.randrange(len(batch.invocations))]


def mutant(seed: int, index: int, seeds: list[bytes], known: list[str]) -> bytes:
    """Input ``index`` of the run with ``seed``: one to four mutations of one seed.

    Half the inputs change fields of the parsed request (so that most still
    parse and reach the functions and the serdes), a quarter then flip or cut
    its bytes too, and a quarter change only the bytes.
    """
    rng = random.Random(seed * 2**32 + index)
    data = rng.choice(seeds)
    roll = rng.random()
    if roll < 0.75:
        message = ToFunction.FromString(data)
        for _ in range(rng.choice((1, 1, 2, 3))):
            _structural(rng, message, seeds, known)
        data = message.SerializeToString()
    if roll >= 0.5:
        raw = bytearray(data)
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
            rng.choice(_MUTATIONS)(rng, raw, seeds)
        data = bytes(raw)
    return data


@dataclass
class Report:
    """What a run saw: how many inputs of each outcome, and every failure."""

    inputs: int = 0
    outcomes: Counter[str] = field(default_factory=Counter[str])
    failures: list[tuple[int, str]] = field(default_factory=list[tuple[int, str]])
    seconds: float = 0.0
    http: bool = False

    def summary(self, seed: int) -> str:
        counts = ", ".join(f"{name} {count}" for name, count in sorted(self.outcomes.items()))
        lines = [
            f"{self.inputs} inputs, seed {seed}, {self.seconds:.1f} s: {counts};"
            f" {len(self.failures)} failures"
        ]
        how = "--http --start {} --inputs 1" if self.http else "--replay {}"
        lines += [
            f"FAIL seed {seed} input {index}: {problem}"
            f"  (replay: python -m tests.fuzz.mutate --seed {seed} {how.format(index)})"
            for index, problem in self.failures
        ]
        return "\n".join(lines)


def _inputs(seed: int, start: int, count: int) -> Iterator[tuple[int, bytes]]:
    seeds = corpus()
    known = known_typenames()
    for index in range(start, start + count):
        yield index, mutant(seed, index, seeds, known)


async def run_handler(
    functions: Functions,
    *,
    seed: int,
    inputs: int,
    start: int = 0,
    progress: Callable[[Report], None] | None = None,
    max_failures: int = 20,
) -> Report:
    """Answer ``inputs`` mutants with one Handler, checking each against the model."""
    handler = Handler(functions)
    report = Report()
    began = time.monotonic()
    for index, body in _inputs(seed, start, inputs):
        got = await attempt(handler, body)
        problem = problems(body, got, functions)
        report.outcomes[outcome_of(got)] += 1
        report.inputs += 1
        if problem is not None:
            report.failures.append((index, problem))
            if len(report.failures) >= max_failures:
                break
        if progress is not None and report.inputs % 100_000 == 0 and report.inputs < inputs:
            report.seconds = time.monotonic() - began
            progress(report)
    report.seconds = time.monotonic() - began
    return report


# A limit small enough that some mutants (a stretch repeated 512 times) exceed it.
HTTP_LIMIT = 16 * 1024


@asynccontextmanager
async def serving(app: web.Application) -> AsyncGenerator[str, None]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/statefun"
    finally:
        await runner.cleanup()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _sent(index: int, body: bytes) -> tuple[object, dict[str, str], bool]:
    """How input ``index`` goes over HTTP: the data, the headers, whether it is unreadable.

    Most go as they are; a few gzip-compressed, chunked, or claiming a
    Content-Encoding they are not in (which the runtime never does).
    """
    headers = {"Content-Type": "application/octet-stream"}
    variant = index % 50
    if variant == 7:
        return gzip.compress(body), {**headers, "Content-Encoding": "gzip"}, False
    if variant == 13 and body:
        return body, {**headers, "Content-Encoding": "gzip"}, True
    if variant == 29:

        async def chunks() -> AsyncIterator[bytes]:
            for at in range(0, len(body), 1000):
                yield body[at : at + 1000]

        return chunks(), headers, False
    return body, headers, False


async def run_http(
    functions: Functions, *, seed: int, inputs: int, start: int = 0, max_failures: int = 20
) -> Report:
    """POST ``inputs`` mutants to the aiohttp app; each status must be the model's.

    Every answer other than a 200 must be one line; so must every record on the
    ``statefun`` logger, and none may come from the handler's last-resort
    ``except Exception`` ("failed to answer a request"). The server must still
    answer a valid request at the end.
    """
    report = Report(http=True)
    logger = logging.getLogger("statefun")
    records = _Records()
    logger.addHandler(records)
    # aiohttp's own records are checked here rather than printed.
    server_logger = logging.getLogger("aiohttp.server")
    server = _Records()
    server_logger.addHandler(server)
    server_logger.propagate = False
    began = time.monotonic()
    try:
        async with serving(make_app(functions, max_body_size=HTTP_LIMIT)) as url:
            async with ClientSession() as session:
                for index, body in _inputs(seed, start, inputs):
                    data, headers, unreadable = _sent(index, body)
                    if unreadable:
                        # The first bytes fail to decompress, or the size tells first.
                        allowed = {400, 413} if len(body) > HTTP_LIMIT else {400}
                    elif len(body) > HTTP_LIMIT:
                        allowed = {413}  # compressed or not: the limit is on what it becomes
                    else:
                        allowed = _allowed(expect(body, functions))
                    async with session.post(url, data=data, headers=headers) as response:
                        status, answer = response.status, await response.read()
                        content_type = response.headers.get("Content-Type")
                    problem = _http_problem(allowed, status, content_type, answer)
                    problem = problem or next(
                        (
                            f"log record: {p}"
                            for p in map(_log_problem, records.messages)
                            if p is not None
                        ),
                        None,
                    )
                    # Only the drain of a body that does not decompress, after the answer.
                    tolerated = ["Unhandled exception"] if unreadable else []
                    if problem is None and [m for m in server.messages if m not in tolerated]:
                        problem = f"aiohttp logged {server.messages[:3]}"
                    records.messages.clear()
                    server.messages.clear()
                    report.outcomes[str(status)] += 1
                    report.inputs += 1
                    if problem is not None:
                        report.failures.append((index, problem))
                        if len(report.failures) >= max_failures:
                            break
                last = corpus()[0]
                async with session.post(url, data=last) as response:
                    if response.status != 200:
                        report.failures.append((-1, f"a valid request got {response.status}"))
    finally:
        logger.removeHandler(records)
        server_logger.removeHandler(server)
        server_logger.propagate = True
    report.seconds = time.monotonic() - began
    return report


def _allowed(expected: Expected) -> set[int]:
    return {200, 500} if expected.outcome == "ran" else {STATUS[expected.outcome]}


def _http_problem(
    allowed: set[int], status: int, content_type: str | None, answer: bytes
) -> str | None:
    """What is wrong with one HTTP answer, whose status must be one of ``allowed``."""
    if status not in allowed:
        return f"expected {sorted(allowed)}, got {status}: {answer[:300]!r}"
    if status == 200:
        if content_type != "application/octet-stream":
            return f"a 200 with Content-Type {content_type!r}"
        try:
            FromFunction.FromString(answer)
        except Exception as exc:
            return f"a 200 whose body is not a FromFunction: {exc}"
        return None
    try:
        text = answer.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"a {status} whose reason is not UTF-8: {exc}"
    if status == 413:
        text += "\n"  # aiohttp's own answer, without the newline ours end in
    if not text.endswith("\n"):
        return f"a {status} whose reason does not end in a newline: {text[:300]!r}"
    problem = reason_problem(text[:-1])
    return None if problem is None else f"a {status} reason: {problem}"


def _log_problem(message: str) -> str | None:
    if message.startswith("statefun: failed to answer a request"):
        return f"the last-resort handler ran: {message[:300]}"
    return reason_problem(message)


def _replay(seed: int, index: int) -> int:
    functions = fuzz_functions()
    body = mutant(seed, index, corpus(), known_typenames())
    print(f"seed {seed} input {index}: {len(body)} bytes\n{body.hex()}")
    print(f"model: {expect(body, functions)}")
    got = asyncio.run(attempt(Handler(functions), body))
    print(f"handler: {got!r:.2000}")
    problem = problems(body, got, functions)
    print("OK" if problem is None else f"FAIL: {problem}")
    if isinstance(got, Exception) and problem is not None:
        raise got
    return 0 if problem is None else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.mutate", description=__doc__)
    parser.add_argument("--inputs", type=int, default=100_000, help="how many (default 100000)")
    parser.add_argument("--seed", type=int, default=0, help="the run's seed (default 0)")
    parser.add_argument("--start", type=int, default=0, help="the first input number")
    parser.add_argument("--replay", type=int, metavar="INPUT", help="rebuild and replay one input")
    parser.add_argument("--http", action="store_true", help="POST to the aiohttp app instead")
    args = parser.parse_args(argv)
    if args.replay is not None:
        return _replay(args.seed, args.replay)
    functions = fuzz_functions()
    if args.http:
        report = asyncio.run(
            run_http(functions, seed=args.seed, inputs=args.inputs, start=args.start)
        )
    else:

        def progress(report: Report) -> None:
            print(report.summary(args.seed), flush=True)

        report = asyncio.run(
            run_handler(
                functions, seed=args.seed, inputs=args.inputs, start=args.start, progress=progress
            )
        )
    print(report.summary(args.seed))
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
