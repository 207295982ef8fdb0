"""Graceful shutdown: SIGTERM or SIGINT lets requests in flight finish, within the grace period."""

from __future__ import annotations

import http.client
import signal
import socket
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from statefun import STRING, Address
from statefun._generated.request_reply_pb2 import FromFunction
from tests.serve.process import HANG_GUARD, Served, both_servers, wait_until
from tests.wire.builders import call, request, typed

Serve = Callable[..., Served]
GATED = "tests.serve.gated:functions"

pytestmark = both_servers


def post(port: int, body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_GUARD)
    try:
        connection.request("POST", "/statefun", body, {"Content-Type": "application/octet-stream"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def gated_request(gate: Path) -> bytes:
    return request(Address("test/gated", "one"), call(typed(STRING, str(gate))))


def released(body: bytes) -> list[str]:
    egresses = FromFunction.FromString(body).invocation_result.outgoing_egresses
    return [STRING.decode(e.argument.value) for e in egresses]


def in_flight(served: Served, gate: Path, pool: ThreadPoolExecutor) -> Future[tuple[int, bytes]]:
    """A request sent and being answered: the function has started and waits for the gate."""
    answer = pool.submit(post, served.port, gated_request(gate))
    wait_until((gate / "started").exists, "the gated function starting")
    return answer


def idle_keepalive_connection(port: int) -> socket.socket:
    """A connection that had its whole answer and stays open for the next request."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)
    connection.sendall(b"GET /nothing-here HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    # Read all of it: a server may write the head and the body apart (uvicorn does), and
    # a body left unread would be taken for what the drain sends on this connection.
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += connection.recv(4096)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 40")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += connection.recv(4096)
    return connection


@pytest.mark.parametrize("first", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_a_request_in_flight_gets_its_answer_and_new_connections_are_refused(
    serve: Serve, tmp_path: Path, first: signal.Signals
) -> None:
    served = serve(GATED)
    with idle_keepalive_connection(served.port) as idle, ThreadPoolExecutor(1) as pool:
        answer = in_flight(served, tmp_path, pool)
        served.signal(first)
        served.wait_for(f"{first.name}: refusing new connections; 1 request(s) in flight")

        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", served.port), timeout=HANG_GUARD)
        # Closed while the request is still held, so a client reconnects elsewhere
        # at once rather than wait out the drain.
        assert idle.recv(4096) == b""
        assert not answer.done()

        (tmp_path / "release").touch()
        status, body = answer.result(HANG_GUARD)
    assert status == 200
    assert released(body) == [f"released {tmp_path}"]
    assert served.wait() == 0


def test_a_second_sigterm_does_not_cut_the_drain_short(serve: Serve, tmp_path: Path) -> None:
    served = serve(GATED)
    with ThreadPoolExecutor(1) as pool:
        answer = in_flight(served, tmp_path, pool)
        served.signal(signal.SIGTERM)
        served.wait_for("SIGTERM: refusing new connections")
        served.signal(signal.SIGTERM)
        served.wait_for("SIGTERM ignored: already shutting down, 1 request(s) in flight")
        served.signal(signal.SIGINT)
        served.wait_for("SIGINT ignored: already shutting down, 1 request(s) in flight")

        (tmp_path / "release").touch()
        status, body = answer.result(HANG_GUARD)
    assert (status, released(body)) == (200, [f"released {tmp_path}"])
    assert served.wait() == 0


def cut_off(answer: Future[tuple[int, bytes]], server: str) -> None:
    """Check how a request cut off by the end of the grace ended, on ``server``.

    aiohttp closes its connection without an answer; under uvicorn, which
    answers 500 for a cancelled application, ours answers 503 first. The runtime
    retries either.
    """
    if server == "aiohttp":
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            answer.result(HANG_GUARD)
    else:
        assert answer.result(HANG_GUARD) == (
            503,
            b"shutting down: cancelled after the grace period\n",
        )


def test_a_request_still_running_after_the_grace_is_cancelled_and_the_status_is_1(
    serve: Serve, server: str, tmp_path: Path
) -> None:
    served = serve(GATED, "--grace-period", "0.2")
    with ThreadPoolExecutor(1) as pool:
        answer = in_flight(served, tmp_path, pool)
        served.signal(signal.SIGTERM)
        # Never released: cut off when the grace ends.
        cut_off(answer, server)
    assert served.wait() == 1
    assert any(
        "cancelled 1 request(s) still running after the 0.2 s grace period;"
        " the runtime retries them" in line
        for line in served.output
    )


def test_an_idle_server_exits_0_at_once(serve: Serve) -> None:
    served = serve("examples.greeter.functions:functions", "--grace-period", "3600")
    served.signal(signal.SIGTERM)
    assert served.wait() == 0
    assert any("0 request(s) in flight get up to 3600 s" in line for line in served.output)


def test_invocation_timeout_answers_a_slow_function_500(serve: Serve, tmp_path: Path) -> None:
    # The gate is never opened: the function waits until the server's limit ends it.
    served = serve(GATED, "--invocation-timeout", "0.2")
    status, body = post(served.port, gated_request(tmp_path))
    assert (status, body.decode()) == (
        500,
        "function `test/gated` id='one' failed on `io.statefun.types/string` (message 1 of 1):"
        " InvocationTimeout: function `test/gated` did not finish within 0.2 s"
        " (invocation_timeout)\n",
    )
