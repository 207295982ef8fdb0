"""``statefun serve`` for ``functions.py`` plus a side channel for the test: every request is
logged as one line, ``E2E-HANDSHAKE {json}``, saying which states the runtime attached (and
whether each had a value) and which the answer reported missing (an
``IncompleteInvocationContext``).

    python -m tests.e2e.apps.handshake.server --port 8000
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from statefun._generated.request_reply_pb2 import FromFunction, ToFunction
from statefun.aiohttp import make_app

from .functions import VERSION, functions

MARK = "E2E-HANDSHAKE"


def describe(request: bytes, answer: bytes) -> dict[str, object]:
    to_fn = ToFunction.FromString(request).invocation
    from_fn = FromFunction.FromString(answer)
    return {
        "version": VERSION,
        "target": f"{to_fn.target.namespace}/{to_fn.target.type}/{to_fn.target.id}",
        "invocations": len(to_fn.invocations),
        "states": {s.state_name: s.state_value.has_value for s in to_fn.state},
        "missing": [m.state_name for m in from_fn.incomplete_invocation_context.missing_values],
        "mutations": [m.state_name for m in from_fn.invocation_result.state_mutations],
    }


@web.middleware
async def spy(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    body = await request.read()
    response = await handler(request)
    if (
        isinstance(response, web.Response)
        and response.status == 200
        and isinstance(response.body, bytes)
    ):
        print(MARK, json.dumps(describe(body, response.body), sort_keys=True), flush=True)
    return response


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    app = make_app(functions)
    app.middlewares.append(spy)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
