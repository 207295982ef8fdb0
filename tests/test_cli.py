"""`statefun serve`, run as users run it: a subprocess on a loopback port."""

from __future__ import annotations

import ast
import http.client
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from examples.greeter.functions import GREET, GreetRequest
from statefun import INT, Address
from statefun._generated.request_reply_pb2 import FromFunction
from tests.wire.builders import call, request, typed

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def statefun(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "statefun", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def post(port: int, body: bytes, path: str = "/statefun") -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", path, body, {"Content-Type": "application/octet-stream"})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


@pytest.fixture
def server() -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "statefun",
            "serve",
            "examples.greeter.functions:functions",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--path",
            "/statefun",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120  # a hang guard
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read() if process.stdout else ""
                    raise AssertionError(f"statefun serve did not start:\n{output}") from None
                time.sleep(0.05)
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


class TestServe:
    def test_the_greeter_answers_the_protocol_with_the_incomplete_round_trip(
        self, server: tuple[subprocess.Popen[str], int]
    ) -> None:
        _, port = server
        ana = Address("example/person", "Ana")
        greet = call(typed(GREET, GreetRequest("Ana")))
        status, content_type, body = post(port, request(ana, greet))
        assert (status, content_type) == (200, "application/octet-stream")
        missing = FromFunction.FromString(body).incomplete_invocation_context.missing_values
        assert [m.state_name for m in missing] == ["visits"]

        status, _, body = post(
            port,
            request(ana, greet, greet, state={"visits": typed(INT, 4)}),
        )
        assert status == 200
        result = FromFunction.FromString(body).invocation_result
        assert [INT.decode(m.state_value.value) for m in result.state_mutations] == [6]
        assert [m.argument.value for m in result.outgoing_messages] == [
            b'{"name":"Ana","visits":5}',
            b'{"name":"Ana","visits":6}',
        ]

    def test_sigterm_stops_it_cleanly(self, server: tuple[subprocess.Popen[str], int]) -> None:
        process, _ = server
        process.send_signal(signal.SIGTERM)
        assert process.wait(120) == 0  # 120 s: a hang guard only, for a loaded machine
        assert process.stdout is not None
        assert "statefun: serving example/person, example/greeter at http://127.0.0.1:" in (
            process.stdout.read()
        )


class TestBadCommandLines:
    def test_target_without_colon(self) -> None:
        done = statefun("serve", "examples.greeter.functions")
        assert done.returncode == 2
        assert done.stderr == (
            "statefun: error: expected MODULE:ATTRIBUTE (e.g. examples.greeter.functions:functions),"
            " got 'examples.greeter.functions'\n"
        )

    def test_missing_module(self) -> None:
        done = statefun("serve", "no_such_module_here:functions")
        assert done.returncode == 2
        assert done.stderr.startswith("statefun: error: cannot import module 'no_such_module_here'")

    def test_missing_attribute(self) -> None:
        done = statefun("serve", "examples.greeter.functions:nothing")
        assert done.returncode == 2
        assert done.stderr == (
            "statefun: error: module 'examples.greeter.functions' has no attribute 'nothing'\n"
        )

    def test_attribute_of_the_wrong_kind(self) -> None:
        done = statefun("serve", "examples.greeter.functions:GREET")
        assert done.returncode == 2
        assert done.stderr == (
            "statefun: error: examples.greeter.functions:GREET is a Type,"
            " expected a statefun.Functions registry\n"
        )

    def test_a_module_whose_own_imports_fail(self, tmp_path: Path) -> None:
        (tmp_path / "needs_libfoo.py").write_text('raise ImportError("libfoo is not installed")\n')
        done = statefun("serve", "needs_libfoo:functions", cwd=tmp_path)
        assert done.returncode == 2
        assert done.stderr == (
            "statefun: error: module 'needs_libfoo' failed to import:"
            " ImportError: libfoo is not installed\n"
        )

    def test_port_in_use(self) -> None:
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            done = statefun("serve", "examples.greeter.functions:functions", "--port", str(port))
        assert done.returncode == 2
        assert done.stderr.startswith(f"statefun: error: cannot listen on 127.0.0.1:{port}")


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function, as absolute names."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def test_the_commands_import_each_other_one_way() -> None:
    """`main` loads `statefun run`; the command modules share only the leaf statefun.loader."""
    cli = imported_modules(ROOT / "statefun" / "cli.py")
    run = imported_modules(ROOT / "statefun" / "local" / "_cli.py")
    loader = imported_modules(ROOT / "statefun" / "loader.py")
    assert {"statefun.local._cli", "statefun.loader"} <= cli
    assert "statefun.loader" in run
    assert "statefun.cli" not in run
    assert not {m for m in loader if m.startswith(("statefun.cli", "statefun.local"))}
