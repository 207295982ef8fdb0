"""`statefun.metrics`: what the middleware counts, read back from a private registry.

Durations are counted, never compared with a clock: the histograms' counts are
exact, their sums only positive.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from statefun import (
    INT,
    STRING,
    Address,
    DeadLetters,
    DefinitionError,
    Functions,
    Handler,
    InvalidResult,
    InvocationFailed,
    MalformedRequest,
    Message,
    Permanent,
    Result,
    Send,
    SendAfter,
    State,
    StateTypeMismatch,
    UnknownFunction,
    ValueSpec,
)
from statefun._generated.request_reply_pb2 import TypedValue
from statefun.metrics import CONTENT_TYPE, Metrics

from .wire.builders import call, request, typed

COUNT = ValueSpec("count", INT)
TALLY = Address("test/tally", "t1")
PEER = Address("test/peer", "p")
FN = {"function": "test/tally"}
ROOT = Path(__file__).resolve().parent.parent


class Harness:
    """A handler with Metrics on a registry of its own, and the registry's values."""

    def __init__(self, *, on_error: DeadLetters | None = None) -> None:
        self.registry = CollectorRegistry()
        self.metrics = Metrics(self.registry)
        self.in_flight_seen: list[float | None] = []
        functions = Functions()

        @functions.bind("test/tally", accepts=INT, specs=[COUNT], on_error=on_error)
        def tally(state: State, msg: Message[int]) -> Result:
            self.in_flight_seen.append(self.value("statefun_requests_in_flight"))
            if msg.value < 0:
                raise Permanent("negative")
            if msg.value == 0:
                raise ZeroDivisionError("zero")
            if msg.value == 99:  # two delayed messages with one token: the answer fails
                later = timedelta(seconds=1)
                return Result(
                    state,
                    [
                        SendAfter(later, PEER, INT, 1, cancellation_token="t"),
                        SendAfter(later, PEER, INT, 2, cancellation_token="t"),
                    ],
                )
            total = (state.get(COUNT) or 0) + msg.value
            return Result(state.set(COUNT, total), [Send(PEER, INT, total)])

        @functions.bind("test/slow", accepts=STRING)
        async def slow(state: State, msg: Message[str]) -> Result:
            await asyncio.sleep(60)  # far past the limit: the timeout always fires first
            return Result(state)

        self.handler = Handler(
            functions, middleware=[self.metrics], invocation_timeout=timedelta(milliseconds=10)
        )

    def send(self, body: bytes) -> None:
        asyncio.run(self.handler.answer(body))

    def fail(self, body: bytes, error: type[Exception]) -> None:
        with pytest.raises(error):
            self.send(body)

    def value(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)

    def requests(self, outcome: str, function: str = "test/tally") -> float | None:
        return self.value("statefun_requests_total", function=function, outcome=outcome)

    def invocations(self, outcome: str) -> float | None:
        return self.value("statefun_invocations_total", **FN, outcome=outcome)


def ints(*values: int, bad: TypedValue | None = None) -> bytes:
    """A request to test/tally with these messages (and ``bad`` after them), its state present."""
    calls = [call(typed(INT, v)) for v in values] + ([call(bad)] if bad else [])
    return request(TALLY, *calls, state={"count": typed(INT, 10)})


BAD = TypedValue(typename="test/Other", has_value=True, value=b"x")


class TestCounts:
    def test_three_requests_of_two_messages(self) -> None:
        metrics = Harness()
        for _ in range(3):
            metrics.send(ints(1, 2))
        assert metrics.requests("ok") == 3
        assert metrics.invocations("ok") == 6
        assert metrics.value("statefun_batch_size_messages_count", **FN) == 3
        assert metrics.value("statefun_batch_size_messages_sum", **FN) == 6
        assert metrics.value("statefun_batch_size_messages_bucket", **FN, le="1.0") == 0
        assert metrics.value("statefun_batch_size_messages_bucket", **FN, le="2.0") == 3
        assert metrics.value("statefun_request_duration_seconds_count", **FN) == 3
        assert metrics.value("statefun_invocation_duration_seconds_count", **FN) == 6
        assert (metrics.value("statefun_request_duration_seconds_sum", **FN) or 0) > 0
        assert metrics.value("statefun_effects_total", **FN, kind="message") == 6
        assert metrics.value("statefun_effects_total", **FN, kind="delayed") == 0
        assert metrics.value("statefun_effects_total", **FN, kind="egress") == 0
        # INT 10 read, INT 13 written, each a tag byte and four bytes, per request.
        assert metrics.value("statefun_state_read_bytes_total", **FN) == 15
        assert metrics.value("statefun_state_written_bytes_total", **FN) == 15
        assert metrics.value("statefun_requests_in_flight") == 0

    def test_a_request_is_in_flight_while_it_is_answered(self) -> None:
        metrics = Harness()
        metrics.send(ints(1))
        assert metrics.in_flight_seen == [1]

    def test_an_incomplete_request_invokes_nothing(self) -> None:
        metrics = Harness()
        metrics.send(request(TALLY, call(typed(INT, 1))))
        assert metrics.requests("incomplete") == 1
        assert metrics.invocations("ok") is None
        assert metrics.value("statefun_batch_size_messages_count", **FN) == 1
        assert metrics.value("statefun_effects_total", **FN, kind="message") == 0

    def test_no_label_names_an_instance(self) -> None:
        metrics = Harness()
        metrics.send(ints(1))
        text = metrics.metrics.scrape().decode()
        assert "t1" not in text
        labels = {
            label
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            for label in sample.labels
        }
        assert labels == {"function", "outcome", "kind", "le"}
        assert CONTENT_TYPE.startswith("text/plain; version=")


class TestErrors:
    def test_a_malformed_body_has_no_function(self) -> None:
        metrics = Harness()
        metrics.fail(b"\xff", MalformedRequest)
        assert metrics.requests("malformed", function="unknown") == 1
        assert metrics.value("statefun_batch_size_messages_count", function="unknown") == 0

    def test_an_unregistered_type_is_labelled_unknown(self) -> None:
        metrics = Harness()
        metrics.fail(request(Address("test/nope", "x"), call(typed(INT, 1))), UnknownFunction)
        assert metrics.requests("unknown_function", function="unknown") == 1
        assert "test/nope" not in metrics.metrics.scrape().decode()

    def test_a_function_that_raises(self) -> None:
        metrics = Harness()
        metrics.fail(ints(1, 0, 2), InvocationFailed)
        assert metrics.requests("function_error") == 1
        assert (metrics.invocations("ok"), metrics.invocations("function_error")) == (1, 1)
        assert metrics.value("statefun_invocation_duration_seconds_count", **FN) == 2
        assert metrics.value("statefun_batch_size_messages_sum", **FN) == 3
        assert metrics.value("statefun_effects_total", **FN, kind="message") == 0

    def test_a_message_that_cannot_be_decoded(self) -> None:
        metrics = Harness()
        metrics.fail(ints(1, bad=BAD), InvocationFailed)
        assert metrics.requests("bad_message") == 1
        assert (metrics.invocations("ok"), metrics.invocations("bad_message")) == (1, 1)
        assert metrics.value("statefun_invocation_duration_seconds_count", **FN) == 1

    def test_a_timeout(self) -> None:
        metrics = Harness()
        body = request(Address("test/slow", "s"), call(typed(STRING, "x")))
        metrics.fail(body, InvocationFailed)
        slow = {"function": "test/slow"}
        assert metrics.value("statefun_requests_total", **slow, outcome="timeout") == 1
        assert metrics.value("statefun_invocations_total", **slow, outcome="timeout") == 1

    def test_an_answer_that_cannot_be_sent(self) -> None:
        metrics = Harness()
        metrics.fail(ints(1, 99), InvalidResult)
        assert metrics.requests("invalid_result") == 1
        assert metrics.invocations("ok") == 2

    def test_state_of_another_type(self) -> None:
        metrics = Harness()
        body = request(TALLY, call(typed(INT, 1)), state={"count": typed(STRING, "x")})
        metrics.fail(body, StateTypeMismatch)
        assert metrics.requests("state_mismatch") == 1
        assert metrics.value("statefun_batch_size_messages_sum", **FN) == 1


class TestDeadLetters:
    POLICY = DeadLetters("test/dead-letters", topic="dead")

    def test_set_aside_messages_are_counted_apart(self) -> None:
        metrics = Harness(on_error=self.POLICY)
        metrics.send(ints(1, -1, bad=BAD))
        assert metrics.requests("ok") == 1
        assert (metrics.invocations("ok"), metrics.invocations("dead_lettered")) == (1, 2)
        assert metrics.value("statefun_effects_total", **FN, kind="egress") == 2

    def test_a_failure_after_a_dead_letter(self) -> None:
        metrics = Harness(on_error=self.POLICY)
        metrics.fail(ints(1, -1, 0, 5), InvocationFailed)
        assert metrics.requests("function_error") == 1
        counts = [metrics.invocations(o) for o in ("ok", "dead_lettered", "function_error")]
        assert counts == [1, 1, 1]


class TestRegistries:
    def test_one_metrics_per_registry(self) -> None:
        registry = CollectorRegistry()
        Metrics(registry)
        with pytest.raises(DefinitionError) as info:
            Metrics(registry)
        assert str(info.value) == (
            "this registry already holds statefun's metrics: one Metrics per registry"
            " (pass Metrics(CollectorRegistry()) for another)"
        )

    def test_a_missing_folder(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "nope"))
        with pytest.raises(DefinitionError) as info:
            Metrics()
        assert str(info.value) == (
            f"PROMETHEUS_MULTIPROC_DIR={str(tmp_path / 'nope')!r} is not a folder: create it"
            " (empty) before the processes start"
        )


# Run in a process of its own, as a worker would: send N requests of two messages, or scrape.
WORKER = """
import asyncio, sys
from statefun.metrics import Metrics
from statefun import Handler
from tests.test_metrics import Harness, ints

metrics = Metrics()
if sys.argv[1] == "scrape":
    sys.stdout.write(metrics.scrape().decode())
else:
    harness = Harness()
    handler = Handler(harness.handler.functions, middleware=[metrics])
    for _ in range(int(sys.argv[1])):
        asyncio.run(handler.answer(ints(1, 2)))
"""


def run_worker(folder: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", WORKER, *args],
        cwd=ROOT,
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class TestMultiprocess:
    def test_two_processes_give_one_scrape(self, tmp_path: Path) -> None:
        run_worker(tmp_path, "2")
        run_worker(tmp_path, "3")
        families = {
            f.name: f for f in text_string_to_metric_families(run_worker(tmp_path, "scrape"))
        }

        def value(family: str, sample: str, **labels: str) -> float:
            [found] = [
                s.value for s in families[family].samples if s.name == sample and s.labels == labels
            ]
            return found

        ok = {**FN, "outcome": "ok"}
        assert value("statefun_requests", "statefun_requests_total", **ok) == 5
        assert value("statefun_invocations", "statefun_invocations_total", **ok) == 10
        batch = "statefun_batch_size_messages"
        assert value(batch, f"{batch}_count", **FN) == 5
        assert value(batch, f"{batch}_sum", **FN) == 10
        assert value(batch, f"{batch}_bucket", **FN, le="2.0") == 5
        effects = "statefun_effects"
        assert value(effects, "statefun_effects_total", **FN, kind="message") == 10
        assert value("statefun_requests_in_flight", "statefun_requests_in_flight") == 0

    def test_the_variable_set_too_late(self, tmp_path: Path) -> None:
        code = (
            "import os, prometheus_client\n"
            f"os.environ['PROMETHEUS_MULTIPROC_DIR'] = {str(tmp_path)!r}\n"
            "from statefun.metrics import Metrics\n"
            "Metrics()\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 1
        assert done.stderr.splitlines()[-1] == (
            "statefun.DefinitionError: PROMETHEUS_MULTIPROC_DIR was set after"
            " prometheus_client was imported, so this process keeps its numbers to itself:"
            " set it before the process starts"
        )
