"""Serve functions over HTTP with aiohttp: the shell around :class:`statefun.Handler`.

>>> app = make_app(functions)                      # a ready aiohttp Application

then serve it (this blocks until the process is stopped)::

    web.run_app(app, host="127.0.0.1", port=8000)

or mount the handler into an application of your own::

    app.router.add_post("/statefun", make_handler(functions))

Answers: ``200`` with exactly ``Content-Type: application/octet-stream``; ``400``
with a one-line reason for a body that is not a ``ToFunction`` or cannot be
read (a ``Content-Encoding`` it does not decode under); ``404`` naming
an unknown function type; ``413`` for a body over ``max_body_size``; ``500`` when
a function raises, its results cannot be sent, or the runtime holds a state under
another type (logged once, with the traceback, on the ``statefun`` logger).

Such a record carries its facts as ``extra`` fields too, for structured logs:
``statefun_function``, ``statefun_id``, ``statefun_typename`` (when one message is
to blame) and ``statefun_error`` (the exception's type and message). No record
holds a message payload or a state value.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from aiohttp import web

from ._errors import (
    DefinitionError,
)
from ._handler import DEFAULT_INVOCATION_TIMEOUT, Handler
from ._http import OCTET_STREAM, respond
from ._middleware import InvocationMiddleware, RequestMiddleware
from ._registry import Functions
from ._text import one_line

__all__ = ("DEFAULT_MAX_BODY_SIZE", "make_app", "make_handler")

logger = logging.getLogger("statefun")

DEFAULT_MAX_BODY_SIZE = 32 * 1024 * 1024
"""The runtime's own default ``payload_max_bytes`` (32 MiB)."""


def make_handler(
    functions: Functions,
    *,
    invocation_timeout: timedelta | None = DEFAULT_INVOCATION_TIMEOUT,
    middleware: Sequence[RequestMiddleware | InvocationMiddleware] = (),
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Return an aiohttp request handler that serves ``functions``.

    Mount it on a POST route. The body limit is the application's
    ``client_max_size``: set it to at least 32 MiB, as :func:`make_app` does.
    ``invocation_timeout`` and ``middleware`` are :class:`statefun.Handler`'s.
    """
    handler = Handler(functions, invocation_timeout=invocation_timeout, middleware=middleware)

    async def handle(request: web.Request) -> web.Response:
        try:
            body = await request.read()
        except web.RequestPayloadError as exc:
            # A Content-Encoding the body does not decode under (the runtime never
            # compresses a request): aiohttp's message spans lines. aiohttp drops
            # the connection after this answer, so the client is told to.
            reason = one_line(" ".join(f"the request body cannot be read: {exc}".split()))
            unreadable = web.Response(status=400, text=f"{reason}\n")
            unreadable.force_close()
            return unreadable
        reply = await respond(handler, body)
        if reply.content_type == OCTET_STREAM:
            return web.Response(body=reply.body, content_type=OCTET_STREAM)
        return web.Response(
            status=reply.status, body=reply.body, content_type="text/plain", charset="utf-8"
        )

    return handle


def make_app(
    functions: Functions,
    *,
    path: str = "/statefun",
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    invocation_timeout: timedelta | None = DEFAULT_INVOCATION_TIMEOUT,
    middleware: Sequence[RequestMiddleware | InvocationMiddleware] = (),
) -> web.Application:
    """Return an aiohttp Application serving ``functions`` with POST at ``path``.

    Parameters
    ----------
    functions
        The registry to serve; it is frozen from now on.
    path
        The URL path the runtime's ``urlPathTemplate`` points at.
    max_body_size
        The largest request body accepted, in bytes; larger ones get ``413``.
        Defaults to the runtime's own 32 MiB limit.
    invocation_timeout
        How long an ``async`` function may take for one message before the
        request is answered 500 (the runtime retries); ``None`` for no limit.
    middleware
        Wraps each request or invocation (:class:`statefun.Handler`'s ``middleware``).
    """
    if not path.startswith("/"):
        raise DefinitionError(f"path {path!r} must start with '/'")
    if max_body_size < 1:
        raise DefinitionError(f"max_body_size={max_body_size!r} must be positive")
    app = web.Application(client_max_size=max_body_size)
    app.router.add_post(
        path,
        make_handler(functions, invocation_timeout=invocation_timeout, middleware=middleware),
    )
    return app
