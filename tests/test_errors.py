"""The error tree of ``statefun._errors``, as its module docstring draws it."""

from __future__ import annotations

import pytest

from statefun import (
    DefinitionError,
    EventLoopRequired,
    InvalidResult,
    InvalidTypeName,
    InvocationFailed,
    MalformedRequest,
    RequestError,
    SerdeError,
    StateError,
    StatefunError,
    StateTypeMismatch,
    UndeclaredState,
    UnknownFunction,
    UnknownMessageType,
)

TREE: list[tuple[type[Exception], tuple[type[Exception], ...]]] = [
    (DefinitionError, (StatefunError, ValueError)),
    (InvalidTypeName, (DefinitionError,)),
    (SerdeError, (StatefunError, ValueError)),
    (StateError, (StatefunError,)),
    (UndeclaredState, (StateError, LookupError)),
    (StateTypeMismatch, (StateError, TypeError)),
    (UnknownMessageType, (StatefunError, TypeError)),
    (RequestError, (StatefunError,)),
    (MalformedRequest, (RequestError, ValueError)),
    (UnknownFunction, (RequestError, LookupError)),
    (InvocationFailed, (StatefunError,)),
    (InvalidResult, (StatefunError,)),
    (EventLoopRequired, (StatefunError, RuntimeError)),
]


@pytest.mark.parametrize(("error", "parents"), TREE, ids=[e.__name__ for e, _ in TREE])
def test_each_error_subclasses_what_the_tree_says(
    error: type[Exception], parents: tuple[type[Exception], ...]
) -> None:
    assert error.__bases__ == parents


@pytest.mark.parametrize(("error", "parents"), TREE, ids=[e.__name__ for e, _ in TREE])
def test_each_error_says_when_it_is_raised(
    error: type[Exception], parents: tuple[type[Exception], ...]
) -> None:
    assert error.__doc__ and error.__doc__.strip()


def test_request_errors_carry_an_http_status() -> None:
    assert (RequestError.status, MalformedRequest.status, UnknownFunction.status) == (400, 400, 404)


def test_lookup_errors_do_not_quote_their_message() -> None:
    # KeyError would print repr(message); LookupError subclasses print it plainly.
    assert str(UnknownFunction("a/b")) == "no function is registered for `a/b`"
    assert str(UndeclaredState("x", ())) == (
        "state `x` is not declared by this function (declared: none); add its ValueSpec to `specs=` (in a test, to `State.of(...)`)"
    )


# Where a builtin exception may still be raised, and why.
ALLOWED_BUILTINS = {
    # Assigning to an immutable value, as a frozen dataclass does.
    "AttributeError": None,
    # A missing optional dependency, with the install command (msgspec does the same).
    "ImportError": None,
    # Serdes: Type.encode/decode turn whatever they raise into a SerdeError.
    "ValueError": ("statefun/serdes/_wire.py", "statefun/serdes/primitives.py"),
    "TypeError": ("statefun/serdes/primitives.py", "statefun/serdes/protobuf.py"),
    # The properties report what differs the way pytest expects.
    "AssertionError": ("statefun/testing/properties.py",),
}


def test_the_sdk_raises_only_its_own_errors() -> None:
    """What _errors.py claims, checked in the source: every `raise` of a builtin is allowed above."""
    import ast
    import builtins
    from pathlib import Path

    root = Path(__file__).parents[1]
    found: list[str] = []
    for path in sorted((root / "statefun").rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith("statefun/_generated/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), relative)):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            call = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            name = call.id if isinstance(call, ast.Name) else None
            if name is None or not isinstance(getattr(builtins, name, None), type):
                continue
            allowed = ALLOWED_BUILTINS.get(name, ())
            if allowed is None or relative in (allowed or ()):
                continue
            found.append(f"{relative}:{node.lineno}: raise {name}")
    assert found == []
