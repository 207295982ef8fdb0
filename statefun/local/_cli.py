"""``statefun run MODULE_YAML``: the local runtime from the shell.

Reads Kafka records as JSON lines on stdin, routes them as module.yaml's
ingresses say, and prints every egress record as one JSON line on stdout::

    $ echo '{"topic": "names", "key": "Ana", "value": {"name": "Ana"}}' \\
        | statefun run examples/greeter/module.yaml --functions examples.greeter.functions:functions
    {"egress": "example/greets", "topic": "greetings", "key": "Ana", "value": "Hello Ana! You have been seen 1 times."}

An input line is ``{"topic": ..., "key": ..., "value": <any JSON>}`` (sent as
its JSON bytes), or with ``"text": "..."`` (UTF-8 bytes) or ``"base64": "..."``
instead of ``value``. ``{"sleep": SECONDS}`` lets time pass. The command exits
0 when stdin has ended and no work or timer is left; 1 when the runtime would
fail the job or a function raises; 2 for a bad module, option or input line.

Each record is delivered and run until idle before the next line is read
(timers not yet due stay pending), the rule :func:`statefun.local.run_module`
follows too. Timers fire on real time, or with ``--virtual-clock`` on a clock
that moves only at ``sleep`` lines and, once stdin ends, from timer to timer.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import sys
import threading
from datetime import timedelta
from typing import IO, Any

from .._effects import KafkaRecord, KinesisRecord
from ..loader import CliError, load_functions
from ._clock import RealClock, VirtualClock
from ._errors import ModuleError, RuntimeFailure
from ._module import Module
from ._records import EgressRecord, decode_egress
from ._runtime import DEFAULT_MAX_REQUESTS, AsyncLocalRuntime

__all__ = ("add_arguments", "run")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``statefun run`` arguments to its sub-parser."""
    parser.add_argument(
        "module_yaml", metavar="MODULE_YAML", help="the module.yaml the Flink job would use"
    )
    parser.add_argument(
        "--functions",
        metavar="MODULE:ATTR",
        help="run this Functions registry in process (default: call the endpoint URLs in MODULE_YAML)",
    )
    parser.add_argument(
        "--virtual-clock",
        action="store_true",
        help="run timers on a virtual clock, nobody waits: a `sleep` line moves it at once, firing"
        " the timers that fall due on the way; once stdin ends it jumps from timer to timer until"
        " none is left (default: timers fire on real time)",
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        default=DEFAULT_MAX_REQUESTS,
        metavar="N",
        help=f"fail if one step needs more than N requests (default {DEFAULT_MAX_REQUESTS})",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``statefun run`` with parsed ``args``; returns 0 once all is done.

    Raises :class:`CliError` for a bad module, registry or input line (status 2)
    and where the runtime would fail the job (status 1); a function's own
    exception propagates, with a note saying which message caused it.
    """
    try:
        module = Module.load(args.module_yaml)
    except (ModuleError, ImportError) as exc:  # ImportError: PyYAML, the `local` extra, is missing
        raise CliError(str(exc)) from None
    functions = load_functions(args.functions) if args.functions else None
    virtual = bool(args.virtual_clock)
    runtime = AsyncLocalRuntime(
        functions,
        module=module,
        clock=VirtualClock() if virtual else RealClock(),
        max_requests=args.max_requests,
    )
    try:
        return asyncio.run(_main(runtime, virtual, sys.stdin, sys.stdout))
    except RuntimeFailure as exc:
        raise CliError(f"the runtime would fail the job: {exc}", status=1) from exc


async def _main(runtime: AsyncLocalRuntime, virtual: bool, source: IO[str], out: IO[str]) -> int:
    async with runtime:
        lines = _read_lines(source)
        printer = _Printer(runtime, out)
        number = 0
        while True:
            await runtime.run_until_idle()
            printer.flush()
            line = await _next_line(runtime, lines, virtual, printer)
            if line is None:
                break
            number += 1
            if not line.strip():
                continue
            record = _parse(line, number)
            if isinstance(record, timedelta):
                await _pass(runtime, record, virtual, printer)
            else:
                runtime.ingest(*record)
        # stdin has ended: let every timer fire.
        if virtual:
            await runtime.advance_until_idle()
        else:
            while (due := runtime.next_due()) is not None:
                await _pass(runtime, due - runtime.now, virtual, printer)
        printer.flush()
    return 0


def _read_lines(source: IO[str]) -> asyncio.Queue[str | None]:
    # A daemon thread, so that a failure can exit while stdin is still open.
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        try:
            for line in source:
                loop.call_soon_threadsafe(queue.put_nowait, line)
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except RuntimeError:
            pass  # the run ended (a failure) and closed its loop: nobody reads any more

    threading.Thread(target=read, name="statefun-stdin", daemon=True).start()
    return queue


async def _next_line(
    runtime: AsyncLocalRuntime, lines: asyncio.Queue[str | None], virtual: bool, printer: _Printer
) -> str | None:
    """The next input line (None at the end), firing real-time timers while waiting."""
    while True:
        due = None if virtual else runtime.next_due()
        timeout = None if due is None else max(0.0, (due - runtime.now).total_seconds())
        try:
            return await asyncio.wait_for(lines.get(), timeout)
        except asyncio.TimeoutError:
            await runtime.run_until_idle()
            printer.flush()


async def _pass(
    runtime: AsyncLocalRuntime, span: timedelta, virtual: bool, printer: _Printer
) -> None:
    """Let ``span`` pass: move the virtual clock, or wait while timers fire on time."""
    if virtual:
        await runtime.advance(span)
        printer.flush()
        return
    end = runtime.now + span
    while runtime.now < end:
        due = runtime.next_due()
        until = end if due is None else min(due, end)
        await asyncio.sleep(max(0.0, (until - runtime.now).total_seconds()) + 0.001)
        await runtime.run_until_idle()
        printer.flush()


def _parse(line: str, number: int) -> tuple[str, str | None, bytes] | timedelta:
    try:
        item: dict[str, Any] | list[Any] | str | int | float | bool | None = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CliError(f"line {number}: not JSON: {exc}") from None
    if not isinstance(item, dict):
        raise CliError(f"line {number}: expected a JSON object, got {line.strip()!r}")
    if "sleep" in item:
        seconds = item["sleep"]
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
            raise CliError(f"line {number}: `sleep` must be a non-negative number of seconds")
        return timedelta(seconds=seconds)
    topic = item.get("topic")
    if not isinstance(topic, str) or not topic:
        raise CliError(f"line {number}: `topic` must be a non-empty string")
    key = item.get("key")
    if key is not None and not isinstance(key, str):
        raise CliError(f"line {number}: `key` must be a string (the target id), got {key!r}")
    given = [name for name in ("value", "text", "base64") if name in item]
    if len(given) != 1:
        raise CliError(f"line {number}: give exactly one of `value` (JSON), `text` or `base64`")
    payload: Any = item[given[0]]
    if given[0] == "value":
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    elif not isinstance(payload, str):
        raise CliError(f"line {number}: `{given[0]}` must be a string")
    elif given[0] == "text":
        data = payload.encode("utf-8")
    else:
        try:
            data = base64.b64decode(payload, validate=True)
        except binascii.Error as exc:
            raise CliError(f"line {number}: `base64` is not valid base64: {exc}") from None
    return topic, key, data


class _Printer:
    """Prints each new egress record once, as one JSON line."""

    def __init__(self, runtime: AsyncLocalRuntime, out: IO[str]) -> None:
        self.runtime = runtime
        self.out = out
        self.printed = 0

    def flush(self) -> None:
        # Only what is new: a long run must not copy its whole log on every line.
        new = self.runtime.egress_since(self.printed)
        for record in new:
            self.out.write(json.dumps(_to_json(record), ensure_ascii=False) + "\n")
        self.printed += len(new)
        self.out.flush()


def _to_json(record: EgressRecord) -> dict[str, Any]:
    decoded = decode_egress(record)
    line: dict[str, Any] = {"egress": record.egress}
    if isinstance(decoded, KafkaRecord):
        line.update(topic=decoded.topic, key=decoded.key)
    elif isinstance(decoded, KinesisRecord):
        line.update(stream=decoded.stream, partition_key=decoded.partition_key)
        if decoded.explicit_hash_key is not None:
            line["explicit_hash_key"] = decoded.explicit_hash_key
    else:
        line["typename"] = record.typename
    try:
        line["value"] = decoded.value.decode("utf-8")
    except UnicodeDecodeError:
        line["base64"] = base64.b64encode(decoded.value).decode("ascii")
    return line
