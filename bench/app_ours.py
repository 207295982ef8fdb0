"""impl_ours' four functions as ``statefun serve`` and ASGI servers load them.

    statefun serve app_ours:functions            # the CLI, its defaults
    uvicorn app_ours:app --http httptools --loop uvloop
    granian --interface asgi app_ours:app

``functions`` is the registry (the same one the in-process bench times);
``app`` is ``statefun.asgi.make_asgi_app(functions)``, POST at /statefun.
"""

from __future__ import annotations

import impl_ours

from statefun.asgi import make_asgi_app

functions = impl_ours.registry()
app = make_asgi_app(functions)
