"""One HTTP contestant for bench/run_http.py: an aiohttp server on 127.0.0.1.

    <venv>/bin/python bench/http_server.py ours|official|ceiling
    <venv>/bin/python bench/http_server.py verify URL

Serving, it binds a free port (port 0), prints ``port N`` on stdout once it
accepts connections, and runs until SIGTERM/SIGINT. Access logging is off for
every contestant, and each answers with ``Content-Type: application/octet-stream``:

  ours      ``statefun.aiohttp.make_app`` over impl_ours' four functions (project .venv)
  official  apache-flink-statefun 3.3.0 the way its docs serve it: an aiohttp
            handler that awaits ``RequestReplyHandler.handle_async(await request.read())``
  ceiling   the HTTP ceiling: reads the body and answers the precomputed reply
            for it (our SDK's answer, computed once at start-up), no SDK work

``verify`` posts each contract payload to URL and checks the answer with
bench/contract.py (status 200, the content type, and the decoded values); run
it in the project .venv, whose generated classes decode every server's answer.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import urllib.request
from typing import Any

import contract

OCTET = "application/octet-stream"


def app_for(kind: str) -> Any:
    from aiohttp import web

    if kind == "ours":
        import impl_ours

        from statefun.aiohttp import make_app

        return make_app(impl_ours.registry())
    if kind == "official":
        import impl_official

        handler = impl_official.sf.RequestReplyHandler(impl_official.registry())

        async def handle_official(request: web.Request) -> web.Response:
            body = await request.read()
            answer = await handler.handle_async(body)
            return web.Response(body=answer, content_type=OCTET)

        app = web.Application()
        app.add_routes([web.post("/statefun", handle_official)])
        return app
    if kind == "ceiling":
        import impl_ours
        from worker import drive

        call = impl_ours.setup(drive)
        answers = {body: call(body) for body in contract.load_payloads().values()}

        async def handle_ceiling(request: web.Request) -> web.Response:
            body = await request.read()
            return web.Response(body=answers[body], content_type=OCTET)

        app = web.Application()
        app.add_routes([web.post("/statefun", handle_ceiling)])
        return app
    raise SystemExit(f"unknown server kind {kind!r}")


async def serve(kind: str) -> None:
    from aiohttp import web

    runner = web.AppRunner(app_for(kind), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = runner.addresses[0][1]
    sys.stdout.write(f"port {port}\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def verify(url: str) -> None:
    payloads = contract.load_payloads()
    for name, body in payloads.items():
        for _ in range(2):  # stateless: the same answer twice
            req = urllib.request.Request(
                url, data=body, method="POST", headers={"Content-Type": OCTET}
            )
            with urllib.request.urlopen(req, timeout=10) as resp:
                contract._eq(f"{name}: status", resp.status, 200)
                contract._eq(f"{name}: content type", resp.headers.get("Content-Type"), OCTET)
                contract.check(name, body, resp.read())
    print("ok")


if __name__ == "__main__":
    if sys.argv[1] == "verify":
        verify(sys.argv[2])
    else:
        asyncio.run(serve(sys.argv[1]))
