"""`RuntimeFactory`: the type of the ``statefun_runtime`` fixture, for typed tests."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the local runtime is loaded only when a test uses it
    from statefun import Functions
    from statefun.local import Clock, LocalRuntime, Module, Transport

__all__ = ("RuntimeFactory",)


class RuntimeFactory(Protocol):
    """The type of the ``statefun_runtime`` fixture: builds a :class:`statefun.local.LocalRuntime`.

    Takes the arguments of ``LocalRuntime``; every runtime it built is closed
    after the test. Annotate the fixture with it::

        from statefun.testing import RuntimeFactory

        def test_greets(statefun_runtime: RuntimeFactory) -> None:
            runtime = statefun_runtime(functions)
    """

    def __call__(
        self,
        functions: Functions | None = None,
        *,
        module: Module | str | os.PathLike[str] | None = None,
        transport: Transport | None = None,
        clock: Clock | None = None,
        raise_function_errors: bool = True,
        max_requests: int = 10_000,  # statefun.local's DEFAULT_MAX_REQUESTS
    ) -> LocalRuntime:
        """Build a runtime, as ``LocalRuntime(...)`` would."""
        ...
