"""One HTTP contestant for bench/run_http.py, on 127.0.0.1; and ``verify URL``.

    <venv>/bin/python bench/http_server.py KIND [PORT]
    <venv>/bin/python bench/http_server.py verify URL

Every contestant is started this way, so this file is where each one's command
line is written down. The aiohttp kinds bind PORT (default 0, a free one), print
``port N`` on stdout once they accept connections, and run until SIGTERM/SIGINT,
access log off. The other kinds need PORT and replace this process (``exec``) with
the server's own command, so the PID the runner started is the server's:

  ours          ``statefun serve app_ours:functions --port PORT``: the CLI with its
                defaults, as users run it (aiohttp, no access log)
  ours-uvloop   the same with ``--loop uvloop``
  ours-uvicorn  the same with ``--server uvicorn --loop uvloop`` (httptools parses)
  ours-workers2, ours-uvicorn-workers2   ``ours`` and ``ours-uvicorn`` with ``--workers 2``
  ours-access-log  ``ours`` with ``--access-log``: a line per request (into the runner's
                log file), which ``statefun serve`` wrote by default before
  ours-metrics  ``ours`` with ``--metrics``
  ours-tracing  ``ours`` with ``--tracing``, OTEL_TRACES_EXPORTER=none: spans are
                made, recorded and ended, then not exported
  asgi-uvicorn  ``python -m uvicorn app_ours:app --http httptools --loop uvloop
                --no-access-log``: statefun.asgi.make_asgi_app under uvicorn's own CLI
  ours-granian  ``python -m granian --interface asgi app_ours:app``: the same app under
                granian, its defaults (one worker process, no access log)
  ours-aiohttp  ``statefun.aiohttp.make_app`` in a bare AppRunner, access log off
  official      apache-flink-statefun 3.3.0 the way its docs serve it: an aiohttp
                handler that awaits ``RequestReplyHandler.handle_async(await request.read())``
  ceiling       the HTTP ceiling: reads the body and answers the precomputed reply
                for it (our SDK's answer, computed once at start-up), no SDK work
  ceiling-uvicorn  the same ceiling as an ASGI app (app_ceiling.py) under uvicorn, with
                asgi-uvicorn's options: what uvicorn alone costs a request
  java          ``java -jar java/target/statefun-bench-java.jar PORT``: the official Java
                SDK 3.3.0 on Undertow (bench/java/; bench/java_build.py builds it)

``verify`` posts each contract payload to URL and checks the answer with
bench/contract.py (status 200, the content type, and the decoded values); run
it in the project .venv, whose generated classes decode every server's answer.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import urllib.request
from pathlib import Path
from typing import Any

import contract

OCTET = "application/octet-stream"
BENCH = Path(__file__).resolve().parent
JAR = BENCH / "java" / "target" / "statefun-bench-java.jar"
AIOHTTP_KINDS = ("ours-aiohttp", "official", "ceiling")
# `statefun serve` as users run it: its defaults, and each option worth a row.
SERVE_OPTIONS: dict[str, list[str]] = {
    "ours": [],
    "ours-uvloop": ["--loop", "uvloop"],
    "ours-uvicorn": ["--server", "uvicorn", "--loop", "uvloop"],
    "ours-workers2": ["--workers", "2"],
    "ours-uvicorn-workers2": ["--server", "uvicorn", "--loop", "uvloop", "--workers", "2"],
    "ours-metrics": ["--metrics"],
    "ours-tracing": ["--tracing"],
    # statefun serve as it was before the access log went off by default.
    "ours-access-log": ["--access-log"],
}
# Spans are made, recorded and ended, and then not exported: what tracing costs the
# request path (an exporter works in the SDK's own thread, at its own cost).
SERVE_ENV: dict[str, dict[str, str]] = {"ours-tracing": {"OTEL_TRACES_EXPORTER": "none"}}
EXEC_KINDS = (*SERVE_OPTIONS, "asgi-uvicorn", "ours-granian", "ceiling-uvicorn", "java")


def command(kind: str, port: int) -> list[str]:
    """The command line that serves ``kind`` on 127.0.0.1:``port`` (the exec kinds)."""
    py = sys.executable
    if kind in SERVE_OPTIONS:
        statefun = str(Path(py).parent / "statefun")
        return [statefun, "serve", "app_ours:functions", "--port", str(port), *SERVE_OPTIONS[kind]]
    if kind in ("asgi-uvicorn", "ceiling-uvicorn"):
        module = "app_ours" if kind == "asgi-uvicorn" else "app_ceiling"
        return [
            *(py, "-m", "uvicorn", f"{module}:app", "--host", "127.0.0.1", "--port", str(port)),
            *("--http", "httptools", "--loop", "uvloop", "--no-access-log"),
            *("--log-level", "warning"),
        ]
    if kind == "ours-granian":
        return [
            *(py, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1"),
            *("--port", str(port), "--log-level", "warning", "app_ours:app"),
        ]
    if kind == "java":
        if not JAR.exists():
            raise SystemExit(f"{JAR} is missing: python bench/java_build.py builds it")
        return ["java", "-jar", str(JAR), str(port)]
    raise SystemExit(f"unknown server kind {kind!r}")


def app_for(kind: str) -> Any:
    from aiohttp import web

    if kind == "ours-aiohttp":
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


async def serve(kind: str, port: int) -> None:
    from aiohttp import web

    runner = web.AppRunner(app_for(kind), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
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


def main(argv: list[str]) -> None:
    kind = argv[1]
    if kind == "verify":
        verify(argv[2])
        return
    port = int(argv[2]) if len(argv) > 2 else 0
    if kind in AIOHTTP_KINDS:
        asyncio.run(serve(kind, port))
        return
    if kind in EXEC_KINDS and port == 0:
        raise SystemExit(f"{kind} needs a PORT")
    cmd = command(kind, port)
    os.chdir(BENCH)  # app_ours is imported from here
    os.environ.update(SERVE_ENV.get(kind, {}))
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main(sys.argv)
