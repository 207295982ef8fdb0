"""Runs mypy over ``examples.py`` and checks every ``reveal_type`` and every rejection."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mypy import api

ROOT = Path(__file__).parents[2]
EXAMPLES = Path(__file__).with_name("examples.py")

ASSERTION = re.compile(r'reveal_type\(.*\)  # assert "(?P<expected>.*)"$')
REVEALED = re.compile(r'^.*examples\.py:(?P<line>\d+): note: Revealed type is "(?P<revealed>.*)"$')
# `statefun._spec.ValueSpec[builtins.int]` reads as `ValueSpec[int]`.
MODULE_PREFIX = re.compile(r"\b(?:[A-Za-z_][A-Za-z0-9_]*\.)+(?=[A-Za-z_])")


def short(revealed: str) -> str:
    return MODULE_PREFIX.sub("", revealed)


@pytest.fixture(scope="module")
def mypy_output() -> tuple[str, int]:
    stdout, stderr, status = api.run(
        ["--config-file", str(ROOT / "pyproject.toml"), "--show-error-codes", str(EXAMPLES)]
    )
    assert stderr == ""
    return stdout, status


def expected_reveals() -> dict[int, str]:
    lines = EXAMPLES.read_text().splitlines()
    return {
        number: match["expected"]
        for number, line in enumerate(lines, start=1)
        if (match := ASSERTION.search(line))
    }


def test_short_names() -> None:
    assert short("statefun._spec.ValueSpec[builtins.int]") == "ValueSpec[int]"
    assert short("tests.typing.examples.Greet | None") == "Greet | None"


def test_mypy_reports_no_errors(mypy_output: tuple[str, int]) -> None:
    """No error at all: every misuse line's ignore was needed, every good line is accepted."""
    stdout, status = mypy_output
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    assert errors == []
    assert status == 0


def test_every_reveal_is_as_asserted(mypy_output: tuple[str, int]) -> None:
    stdout, _ = mypy_output
    revealed = {
        int(match["line"]): short(match["revealed"])
        for match in map(REVEALED.match, stdout.splitlines())
        if match
    }
    assert revealed == expected_reveals()


def test_the_examples_are_not_vacuous() -> None:
    text = EXAMPLES.read_text()
    assert len(expected_reveals()) >= 30
    assert text.count("# type: ignore[") >= 20
    for misuse in (
        'state.set(VISITS, "x")  # type: ignore[',
        'Result(State.of(), [Send(GREETER, INT, "x")])  # type: ignore[',
        '@functions.bind("example/wrong", accepts=GREET)  # type: ignore[',
        '@functions.bind("example/narrow", accepts=GREET | BYE)  # type: ignore[',
    ):
        assert misuse in text


MISUSE = """
from datetime import timedelta

import msgspec

from statefun import INT, Address, Egress, Functions, Message, Result, Send, SendAfter, State
from statefun import ValueSpec, json_type


class Add(msgspec.Struct):
    sku: str


class Remove(msgspec.Struct):
    sku: str


class Reserve(msgspec.Struct):
    sku: str


ADD = json_type("shop/Add", Add)
REMOVE = json_type("shop/Remove", Remove)
RESERVE = json_type("shop/Reserve", Reserve)
STOCK = ValueSpec("stock", INT)
WAREHOUSE = Address("shop/warehouse", "w1")
functions = Functions()


def misuse(state: State) -> None:
    state.set(STOCK, "12")
    Send(WAREHOUSE, RESERVE, Add("x"))
    Egress("shop/audit", RESERVE, Add("x"))
    SendAfter(timedelta(seconds=1), WAREHOUSE, RESERVE, Add("x"))


@functions.bind("shop/cart", accepts=ADD | REMOVE | RESERVE)
def cart(state: State, msg: Message[Add | Remove]) -> Result:
    return Result(state)
"""


def test_misuse_messages_name_both_types(tmp_path: Path) -> None:
    """What a user sees: mypy names the expected and the given type where it can."""
    app = tmp_path / "app.py"
    app.write_text(MISUSE)
    stdout, stderr, _ = api.run(
        ["--strict", "--no-incremental", "--hide-error-context", "--no-error-summary", str(app)]
    )
    assert stderr == ""
    errors = [line.split(": error: ", 1)[1] for line in stdout.splitlines() if ": error: " in line]
    assert errors == [
        'Argument 2 to "set" of "State" has incompatible type "str"; expected "int"  [arg-type]',
        'Argument 3 to "Send" has incompatible type "Add"; expected "Reserve"  [arg-type]',
        'Argument 3 to "Egress" has incompatible type "Add"; expected "Reserve"  [arg-type]',
        # A keyword-only parameter cannot follow a ParamSpec, so SendAfter keeps
        # the plain signature, and mypy's message for it (the README explains it).
        'Cannot infer value of type parameter "T_co" of "SendAfter"  [misc]',
        'Argument 1 to "__call__" of "Binder" has incompatible type'
        ' "Callable[[State, Message[Add | Remove]], Result]";'
        ' expected "Callable[[State, Message[Add | Remove | Reserve]], Result]"  [arg-type]',
    ]
