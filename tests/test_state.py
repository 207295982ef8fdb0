"""``State``: an immutable value, read and written only through declared specs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statefun import (
    INT,
    LONG,
    STRING,
    DefinitionError,
    State,
    StateError,
    StateTypeMismatch,
    UndeclaredState,
    ValueSpec,
)

VISITS = ValueSpec("visits", INT)
NAME = ValueSpec("name", STRING)
OTHER = ValueSpec("other", INT)


class TestReadAndWrite:
    def test_unset_values_read_as_none(self) -> None:
        state = State.of(VISITS, NAME)
        assert state.get(VISITS) is None
        assert state.get(NAME) is None

    def test_set_returns_a_new_state(self) -> None:
        before = State.of(VISITS)
        after = before.set(VISITS, 3)
        assert after.get(VISITS) == 3
        assert before.get(VISITS) is None

    def test_delete_returns_a_new_state(self) -> None:
        before = State.of(VISITS).set(VISITS, 3)
        after = before.delete(VISITS)
        assert after.get(VISITS) is None
        assert before.get(VISITS) == 3

    def test_zero_is_a_value(self) -> None:
        assert State.of(VISITS).set(VISITS, 0).get(VISITS) == 0

    def test_exactly_one_value(self) -> None:
        state = State.of(VISITS)
        with pytest.raises(DefinitionError) as info:
            state.set(VISITS)  # type: ignore[call-arg]
        assert str(info.value) == "State.set(`visits`, ...) takes one value after the spec, got 0"
        with pytest.raises(DefinitionError) as info:
            state.set(VISITS, 1, 2)  # type: ignore[call-arg]
        assert str(info.value) == "State.set(`visits`, ...) takes one value after the spec, got 2"
        with pytest.raises(DefinitionError) as info:
            state.set(VISITS, value=1)  # type: ignore[call-arg]
        assert str(info.value) == (
            "State.set(`visits`, ...): give the value by position, after the spec:"
            " state.set(spec, value), not value="
        )

    def test_reading_in_a_wider_context(self) -> None:
        state = State.of(VISITS).set(VISITS, 3)
        wide: object = state.get(VISITS)  # type-checks: get() reads covariantly
        assert wide == 3
        assert f"{state.get(VISITS)}" == "3"

    def test_none_cannot_be_set(self) -> None:
        with pytest.raises(DefinitionError) as info:
            State.of(VISITS).set(VISITS, None)  # type: ignore[arg-type]
        assert str(info.value) == "State.set(`visits`, None): use State.delete to remove a value"

    @given(st.lists(st.tuples(st.booleans(), st.integers(-(2**31), 2**31 - 1)), max_size=10))
    def test_the_last_write_wins(self, writes: list[tuple[bool, int]]) -> None:
        state = State.of(VISITS)
        expected: int | None = None
        for delete, value in writes:
            state = state.delete(VISITS) if delete else state.set(VISITS, value)
            expected = None if delete else value
        assert state.get(VISITS) == expected

    def test_specs_in_declaration_order(self) -> None:
        assert State.of(NAME, VISITS).specs == (NAME, VISITS)


class TestUndeclared:
    def test_reading_an_undeclared_spec(self) -> None:
        with pytest.raises(UndeclaredState) as info:
            State.of(VISITS, NAME).get(OTHER)
        assert str(info.value) == (
            "state `other` is not declared by this function (declared: `visits`, `name`);"
            " add its ValueSpec to `specs=` (in a test, to `State.of(...)`)"
        )
        assert (info.value.name, info.value.declared) == ("other", ("visits", "name"))

    def test_writing_an_undeclared_spec(self) -> None:
        with pytest.raises(UndeclaredState) as info:
            State.of().set(OTHER, 1)
        assert str(info.value) == (
            "state `other` is not declared by this function (declared: none);"
            " add its ValueSpec to `specs=` (in a test, to `State.of(...)`)"
        )

    def test_deleting_an_undeclared_spec(self) -> None:
        with pytest.raises(UndeclaredState):
            State.of(VISITS).delete(OTHER)

    def test_a_spec_of_the_same_name_but_another_type(self) -> None:
        with pytest.raises(UndeclaredState) as info:
            State.of(VISITS).get(ValueSpec("visits", LONG))
        assert str(info.value) == (
            "state `visits` is declared as ValueSpec('visits', 'io.statefun.types/int'),"
            " not ValueSpec('visits', 'io.statefun.types/long'); use the declared ValueSpec"
        )

    def test_a_spec_of_the_same_name_but_another_expiry(self) -> None:
        drifted = ValueSpec("visits", INT, expire_after_call=timedelta(seconds=1))
        with pytest.raises(UndeclaredState) as info:
            State.of(VISITS).set(drifted, 1)
        assert str(info.value) == (
            "state `visits` is declared as ValueSpec('visits', 'io.statefun.types/int'),"
            " not ValueSpec('visits', 'io.statefun.types/int',"
            " expire_after_call=datetime.timedelta(seconds=1)); use the declared ValueSpec"
        )

    def test_an_equal_spec_is_the_declared_one(self) -> None:
        assert State.of(VISITS).set(ValueSpec("visits", INT), 1).get(VISITS) == 1

    def test_error_classes(self) -> None:
        assert issubclass(UndeclaredState, StateError)
        assert issubclass(UndeclaredState, LookupError)
        assert issubclass(StateTypeMismatch, StateError)
        assert issubclass(StateTypeMismatch, TypeError)


class TestConstruction:
    def test_only_through_of(self) -> None:
        with pytest.raises(DefinitionError) as info:
            State()
        assert str(info.value) == "build a State with State.of(*specs)"

    def test_of_takes_value_specs(self) -> None:
        with pytest.raises(DefinitionError) as info:
            State.of("visits")  # type: ignore[arg-type]
        assert str(info.value) == "State.of takes ValueSpecs, got `str`"

    def test_two_different_specs_with_one_name(self) -> None:
        with pytest.raises(DefinitionError) as info:
            State.of(VISITS, ValueSpec("visits", INT, expire_after_call=timedelta(seconds=1)))
        assert str(info.value) == "State.of: two different specs are named `visits`"

    def test_the_same_spec_twice_is_harmless(self) -> None:
        assert State.of(VISITS, VISITS).specs == (VISITS,)


class TestValueSemantics:
    def test_immutable(self) -> None:
        state = State.of(VISITS)
        with pytest.raises(AttributeError) as info:
            state._values = {}
        assert str(info.value) == "State is immutable: State.set returns a new State"

    def test_equal_by_specs_and_values(self) -> None:
        assert State.of(VISITS).set(VISITS, 1) == State.of(VISITS).set(VISITS, 1)
        assert State.of(VISITS).set(VISITS, 1) != State.of(VISITS).set(VISITS, 2)
        assert State.of(VISITS) != State.of(VISITS, NAME)
        assert State.of(VISITS).set(VISITS, 1).delete(VISITS) == State.of(VISITS)
        assert State.of(VISITS) != {"visits": None}

    def test_unhashable(self) -> None:
        with pytest.raises(TypeError):
            hash(State.of(VISITS))

    def test_repr(self) -> None:
        assert repr(State.of(VISITS, NAME).set(NAME, "Ana")) == "State(visits=None, name='Ana')"
