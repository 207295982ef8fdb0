"""``Message[T]``: what a function is called with."""

from __future__ import annotations

import pytest

from statefun import INT, STRING, Address, Message


class TestMessage:
    def test_fields_and_defaults(self) -> None:
        target = Address("example/greeter", "Ana")
        message = Message(target, "hi")
        assert (message.target, message.value, message.caller, message.typename) == (
            target,
            "hi",
            None,
            None,
        )

    def test_equal_by_content(self) -> None:
        target = Address("example/greeter", "Ana")
        caller = Address("example/person", "Ana")
        assert Message(target, 1, caller, INT.typename) == Message(target, 1, caller, INT.typename)
        assert Message(target, 1, caller) != Message(target, 1)

    def test_immutable(self) -> None:
        message = Message(Address("example/greeter", "Ana"), "hi", typename=STRING.typename)
        with pytest.raises(AttributeError):
            message.value = "bye"  # type: ignore[misc]
