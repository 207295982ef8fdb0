"""Hypothesis strategies for StateFun values."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import statefun.testing.strategies as sst
from examples.greeter.functions import GREET, GreetRequest
from statefun import BOOL, DOUBLE, FLOAT, INT, LONG, STRING, Address, Message, Type, custom_type
from statefun.local._module import parse_runtime_typename


@given(sst.typenames())
def test_typenames_parse_as_the_runtime_parses_them(typename: str) -> None:
    namespace, name = parse_runtime_typename(typename)
    address = Address(typename, "x")
    assert (address.namespace, address.name) == (namespace, name)


@given(sst.addresses("example/person"))
def test_addresses_of_one_type(address: Address) -> None:
    assert address.typename == "example/person"
    assert address.id


@given(sst.addresses(ids=sst.ids(min_size=0, max_size=0)))
def test_addresses_with_empty_ids(address: Address) -> None:
    assert address.id == ""


@given(st.from_type(Address))
def test_address_is_registered_with_hypothesis(address: Address) -> None:
    assert isinstance(address, Address)


@pytest.mark.parametrize(
    "type_", [BOOL, INT, LONG, FLOAT, DOUBLE, STRING, GREET], ids=lambda t: t.typename
)
def test_values_round_trip(type_: Type[object]) -> None:
    @given(sst.values(type_))
    def check(value: object) -> None:
        assert type_.decode(type_.encode(value)) == value

    check()


@given(
    sst.messages(GREET, to=Address("example/person", "Ana"), callers=st.just(Address("a/b", "c")))
)
def test_messages(message: Message[GreetRequest]) -> None:
    assert message.target == Address("example/person", "Ana")
    assert message.caller == Address("a/b", "c")
    assert message.typename == "example/GreetRequest"
    assert isinstance(message.value, GreetRequest)


def test_values_of_a_custom_type_need_a_strategy() -> None:
    utf8 = custom_type("test/Utf8", encode=str.encode, decode=bytes.decode)
    with pytest.raises(InvalidArgument, match="Cannot derive values of `test/Utf8`"):
        sst.values(utf8)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_size": -1}, "Expected a non-negative int but got min_size=-1 (type=int)"),
        ({"min_size": 3, "max_size": 1}, "Cannot have max_size=1 < min_size=3"),
    ],
)
def test_invalid_sizes(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        sst.ids(**kwargs)
    assert str(info.value) == message


def test_an_invalid_address_typename_fails_at_once() -> None:
    with pytest.raises(ValueError, match="'nope' is not a valid typename"):
        sst.addresses("nope")


def test_without_hypothesis_the_import_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "try:\n    import statefun.testing.strategies\n"
        "except ImportError as e:\n    print(e)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert (
        out.strip()
        == "statefun.testing.strategies needs Hypothesis (the `testing` extra): pip install hypothesis, or pip install -e '.[testing]' in the SDK's checkout"
    )
