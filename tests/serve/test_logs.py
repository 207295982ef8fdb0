"""What `statefun serve` logs: no line per request unless asked, one record per failure,
text or JSON, and never a payload or a state value."""

from __future__ import annotations

import http.client
import json
import logging
import sys
from collections.abc import Callable

import pytest

from statefun import STRING, Address
from statefun._generated.request_reply_pb2 import TypedValue
from statefun.serve import JsonFormatter
from tests.serve.process import HANG_GUARD, Served, both_servers
from tests.serve.secretive import SECRET
from tests.wire.builders import call, request, typed

Serve = Callable[..., Served]
GREETER = "examples.greeter.functions:functions"
SECRETIVE = "tests.serve.secretive:functions"

pytestmark = both_servers


def post(port: int, body: bytes, path: str = "/statefun") -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_GUARD)
    try:
        connection.request("POST", path, body, {"Content-Type": "application/octet-stream"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def greet(served: Served) -> None:
    greeting = TypedValue(typename="example/GreetRequest", has_value=True, value=b'{"name":"Ana"}')
    body = request(Address("example/person", "Ana"), call(greeting), state={"visits": None})
    assert post(served.port, body) == 200


def stop(served: Served) -> list[str]:
    """Stop ``served`` with SIGTERM; every line it wrote, the serving line first."""
    import signal

    served.signal(signal.SIGTERM)
    assert served.wait() == 0
    return served.output


class TestAccessLog:
    def test_off_by_default(self, serve: Serve) -> None:
        served = serve(GREETER)
        greet(served)
        greet(served)
        lines = stop(served)
        # Nothing at all per request: only the serving line, and the drain's.
        assert not [line for line in lines if ".access" in line or "POST" in line], lines

    def test_one_line_per_request_with_the_option(self, serve: Serve, server: str) -> None:
        served = serve(GREETER, "--access-log")
        greet(served)
        greet(served)
        lines = stop(served)
        access = [line for line in lines if f"{server}.access" in line]
        assert len(access) == 2, lines
        assert all('"POST /statefun HTTP/1.1" 200' in line for line in access)


def failing_requests() -> list[tuple[str, bytes]]:
    """(what fails, request body): every way a request fails, each carrying the secret."""
    token = {"token": typed(STRING, SECRET), "saved": None}
    bad_saved = TypedValue(
        typename="test/Profile", has_value=True, value=f'{{"pin": "{SECRET}"}}'.encode()
    )
    return [
        (
            "the function raises",
            request(Address("test/secretive", "s1"), call(typed(STRING, SECRET)), state=token),
        ),
        (
            "a state value does not decode",
            request(
                Address("test/secretive", "s2"),
                call(typed(STRING, "read saved")),
                state={"token": typed(STRING, SECRET), "saved": bad_saved},
            ),
        ),
        (
            "a message does not decode",
            request(
                Address("test/profile", "s3"),
                call(TypedValue(typename="test/Profile", has_value=True, value=bad_saved.value)),
            ),
        ),
    ]


def dead_letter() -> bytes:
    return request(Address("test/picky", "s4"), call(typed(STRING, SECRET)))


class TestFailures:
    @pytest.mark.parametrize("log_format", ["text", "json"])
    def test_logged_once_each_and_never_with_the_secret(
        self, serve: Serve, log_format: str
    ) -> None:
        served = serve(SECRETIVE, "--access-log", "--log-format", log_format)
        for _, body in failing_requests():
            assert post(served.port, body) == 500
        assert post(served.port, dead_letter()) == 200
        output = "".join(stop(served))
        assert SECRET not in output
        failures = [line for line in output.splitlines() if " failed on " in line]
        assert len(failures) == 3, output
        assert sum("dead letter: " in line for line in output.splitlines()) == 1, output

    def test_json_lines_carry_the_fields_and_the_traceback(self, serve: Serve, server: str) -> None:
        served = serve(SECRETIVE, "--access-log", "--log-format", "json")
        [(_, raising), *_] = failing_requests()
        assert post(served.port, raising) == 500
        assert post(served.port, dead_letter()) == 200
        serving, *lines = stop(served)
        assert serving.startswith("statefun: serving ")
        records = [json.loads(line) for line in lines]  # every line is one JSON object
        [failure] = [r for r in records if r["level"] == "ERROR"]
        assert failure["logger"] == "statefun"
        assert failure["statefun_function"] == "test/secretive"
        assert failure["statefun_id"] == "s1"
        assert failure["statefun_typename"] == "io.statefun.types/string"
        assert failure["statefun_error"] == "RuntimeError: refused the message"
        assert failure["message"] == (
            "function `test/secretive` id='s1' failed on `io.statefun.types/string`"
            " (message 1 of 1): RuntimeError: refused the message"
        )
        assert failure["exception"].startswith("Traceback (most recent call last):")
        assert failure["exception"].endswith("RuntimeError: refused the message")
        assert set(failure) == {
            "time",
            "level",
            "logger",
            "message",
            "statefun_function",
            "statefun_id",
            "statefun_typename",
            "statefun_error",
            "exception",
        }
        [letter] = [r for r in records if r["level"] == "WARNING"]
        assert letter["statefun_typename"] == "io.statefun.types/string"
        assert letter["statefun_error"] == "statefun.Permanent: not this one"
        access = [r for r in records if r["logger"] == f"{server}.access"]
        assert [(r["first_request_line"], r["response_status"]) for r in access] == [
            ("POST /statefun HTTP/1.1", 500),
            ("POST /statefun HTTP/1.1", 200),
        ]


class TestJsonFormatter:
    def record(self, **extra: object) -> logging.LogRecord:
        record = logging.LogRecord("statefun", logging.WARNING, __file__, 1, "a %s", ("b",), None)
        record.created = 1767225600.25  # 2026-01-01T00:00:00.250Z
        for key, value in extra.items():
            setattr(record, key, value)
        return record

    def test_the_keys(self) -> None:
        line = JsonFormatter().format(self.record(statefun_id="x\ny", other="left out"))
        assert json.loads(line) == {
            "time": "2026-01-01T00:00:00.250Z",
            "level": "WARNING",
            "logger": "statefun",
            "message": "a b",
            "statefun_id": "x\ny",
        }
        assert "\n" not in line

    def test_objects_are_left_out_as_they_may_hold_payloads(self) -> None:
        line = JsonFormatter().format(self.record(statefun_dead_letter=object()))
        assert "statefun_dead_letter" not in json.loads(line)

    def test_the_exception_text(self) -> None:
        try:
            raise ValueError("boom")
        except ValueError:
            record = self.record()
            record.exc_info = sys.exc_info()
        entry = json.loads(JsonFormatter().format(record))
        assert entry["exception"].splitlines()[-1] == "ValueError: boom"
