"""Transports: how a request body reaches a function and its answer comes back.

One seam, like httpx's transports: ``await transport.request(target, body)``
gives the ``FromFunction`` bytes for a ``ToFunction`` body. :class:`InProcess`
calls a :class:`statefun.Handler` directly (the real wire format, no sockets),
:class:`HttpTransport` POSTs to any endpoint (functions written with the Java,
Go or JS SDKs too), :class:`MockTransport` answers with whatever bytes a test
crafts.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from .._address import Address
from .._errors import DefinitionError
from .._handler import Handler
from .._registry import Functions
from .._unix import UNIX_SCHEMES, okhttp_path, split_unix_url
from ._errors import EndpointFailure, RoutingFailure
from ._module import Module

if TYPE_CHECKING:
    import aiohttp
    from yarl import URL

__all__ = ("HttpTransport", "InProcess", "MockTransport", "Transport")

_OCTET_STREAM = "application/octet-stream"


class Transport(Protocol):
    """Carries one request to the function at ``target`` and returns the answer's body.

    Raise :class:`EndpointFailure` for an answer the runtime would not accept.
    """

    async def request(self, target: Address, body: bytes, /) -> bytes:
        """Send ``body`` (a ``ToFunction``) and return the ``FromFunction`` bytes."""
        ...

    async def aclose(self) -> None:
        """Release connections, if any."""
        ...


class InProcess:
    """Calls the functions in this process, through the same bytes handler a server uses.

    >>> runtime = LocalRuntime(transport=InProcess(functions))   # what LocalRuntime(functions) does

    A function's exception comes out as :class:`statefun.InvocationFailed`; the
    runtime re-raises the function's own exception (or reports a 500).
    """

    __slots__ = ("handler",)

    def __init__(
        self, functions: Functions, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        # No invocation timeout: a test decides how long it waits, not the SDK.
        self.handler = (
            Handler(functions, invocation_timeout=None)
            if clock is None
            else Handler(functions, invocation_timeout=None, clock=clock)
        )

    async def request(self, target: Address, body: bytes, /) -> bytes:
        return await self.handler.handle(body)

    async def aclose(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"InProcess({self.handler.functions!r})"


class HttpTransport:
    """POSTs requests to a function endpoint, checking the answer as the runtime does.

    >>> HttpTransport("http://127.0.0.1:8000/statefun")
    HttpTransport('http://127.0.0.1:8000/statefun')
    >>> transport = HttpTransport(Module.load("examples/greeter/module.yaml"))
    >>> transport.url_for(Address("example/person", "Ana"))  # each function type at its endpoint's URL
    'http://127.0.0.1:8000/statefun'

    ``{function.name}`` in a URL is replaced by the function type's name. The
    answer must be 2xx with exactly ``Content-Type: application/octet-stream``
    (the OkHttp transport's rule, the stricter of the two).

    An ``http+unix:///run/statefun/functions.sock/statefun`` URL is reached over
    that Unix socket with the request OkHttp sends for it: ``POST /%2Fstatefun``,
    ``Host: unused`` (the path after the ``.sock`` file as one encoded segment),
    so a server that answers this transport answers the runtime's.

    Parameters
    ----------
    url
        An endpoint URL (template), or a :class:`Module` whose endpoints give them.
    timeout
        The whole time one request may take (the runtime's ``call`` timeout).
    """

    __slots__ = ("url", "timeout", "_session", "_unix_sessions")

    def __init__(self, url: str | Module, *, timeout: timedelta = timedelta(minutes=1)) -> None:
        self.url = url
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        # A connector is bound to one socket file: one session per file.
        self._unix_sessions: dict[str, aiohttp.ClientSession] = {}

    def url_for(self, target: Address) -> str:
        """The URL the request for ``target`` goes to."""
        if isinstance(self.url, Module):
            endpoint = self.url.endpoint(target.typename)
            if endpoint is None:
                raise RoutingFailure.no_provider(target.typename, f"{target}")
            return endpoint.url(target.typename)
        return self.url.replace("{function.name}", target.name)

    async def request(self, target: Address, body: bytes, /) -> bytes:
        import aiohttp

        url = self.url_for(target)
        where = f"{target.typename} id={target.id!r} at {url}"
        session, post_to = self._session_for(url, where)
        headers = {"Content-Type": _OCTET_STREAM, "Accept": _OCTET_STREAM}
        try:
            async with session.post(post_to, data=body, headers=headers) as response:
                answer = await response.read()
                status = response.status
                content_type = response.headers.get("Content-Type")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise EndpointFailure(
                f"Failure forwarding a message to a remote function: {type(exc).__name__}: {exc}",
                where,
            ) from exc
        if not 200 <= status < 300:
            detail = answer[:200].decode("utf-8", "replace").strip()
            raise EndpointFailure(
                f"Non successful HTTP response code {status}" + (f": {detail}" if detail else ""),
                where,
                status=status,
            )
        if content_type != _OCTET_STREAM:
            raise EndpointFailure(
                f"Unexpected Content-Type {content_type!r}; the runtime needs exactly {_OCTET_STREAM!r}",
                where,
                status=status,
            )
        return answer

    def _session_for(self, url: str, where: str) -> tuple[aiohttp.ClientSession, str | URL]:
        """The session that reaches ``url``, and what to POST to on it."""
        import aiohttp
        from yarl import URL

        timeout = aiohttp.ClientTimeout(total=self.timeout.total_seconds())
        if url.partition(":")[0].lower() not in UNIX_SCHEMES:
            if self._session is None:
                self._session = aiohttp.ClientSession(timeout=timeout)
            return self._session, url
        parts = split_unix_url(url)
        if parts is None:  # the runtime's own words, from UnixDomainHttpEndpoint
            raise EndpointFailure("Unix Domain Socket path should contain a .sock file", where)
        socket_file, path = parts
        session = self._unix_sessions.get(socket_file)
        if session is None:
            session = aiohttp.ClientSession(
                connector=aiohttp.UnixConnector(path=socket_file), timeout=timeout
            )
            self._unix_sessions[socket_file] = session
        # encoded=True, or the client would decode %2F back into a slash.
        return session, URL(f"http://unused{okhttp_path(path)}", encoded=True)

    async def aclose(self) -> None:
        sessions = [*self._unix_sessions.values()]
        if self._session is not None:
            sessions.append(self._session)
        self._session = None
        self._unix_sessions.clear()
        for session in sessions:
            await session.close()

    def __repr__(self) -> str:
        return f"HttpTransport({self.url!r})"


class MockTransport:
    """Answers every request with ``handler(body)``: for crafting responses in tests.

    ``handler`` may be ``async``. Use it to produce what no correct SDK would,
    such as a negative delay, and see the runtime refuse it:

    >>> runtime = LocalRuntime(transport=MockTransport(lambda body: b"\\xff\\xff\\xff"))
    >>> runtime.send(Address("example/person", "Ana"), GREET, GreetRequest("Ana"))
    >>> runtime.run_until_idle()
    Traceback (most recent call last):
    ...
    statefun.local.EndpointFailure: Unable to parse a Protobuf message: ... (example/person id='Ana')
    """

    __slots__ = ("handler",)

    def __init__(self, handler: Callable[[bytes], bytes | Awaitable[bytes]]) -> None:
        self.handler = handler

    async def request(self, target: Address, body: bytes, /) -> bytes:
        answer = self.handler(body)
        if inspect.isawaitable(answer):
            answer = await answer
        if not isinstance(answer, bytes):
            raise DefinitionError(
                f"MockTransport handler returned `{type(answer).__name__}`, expected `bytes`"
            )
        return answer

    async def aclose(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"MockTransport({self.handler!r})"
