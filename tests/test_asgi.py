"""The ASGI application: called directly, mounted in Starlette, and served by uvicorn."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import MutableMapping

import pytest
from aiohttp import ClientSession

from examples.greeter.functions import GREET, GreetRequest
from examples.greeter.functions import functions as greeter
from statefun import INT, Address, DefinitionError, Functions, Message, Result, State
from statefun._generated.request_reply_pb2 import FromFunction
from statefun.asgi import make_asgi_app
from tests.wire.builders import call, request, typed

ANA = Address("example/person", "Ana")
BODY = request(ANA, call(typed(GREET, GreetRequest("Ana"))), state={"visits": None})

Event = MutableMapping[str, object]


async def asgi_call(
    app: object,
    chunks: list[bytes],
    *,
    method: str = "POST",
    path: str = "/statefun",
    root_path: str = "",
    headers: list[tuple[bytes, bytes]] | None = None,
    disconnect: bool = False,
) -> list[Event]:
    """Call ``app`` as a server would, with the body in ``chunks``; return what it sent."""
    incoming: list[Event] = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    if disconnect:
        incoming[-1]["more_body"] = True
        incoming.append({"type": "http.disconnect"})
    sent: list[Event] = []

    async def receive() -> Event:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(event: Event) -> None:
        sent.append(event)

    scope: Event = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": root_path,
        "headers": headers or [],
    }
    await app(scope, receive, send)  # type: ignore[operator]
    return sent


def status_and_body(sent: list[Event]) -> tuple[int, dict[bytes, bytes], bytes]:
    start, body = sent
    assert start["type"] == "http.response.start" and body["type"] == "http.response.body"
    headers = dict(start["headers"])  # type: ignore[call-overload]
    return start["status"], headers, body["body"]  # type: ignore[return-value]


class TestAnswers:
    def test_200_with_exactly_octet_stream(self) -> None:
        status, headers, body = status_and_body(
            asyncio.run(asgi_call(make_asgi_app(greeter), [BODY]))
        )
        assert (status, headers[b"content-type"]) == (200, b"application/octet-stream")
        assert headers[b"content-length"] == str(len(body)).encode()
        result = FromFunction.FromString(body).invocation_result
        assert [m.state_name for m in result.state_mutations] == ["visits"]

    def test_a_body_in_many_chunks(self) -> None:
        chunks = [BODY[i : i + 3] for i in range(0, len(BODY), 3)]
        one = status_and_body(asyncio.run(asgi_call(make_asgi_app(greeter), [BODY])))
        many = status_and_body(asyncio.run(asgi_call(make_asgi_app(greeter), chunks)))
        assert many == one

    def test_not_a_to_function_is_400_in_one_line(self) -> None:
        status, headers, body = status_and_body(
            asyncio.run(asgi_call(make_asgi_app(greeter), [b"\xff\xff"]))
        )
        assert status == 400 and body.startswith(b"the body is not a ToFunction")
        assert body.count(b"\n") == 1 and headers[b"content-type"].startswith(b"text/plain")

    def test_a_raising_function_is_500_logged_once(self, caplog: pytest.LogCaptureFixture) -> None:
        functions = Functions()

        @functions.bind("test/fails", accepts=INT)
        def fails(state: State, msg: Message[int]) -> Result:
            raise RuntimeError("no\nway")

        body = request(Address("test/fails", "f"), call(typed(INT, 1)))
        with caplog.at_level(logging.ERROR, logger="statefun"):
            sent = asyncio.run(asgi_call(make_asgi_app(functions), [body]))
        status, _, answer = status_and_body(sent)
        assert (status, answer) == (
            500,
            b"function `test/fails` id='f' failed on `io.statefun.types/int` (message 1 of 1):"
            b" RuntimeError: no\\nway\n",
        )
        assert len([r for r in caplog.records if r.name == "statefun"]) == 1

    def test_another_path_404_another_method_405(self) -> None:
        app = make_asgi_app(greeter)
        assert status_and_body(asyncio.run(asgi_call(app, [b""], path="/other")))[0] == 404
        status, headers, _ = status_and_body(asyncio.run(asgi_call(app, [b""], method="GET")))
        assert (status, headers[b"allow"]) == (405, b"POST")


class TestBodyLimit:
    def test_a_declared_length_over_the_limit(self) -> None:
        app = make_asgi_app(greeter, max_body_size=10)
        sent = asyncio.run(
            asgi_call(app, [BODY], headers=[(b"content-length", str(len(BODY)).encode())])
        )
        status, _, body = status_and_body(sent)
        assert (status, body) == (
            413,
            b"the request body is larger than 10 bytes (max_body_size)\n",
        )

    def test_a_streamed_body_over_the_limit(self) -> None:
        app = make_asgi_app(greeter, max_body_size=10)
        sent = asyncio.run(asgi_call(app, [b"x" * 6, b"x" * 6, b"x" * 6]))
        assert status_and_body(sent)[0] == 413

    def test_exactly_the_limit_is_read(self) -> None:
        app = make_asgi_app(greeter, max_body_size=len(BODY))
        assert status_and_body(asyncio.run(asgi_call(app, [BODY])))[0] == 200

    def test_a_client_that_goes_away_gets_nothing(self) -> None:
        assert asyncio.run(asgi_call(make_asgi_app(greeter), [BODY[:5]], disconnect=True)) == []


class TestDefinition:
    def test_bad_options(self) -> None:
        with pytest.raises(DefinitionError):
            make_asgi_app(greeter, path="statefun")
        with pytest.raises(DefinitionError):
            make_asgi_app(greeter, max_body_size=0)

    def test_lifespan_is_acknowledged(self) -> None:
        incoming: list[Event] = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        sent: list[Event] = []

        async def receive() -> Event:
            return incoming.pop(0)

        async def send(event: Event) -> None:
            sent.append(event)

        asyncio.run(make_asgi_app(greeter)({"type": "lifespan"}, receive, send))
        assert [e["type"] for e in sent] == [
            "lifespan.startup.complete",
            "lifespan.shutdown.complete",
        ]


def test_mounted_in_starlette() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    web = Starlette(routes=[Mount("/functions", app=make_asgi_app(greeter, path="/"))])
    sent = asyncio.run(asgi_call(web, [BODY], path="/functions/"))
    status, headers, body = status_and_body(sent)
    assert (status, headers[b"content-type"]) == (200, b"application/octet-stream")
    assert FromFunction.FromString(body).HasField("invocation_result")


def test_served_by_uvicorn() -> None:
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        make_asgi_app(greeter), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)

    async def go() -> tuple[int, str, bytes]:
        serving = asyncio.ensure_future(server.serve())
        try:
            while not server.started:
                await asyncio.sleep(0.01)
            async with ClientSession() as session:
                url = f"http://127.0.0.1:{port}/statefun"
                async with session.post(url, data=BODY) as response:
                    return response.status, response.headers["Content-Type"], await response.read()
        finally:
            server.should_exit = True
            await serving

    status, content_type, body = asyncio.run(go())
    assert (status, content_type) == (200, "application/octet-stream")
    assert [
        m.state_name for m in FromFunction.FromString(body).invocation_result.state_mutations
    ] == ["visits"]
