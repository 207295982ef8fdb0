"""Many idle or slow clients do not stop a normal request from being answered.

aiohttp serves every connection on one event loop, so a connection that sends
nothing, or its headers a byte at a time, costs a socket and a little memory,
never a worker. `--keepalive-timeout` bounds how long such a connection is kept.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Callable, Generator, Mapping
from contextlib import ExitStack, contextmanager

from examples.greeter.functions import GREET, GreetRequest
from statefun import Address
from statefun._generated.request_reply_pb2 import FromFunction
from tests.serve.process import HANG_GUARD, Served
from tests.wire.builders import call, request, typed

Serve = Callable[..., Served]
GREETER = "examples.greeter.functions:functions"
ANA = request(Address("example/person", "Ana"), call(typed(GREET, GreetRequest("Ana"))))
HEAD = (
    b"POST /statefun HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
    b"Content-Length: 1\r\n\r\n"
)


def post(port: int, body: bytes = ANA, headers: Mapping[str, str] = {}) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_GUARD)
    try:
        all_headers = {"Content-Type": "application/octet-stream", **headers}
        connection.request("POST", "/statefun", body, all_headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def connections(port: int, count: int, stack: ExitStack) -> list[socket.socket]:
    return [
        stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD))
        for _ in range(count)
    ]


@contextmanager
def sending_slowly(sockets: list[socket.socket]) -> Generator[None, None, None]:
    """Each socket gets HEAD one byte at a time, round after round, until the block ends."""
    stop = threading.Event()

    def trickle() -> None:
        for byte in range(len(HEAD) - 1):  # bounded: never the last byte, never a request
            for connection in sockets:
                connection.sendall(HEAD[byte : byte + 1])
            if stop.wait(0.05):
                return

    thread = threading.Thread(target=trickle)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(HANG_GUARD)


def test_200_idle_and_50_slow_connections_leave_a_normal_request_answered(serve: Serve) -> None:
    served = serve(GREETER)
    with ExitStack() as stack:
        connections(served.port, 200, stack)
        slow = connections(served.port, 50, stack)
        with sending_slowly(slow):
            status, body = post(served.port)
    assert status == 200
    missing = FromFunction.FromString(body).incomplete_invocation_context.missing_values
    assert [m.state_name for m in missing] == ["visits"]


def test_the_keepalive_timeout_closes_idle_stalled_and_kept_alive_connections(
    serve: Serve,
) -> None:
    served = serve(GREETER, "--keepalive-timeout", "0.5")
    with ExitStack() as stack:
        idle, stalled, kept_alive = connections(served.port, 3, stack)
        stalled.sendall(HEAD[:20])  # half a request line: the headers never end
        kept_alive.sendall(HEAD.replace(b"Content-Length: 1", b"Content-Length: 0"))
        assert kept_alive.recv(4096).startswith(b"HTTP/1.1 400 ")  # an empty body
        # The server hangs up on each (recv sees the end), rather than the hang guard firing.
        assert [c.recv(4096) for c in (idle, stalled)] == [b"", b""]
        assert kept_alive.recv(4096) == b""


def test_headers_over_the_line_limit_get_400(serve: Serve) -> None:
    served = serve(GREETER)
    status, body = post(served.port, headers={"X-Padding": "x" * 9000})
    assert status == 400
    assert b"8190" in body
