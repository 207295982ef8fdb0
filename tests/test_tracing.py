"""`statefun.tracing`: the spans a handler makes, caught by the SDK's in-memory exporter."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, StatusCode

from statefun import (
    INT,
    STRING,
    Address,
    DeadLetters,
    Functions,
    Handler,
    InvocationFailed,
    MalformedRequest,
    Message,
    Permanent,
    Result,
    Send,
    State,
    UnknownFunction,
)
from statefun._generated.request_reply_pb2 import TypedValue
from statefun.tracing import Tracing

from .wire.builders import call, request, typed

ECHO = Address("test/echo", "e1")
CALLER = Address("test/caller", "c7")
ROOT = Path(__file__).resolve().parent.parent


def echo_functions(*, on_error: DeadLetters | None = None) -> Functions:
    functions = Functions()
    tracer = trace.get_tracer("test")

    @functions.bind("test/echo", accepts=INT, on_error=on_error)
    async def echo(state: State, msg: Message[int]) -> Result:
        if msg.value < 0:
            raise Permanent("negative")
        if msg.value == 0:
            raise ZeroDivisionError("zero")
        with tracer.start_as_current_span("the function's own"):
            await asyncio.sleep(0)
        return Result(state, [Send(CALLER, INT, msg.value)])

    return functions


class Traced:
    """A handler with Tracing into an SDK provider of its own, and the spans it finished."""

    def __init__(self, *, on_error: DeadLetters | None = None, sampled: bool = True) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(sampler=None if sampled else ALWAYS_OFF)
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.handler = Handler(
            echo_functions(on_error=on_error), middleware=[Tracing(self.provider)]
        )

    def send(self, body: bytes) -> None:
        asyncio.run(self.handler.answer(body))

    def fail(self, body: bytes, error: type[Exception]) -> None:
        with pytest.raises(error):
            self.send(body)

    @property
    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()

    def one(self, name: str) -> ReadableSpan:
        [span] = [s for s in self.spans if s.name == name]
        return span


@pytest.fixture(autouse=True)
def the_functions_own_spans() -> Iterator[None]:
    """The function's own tracer is the global one: the test's provider, for this test only."""
    yield
    trace._TRACER_PROVIDER_SET_ONCE._done = False  # pyright: ignore[reportAttributeAccessIssue]
    trace._TRACER_PROVIDER = None


def use_globally(traced: Traced) -> None:
    trace._TRACER_PROVIDER_SET_ONCE._done = False  # pyright: ignore[reportAttributeAccessIssue]
    trace.set_tracer_provider(traced.provider)


def ints(*values: int) -> bytes:
    return request(ECHO, *(call(typed(INT, v), caller=CALLER) for v in values))


class TestSpans:
    def test_a_server_span_per_request_and_a_child_per_invocation(self) -> None:
        traced = Traced()
        use_globally(traced)
        traced.send(ints(1, 2))
        server = traced.one("test/echo")
        invocations = [s for s in traced.spans if s.name == "invoke test/echo"]
        own = [s for s in traced.spans if s.name == "the function's own"]
        assert (len(traced.spans), len(invocations), len(own)) == (5, 2, 2)
        assert server.kind is SpanKind.SERVER and server.parent is None
        assert server.context is not None
        for span, parent in zip(invocations, [server, server], strict=True):
            assert span.kind is SpanKind.INTERNAL
            assert span.parent is not None and parent.context is not None
            assert span.parent.span_id == parent.context.span_id
        for span, parent in zip(own, invocations, strict=True):
            assert span.parent is not None and parent.context is not None
            assert span.parent.span_id == parent.context.span_id
        assert server.status.status_code is StatusCode.UNSET

    def test_the_request_spans_attributes(self) -> None:
        traced = Traced()
        traced.send(ints(1, 2))
        assert dict(traced.one("test/echo").attributes or {}) == {
            "rpc.system": "statefun",
            "rpc.service": "test/echo",
            "statefun.function.type": "test/echo",
            "statefun.function.id": "e1",
            "statefun.batch.size": 2,
            "statefun.outcome": "ok",
            "statefun.dead_letters": 0,
            "statefun.effects.messages": 2,
            "statefun.effects.delayed": 0,
            "statefun.effects.egress": 0,
            "statefun.state.read_bytes": 0,
            "statefun.state.written_bytes": 0,
        }

    def test_an_invocation_spans_attributes(self) -> None:
        traced = Traced()
        traced.send(ints(1, 2))
        second = [s for s in traced.spans if s.name == "invoke test/echo"][1]
        assert dict(second.attributes or {}) == {
            "statefun.function.type": "test/echo",
            "statefun.function.id": "e1",
            "statefun.message.typename": "io.statefun.types/int",
            "statefun.message.index": 1,
            "statefun.batch.size": 2,
            "statefun.caller.type": "test/caller",
            "statefun.caller.id": "c7",
            "statefun.outcome": "ok",
        }

    def test_an_unsampled_request_records_nothing(self) -> None:
        traced = Traced(sampled=False)
        traced.send(ints(1))
        traced.fail(ints(0), InvocationFailed)
        assert traced.spans == ()


class TestErrors:
    def test_a_function_that_raises(self) -> None:
        traced = Traced()
        traced.fail(ints(1, 0), InvocationFailed)
        server = traced.one("test/echo")
        failed = [s for s in traced.spans if s.name == "invoke test/echo"][1]
        assert failed.status.status_code is StatusCode.ERROR
        assert failed.status.description == "ZeroDivisionError: zero"
        attributes = failed.attributes or {}
        assert (attributes["statefun.outcome"], attributes["error.type"]) == (
            "function_error",
            "function_error",
        )
        [event] = failed.events
        assert (event.name, (event.attributes or {})["exception.type"]) == (
            "exception",
            "ZeroDivisionError",
        )
        assert server.status.status_code is StatusCode.ERROR
        assert server.status.description == (
            "function `test/echo` id='e1' failed on `io.statefun.types/int` (message 2 of 2):"
            " ZeroDivisionError: zero"
        )
        server_attributes = dict(server.attributes or {})
        assert server_attributes == {
            "rpc.system": "statefun",
            "rpc.service": "test/echo",
            "statefun.function.type": "test/echo",
            "statefun.function.id": "e1",
            "statefun.batch.size": 2,
            "statefun.outcome": "function_error",
            "error.type": "function_error",
        }
        assert [e.name for e in server.events] == ["exception"]

    def test_a_message_that_cannot_be_decoded(self) -> None:
        traced = Traced()
        bad = TypedValue(typename="test/Other", has_value=True, value=b"x")
        traced.fail(request(ECHO, call(bad)), InvocationFailed)
        assert [s.name for s in traced.spans] == ["test/echo"]  # no call, so no child span
        assert (traced.one("test/echo").attributes or {})["error.type"] == "bad_message"

    def test_requests_for_no_function(self) -> None:
        traced = Traced()
        traced.fail(b"\xff", MalformedRequest)
        traced.fail(request(Address("test/nope", "x"), call(typed(STRING, "x"))), UnknownFunction)
        malformed, unknown = traced.spans
        for span, kind in ((malformed, "malformed"), (unknown, "unknown_function")):
            assert span.name == "unknown" and span.kind is SpanKind.SERVER
            assert span.status.status_code is StatusCode.ERROR
            assert dict(span.attributes or {}) == {
                "rpc.system": "statefun",
                "statefun.function.type": "unknown",
                "statefun.outcome": kind,
                "error.type": kind,
            }

    def test_a_dead_letter_is_an_error_of_its_invocation_only(self) -> None:
        traced = Traced(on_error=DeadLetters("test/dead", topic="dead"))
        traced.send(ints(-1, 1))
        server = traced.one("test/echo")
        first = [s for s in traced.spans if s.name == "invoke test/echo"][0]
        assert first.status.status_code is StatusCode.ERROR
        assert server.status.status_code is StatusCode.UNSET
        assert (server.attributes or {})["statefun.dead_letters"] == 1


def test_without_an_exporter_package(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "statefun", "serve", "tests.test_tracing:functions", "--tracing"],
        cwd=ROOT,
        env={**os.environ, "OTEL_TRACES_EXPORTER": "otlp_proto_http"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (
        2,
        "statefun: error: --tracing: OTEL_TRACES_EXPORTER=otlp_proto_http: no installed package"
        " provides the span exporter `otlp_proto_http`; for OTLP over HTTP, pip install"
        " opentelemetry-exporter-otlp-proto-http and set OTEL_TRACES_EXPORTER=otlp_proto_http"
        " (`otlp` is gRPC: opentelemetry-exporter-otlp-proto-grpc); `console` prints spans,"
        " `none` exports nothing\n",
    )


WITHOUT_SDK = """
import sys
sys.modules["opentelemetry.sdk"] = None  # an import of it now raises ImportError
sys.modules["opentelemetry.sdk.trace"] = None
from statefun.cli import main
sys.exit(main(["serve", "examples.greeter.functions:functions", "--tracing", "--port", "0"]))
"""


def test_without_the_sdk() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_SDK], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stderr) == (
        2,
        "statefun: error: --tracing needs opentelemetry-sdk (beside opentelemetry-api, the"
        " `otel` extra): pip install opentelemetry-sdk, or pip install -e '.[otel]'"
        " opentelemetry-sdk in the SDK's checkout\n",
    )


functions = echo_functions()
"""For `statefun serve tests.test_tracing:functions`."""
