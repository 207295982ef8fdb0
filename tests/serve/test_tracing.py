"""`statefun serve --tracing`: spans set up from the OTEL_* variables, exported before exit."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from typing import Any

import pytest

from statefun import INT, Address
from tests.serve.process import Served, both_servers
from tests.serve.test_shutdown import post
from tests.wire.builders import call, request, typed

Serve = Callable[..., Served]

pytestmark = both_servers


def spans_printed(output: list[str]) -> list[dict[str, Any]]:
    """The spans the SDK's console exporter wrote: each a JSON object from `{` to `}` lines."""
    spans: list[dict[str, Any]] = []
    block: list[str] | None = None
    for line in output:
        if line == "{\n":
            block = []
        if block is not None:
            block.append(line)
            if line == "}\n":
                spans.append(json.loads("".join(block)))
                block = None
    return spans


def test_spans_are_exported_as_the_environment_says(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "statefun-test")
    served = serve("tests.test_tracing:functions", "--tracing")
    body = request(Address("test/echo", "e1"), call(typed(INT, 1)), call(typed(INT, 2)))
    assert post(served.port, body)[0] == 200
    served.signal(signal.SIGTERM)
    assert served.wait() == 0
    spans = spans_printed(served.output)
    names = sorted(span["name"] for span in spans)
    assert names == ["invoke test/echo"] * 2 + ["test/echo"] + ["the function's own"] * 2
    [server] = [span for span in spans if span["name"] == "test/echo"]
    assert server["kind"] == "SpanKind.SERVER" and server["parent_id"] is None
    assert server["attributes"]["statefun.batch.size"] == 2
    assert server["resource"]["attributes"]["service.name"] == "statefun-test"
    children = [span for span in spans if span["name"] == "invoke test/echo"]
    assert {span["parent_id"] for span in children} == {server["context"]["span_id"]}
    assert {span["context"]["trace_id"] for span in spans} == {server["context"]["trace_id"]}
