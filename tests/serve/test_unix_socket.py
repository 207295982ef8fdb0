"""`statefun serve --uds PATH`: a Unix socket file instead of a TCP port, as a sidecar
serves the runtime's OkHttp transport (`http+unix://` URLs, protocol.md §1.6)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import stat
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from examples.greeter.functions import GREET, GreetRequest
from examples.greeter.functions import functions as greeter
from statefun import Address, KafkaRecord
from statefun.local import HttpTransport, LocalRuntime
from tests.serve.process import Served, both_servers, run_serve

Serve = Callable[..., Served]
GREETER = "examples.greeter.functions:functions"
ANA = Address("example/person", "Ana")

pytestmark = both_servers


def greet_ana_twice(runtime: LocalRuntime) -> list[KafkaRecord]:
    with runtime:
        for _ in range(2):
            runtime.send(ANA, GREET, GreetRequest("Ana"))
        runtime.run_until_idle()
        return runtime.kafka_records()


def get(socket_file: str, path: str) -> tuple[int, str]:
    """GET ``path`` over the socket, as a probe or curl --unix-socket would."""

    async def go() -> tuple[int, str]:
        connector = aiohttp.UnixConnector(path=socket_file)
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.get(f"http://localhost{path}") as response:
                return response.status, await response.text()

    return asyncio.run(go())


def stale_socket_file(path: Path) -> None:
    """What a SIGKILLed server leaves: a socket file no process listens on."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))


class TestServing:
    def test_the_runtime_s_http_transport_gets_the_same_records_as_in_process(
        self, serve: Serve, short_tmp: Path
    ) -> None:
        socket_file = short_tmp / "functions.sock"
        served = serve(GREETER, "--uds", str(socket_file))
        url = f"http+unix://{socket_file}/statefun"
        assert served.output[-1] == (
            f"statefun: serving example/person, example/greeter at {url}\n"
        )
        # HttpTransport asks for /%2Fstatefun, as OkHttp does.
        over_the_socket = greet_ana_twice(LocalRuntime(transport=HttpTransport(url)))
        assert over_the_socket == greet_ana_twice(LocalRuntime(greeter))
        assert len(over_the_socket) == 2

    def test_the_probes_and_the_plain_path_answer_on_the_socket_too(
        self, serve: Serve, short_tmp: Path
    ) -> None:
        served = serve(GREETER, "--uds", str(short_tmp / "functions.sock"))
        assert get(served.socket_file, "/healthz") == (200, "ok\n")
        assert get(served.socket_file, "/readyz") == (200, "ready\n")
        assert get(served.socket_file, "/statefun")[0] == 405

    def test_owner_and_group_may_connect_whatever_the_umask(
        self, serve: Serve, short_tmp: Path
    ) -> None:
        served = serve(GREETER, "--uds", str(short_tmp / "functions.sock"))
        assert stat.S_IMODE(os.stat(served.socket_file).st_mode) == 0o660
        other = serve(GREETER, "--uds", str(short_tmp / "other.sock"), "--uds-mode", "666")
        assert stat.S_IMODE(os.stat(other.socket_file).st_mode) == 0o666

    def test_the_file_is_removed_at_exit(self, serve: Serve, short_tmp: Path) -> None:
        served = serve(GREETER, "--uds", str(short_tmp / "functions.sock"))
        served.signal(signal.SIGTERM)
        assert served.wait() == 0
        assert not os.path.exists(served.socket_file)

    def test_a_relative_path_is_named_absolute(self, serve: Serve, short_tmp: Path) -> None:
        # The runtime needs the absolute path in its URL.
        served = serve(GREETER, "--uds", os.path.relpath(short_tmp / "f.sock"))
        assert served.socket_file == str(short_tmp / "f.sock")


class TestStaleAndTaken:
    def test_a_stale_socket_file_is_replaced(self, serve: Serve, short_tmp: Path) -> None:
        socket_file = short_tmp / "functions.sock"
        stale_socket_file(socket_file)
        served = serve(GREETER, "--uds", str(socket_file))
        assert any(
            f"removed the stale socket file {socket_file}, which no process listened on" in line
            for line in served.output
        )
        assert get(served.socket_file, "/healthz") == (200, "ok\n")

    def test_after_sigkill_the_next_start_takes_the_file_over(
        self, serve: Serve, short_tmp: Path
    ) -> None:
        socket_file = str(short_tmp / "functions.sock")
        first = serve(GREETER, "--uds", socket_file)
        first.stop()  # SIGKILL: nothing cleans up
        assert os.path.exists(socket_file)
        second = serve(GREETER, "--uds", socket_file)
        assert get(second.socket_file, "/healthz") == (200, "ok\n")

    def test_a_socket_another_server_listens_on(self, serve: Serve, short_tmp: Path) -> None:
        socket_file = short_tmp / "functions.sock"
        serve(GREETER, "--uds", str(socket_file))
        done = run_serve(GREETER, "--uds", str(socket_file))
        assert (done.returncode, done.stderr) == (
            2,
            f"statefun: error: --uds {socket_file}: another process is listening on it\n",
        )

    def test_a_file_that_is_not_a_socket_is_left_alone(self, short_tmp: Path) -> None:
        socket_file = short_tmp / "functions.sock"
        socket_file.write_text("keep me")
        done = run_serve(GREETER, "--uds", str(socket_file))
        assert (done.returncode, done.stderr) == (
            2,
            f"statefun: error: --uds {socket_file} exists and is not a socket: not replacing it\n",
        )
        assert socket_file.read_text() == "keep me"


class TestBadCommandLines:
    @pytest.mark.parametrize(
        ("args", "error"),
        [
            (
                ["--uds", "/nowhere/at/all/functions.sock"],
                "cannot listen on --uds /nowhere/at/all/functions.sock: No such file or directory",
            ),
            (
                ["--uds", "/tmp/functions"],
                "--uds /tmp/functions: the file name must end in `.sock`; the runtime finds the"
                " socket in an `http+unix://` URL by that suffix",
            ),
            (
                ["--uds", "/tmp/x.sock/functions.sock"],
                "--uds /tmp/x.sock/functions.sock: the folder /tmp/x.sock ends in `.sock`, so the"
                " runtime would take it for the socket; put the socket where only its own name"
                " does",
            ),
            (
                ["--uds", "/tmp/" + "x" * 120 + ".sock"],
                f"cannot listen on --uds /tmp/{'x' * 120}.sock: AF_UNIX path too long",
            ),
            (
                ["--uds", "/tmp/f.sock", "--port", "8000"],
                "--uds and --port cannot be used together: a socket file has no port",
            ),
            (
                ["--uds", "/tmp/f.sock", "--host", "0.0.0.0"],
                "--uds and --host cannot be used together: a socket file has no host",
            ),
            (
                ["--uds", "/tmp/f.sock", "--tls-cert", "c.pem", "--tls-key", "k.pem"],
                "--uds cannot be used with --tls-cert: the runtime speaks plain HTTP over a Unix"
                " socket, even to an https+unix:// URL",
            ),
            (
                ["--uds-mode", "600"],
                "--uds-mode needs --uds: it is the socket file's permissions",
            ),
        ],
    )
    def test_one_line_and_status_2(self, args: list[str], error: str) -> None:
        done = run_serve(GREETER, *args)
        assert (done.returncode, done.stderr) == (2, f"statefun: error: {error}\n")

    def test_a_mode_that_is_not_octal(self) -> None:
        done = run_serve(GREETER, "--uds", "/tmp/f.sock", "--uds-mode", "rw")
        assert done.returncode == 2
        assert done.stderr.endswith(
            "statefun serve: error: argument --uds-mode: expected an octal file mode such as"
            " 660, got 'rw'\n"
        )
