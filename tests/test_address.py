"""``Address``: a function type and an instance id."""

from __future__ import annotations

import pytest

from statefun import Address, DefinitionError, InvalidTypeName


class TestAddress:
    def test_parts(self) -> None:
        address = Address("example/greeter", "Ana")
        assert (address.typename, address.namespace, address.name, address.id) == (
            "example/greeter",
            "example",
            "greeter",
            "Ana",
        )

    def test_equal_and_hashable_by_typename_and_id(self) -> None:
        assert Address("example/greeter", "Ana") == Address("example/greeter", "Ana")
        assert Address("example/greeter", "Ana") != Address("example/greeter", "Bo")
        assert len({Address("example/greeter", "Ana"), Address("example/greeter", "Ana")}) == 1

    def test_repr_reads_as_the_constructor_call(self) -> None:
        assert (
            repr(Address("example/greeter", "Ana"))
            == "Address(typename='example/greeter', id='Ana')"
        )

    def test_immutable(self) -> None:
        with pytest.raises(AttributeError):
            Address("example/greeter", "Ana").id = "Bo"  # type: ignore[misc]

    def test_function_types_need_exactly_one_slash(self) -> None:
        with pytest.raises(InvalidTypeName) as info:
            Address("example/v1/greeter", "Ana")
        assert str(info.value) == (
            "Address typename 'example/v1/greeter' is not a valid typename:"
            " the runtime needs exactly one `/` here"
        )

    def test_empty_id_is_allowed(self) -> None:
        # An empty Kafka key routes to id "" (protocol.md §6.15).
        assert Address("example/greeter", "").id == ""

    def test_id_must_be_a_str(self) -> None:
        with pytest.raises(DefinitionError) as info:
            Address("example/greeter", 1)  # type: ignore[arg-type]
        assert str(info.value) == "Address id must be a `str`, got `int`"
