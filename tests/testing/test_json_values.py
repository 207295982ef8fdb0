"""values() of JSON types: every shape json_type accepts survives a round trip,
and the values cover defaults, members and constraints."""

from __future__ import annotations

import dataclasses
import enum
import math
import re
import uuid
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, NamedTuple, TypedDict, TypeVar

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import InvalidArgument

import statefun.testing.strategies as sst
from statefun import Type, json_type
from statefun.testing.properties import assert_roundtrip

T = TypeVar("T")


def draws(type_: Type[T], n: int = 150) -> list[T]:
    """``n`` values of ``type_``, the same ones every run."""
    seen: list[T] = []

    @settings(
        max_examples=n,
        database=None,
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(sst.values(type_))
    def collect(value: T) -> None:
        seen.append(value)

    collect()
    return seen


# The Carts: a mutable default, which msgspec turns into a Factory.


class Cart(msgspec.Struct):
    items: dict[str, int] = {}


class FactoryCart(msgspec.Struct):
    # The bare `list` factory is what is tested; pyright types it list[Unknown].
    items: list[str] = msgspec.field(default_factory=list)  # pyright: ignore[reportUnknownVariableType]
    owner: str = "guest"


CART = json_type("shop/Cart", Cart)
FACTORY_CART = json_type("shop/FactoryCart", FactoryCart)


@pytest.mark.parametrize("type_", [CART, FACTORY_CART], ids=lambda t: t.typename)
def test_carts_with_mutable_defaults_round_trip(type_: Type[Any]) -> None:
    assert_roundtrip(type_)


def test_a_cart_is_sometimes_empty_and_sometimes_not() -> None:
    carts = draws(CART)
    assert all(isinstance(c, Cart) and isinstance(c.items, dict) for c in carts)
    assert any(c.items == {} for c in carts)
    assert any(c.items for c in carts)


MADE: list[list[int]] = []


def made_by_factory() -> list[int]:
    lines: list[int] = []
    MADE.append(lines)
    return lines


class Order(msgspec.Struct):
    lines: list[int] = msgspec.field(default_factory=made_by_factory)


def test_a_default_factory_is_called_when_its_field_is_left_out() -> None:
    MADE.clear()
    orders = draws(json_type("shop/Order", Order))
    by_factory = [o for o in orders if any(o.lines is m for m in MADE)]
    assert by_factory, "the field was never left out"
    assert len(by_factory) < len(orders), "the field was never drawn"


@dataclasses.dataclass
class Invoice:
    number: int
    lines: list[str] = dataclasses.field(default_factory=list)  # pyright: ignore[reportUnknownVariableType]
    currency: str = "EUR"
    total: int = dataclasses.field(default=0, init=False)


INVOICE = json_type("shop/Invoice", Invoice)


def test_a_dataclass_with_defaults_round_trips() -> None:
    assert_roundtrip(INVOICE)


def test_a_dataclass_default_is_sometimes_used_and_sometimes_not() -> None:
    invoices = draws(INVOICE)
    assert {i.currency == "EUR" for i in invoices} == {True, False}
    assert {i.lines == [] for i in invoices} == {True, False}
    assert len({i.number for i in invoices}) > 10
    # init=False: the class's own value, never one drawn
    assert {i.total for i in invoices} == {0}


class Street(TypedDict):
    street: str


class Address(Street, total=False):  # NotRequired without typing_extensions on 3.10
    zip: str


class Patch(TypedDict, total=False):
    name: str
    age: int


@pytest.mark.parametrize("cls", [Address, Patch])
def test_typed_dicts_round_trip(cls: type[Any]) -> None:
    assert_roundtrip(json_type(f"shop/{cls.__name__}", cls))


def test_a_typed_dict_has_its_required_keys_and_sometimes_the_others() -> None:
    addresses = draws(json_type("shop/Address", Address))
    assert all(type(a) is dict and "street" in a and set(a) <= {"street", "zip"} for a in addresses)
    assert {"zip" in a for a in addresses} == {True, False}
    patches = draws(json_type("shop/Patch", Patch))
    assert {frozenset(p) for p in patches} == {
        frozenset(),
        frozenset({"name"}),
        frozenset({"age"}),
        frozenset({"name", "age"}),
    }


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 9


@pytest.mark.parametrize("cls", [Color, Priority])
def test_enums_round_trip_and_every_member_comes(cls: type[enum.Enum]) -> None:
    type_ = json_type(f"shop/{cls.__name__}", cls)
    assert_roundtrip(type_)
    assert set(draws(type_)) == set(cls)


def test_a_literal_round_trips_and_every_value_comes() -> None:
    type_: Type[Any] = json_type("shop/Size", Literal["S", "M", 3, None])  # type: ignore[arg-type]
    assert_roundtrip(type_)
    assert set(draws(type_)) == {"S", "M", 3, None}


class Profile(msgspec.Struct):
    nickname: str | None
    age: int | None = None


def test_optional_fields_are_sometimes_none_and_sometimes_not() -> None:
    type_ = json_type("shop/Profile", Profile)
    assert_roundtrip(type_)
    profiles = draws(type_)
    assert {p.nickname is None for p in profiles} == {True, False}
    assert {p.age is None for p in profiles} == {True, False}


class Line(msgspec.Struct, frozen=True):
    sku: str
    quantity: int = 1


class Catalogue(msgspec.Struct):
    by_shelf: dict[int, list[tuple[Line, Color]]]
    history: list[dict[str, list[int]]] = []
    pair: tuple[Line, Priority | None] | None = None
    variants: tuple[str, ...] = ()


def test_nested_containers_round_trip() -> None:
    assert_roundtrip(json_type("shop/Catalogue", Catalogue))


def test_nested_containers_are_filled_at_every_level() -> None:
    catalogues = draws(json_type("shop/Catalogue", Catalogue))
    lines = [entry for c in catalogues for shelf in c.by_shelf.values() for entry in shelf]
    assert all(isinstance(line, Line) and isinstance(color, Color) for line, color in lines)
    assert {type(k) for c in catalogues for k in c.by_shelf} == {int}
    assert any(n for c in catalogues for h in c.history for n in h.values())
    assert any(c.pair is not None and c.pair[1] is not None for c in catalogues)
    assert any(len(c.variants) > 1 for c in catalogues)


class Get(msgspec.Struct, tag=True):
    key: str


class Put(msgspec.Struct, tag="put", rename="camel"):
    key: str
    new_value: bytes = b""


class Delete(msgspec.Struct, tag=True, forbid_unknown_fields=True):
    key: str


COMMAND: Type[Get | Put | Delete] = json_type("shop/Command", Get | Put | Delete)  # type: ignore[arg-type]


def test_a_tagged_union_of_structs_round_trips_with_each_member() -> None:
    assert_roundtrip(COMMAND)
    commands = draws(COMMAND)
    assert {type(c) for c in commands} == {Get, Put, Delete}
    puts = [COMMAND.encode(c) for c in commands if isinstance(c, Put)]
    assert all(b'"type":"put"' in data for data in puts)
    assert any(b'"newValue"' in data for data in puts)  # renamed, and not always left out


class Settings(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    retries: int = 3
    tags: list[str] = []


class Pixel(msgspec.Struct, array_like=True):
    x: int
    y: int
    label: str = ""


def test_omit_defaults_and_array_like_structs_round_trip() -> None:
    settings, pixel = json_type("shop/Settings", Settings), json_type("shop/Pixel", Pixel)
    assert_roundtrip(settings)
    assert_roundtrip(pixel)
    encoded = {settings.encode(s) for s in draws(settings)}
    assert b"{}" in encoded  # every field left to its default, so none written
    assert any(b'"retries"' in data for data in encoded)
    assert all(isinstance(msgspec.json.decode(pixel.encode(p)), list) for p in draws(pixel))


class Tree(msgspec.Struct):
    value: int
    children: list[Tree] = []
    parent: Tree | None = None


def depth(tree: Tree) -> int:
    below = [depth(t) for t in tree.children] + ([depth(tree.parent)] if tree.parent else [])
    return 1 + max(below, default=0)


def test_a_recursive_struct_round_trips_and_nests_but_ends() -> None:
    type_ = json_type("shop/Tree", Tree)
    assert_roundtrip(type_)
    depths = {depth(t) for t in draws(type_)}
    assert 1 in depths
    assert max(depths) >= 2
    assert max(depths) <= 3  # the nesting limit


Percent = Annotated[float, msgspec.Meta(ge=0, lt=100)]


class Constrained(msgspec.Struct):
    count: Annotated[int, msgspec.Meta(gt=0, le=10)]
    even: Annotated[int, msgspec.Meta(multiple_of=2, ge=-20, lt=20)]
    share: Percent
    step: Annotated[float, msgspec.Meta(multiple_of=0.25, gt=0, le=5)]
    # fmod(x, 0.1) == 0 only for x = 0.1 * 2**j or 0.2 * 2**j: 1.6, 3.2, 6.4, 12.8 here
    tenth: Annotated[float, msgspec.Meta(multiple_of=0.1, ge=1, le=20)]
    code: Annotated[str, msgspec.Meta(min_length=2, max_length=4)]
    sku: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}-\d{2}$")]
    note: Annotated[str, msgspec.Meta(pattern="ok", max_length=5)]
    some: Annotated[list[int], msgspec.Meta(min_length=1, max_length=3)]
    lookup: Annotated[dict[str, int], msgspec.Meta(max_length=2)]
    blob: Annotated[bytes, msgspec.Meta(min_length=1, max_length=3)]
    when: Annotated[datetime, msgspec.Meta(tz=True)]
    local: Annotated[datetime, msgspec.Meta(tz=False)]


CONSTRAINED = json_type("shop/Constrained", Constrained)


def test_constrained_fields_round_trip() -> None:
    # decode validates every Meta constraint, so a value breaking one fails here
    assert_roundtrip(CONSTRAINED)


@given(sst.values(CONSTRAINED))
def test_constraints_hold(c: Constrained) -> None:
    assert 0 < c.count <= 10
    assert c.even % 2 == 0 and -20 <= c.even < 20
    assert 0 <= c.share < 100 and math.isfinite(c.share)
    assert 0 < c.step <= 5 and math.fmod(c.step, 0.25) == 0 and type(c.step) is float
    assert 1 <= c.tenth <= 20 and math.fmod(c.tenth, 0.1) == 0
    assert 2 <= len(c.code) <= 4
    assert re.search(r"^[A-Z]{3}-\d{2}$", c.sku)  # as msgspec matches: `$` allows a final \n
    assert "ok" in c.note and len(c.note) <= 5
    assert 1 <= len(c.some) <= 3
    assert len(c.lookup) <= 2
    assert 1 <= len(c.blob) <= 3
    offset = c.when.utcoffset()
    assert offset is not None and offset % timedelta(minutes=1) == timedelta()
    assert c.local.tzinfo is None


def test_constrained_values_reach_their_bounds_and_vary() -> None:
    values = draws(CONSTRAINED, 300)
    assert {1, 10} <= {c.count for c in values}
    assert {c.step for c in values} >= {0.25, 5.0}
    assert {c.tenth for c in values} == {1.6, 3.2, 6.4, 12.8}
    assert len({c.sku for c in values}) > 10


class Scalars(msgspec.Struct, kw_only=True):
    at: datetime
    clock: time
    span: timedelta
    id: uuid.UUID
    price: Decimal
    raw: bytearray
    anything: Any
    ratio: float
    big: int
    by_id: dict[uuid.UUID, Decimal] = {}
    by_time: dict[datetime, int] = {}
    either: dict[int | str, float] = {}


def test_scalars_round_trip() -> None:
    assert_roundtrip(json_type("shop/Scalars", Scalars), max_examples=200)


@given(sst.values(json_type("shop/Scalars", Scalars)))
def test_scalars_are_what_json_carries(s: Scalars) -> None:
    assert math.isfinite(s.ratio)
    assert -(2**63) <= s.big < 2**64
    assert not s.price.is_nan()
    for value in (s.at, s.clock):
        offset = value.utcoffset()
        assert offset is None or offset % timedelta(minutes=1) == timedelta()


def test_scalars_are_naive_and_aware() -> None:
    values = draws(json_type("shop/Scalars", Scalars))
    assert {v.at.tzinfo is None for v in values} == {True, False}


class Code(enum.Enum):
    ONE = "1"  # written "1", like the int 1
    X = "x"


def test_union_keys_are_those_that_come_back() -> None:
    mixed = json_type("shop/Mixed", dict[int | Code, int])
    assert_roundtrip(mixed)
    keys = {k for d in draws(mixed) for k in d}
    assert {type(k) for k in keys} == {int, Code}
    assert Code.ONE not in keys  # msgspec would read it back as the int 1
    # with str in the union, every key is read as str: ints would come back as text
    texts = json_type("shop/Texts", dict[int | str, int])
    assert_roundtrip(texts)
    assert {type(k) for d in draws(texts) for k in d} == {str}


class Blob:
    """A class msgspec does not know: JSON types take it only with hooks."""


class Attachment(msgspec.Struct):
    blob: Blob


@pytest.mark.parametrize(
    ("python_type", "where"),
    [
        (Attachment, "Attachment.blob is `Blob` (CustomType)"),
        (dict[str, msgspec.Raw], "dict[str, msgspec.Raw][value] is RawType()"),
    ],
)
def test_an_unsupported_type_names_where_it_is(python_type: Any, where: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        sst.values(json_type("shop/Odd", python_type))
    assert str(info.value).startswith(f"Cannot derive values of `shop/Odd`: {where}")
    assert "pass a strategy instead" in str(info.value)


class NoInt(msgspec.Struct):
    n: Annotated[int, msgspec.Meta(ge=5, le=1)]


class NoFloat(msgspec.Struct):
    x: list[Annotated[float, msgspec.Meta(gt=1.0, lt=1.0)]]


class NoMultiple(msgspec.Struct):
    step: Annotated[float, msgspec.Meta(multiple_of=0.1, ge=1, le=1.5)]


@pytest.mark.parametrize(
    ("python_type", "message"),
    [
        (NoInt, "NoInt.n is IntType(ge=5, le=1), which no int meets"),
        (
            NoFloat,
            "NoFloat.x[item] is FloatType(gt=1.0, lt=1.0), which Hypothesis cannot draw"
            " (There are no 64-bit floating-point values between min_value=1.0 and"
            " max_value=1.0, exclude_min=True and exclude_max=True)",
        ),
        (
            NoMultiple,
            "NoMultiple.step is FloatType(ge=1, le=1.5, multiple_of=0.1), which no float meets"
            " (msgspec checks fmod(x, multiple_of) == 0)",
        ),
    ],
    ids=["int", "float", "multiple_of"],
)
def test_constraints_nothing_meets_are_named(python_type: type[Any], message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        sst.values(json_type("shop/Impossible", python_type))
    assert str(info.value) == (
        f"Cannot derive values of `shop/Impossible`: {message};"
        " pass a strategy instead, e.g. assert_roundtrip(type_, st.builds(...))"
    )


class Chain(msgspec.Struct):
    next: Chain


def test_a_type_that_cannot_end_is_named() -> None:
    with pytest.raises(
        InvalidArgument, match=r"Chain\.next is `Chain` \(StructType\).*no way to end"
    ):
        sst.values(json_type("shop/Chain", Chain))


class Point(NamedTuple):
    x: int
    y: int = 0


def test_a_named_tuple_round_trips_with_its_default_sometimes() -> None:
    type_ = json_type("shop/Point", Point)
    assert_roundtrip(type_)
    points = draws(type_)
    assert all(type(p) is Point for p in points)
    assert any(p.y == 0 for p in points) and any(p.y != 0 for p in points)


def test_a_set_comes_back_equal() -> None:
    # Not assert_roundtrip: msgspec writes a set in iteration order, which the decoded
    # copy need not share, so its bytes can differ though the values are equal.
    type_: Type[set[int]] = json_type("shop/Ids", set[int])

    @given(sst.values(type_))
    def check(ids: set[int]) -> None:
        assert type_.decode(type_.encode(ids)) == ids

    check()
