"""The pytest plugin, run in pytest's own `pytester` sandbox."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).parents[2]

GREETER_TEST = """
from statefun import Address, KafkaRecord
from examples.greeter.functions import GREET, GreetRequest, functions

def test_greets(statefun_runtime):
    runtime = statefun_runtime(functions)
    runtime.send(Address("example/person", "Ana"), GREET, GreetRequest("Ana"))
    runtime.run_until_idle()
    assert runtime.kafka_records("example/greets") == [
        KafkaRecord("example/greets", topic="greetings", key="Ana",
                    value="Hello Ana! You have been seen 1 times."),
    ]
"""


def test_the_fixture(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # for `examples`
    pytester.makepyfile(GREETER_TEST)
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)


def test_the_option_points_runtimes_at_an_endpoint(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from statefun.local import HttpTransport

        def test_endpoint(statefun_runtime):
            runtime = statefun_runtime()
            assert repr(runtime._engine.transport) == "HttpTransport('http://127.0.0.1:1/statefun')"
        """
    )
    result = pytester.runpytest_subprocess("--statefun-endpoint", "http://127.0.0.1:1/statefun")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["statefun: the statefun_runtime fixture calls functions at http://127.0.0.1:1/statefun"]
    )


def test_no_header_line_by_default(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    assert "statefun:" not in result.stdout.str()


def test_the_option_is_in_its_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["StateFun local runtime:", "*--statefun-endpoint=URL*"])


def test_loading_the_plugin_imports_no_runtime() -> None:
    code = (
        "import sys, statefun.testing.pytest_plugin;"
        " print(sorted(m for m in sys.modules if m.startswith(('statefun.local', 'hypothesis', 'yaml', 'aiohttp'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
