"""`statefun run`: module.yaml, JSON lines in, egress JSON lines out."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from examples.greeter.functions import functions as greeter
from statefun.aiohttp import make_app
from statefun.cli import main
from statefun.local import AsyncLocalRuntime
from tests.local.test_http import serving

ROOT = Path(__file__).parents[2]
GREETER = ["examples/greeter/module.yaml", "--functions", "examples.greeter.functions:functions"]
TIMEOUTS = ["examples/timeouts/module.yaml", "--functions", "examples.timeouts.functions:functions"]
NAMES = [{"topic": "names", "key": name, "value": {"name": name}} for name in ["Ana", "Bob", "Ana"]]
GREETINGS = [
    {
        "egress": "example/greets",
        "topic": "greetings",
        "key": "Ana",
        "value": "Hello Ana! You have been seen 1 times.",
    },
    {
        "egress": "example/greets",
        "topic": "greetings",
        "key": "Bob",
        "value": "Hello Bob! You have been seen 1 times.",
    },
    {
        "egress": "example/greets",
        "topic": "greetings",
        "key": "Ana",
        "value": "Hello Ana! You have been seen 2 times.",
    },
]


def lines(*items: object) -> str:
    return "".join((item if isinstance(item, str) else json.dumps(item)) + "\n" for item in items)


def statefun_run(
    args: list[str], stdin: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[dict[str, object]], str]:
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    status = main(["run", *args])
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err


def test_the_readme_demo() -> None:
    """The exact command of the README, in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-m", "statefun", "run", *GREETER],
        input=lines(*NAMES),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert [json.loads(line) for line in result.stdout.splitlines()] == GREETINGS


def test_greeter(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert statefun_run(GREETER, lines(*NAMES), monkeypatch, capsys) == (0, GREETINGS, "")


def test_text_and_base64_values(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin = lines(
        {"topic": "names", "key": "Ana", "text": '{"name": "Ana"}'},
        "",
        {"topic": "names", "key": "Ana", "base64": "eyJuYW1lIjogIkFuYSJ9"},
    )
    status, out, _ = statefun_run(GREETER, stdin, monkeypatch, capsys)
    assert status == 0
    assert [line["value"] for line in out] == [
        "Hello Ana! You have been seen 1 times.",
        "Hello Ana! You have been seen 2 times.",
    ]


def test_endpoint_urls_from_the_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with serving(make_app(greeter)) as base:
        module = tmp_path / "module.yaml"
        module.write_text((ROOT / GREETER[0]).read_text().replace("http://127.0.0.1:8000", base))
        assert statefun_run([str(module)], lines(*NAMES), monkeypatch, capsys) == (0, GREETINGS, "")


class TestTimeouts:
    COMMANDS = (ROOT / "examples" / "timeouts" / "commands.jsonl").read_text()

    def test_virtual_clock(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        status, out, _ = statefun_run(
            [*TIMEOUTS, "--virtual-clock"], self.COMMANDS, monkeypatch, capsys
        )
        assert status == 0
        assert out == [
            {
                "egress": "example/timeouts-out",
                "topic": "timeouts-out",
                "key": "job-1",
                "value": '{"token":"b","text":"fires after 1.5 s","delay_ms":1500}',
            }
        ]

    def test_sleep_lines_on_the_virtual_clock(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        stdin = lines(
            {
                "topic": "timeouts-in",
                "key": "j",
                "value": {"action": "start", "token": "a", "delay_ms": 5000},
            },
            {"sleep": 10},
            {"topic": "timeouts-in", "key": "j", "value": {"action": "cancel", "token": "a"}},
        )
        status, out, _ = statefun_run([*TIMEOUTS, "--virtual-clock"], stdin, monkeypatch, capsys)
        assert (status, [line["value"] for line in out]) == (
            0,
            ['{"token":"a","text":"","delay_ms":5000}'],
        )

    def test_real_time(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        stdin = lines(
            {
                "topic": "timeouts-in",
                "key": "j",
                # Long enough that its cancel, the next line, comes first however
                # loaded the machine is.
                "value": {"action": "start", "token": "a", "delay_ms": 30_000},
            },
            {"topic": "timeouts-in", "key": "j", "value": {"action": "cancel", "token": "a"}},
            {
                "topic": "timeouts-in",
                "key": "j",
                "value": {"action": "start", "token": "b", "delay_ms": 300},
            },
        )
        started = time.monotonic()
        status, out, _ = statefun_run(TIMEOUTS, stdin, monkeypatch, capsys)
        elapsed = time.monotonic() - started
        assert (status, [line["value"] for line in out]) == (
            0,
            ['{"token":"b","text":"","delay_ms":300}'],
        )
        assert elapsed >= 0.3  # on real time, b fired after its delay, never before


class TestFailures:
    def test_a_bad_line(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        status, out, err = statefun_run(GREETER, lines(NAMES[0], "{nope"), monkeypatch, capsys)
        assert (status, len(out)) == (2, 1)
        assert err.startswith("statefun: error: line 2: not JSON: ")

    @pytest.mark.parametrize(
        ("item", "message"),
        [
            (
                {"topic": "names", "key": "Ana"},
                "give exactly one of `value` (JSON), `text` or `base64`",
            ),
            (
                {"topic": "names", "key": 3, "value": 1},
                "`key` must be a string (the target id), got 3",
            ),
            ({"key": "Ana", "value": 1}, "`topic` must be a non-empty string"),
            ({"topic": "names", "key": "Ana", "base64": "!"}, "`base64` is not valid base64"),
            ({"sleep": -1}, "`sleep` must be a non-negative number of seconds"),
            ([1], "expected a JSON object"),
        ],
    )
    def test_bad_records(
        self,
        item: object,
        message: str,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        status, _, err = statefun_run(GREETER, lines(item), monkeypatch, capsys)
        assert status == 2
        assert err.startswith(f"statefun: error: line 1: {message}")

    def test_a_runtime_failure(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        status, _, err = statefun_run(
            GREETER, lines({"topic": "names", "key": None, "value": {}}), monkeypatch, capsys
        )
        assert status == 1
        assert err == (
            "statefun: error: the runtime would fail the job: Kafka record keys must not be null:"
            " the key is the target id (Kafka record on topic 'names' with key None)\n"
        )

    def test_a_function_error(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        status, _, err = statefun_run(
            GREETER, lines({"topic": "names", "key": "Ana", "value": {}}), monkeypatch, capsys
        )
        assert status == 1
        assert "SerdeError" in err
        if sys.version_info >= (3, 11):
            assert (
                "while invoking example/person id='Ana' with example/GreetRequest (message 1 of 1)"
                in err
            )

    def test_a_bad_module(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        (tmp_path / "m.yaml").write_text("kind: nope/nope\nspec: {}\n")
        status, _, err = statefun_run([str(tmp_path / "m.yaml")], "", monkeypatch, capsys)
        assert (status, err) == (
            2,
            f"statefun: error: {tmp_path / 'm.yaml'}, document 1: unknown component kind `nope/nope`\n",
        )


class TestBadFunctions:
    """A bad ``--functions`` is reported as ``statefun serve`` reports a bad target."""

    @pytest.mark.parametrize(
        ("target", "message"),
        [
            (
                "examples.greeter.functions",
                "expected MODULE:ATTRIBUTE (e.g. examples.greeter.functions:functions),"
                " got 'examples.greeter.functions'",
            ),
            (
                "no_such_module_here:functions",
                "cannot import module 'no_such_module_here': No module named 'no_such_module_here'",
            ),
            (
                "examples.greeter.functions:nothing",
                "module 'examples.greeter.functions' has no attribute 'nothing'",
            ),
            (
                "examples.greeter.functions:GREET",
                "examples.greeter.functions:GREET is a Type, expected a statefun.Functions registry",
            ),
            (
                "raises_import_error:functions",
                "module 'raises_import_error' failed to import: ImportError: libfoo is not installed",
            ),
            (
                "lacks_a_dependency:functions",
                "module 'lacks_a_dependency' failed to import:"
                " ModuleNotFoundError: No module named 'no_such_dependency'",
            ),
        ],
    )
    def test_one_line_and_status_2(
        self,
        target: str,
        message: str,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        (tmp_path / "raises_import_error.py").write_text(
            'raise ImportError("libfoo is not installed")\n'
        )
        (tmp_path / "lacks_a_dependency.py").write_text("import no_such_dependency\n")
        # pytest leaves syspath_prepend's parameter unannotated.
        monkeypatch.syspath_prepend(str(tmp_path))  # pyright: ignore[reportUnknownMemberType]
        args = [GREETER[0], "--functions", target]
        assert statefun_run(args, "", monkeypatch, capsys) == (
            2,
            [],
            f"statefun: error: {message}\n",
        )


def test_each_egress_record_is_read_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Printing after every line reads only the new records, not the whole log again."""
    read: list[int] = []

    def counting(name: str) -> None:
        original = getattr(AsyncLocalRuntime, name)

        def read_and_count(self: AsyncLocalRuntime, *args: Any, **kwargs: Any) -> Any:
            records = original(self, *args, **kwargs)
            read.append(len(records))
            return records

        monkeypatch.setattr(AsyncLocalRuntime, name, read_and_count)

    counting("egress")
    counting("egress_since")
    names = [{"topic": "names", "key": f"n{i}", "value": {"name": f"n{i}"}} for i in range(30)]
    status, out, _ = statefun_run(GREETER, lines(*names), monkeypatch, capsys)
    assert (status, len(out)) == (0, 30)
    assert sum(read) == 30


def test_values_that_are_not_text_come_as_base64() -> None:
    from statefun.local import EgressRecord
    from statefun.local._cli import _to_json

    assert _to_json(EgressRecord("a/b", "a/Bytes", b"\xff")) == {
        "egress": "a/b",
        "typename": "a/Bytes",
        "base64": "/w==",
    }
