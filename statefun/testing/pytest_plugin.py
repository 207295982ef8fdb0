"""The pytest plugin: a ``statefun_runtime`` fixture for tests on the local runtime.

Registered under the ``pytest11`` entry point, so installing ``statefun-sdk``
is enough::

    from statefun.testing import RuntimeFactory

    def test_greets(statefun_runtime: RuntimeFactory) -> None:
        runtime = statefun_runtime(functions)
        runtime.send(Address("example/person", "Ana"), GREET, GreetRequest("Ana"))
        runtime.run_until_idle()
        assert runtime.kafka_records("example/greets") == [
            KafkaRecord("example/greets", topic="greetings", key="Ana",
                        value="Hello Ana! You have been seen 1 times."),
        ]

``--statefun-endpoint URL`` runs the same tests against functions served at
URL (by any SDK) instead of in process. The local runtime is imported only when
the fixture is first used.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from ._factory import RuntimeFactory

if TYPE_CHECKING:
    from statefun import Functions
    from statefun.local import LocalRuntime, Module

__all__ = ("statefun_runtime",)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("statefun", "StateFun local runtime")
    group.addoption(
        "--statefun-endpoint",
        metavar="URL",
        default=None,
        help="make statefun_runtime call the functions at this HTTP endpoint instead of in process",
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    endpoint = config.getoption("statefun_endpoint", None)
    if endpoint:
        return f"statefun: the statefun_runtime fixture calls functions at {endpoint}"
    return None


@pytest.fixture
def statefun_runtime(request: pytest.FixtureRequest) -> Iterator[RuntimeFactory]:
    """A factory of :class:`statefun.local.LocalRuntime`\\ s, closed after the test.

    Its type is :class:`statefun.testing.RuntimeFactory`::

        runtime = statefun_runtime(functions)                     # in process
        runtime = statefun_runtime(functions, module="module.yaml")
    """
    from statefun.local import HttpTransport, LocalRuntime

    endpoint: str | None = request.config.getoption("statefun_endpoint", None)
    made: list[LocalRuntime] = []

    def factory(
        functions: Functions | None = None,
        *,
        module: Module | str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> LocalRuntime:
        if endpoint and "transport" not in options:
            options["transport"] = HttpTransport(endpoint)
        runtime = LocalRuntime(functions, module=module, **options)
        made.append(runtime)
        return runtime

    yield factory
    for runtime in made:
        runtime.close()
