"""Values of a ``json_type``, drawn from msgspec's own view of its Python type.

``msgspec.inspect.type_info`` describes the type as msgspec decodes it: fields
with their defaults, ``msgspec.Meta`` constraints, Struct tags. One strategy is
built per node, so a value is one msgspec would decode back to itself.
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
import types
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any, Literal, Union
from uuid import UUID

import msgspec
import msgspec.inspect as mi
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

Strategy = st.SearchStrategy[Any]

# The ints msgspec reads and writes natively; wider ones go through Python's
# int/str conversion, which other JSON readers of the same state may not have.
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
_FLOAT_MAX = Fraction(sys.float_info.max)

# How many times one type may nest within itself (a tree's depth): enough to
# exercise recursion, few enough that examples stay small.
_MAX_NESTING = 3

# JSON carries an offset in whole minutes (RFC 3339), so a tz with seconds
# would come back as another tz.
_TIMEZONES = st.one_of(
    st.just(timezone.utc),
    st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m))),
)

_ENCODER = msgspec.json.Encoder()
_JSON_KEYS = st.text()
# What msgspec decodes for `Any`: JSON's own types. NaN and inf are out: JSON
# has no such numbers (msgspec writes null).
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(_INT_MIN, _INT_MAX)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_JSON_KEYS, inner, max_size=4),
    max_leaves=8,
)

_Object = mi.StructType | mi.DataclassType | mi.TypedDictType | mi.NamedTupleType
_EMPTY: dict[type[mi.Type], Callable[[], object]] = {
    mi.ListType: list,
    mi.VarTupleType: tuple,
    mi.SetType: set,
    mi.FrozenSetType: frozenset,
}


def json_values(python_type: object, typename: str) -> Strategy:
    """Values of ``python_type`` that msgspec JSON encodes and decodes back unchanged.

    Raises InvalidArgument naming the part of the type no values can be derived for.
    """
    return _Walker(typename).strategy(mi.type_info(python_type), _name(python_type))


class _Walker:
    def __init__(self, typename: str) -> None:
        self._typename = typename
        self._open: list[object] = []  # classes of the objects being built, outermost first
        self._stuck: tuple[str, mi.Type] | None = None  # the innermost field that could not end

    def strategy(self, node: mi.Type, where: str, *, key: bool = False) -> Strategy:
        built = self._build(node, where, key=key)
        if built is None:
            where, node = self._stuck or (where, node)
            raise self._cannot(where, node, "which only nests within itself, with no way to end")
        return built

    def _build(self, node: mi.Type, where: str, *, key: bool = False) -> Strategy | None:
        """The strategy for ``node``, or None when no value of it fits within
        :data:`_MAX_NESTING` (a recursive type's innermost copy, say): the parent
        then leaves the field out, the collection empty, the union member out.
        """
        built = self._node(node, where, key=key)
        try:
            # Now, not at the first draw, so the error can say which field it is.
            # Children were built, and checked, first: the innermost culprit is named.
            if built is not None:
                built.validate()
        except InvalidArgument as exc:
            raise self._cannot(where, node, f"which Hypothesis cannot draw ({exc})") from None
        return built

    def _node(self, node: mi.Type, where: str, *, key: bool) -> Strategy | None:
        if isinstance(node, mi.Metadata):
            return self._build(node.type, where, key=key)
        if isinstance(node, _Object):
            return self._object(node)
        if isinstance(node, mi.UnionType):
            members = _key_members(node.types) if key else node.types
            built = [s for m in members if (s := self._build(m, where, key=key)) is not None]
            return st.one_of(built) if built else None
        if isinstance(node, mi.CollectionType):
            return self._collection(node, where)
        if isinstance(node, mi.TupleType):
            items = [self._build(t, f"{where}[{i}]") for i, t in enumerate(node.item_types)]
            present = [i for i in items if i is not None]
            return st.tuples(*present) if len(present) == len(items) else None
        if isinstance(node, mi.DictType):
            return self._dict(node, where)
        if key and isinstance(node, mi.AnyType):
            return _JSON_KEYS  # an object key is always text in JSON
        scalar = self._scalar(node, where)
        if scalar is None:
            raise self._cannot(where, node, "whose values msgspec does not describe")
        return scalar

    def _object(self, node: _Object) -> Strategy | None:
        if sum(cls == node.cls for cls in self._open) >= _MAX_NESTING:
            return None
        init_names = _init_names(node)
        required: dict[str, Strategy] = {}
        optional: dict[str, Strategy] = {}
        self._open.append(node.cls)
        try:
            for field in node.fields:
                name = init_names.get(field.name) if init_names is not None else field.name
                if name is None:
                    continue  # init=False: the class sets it, as it does when msgspec decodes
                field_where = f"{_name(node.cls)}.{field.name}"
                strategy = self._build(field.type, field_where)
                if strategy is None:
                    if field.required:
                        self._stuck = self._stuck or (field_where, field.type)
                        return None
                    continue  # left out: its default ends the recursion
                # A field with a default is sometimes left out, so the default is what
                # gets encoded: a default_factory is called, never drawn.
                (required if field.required else optional)[name] = strategy
        finally:
            self._open.pop()
        fields = st.fixed_dictionaries(required, optional=optional)
        if isinstance(node, mi.TypedDictType):
            return fields
        return fields.map(_Construct(node.cls))

    def _collection(self, node: mi.CollectionType, where: str) -> Strategy | None:
        low, high = node.min_length or 0, node.max_length
        items = self._build(node.item_type, f"{where}[item]")
        if items is None:
            return st.builds(_EMPTY[type(node)]) if low == 0 else None
        if isinstance(node, mi.SetType):
            return st.sets(items, min_size=low, max_size=high)
        if isinstance(node, mi.FrozenSetType):
            return st.frozensets(items, min_size=low, max_size=high)
        lists = st.lists(items, min_size=low, max_size=high)
        return lists.map(tuple) if isinstance(node, mi.VarTupleType) else lists

    def _dict(self, node: mi.DictType, where: str) -> Strategy | None:
        low, high = node.min_length or 0, node.max_length
        keys = self.strategy(node.key_type, f"{where}[key]", key=True)
        if isinstance(_unwrap(node.key_type), mi.UnionType | mi.LiteralType):
            keys = keys.filter(_KeyComesBack(node.key_type))
        values = self._build(node.value_type, f"{where}[value]")
        if values is None:
            # Empty dicts, which pyright types dict[Unknown, Unknown].
            return st.builds(dict) if low == 0 else None  # pyright: ignore[reportUnknownVariableType]
        return st.dictionaries(keys, values, min_size=low, max_size=high)

    def _scalar(self, node: mi.Type, where: str) -> Strategy | None:
        match node:  # pyright: ignore[reportMatchNotExhaustive]  the others are None, below
            case mi.AnyType():
                return _JSON
            case mi.NoneType():
                return st.none()
            case mi.BoolType():
                return st.booleans()
            case mi.IntType():
                return self._ints(node, where)
            case mi.FloatType():
                return self._floats(node, where)
            case mi.StrType():
                return _strs(node)
            case mi.BytesType() | mi.ByteArrayType() | mi.MemoryViewType():
                binary = st.binary(min_size=node.min_length or 0, max_size=node.max_length)
                if isinstance(node, mi.BytesType):
                    return binary
                return binary.map(bytearray if isinstance(node, mi.ByteArrayType) else memoryview)
            case mi.DateTimeType():
                return st.datetimes(timezones=_timezones(node.tz))
            case mi.TimeType():
                return st.times(timezones=_timezones(node.tz))
            case mi.DateType():
                return st.dates()
            case mi.TimeDeltaType():
                return st.timedeltas()
            case mi.UUIDType():
                return st.uuids()
            case mi.DecimalType():
                # NaN is not equal to itself; infinities travel fine, as "Infinity".
                return st.decimals(allow_nan=False)
            case mi.EnumType():
                # The members only: given the class, Hypothesis would also combine Flags.
                return st.sampled_from(list(node.cls))
            case mi.LiteralType():
                return st.sampled_from(node.values)
        return None

    def _ints(self, node: mi.IntType, where: str) -> Strategy:
        lows = [b for b in (node.ge, None if node.gt is None else node.gt + 1) if b is not None]
        highs = [b for b in (node.le, None if node.lt is None else node.lt - 1) if b is not None]
        low, high = max(lows, default=_INT_MIN), min(highs, default=_INT_MAX)
        step = node.multiple_of or 1
        first, last = -(-low // step), high // step
        if first > last:
            raise self._cannot(where, node, "which no int meets")
        return st.integers(first, last).map(lambda k: k * step)

    def _floats(self, node: mi.FloatType, where: str) -> Strategy:
        low = node.ge if node.ge is not None else node.gt
        high = node.le if node.le is not None else node.lt
        if node.multiple_of is None:
            return st.floats(
                min_value=low,
                max_value=high,
                exclude_min=node.gt is not None,
                exclude_max=node.lt is not None,
                allow_nan=False,
                allow_infinity=False,
            )
        scales = _scales(node.multiple_of, low, high, node.gt is not None, node.lt is not None)
        if not scales:
            raise self._cannot(
                where, node, "which no float meets (msgspec checks fmod(x, multiple_of) == 0)"
            )
        step = Fraction(node.multiple_of)
        return st.sampled_from(scales).flatmap(
            lambda scale: st.integers(scale[1], scale[2]).map(
                lambda k: float(k * step * 2 ** scale[0])  # exact: see _scales
            )
        )

    def _cannot(self, where: str, node: mi.Type, why: str) -> InvalidArgument:
        return InvalidArgument(
            f"Cannot derive values of `{self._typename}`: {where} is {_describe(node)}, {why};"
            " pass a strategy instead, e.g. assert_roundtrip(type_, st.builds(...))"
        )


class _Construct:
    """Calls a class with keyword arguments; a named callable, so examples
    and errors show which class."""

    def __init__(self, cls: Callable[..., object]) -> None:
        self.cls = cls

    def __call__(self, kwargs: dict[str, Any]) -> object:
        return self.cls(**kwargs)

    def __repr__(self) -> str:
        return _name(self.cls)


def _strs(node: mi.StrType) -> Strategy:
    low, high = node.min_length or 0, node.max_length
    if node.pattern is None:
        return st.text(min_size=low, max_size=high)
    pattern = re.compile(node.pattern)
    # msgspec searches (the pattern is unanchored): an exact match is valid too, and
    # short, so it fits length limits that text around a match would break.
    matches = st.from_regex(pattern, fullmatch=True) | st.from_regex(pattern)
    longest = high if high is not None else math.inf
    return matches.filter(lambda s: low <= len(s) <= longest and pattern.search(s) is not None)


def _scales(
    step: float, low: float | None, high: float | None, above: bool, below: bool
) -> list[tuple[int, int, int]]:
    """(j, first, last): the floats k * step * 2**j for k from first to last lie
    within the bounds (``above``/``below``: strictly) and are all exact.

    msgspec checks fmod(x, step) == 0, true only when x is an exact multiple of
    step. With step = p / 2**e (p odd), those are k * p * 2**(j - e) with
    |k| * p < 2**53: the product then fits a float's mantissa.
    """
    exact = (2**53 - 1) // step.as_integer_ratio()[0]
    scales: list[tuple[int, int, int]] = []
    j = 0
    while (unit := Fraction(step) * 2**j) <= _FLOAT_MAX:
        most = min(exact, math.floor(_FLOAT_MAX / unit))
        first, last = -most, most
        if low is not None:
            q = Fraction(low) / unit
            first = max(first, math.floor(q) + 1 if above else math.ceil(q))
        if high is not None:
            q = Fraction(high) / unit
            last = min(last, math.ceil(q) - 1 if below else math.floor(q))
        if first <= last:
            scales.append((j, first, last))
        if -exact < first and last < exact:
            break  # the bounds, not exactness, limit k: larger j only repeat values
        j += 1
    return scales


def _timezones(tz: bool | None) -> st.SearchStrategy[timezone | None]:
    if tz is None:
        return st.none() | _TIMEZONES
    return _TIMEZONES if tz else st.none()


def _is_number(node: mi.Type) -> bool:
    node = _unwrap(node)
    if isinstance(node, mi.IntType | mi.FloatType):
        return True
    if isinstance(node, mi.EnumType):
        return all(isinstance(m.value, int) for m in node.cls)
    if isinstance(node, mi.LiteralType):
        return all(isinstance(v, int) for v in node.values)
    return False


def _key_members(types: Sequence[mi.Type]) -> Sequence[mi.Type]:
    # A union with str reads every object key as str, so a number key (written "1")
    # would come back as text: only the other members are drawn.
    if any(isinstance(_unwrap(t), mi.StrType) for t in types):
        return [t for t in types if not _is_number(t)]
    return types


class _KeyComesBack:
    """Whether an object key decodes to itself. Without str in the union, msgspec
    reads a key that looks like a number as the number member: an enum valued "1",
    or bytes written "1234", would come back as an int."""

    def __init__(self, node: mi.Type) -> None:
        self._decoder: msgspec.json.Decoder[dict[Any, None]] = msgspec.json.Decoder(
            dict[_python_type(node), None]  # type: ignore[misc]
        )

    def __call__(self, key: object) -> bool:
        data = _ENCODER.encode({key: None})
        try:
            back = self._decoder.decode(data)
        except msgspec.ValidationError:
            return False
        return back == {key: None} and _ENCODER.encode(back) == data


# The Python types of scalar nodes; each field of such a node is a msgspec.Meta argument.
_SCALARS: dict[type[mi.Type], object] = {
    mi.AnyType: Any,
    mi.NoneType: None,
    mi.BoolType: bool,
    mi.IntType: int,
    mi.FloatType: float,
    mi.StrType: str,
    mi.BytesType: bytes,
    mi.ByteArrayType: bytearray,
    mi.DateTimeType: datetime,
    mi.TimeType: time,
    mi.DateType: date,
    mi.TimeDeltaType: timedelta,
    mi.UUIDType: UUID,
    mi.DecimalType: Decimal,
}


def _python_type(node: mi.Type) -> Any:
    """The Python type of a key node (keys are scalars, enums, Literals or their unions)."""
    node = _unwrap(node)
    if isinstance(node, mi.UnionType):
        return Union[tuple(_python_type(t) for t in node.types)]  # noqa: UP007
    if isinstance(node, mi.LiteralType):
        return Literal[node.values]
    if isinstance(node, mi.EnumType):
        return node.cls
    meta = {f: v for f in node.__struct_fields__ if (v := getattr(node, f)) is not None}
    base = _SCALARS.get(type(node), Any)
    return Annotated[base, msgspec.Meta(**meta)] if meta else base


def _unwrap(node: mi.Type) -> mi.Type:
    return _unwrap(node.type) if isinstance(node, mi.Metadata) else node


def _init_names(node: _Object) -> dict[str, str] | None:
    """For a dataclass or attrs class: field name -> its ``__init__`` argument, for
    the fields ``__init__`` takes. None for the others, which take every field by name.
    """
    if not isinstance(node, mi.DataclassType):
        return None
    if dataclasses.is_dataclass(node.cls):
        return {f.name: f.name for f in dataclasses.fields(node.cls) if f.init}
    # Past is_dataclass()'s negative TypeIs, pyright has `Unknown | type` for a `type`.
    attributes = getattr(node.cls, "__attrs_attrs__", ())  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
    return {a.name: getattr(a, "alias", a.name.lstrip("_")) for a in attributes if a.init}


def _describe(node: mi.Type) -> str:
    """``Cart`` (StructType), or IntType(ge=5, le=1): what the node itself adds,
    without the (possibly long) types inside it."""
    cls = getattr(node, "cls", None)
    if cls is not None:
        return f"`{_name(cls)}` ({type(node).__name__})"
    own = [
        f"{name}={value!r}"
        for name in node.__struct_fields__
        if (value := getattr(node, name)) is not None and not _holds_types(value)
    ]
    return f"{type(node).__name__}({', '.join(own)})"


def _holds_types(value: object) -> bool:
    if isinstance(value, tuple):
        # isinstance() leaves pyright a tuple[Unknown, ...]; each item is only tested.
        return bool(value) and all(isinstance(v, mi.Type) for v in value)  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
    return isinstance(value, mi.Type)


def _name(python_type: object) -> str:
    # Python 3.10 also calls dict[str, int] a type, whose __qualname__ is just "dict".
    if isinstance(python_type, type) and not isinstance(python_type, types.GenericAlias):
        return python_type.__qualname__
    return repr(python_type)
