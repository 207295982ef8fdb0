"""``Functions``: registering pure functions, and what registration refuses."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from statefun import (
    BOOL,
    DOUBLE,
    FLOAT,
    INT,
    LONG,
    STRING,
    Address,
    DefinitionError,
    Function,
    Functions,
    Handler,
    InvalidTypeName,
    Message,
    Result,
    State,
    ValueSpec,
    custom_type,
)

VISITS = ValueSpec("visits", INT)


def noop(state: State, msg: Message[Any]) -> Result:
    return Result(state)


class TestBind:
    def test_returns_the_function_unchanged(self) -> None:
        functions = Functions()
        assert functions.bind("example/f", accepts=INT)(noop) is noop

    def test_records_what_was_declared(self) -> None:
        functions = Functions()
        functions.bind("example/f", accepts=INT | STRING, specs=[VISITS])(noop)
        function = functions.get("example/f")
        assert function is not None
        assert (function.typename, function.fn, function.accepts, function.specs) == (
            "example/f",
            noop,
            (INT, STRING),
            (VISITS,),
        )
        assert function == Function(
            typename="example/f", fn=noop, accepts=(INT, STRING), specs=(VISITS,)
        )
        assert repr(function) == (
            "Function(typename='example/f', accepts=(Type('io.statefun.types/int', IntSerde()),"
            " Type('io.statefun.types/string', StringSerde())),"
            " specs=(ValueSpec('visits', 'io.statefun.types/int'),), on_error=None)"
        )

    def test_a_single_type_or_a_union_of_any_length(self) -> None:
        functions = Functions()
        functions.bind("example/a", accepts=INT)(noop)
        functions.bind("example/b", accepts=INT | STRING | BOOL | LONG | DOUBLE | FLOAT)(noop)
        assert [f.accepts for f in functions] == [
            (INT,),
            (INT, STRING, BOOL, LONG, DOUBLE, FLOAT),
        ]

    def test_a_tuple_is_refused_with_the_spelling_to_use(self) -> None:
        with pytest.raises(DefinitionError) as info:
            Functions().bind("example/f", accepts=(INT, STRING))  # type: ignore[arg-type]
        assert str(info.value) == (
            "function `example/f`: join the accepted types with `|` (accepts=A | B), not a tuple"
        )

    def test_lookup_and_container_protocol(self) -> None:
        functions = Functions()
        functions.bind("example/a", accepts=INT)(noop)
        functions.bind("example/b", accepts=INT)(noop)
        assert "example/a" in functions
        assert "example/c" not in functions
        assert functions.get("example/c") is None
        assert len(functions) == 2
        assert [f.typename for f in functions] == ["example/a", "example/b"]
        assert repr(functions) == "Functions(example/a, example/b)"

    def test_sync_and_async_functions(self) -> None:
        functions = Functions()

        @functions.bind("example/sync", accepts=INT)
        def sync(state: State, msg: Message[int]) -> Result:
            return Result(state)

        @functions.bind("example/async", accepts=INT)
        async def not_sync(state: State, msg: Message[int]) -> Result:
            return Result(state)

        assert len(functions) == 2


class TestRefused:
    def test_duplicate_function_type(self) -> None:
        functions = Functions()
        functions.bind("example/f", accepts=INT)(noop)
        with pytest.raises(DefinitionError) as info:
            functions.bind("example/f", accepts=INT)
        assert str(info.value) == "function `example/f` is already registered"

    def test_duplicate_through_two_pending_decorators(self) -> None:
        functions = Functions()
        first = functions.bind("example/f", accepts=INT)
        second = functions.bind("example/f", accepts=INT)
        first(noop)
        with pytest.raises(DefinitionError) as info:
            second(noop)
        assert str(info.value) == "function `example/f` is already registered"

    @pytest.mark.parametrize(
        ("typename", "reason"),
        [
            ("f", "expected `<namespace>/<name>`"),
            ("example/v1/f", "the runtime needs exactly one `/` here"),
            ("example/", "namespace and name must both be non-empty"),
        ],
    )
    def test_function_types_are_parsed_strictly(self, typename: str, reason: str) -> None:
        with pytest.raises(InvalidTypeName) as info:
            Functions().bind(typename, accepts=INT)
        assert (
            str(info.value) == f"function typename {typename!r} is not a valid typename: {reason}"
        )

    def test_accepts_holds_types(self) -> None:
        with pytest.raises(DefinitionError) as info:
            Functions().bind("example/f", accepts=int)  # type: ignore[arg-type]
        assert str(info.value) == (
            "function `example/f`: accepts must be a statefun Type or Types joined with `|`,"
            " got `type`"
        )

    def test_a_typename_accepted_twice(self) -> None:
        with pytest.raises(DefinitionError) as info:
            Functions().bind("example/f", accepts=INT | STRING | INT)
        assert str(info.value) == "`io.statefun.types/int` is in the union twice"

    def test_two_types_with_one_typename(self) -> None:
        other = custom_type("io.statefun.types/int", encode=str.encode, decode=bytes.decode)
        with pytest.raises(DefinitionError) as info:
            _ = INT | other
        assert str(info.value) == "`io.statefun.types/int` is in the union twice"

    def test_specs_must_be_a_list(self) -> None:
        with pytest.raises(DefinitionError) as info:
            Functions().bind("example/f", accepts=INT, specs=VISITS)  # type: ignore[arg-type]
        assert str(info.value) == (
            "function `example/f`: specs must be a list of ValueSpecs, e.g. specs=[VISITS],"
            " got `ValueSpec`"
        )

    def test_specs_must_be_value_specs(self) -> None:
        with pytest.raises(DefinitionError) as info:
            Functions().bind("example/f", accepts=INT, specs=["visits"])  # type: ignore[list-item]
        assert str(info.value) == "function `example/f`: specs must be ValueSpecs, got `str`"

    def test_a_state_declared_twice(self) -> None:
        again = ValueSpec("visits", INT, expire_after_call=timedelta(seconds=1))
        with pytest.raises(DefinitionError) as info:
            Functions().bind("example/f", accepts=INT, specs=[VISITS, again])
        assert str(info.value) == "function `example/f` declares state `visits` twice"

    def test_not_callable(self) -> None:
        binder = Functions().bind("example/f", accepts=INT)
        with pytest.raises(DefinitionError) as info:
            binder(42)  # type: ignore[arg-type]
        assert str(info.value) == "function `example/f` must be callable, got 42"

    def test_registering_after_serving_started(self) -> None:
        functions = Functions()
        functions.bind("example/f", accepts=INT)(noop)
        Handler(functions)
        with pytest.raises(DefinitionError) as info:
            functions.bind("example/g", accepts=INT)(noop)
        assert str(info.value) == (
            "cannot register `example/g`: these functions are already being served;"
            " register every function before serving"
        )
        assert "example/g" not in functions


def test_the_function_is_plain_and_testable_without_the_sdk_runtime() -> None:
    """Functions are ``(state, message) -> Result``: a test calls them directly."""
    functions = Functions()

    @functions.bind("example/counter", accepts=INT, specs=[VISITS])
    def counter(state: State, msg: Message[int]) -> Result:
        return Result(state.set(VISITS, (state.get(VISITS) or 0) + msg.value))

    result = counter(State.of(VISITS).set(VISITS, 1), Message(Address("example/counter", "c"), 2))
    assert result == Result(State.of(VISITS).set(VISITS, 3))
