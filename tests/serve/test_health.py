"""`/healthz` and `/readyz`, and how readiness follows the drain (`--drain-delay`)."""

from __future__ import annotations

import http.client
import signal
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.serve.process import HANG_GUARD, Served, both_servers, run_serve
from tests.serve.test_shutdown import GATED, in_flight, released

Serve = Callable[..., Served]
GREETER = "examples.greeter.functions:functions"

pytestmark = both_servers


def get(port: int, path: str, method: str = "GET") -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_GUARD)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_both_probes_answer_200_while_serving(serve: Serve) -> None:
    served = serve(GREETER)
    assert get(served.port, "/healthz") == (200, b"ok\n")
    assert get(served.port, "/readyz") == (200, b"ready\n")
    assert get(served.port, "/readyz", "HEAD") == (200, b"")
    # The functions' path is unchanged, and the probes only take GET and HEAD.
    assert get(served.port, "/statefun")[0] == 405
    assert get(served.port, "/healthz", "POST")[0] == 405


def test_during_the_drain_delay_readiness_fails_and_everything_else_is_served(
    serve: Serve,
) -> None:
    # A delay no test waits out: the fixture kills the process at the end.
    served = serve(GREETER, "--drain-delay", "3600")
    served.signal(signal.SIGTERM)
    served.wait_for("SIGTERM: /readyz answers 503; serving on for 3600 s")
    # New connections are still accepted, so nothing routed here meanwhile fails.
    assert get(served.port, "/readyz") == (503, b"shutting down\n")
    assert get(served.port, "/healthz") == (200, b"ok\n")
    assert get(served.port, "/statefun")[0] == 405
    served.signal(signal.SIGTERM)
    served.wait_for("SIGTERM ignored: already shutting down")


def test_after_the_drain_delay_the_drain_goes_on_as_without_one(
    serve: Serve, tmp_path: Path
) -> None:
    served = serve(GATED, "--drain-delay", "0.2")
    with ThreadPoolExecutor(1) as pool:
        answer = in_flight(served, tmp_path, pool)
        served.signal(signal.SIGTERM)
        served.wait_for("SIGTERM: /readyz answers 503; serving on for 0.2 s")
        served.wait_for("SIGTERM: refusing new connections; 1 request(s) in flight")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", served.port), timeout=HANG_GUARD)
        (tmp_path / "release").touch()
        status, body = answer.result(HANG_GUARD)
    assert (status, released(body)) == (200, [f"released {tmp_path}"])
    assert served.wait() == 0


@pytest.mark.parametrize(("path", "probe"), [("/healthz", "liveness"), ("/readyz", "readiness")])
def test_the_functions_cannot_take_a_probes_path(path: str, probe: str) -> None:
    done = run_serve(GREETER, "--path", path)
    assert (done.returncode, done.stderr) == (
        2,
        f"statefun: error: --path {path} is where the {probe} probe is answered: serve the"
        " functions on another path\n",
    )
