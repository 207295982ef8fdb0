"""``json_type``: msgspec JSON for Structs, dataclasses, dicts and lists."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from statefun import InvalidTypeName, SerdeError, Type, json_type

TEXT = st.text(max_size=20)
JSON_INTS = st.integers(-(2**63), 2**64 - 1)
JSON_FLOATS = st.floats(allow_nan=False, allow_infinity=False)


class Profile(msgspec.Struct, frozen=True):
    id: str
    n: int
    ratio: float
    tags: tuple[str, ...] = ()
    limits: dict[str, int] = {}
    owner: str | None = None


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: float
    label: str


PROFILE = json_type("bench.types/profile", Profile)
POINT = json_type("example/Point", Point)
COUNTS = json_type("example/Counts", dict[str, int])
ANY_OBJECT = json_type("example/Object", dict[str, Any])

profiles = st.builds(
    Profile,
    id=TEXT,
    n=JSON_INTS,
    ratio=JSON_FLOATS,
    tags=st.lists(TEXT, max_size=4).map(tuple),
    limits=st.dictionaries(TEXT, JSON_INTS, max_size=4),
    owner=st.none() | TEXT,
)
json_values: st.SearchStrategy[object] = st.recursive(
    st.none() | st.booleans() | JSON_INTS | JSON_FLOATS | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


class TestRoundTrips:
    @given(profiles)
    def test_struct(self, value: Profile) -> None:
        assert PROFILE.decode(PROFILE.encode(value)) == value

    @given(st.builds(Point, x=JSON_INTS, y=JSON_FLOATS, label=TEXT))
    def test_dataclass(self, value: Point) -> None:
        assert POINT.decode(POINT.encode(value)) == value

    @given(st.dictionaries(TEXT, JSON_INTS))
    def test_typed_dict(self, value: dict[str, int]) -> None:
        assert COUNTS.decode(COUNTS.encode(value)) == value

    @given(st.dictionaries(TEXT, json_values))
    def test_any_json_object(self, value: dict[str, Any]) -> None:
        assert ANY_OBJECT.decode(ANY_OBJECT.encode(value)) == value

    @given(profiles)
    def test_the_bytes_are_plain_json(self, value: Profile) -> None:
        assert json.loads(PROFILE.encode(value)) == {
            "id": value.id,
            "n": value.n,
            "ratio": value.ratio,
            "tags": list(value.tags),
            "limits": value.limits,
            "owner": value.owner,
        }


class TestOtherSdksBytes:
    """protocol.md §2.3 and §6.18: every SDK writes different JSON bytes; all must decode."""

    def test_python_sdk_spacing(self) -> None:
        # json.dumps(obj, ensure_ascii=False), as the official Python SDK writes it.
        data = json.dumps({"k": "é", "n": [1, 2]}, ensure_ascii=False).encode()
        assert data == b'{"k": "\xc3\xa9", "n": [1, 2]}'
        assert ANY_OBJECT.decode(data) == {"k": "é", "n": [1, 2]}

    def test_go_sdk_trailing_newline_and_html_escapes(self) -> None:
        data = b'{"id":"a\\u003cb","n":1,"ratio":0.5}\n'
        assert PROFILE.decode(data) == Profile(id="a<b", n=1, ratio=0.5)

    def test_unknown_fields_are_ignored(self) -> None:
        data = b'{"id": "x", "n": 1, "ratio": 1.0, "added_later": [1]}'
        assert PROFILE.decode(data) == Profile(id="x", n=1, ratio=1.0)


class TestErrors:
    def test_wrong_field_type_keeps_msgspecs_path(self) -> None:
        with pytest.raises(SerdeError) as info:
            PROFILE.decode(b'{"id": "x", "n": "1", "ratio": 1.0}')
        assert str(info.value) == "`bench.types/profile`: Expected `int`, got `str` - at `$.n`"
        assert info.value.typename == "bench.types/profile"
        assert isinstance(info.value.__cause__, msgspec.ValidationError)

    def test_missing_field(self) -> None:
        with pytest.raises(SerdeError) as info:
            PROFILE.decode(b'{"id": "x"}')
        assert str(info.value) == "`bench.types/profile`: Object missing required field `n`"

    def test_not_json(self) -> None:
        with pytest.raises(SerdeError) as info:
            COUNTS.decode(b"")
        assert str(info.value) == "`example/Counts`: Input data was truncated"
        assert isinstance(info.value.__cause__, msgspec.DecodeError)

    def test_unencodable_value(self) -> None:
        with pytest.raises(SerdeError) as info:
            COUNTS.encode({"a": object()})  # type: ignore[dict-item]
        assert str(info.value) == (
            "`example/Counts`: cannot encode a `dict`: Encoding objects of type object is unsupported"
        )
        assert isinstance(info.value.__cause__, TypeError)

    def test_typename_is_checked(self) -> None:
        with pytest.raises(InvalidTypeName) as info:
            json_type("Profile", Profile)
        assert str(info.value) == (
            "Type typename 'Profile' is not a valid typename: expected `<namespace>/<name>`"
        )


class TestIdentity:
    def test_equal_when_typename_and_python_type_are(self) -> None:
        assert json_type("bench.types/profile", Profile) == PROFILE
        assert hash(json_type("bench.types/profile", Profile)) == hash(PROFILE)
        assert json_type("bench.types/other", Profile) != PROFILE
        assert json_type("bench.types/profile", Point) != PROFILE

    def test_message_typenames_may_hold_more_slashes(self) -> None:
        # Message and egress typenames pass through the runtime unparsed (§6.6).
        assert json_type("example.com/v1/Point", Point).typename == "example.com/v1/Point"

    def test_repr(self) -> None:
        assert repr(PROFILE) == "Type('bench.types/profile', JsonSerde(Profile))"

    def test_is_a_type(self) -> None:
        assert isinstance(PROFILE, Type)
