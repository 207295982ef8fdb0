"""The metrics and tracing middleware `statefun serve` adds, and its ``/metrics`` site."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .._errors import DefinitionError
from ..loader import CliError
from ._options import UNWIND_SECONDS, ServeOptions

if TYPE_CHECKING:
    from aiohttp import web

    from .._middleware import InvocationMiddleware, RequestMiddleware
    from ..metrics import Metrics


class Observability:
    """The middleware ``options`` ask for, outermost first, and what to close at the end.

    Tracing wraps metrics, so that a span covers all the work of its request and
    the metrics time the handler alone.
    """

    def __init__(self, options: ServeOptions) -> None:
        self.middleware: list[RequestMiddleware | InvocationMiddleware] = []
        self.metrics: Metrics | None = None
        self._close: list[Callable[[], None]] = []
        if options.metrics or options.metrics_port is not None:
            try:
                from ..metrics import Metrics
            except ImportError:
                raise CliError(
                    "--metrics needs prometheus-client (the `metrics` extra): pip install"
                    " prometheus-client, or pip install -e '.[metrics]' in the SDK's checkout"
                ) from None
            try:
                self.metrics = Metrics()
            except DefinitionError as exc:
                raise CliError(f"--metrics: {exc}") from None
            self.middleware.append(self.metrics)
        # Last: it starts the SDK's export thread, which nothing else may then fail to stop.
        if options.tracing:
            try:
                from ..tracing import Tracing, configure

                self._close.append(configure())
            except ImportError:
                raise CliError(
                    "--tracing needs opentelemetry-sdk (beside opentelemetry-api, the `otel`"
                    " extra): pip install opentelemetry-sdk, or pip install -e '.[otel]'"
                    " opentelemetry-sdk in the SDK's checkout"
                ) from None
            except DefinitionError as exc:
                raise CliError(f"--tracing: {exc}") from None
            self.middleware.insert(0, Tracing())

    def close(self) -> None:
        for close in self._close:
            close()


def scrape(metrics: Metrics) -> Callable[[web.Request], Awaitable[web.Response]]:
    from aiohttp import web

    from ..metrics import CONTENT_TYPE

    async def scrape(request: web.Request) -> web.Response:
        return web.Response(body=metrics.scrape(), headers={"Content-Type": CONTENT_TYPE})

    return scrape


async def start_metrics(
    metrics: Metrics | None, sock: socket.socket | None
) -> web.AppRunner | None:
    """The ``/metrics`` site on the bound ``sock`` (``--metrics-port``); None if not asked."""
    if metrics is None or sock is None:
        return None
    from aiohttp import web

    app = web.Application()
    app.router.add_get("/metrics", scrape(metrics))
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=UNWIND_SECONDS)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner
