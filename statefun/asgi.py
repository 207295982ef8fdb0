"""Serve functions as an ASGI application: under uvicorn, granian or hypercorn, or mounted.

>>> app = make_asgi_app(functions)

then ``uvicorn module:app`` (or ``granian --interface asgi module:app``), or mount
it in a Starlette or FastAPI application::

    from starlette.applications import Starlette
    from starlette.routing import Mount

    web = Starlette(routes=[Mount("/statefun", app=make_asgi_app(functions, path="/"))])

It answers as :mod:`statefun.aiohttp` does: ``200`` with exactly
``Content-Type: application/octet-stream``; ``400``, ``404``, ``413`` and
``500`` with a one-line reason; ``405`` for another method at ``path`` and
``404`` for another path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from datetime import timedelta

from ._errors import DefinitionError
from ._handler import DEFAULT_INVOCATION_TIMEOUT, Handler
from ._http import Reply, respond, too_large
from ._middleware import InvocationMiddleware, RequestMiddleware
from ._registry import Functions

__all__ = ("ASGIApp", "make_asgi_app")

# ASGI's events are dicts of anything (Starlette says MutableMapping[str, Any]);
# `object` here, so that each value read is checked before it is used.
Scope = MutableMapping[str, object]
Event = MutableMapping[str, object]
Receive = Callable[[], Awaitable[Event]]
Send = Callable[[Event], Awaitable[None]]


class _Disconnected(Exception):
    """The client went away before its body arrived: nobody to answer."""


DEFAULT_MAX_BODY_SIZE = 32 * 1024 * 1024


class ASGIApp:
    """An ASGI 3 application serving a :class:`statefun.Functions` registry.

    Build it with :func:`make_asgi_app`.
    """

    __slots__ = ("handler", "path", "max_body_size")

    def __init__(self, handler: Handler, path: str, max_body_size: int) -> None:
        self.handler = handler
        self.path = path
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await _lifespan(receive, send)
        # websocket and anything else: not ours; returning refuses it

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _route_path(scope) != self.path:
            await _send(send, Reply(404, b"not found\n", "text/plain; charset=utf-8"))
            await _drain(receive)
            return
        if scope.get("method") != "POST":
            await _send(
                send,
                Reply(405, b"POST a ToFunction here\n", "text/plain; charset=utf-8"),
                allow=True,
            )
            await _drain(receive)
            return
        try:
            body = await _read(scope, receive, self.max_body_size)
        except _Disconnected:
            return
        reply = too_large(self.max_body_size) if body is None else await respond(self.handler, body)
        await _send(send, reply)

    def __repr__(self) -> str:
        return f"ASGIApp({self.handler.functions!r}, path={self.path!r})"


def make_asgi_app(
    functions: Functions,
    *,
    path: str = "/statefun",
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    invocation_timeout: timedelta | None = DEFAULT_INVOCATION_TIMEOUT,
    middleware: Sequence[RequestMiddleware | InvocationMiddleware] = (),
) -> ASGIApp:
    """Return an ASGI application serving ``functions`` with POST at ``path``.

    The parameters are :func:`statefun.aiohttp.make_app`'s. Mounted under a
    prefix (Starlette's ``Mount``), ``path`` is relative to it: ``"/"`` there.
    """
    if not path.startswith("/"):
        raise DefinitionError(f"path {path!r} must start with '/'")
    if max_body_size < 1:
        raise DefinitionError(f"max_body_size={max_body_size!r} must be positive")
    handler = Handler(functions, invocation_timeout=invocation_timeout, middleware=middleware)
    return ASGIApp(handler, path, max_body_size)


def _route_path(scope: Scope) -> str:
    """The path within the app: a mount's prefix (``root_path``) taken off, as Starlette does."""
    path = scope.get("path")
    root = scope.get("root_path", "")
    if not isinstance(path, str):
        return ""
    if isinstance(root, str) and root and path.startswith(root):
        path = path[len(root) :] or "/"
    return path


async def _read(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None once it is over ``limit`` (the rest is read and dropped)."""
    headers = scope.get("headers")
    if isinstance(headers, (list, tuple)):
        for header in headers:  # pyright: ignore[reportUnknownVariableType]
            if isinstance(header, (list, tuple)) and header and header[0] == b"content-length":
                try:
                    declared = int(header[1])  # pyright: ignore[reportUnknownArgumentType]
                except (ValueError, TypeError, IndexError):
                    declared = 0
                if declared > limit:
                    await _drain(receive)
                    return None
    chunks: list[bytes] = []
    size = 0
    while True:
        event = await receive()
        if event.get("type") != "http.request":
            raise _Disconnected
        chunk = event.get("body", b"")
        if not isinstance(chunk, bytes):
            chunk = bytes(chunk) if isinstance(chunk, bytearray) else b""
        size += len(chunk)
        more = bool(event.get("more_body", False))
        if size > limit:
            await _drain(receive, more=more)
            return None
        chunks.append(chunk)
        if not more:
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _drain(receive: Receive, more: bool = True) -> None:
    while more:
        event = await receive()
        more = event.get("type") == "http.request" and bool(event.get("more_body", False))


async def _send(send: Send, reply: Reply, allow: bool = False) -> None:
    headers = [
        (b"content-type", reply.content_type.encode()),
        (b"content-length", str(len(reply.body)).encode()),
    ]
    if allow:
        headers.append((b"allow", b"POST"))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


async def _lifespan(receive: Receive, send: Send) -> None:
    # Nothing to start or stop: acknowledge both, so servers that insist on lifespan are happy.
    while True:
        event = await receive()
        if event.get("type") == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif event.get("type") == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
