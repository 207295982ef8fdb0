"""``ValueSpec[T]``: name, type and expiry, checked as the runtime would."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from statefun import INT, STRING, DefinitionError, InvalidTypeName, ValueSpec, json_type


class TestFields:
    def test_defaults(self) -> None:
        spec = ValueSpec("visits", INT)
        assert (spec.name, spec.type, spec.expire_after_write, spec.expire_after_call) == (
            "visits",
            INT,
            None,
            None,
        )
        assert (spec.expire_mode, spec.expire_after_millis) == ("none", 0)

    def test_expire_after_write(self) -> None:
        spec = ValueSpec("seen", STRING, expire_after_write=timedelta(minutes=1))
        assert (spec.expire_mode, spec.expire_after_millis) == ("after_write", 60_000)

    def test_expire_after_call(self) -> None:
        spec = ValueSpec("seen", STRING, expire_after_call=timedelta(hours=1, microseconds=999))
        assert (spec.expire_mode, spec.expire_after_millis) == ("after_call", 3_600_000)

    def test_expiry_is_keyword_only(self) -> None:
        with pytest.raises(TypeError):
            ValueSpec("seen", STRING, timedelta(1))  # type: ignore[call-arg]

    def test_immutable_and_equal_by_content(self) -> None:
        spec = ValueSpec("visits", INT)
        assert spec == ValueSpec("visits", INT)
        assert hash(spec) == hash(ValueSpec("visits", INT))
        assert spec != ValueSpec("visits", INT, expire_after_call=timedelta(seconds=1))
        with pytest.raises(dataclasses.FrozenInstanceError):
            spec.name = "other"  # type: ignore[misc]

    def test_repr(self) -> None:
        assert repr(ValueSpec("visits", INT)) == "ValueSpec('visits', 'io.statefun.types/int')"
        assert repr(ValueSpec("seen", STRING, expire_after_write=timedelta(minutes=1))) == (
            "ValueSpec('seen', 'io.statefun.types/string',"
            " expire_after_write=datetime.timedelta(seconds=60))"
        )


class TestNames:
    @pytest.mark.parametrize("name", ["visits", "_1", "Visits", "a1_b2", "_"])
    def test_identifiers(self, name: str) -> None:
        assert ValueSpec(name, INT).name == name

    @pytest.mark.parametrize("name", ["", "1a", "a-b", "a b", "a.b", "é"])
    def test_others_are_refused(self, name: str) -> None:
        with pytest.raises(DefinitionError) as info:
            ValueSpec(name, INT)
        assert str(info.value) == (
            f"ValueSpec name {name!r} must be an identifier:"
            " a letter or `_`, then letters, digits or `_`"
        )

    def test_name_must_be_a_str(self) -> None:
        with pytest.raises(DefinitionError) as info:
            ValueSpec(1, INT)  # type: ignore[arg-type]
        assert str(info.value) == (
            "ValueSpec name 1 must be an identifier: a letter or `_`, then letters, digits or `_`"
        )


class TestTypes:
    def test_type_must_be_a_statefun_type(self) -> None:
        with pytest.raises(DefinitionError) as info:
            ValueSpec("visits", int)  # type: ignore[arg-type]
        assert str(info.value) == "ValueSpec `visits`: `type` must be a statefun Type, got `type`"

    def test_state_type_needs_exactly_one_slash(self) -> None:
        with pytest.raises(InvalidTypeName) as info:
            ValueSpec("profile", json_type("example.com/v1/Profile", dict[str, int]))
        assert str(info.value) == (
            "ValueSpec `profile` type 'example.com/v1/Profile' is not a valid typename:"
            " the runtime needs exactly one `/` here"
        )
        assert info.value.what == "ValueSpec `profile` type"
        assert info.value.typename == "example.com/v1/Profile"


class TestExpiry:
    def test_not_both(self) -> None:
        with pytest.raises(DefinitionError) as info:
            ValueSpec(
                "x",
                INT,
                expire_after_write=timedelta(seconds=1),
                expire_after_call=timedelta(seconds=1),
            )
        assert str(info.value) == (
            "ValueSpec `x`: set `expire_after_write` or `expire_after_call`, not both"
        )

    @pytest.mark.parametrize(
        ("delay", "shown"),
        [
            (timedelta(0), "datetime.timedelta(0)"),
            (timedelta(microseconds=999), "datetime.timedelta(microseconds=999)"),
            (timedelta(seconds=-1), "datetime.timedelta(days=-1, seconds=86399)"),
        ],
    )
    def test_below_one_millisecond(self, delay: timedelta, shown: str) -> None:
        with pytest.raises(DefinitionError) as info:
            ValueSpec("x", INT, expire_after_write=delay)
        assert str(info.value) == (
            f"ValueSpec `x`: expire_after_write={shown} must be at least 1 millisecond;"
            " leave it out for no expiry"
        )

    def test_one_millisecond_is_enough(self) -> None:
        assert (
            ValueSpec("x", INT, expire_after_call=timedelta(milliseconds=1)).expire_after_millis
            == 1
        )

    def test_must_be_a_timedelta(self) -> None:
        with pytest.raises(DefinitionError) as info:
            ValueSpec("x", INT, expire_after_call=60)  # type: ignore[arg-type]
        assert str(info.value) == "ValueSpec `x`: expire_after_call must be a timedelta, got `int`"
