"""The HTTP transport, against aiohttp servers on loopback ports."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path

import pytest
from aiohttp import web

from examples.greeter.functions import GREET, GreetRequest
from examples.greeter.functions import functions as greeter
from statefun import STRING, Address, KafkaRecord
from statefun.aiohttp import make_app
from statefun.local import EndpointFailure, HttpTransport, LocalRuntime, Module

GREETER_YAML = Path(__file__).parents[2] / "examples" / "greeter" / "module.yaml"
ANA = Address("example/person", "Ana")


@contextmanager
def serving(app: web.Application) -> Generator[str, None, None]:
    """Serve ``app`` on a free loopback port from a thread of its own; yields the base URL."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@contextmanager
def serving_unix(app: web.Application, socket_file: Path) -> Generator[None, None, None]:
    """Serve ``app`` on the Unix socket ``socket_file`` from a thread of its own."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.UnixSite(runner, str(socket_file)).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def answering(status: int, body: bytes, content_type: str) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        await request.read()
        response = web.Response(status=status, body=body)
        response.headers["Content-Type"] = content_type
        return response

    app = web.Application()
    app.router.add_post("/statefun", handle)
    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def greet_ana_twice(runtime: LocalRuntime) -> list[KafkaRecord]:
    for _ in range(2):
        runtime.send(ANA, GREET, GreetRequest("Ana"))
    runtime.run_until_idle()
    return runtime.kafka_records()


class TestAgainstARealServer:
    def test_same_records_as_in_process(self) -> None:
        with serving(make_app(greeter)) as base:
            over_http = greet_ana_twice(LocalRuntime(transport=HttpTransport(base + "/statefun")))
        assert over_http == greet_ana_twice(LocalRuntime(greeter))
        assert len(over_http) == 2

    def test_endpoint_urls_from_the_module(self) -> None:
        with serving(make_app(greeter)) as base:
            text = GREETER_YAML.read_text().replace("http://127.0.0.1:8000", base)
            module = Module.parse(text)
            with LocalRuntime(module=module) as runtime:
                runtime.ingest("names", "Ana", b'{"name": "Ana"}')
                runtime.run_until_idle()
                assert [r.value for r in runtime.kafka_records()] == [
                    b"Hello Ana! You have been seen 1 times."
                ]

    def test_function_name_in_the_url(self) -> None:
        assert HttpTransport("http://h/{function.name}").url_for(ANA) == "http://h/person"


class TestRefusedAnswers:
    def run(self, app: web.Application) -> EndpointFailure:
        with serving(app) as base:
            runtime = LocalRuntime(transport=HttpTransport(base + "/statefun"))
            runtime.send(Address("test/any", "x"), STRING, "hi")
            with pytest.raises(EndpointFailure) as info:
                runtime.run_until_idle()
            return info.value

    def test_a_non_2xx_status(self) -> None:
        failure = self.run(answering(500, b"boom", "text/plain"))
        assert failure.status == 500
        assert failure.reason == "Non successful HTTP response code 500: boom"

    def test_a_4xx_status(self) -> None:
        assert (
            self.run(answering(404, b"", "text/plain")).reason
            == "Non successful HTTP response code 404"
        )

    def test_another_content_type(self) -> None:
        failure = self.run(answering(200, b"", "application/octet-stream; charset=utf-8"))
        assert failure.reason == (
            "Unexpected Content-Type 'application/octet-stream; charset=utf-8';"
            " the runtime needs exactly 'application/octet-stream'"
        )

    def test_a_body_that_is_not_a_response(self) -> None:
        failure = self.run(answering(200, b"\xff\xff\xff", "application/octet-stream"))
        assert failure.reason.startswith("Unable to parse a Protobuf message")

    def test_nobody_listening(self) -> None:
        runtime = LocalRuntime(transport=HttpTransport(f"http://127.0.0.1:{free_port()}/statefun"))
        runtime.send(Address("test/any", "x"), STRING, "hi")
        with pytest.raises(
            EndpointFailure, match="^Failure forwarding a message to a remote function"
        ):
            runtime.run_until_idle()


class TestUnixSocket:
    """``http+unix://`` URLs, sent as the runtime's OkHttp transport sends them."""

    def test_the_request_okhttp_sends(self, short_tmp: Path) -> None:
        seen: list[tuple[str, str | None]] = []

        async def handle(request: web.Request) -> web.Response:
            await request.read()
            seen.append((request.raw_path, request.headers.get("Host")))
            return web.Response(body=b"", content_type="application/octet-stream")

        app = web.Application()
        app.router.add_route("*", "/{any:.*}", handle)
        socket_file = short_tmp / "functions.sock"
        with serving_unix(app, socket_file):
            runtime = LocalRuntime(transport=HttpTransport(f"http+unix://{socket_file}/statefun"))
            runtime.send(Address("test/any", "x"), STRING, "hi")
            runtime.run_until_idle()
        # One path segment, its slash encoded, as OkHttp's addPathSegment makes it.
        assert seen == [("/%2Fstatefun", "unused")]

    def test_endpoint_urls_from_the_module(self, short_tmp: Path) -> None:
        seen: list[str] = []

        async def handle(request: web.Request) -> web.Response:
            await request.read()
            seen.append(request.raw_path)
            return web.Response(body=b"", content_type="application/octet-stream")

        app = web.Application()
        app.router.add_route("*", "/{any:.*}", handle)
        socket_file = short_tmp / "functions.sock"
        text = GREETER_YAML.read_text().replace(
            "http://127.0.0.1:8000/statefun", f"http+unix://{socket_file}/fn/{{function.name}}"
        )
        with serving_unix(app, socket_file), LocalRuntime(module=Module.parse(text)) as runtime:
            runtime.ingest("names", "Ana", b'{"name": "Ana"}')
            runtime.run_until_idle()
        assert seen == ["/%2Ffn%2Fperson"]

    def test_a_url_without_a_sock_file(self) -> None:
        runtime = LocalRuntime(transport=HttpTransport("http+unix:///run/functions/statefun"))
        runtime.send(Address("test/any", "x"), STRING, "hi")
        with pytest.raises(EndpointFailure) as info:
            runtime.run_until_idle()
        # The runtime's own words (UnixDomainHttpEndpoint.indexOfSockFile).
        assert str(info.value) == (
            "Unix Domain Socket path should contain a .sock file"
            " (test/any id='x' at http+unix:///run/functions/statefun)"
        )

    def test_nobody_listening(self, short_tmp: Path) -> None:
        url = f"http+unix://{short_tmp}/gone.sock/statefun"
        runtime = LocalRuntime(transport=HttpTransport(url))
        runtime.send(Address("test/any", "x"), STRING, "hi")
        with pytest.raises(
            EndpointFailure, match="^Failure forwarding a message to a remote function"
        ):
            runtime.run_until_idle()
