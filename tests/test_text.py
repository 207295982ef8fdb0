"""``one_line``: request text made safe for one line of an answer or a log."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from statefun._text import one_line


def test_line_breaks_and_controls_are_escaped() -> None:
    assert one_line("a\nb\rc\td\x00e\x7ff\x85g\u2028h\u2029i") == (
        "a\\nb\\rc\\td\\x00e\\x7ff\\x85g\\u2028h\\u2029i"
    )


def test_printable_text_is_unchanged() -> None:
    assert one_line("shop/Add café ☕ `x` 'y'") == "shop/Add café ☕ `x` 'y'"


def test_lone_surrogates_are_escaped() -> None:
    assert one_line("a\udcffb") == "a\\udcffb"


@given(st.text())
def test_any_text_becomes_one_encodable_line(text: str) -> None:
    line = one_line(text)
    assert line.splitlines() in ([], [line])
    line.encode("utf-8")  # never raises
    assert all(c.isprintable() or c == " " or ord(c) >= 0xA0 for c in line)
