"""The HTTP ceiling as an ASGI app, for uvicorn: what uvicorn alone costs a request.

    uvicorn app_ceiling:app --http httptools --loop uvloop --no-access-log

Like http_server.py's aiohttp ``ceiling``: it reads the whole body and answers
the reply our SDK gives for it, computed once at import, so no SDK work is done
per request. The cost of a request here is the least any SDK served by uvicorn
could cost on this machine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import contract
import impl_ours
from worker import drive

Event = MutableMapping[str, Any]

_call = impl_ours.setup(drive)
ANSWERS = {body: _call(body) for body in contract.load_payloads().values()}
HEADERS = [(b"content-type", b"application/octet-stream")]


async def app(
    scope: Event, receive: Callable[[], Awaitable[Event]], send: Callable[[Event], Awaitable[None]]
) -> None:
    if scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    chunks: list[bytes] = []
    more = True
    while more:
        event = await receive()
        chunks.append(event.get("body", b""))
        more = event.get("more_body", False)
    answer = ANSWERS[b"".join(chunks)]
    headers = [*HEADERS, (b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})
