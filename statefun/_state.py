"""`State`: the immutable state a function reads and returns."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ParamSpec, TypeVar, final

import msgspec

from ._errors import DefinitionError, UndeclaredState
from ._spec import ReadableSpec, ValueSpec, WritableSpec

__all__ = ("State",)

T = TypeVar("T")
P = ParamSpec("P")


class _Absent:
    """Marks a state with no value, so that a stored value can never be confused with it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<absent>"


ABSENT = _Absent()


class Origin:
    """The state values as the runtime sent them, decoded lazily and at most once.

    One Origin is shared by every State derived from it in a batch; caching a
    decoded value here is invisible to users, since State values are immutable.
    """

    __slots__ = ("raw", "decoded")

    def __init__(self, raw: dict[str, bytes | None]) -> None:
        self.raw = raw
        self.decoded: dict[str, object] = {}

    def value(self, spec: ValueSpec[Any]) -> object:
        name = spec.name
        try:
            return self.decoded[name]
        except KeyError:
            data = self.raw.get(name)
            value = ABSENT if data is None else spec.type.decode(data)
            self.decoded[name] = value
            return value


_EMPTY_ORIGIN = Origin({})


@final
class State(msgspec.Struct, frozen=True, gc=False, eq=False, repr_omit_defaults=False):
    """The state of one function instance: an immutable value.

    Reading gives ``None`` for a value that is not set; ``set`` and ``delete``
    return a new State and leave this one as it was. Only specs the function
    declared may be used.

    >>> state = State.of(VISITS)
    >>> state.get(VISITS) is None
    True
    >>> state.set(VISITS, 3).get(VISITS)
    3

    Values are shared, not copied: treat what you read as immutable (frozen
    ``msgspec.Struct``\\ s and tuples make that natural) and ``set`` a new value.
    Build one with :meth:`of`; the fields are the SDK's.
    """

    # A frozen Struct, built in C: set() makes a new State per write, and a
    # batch of 100 messages does that hundreds of times.
    _specs: Mapping[str, ValueSpec[Any]]
    _values: dict[str, object]
    _origin: Origin

    @classmethod
    def of(cls, *specs: ValueSpec[Any]) -> State:
        """Return a State that declares ``specs``, none of them set.

        >>> NAME = ValueSpec("name", STRING)
        >>> State.of(VISITS, NAME).set(NAME, "Ana")
        State(visits=None, name='Ana')
        """
        declared: dict[str, ValueSpec[Any]] = {}
        for spec in specs:
            if not isinstance(spec, ValueSpec):
                raise DefinitionError(f"State.of takes ValueSpecs, got `{type(spec).__name__}`")
            if spec.name in declared and declared[spec.name] != spec:
                raise DefinitionError(f"State.of: two different specs are named `{spec.name}`")
            declared[spec.name] = spec
        return _make(declared, {}, _EMPTY_ORIGIN)

    # get/set/delete run several times per message: the declared spec is almost
    # always the very object passed in, so `is` decides before _check is called.

    def get(self, spec: ReadableSpec[T]) -> T | None:
        """Return the value of ``spec``, or ``None`` if it has none."""
        name = spec.name
        declared = self._specs.get(name)
        if declared is not spec:
            declared = self._check(spec)
        value = self._values.get(name, _UNWRITTEN)
        if value is _UNWRITTEN:
            # `declared` is `spec` or _check()'s answer, never None; pyright cannot narrow `is not`.
            value = self._origin.value(declared)  # pyright: ignore[reportArgumentType]
        return None if value is ABSENT else value  # type: ignore[return-value]

    def set(self, spec: WritableSpec[P], *value: P.args, **_: P.kwargs) -> State:
        """Return a copy of this State with ``spec`` set to ``value``: ``state.set(VISITS, 3)``.

        ``value`` must be of the spec's type. (It is typed through the spec's
        encoder so that mypy names both types on a mismatch: ``Argument 2 to
        "set" of "State" has incompatible type "str"; expected "int"``.)
        """
        name = spec.name
        given: object = spec  # mypy cannot relate the ParamSpec protocol to ValueSpec
        if self._specs.get(name) is not given:
            self._check(spec)
        if _:
            raise DefinitionError(
                f"State.set(`{name}`, ...): give the value by position, after the spec:"
                f" state.set(spec, value), not {', '.join(f'{k}=' for k in _)}"
            )
        if len(value) != 1:
            raise DefinitionError(
                f"State.set(`{name}`, ...) takes one value after the spec, got {len(value)}"
            )
        if value[0] is None:
            raise DefinitionError(f"State.set(`{name}`, None): use State.delete to remove a value")
        values = self._values.copy()
        values[name] = value[0]
        return _make(self._specs, values, self._origin)

    def delete(self, spec: ValueSpec[Any]) -> State:
        """Return a copy of this State with ``spec`` unset."""
        if self._specs.get(spec.name) is not spec:
            self._check(spec)
        values = self._values.copy()
        values[spec.name] = ABSENT
        return _make(self._specs, values, self._origin)

    @property
    def specs(self) -> tuple[ValueSpec[Any], ...]:
        """The specs this State declares, in declaration order."""
        return tuple(self._specs.values())

    def _check(self, spec: object) -> ValueSpec[Any]:
        """The declared spec equal to ``spec``; raises if there is none."""
        if not isinstance(spec, ValueSpec):
            raise DefinitionError(f"State takes ValueSpecs, got `{type(spec).__name__}`")
        declared = self._specs.get(spec.name)
        if declared != spec:
            if declared is None:
                raise UndeclaredState(spec.name, tuple(self._specs))
            # isinstance() leaves pyright a ValueSpec[Unknown] (mypy: ValueSpec[Any]).
            raise UndeclaredState(spec.name, tuple(self._specs), declared_as=declared, given=spec)  # pyright: ignore[reportUnknownArgumentType]
        # Equal to `spec`, so not None: mypy narrows on `!=`, pyright does not.
        return declared  # pyright: ignore[reportReturnType]

    def _items(self) -> Iterator[tuple[str, object]]:
        for name, spec in self._specs.items():
            yield name, self.get(spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, State):
            return NotImplemented
        return self._specs == other._specs and dict(self._items()) == dict(other._items())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        body = ", ".join(f"{name}={value!r}" for name, value in self._items())
        return f"State({body})"


_UNWRITTEN = object()


_make = State


def from_runtime(specs: Mapping[str, ValueSpec[Any]], origin: Origin) -> State:
    """The State a batch starts from."""
    return _make(specs, {}, origin)


def origin_of(state: State) -> Origin:
    return state._origin


def written(state: State) -> dict[str, object]:
    """The values set or deleted since the State left its origin (ABSENT for deleted)."""
    return state._values


def declared(state: State) -> Mapping[str, ValueSpec[Any]]:
    return state._specs


def check_declared(specs: Iterable[ValueSpec[Any]], state: State) -> None:
    """Raise if ``state`` declares a spec that is not among ``specs``."""
    names = {spec.name: spec for spec in specs}
    for name, spec in state._specs.items():
        if names.get(name) != spec:
            raise UndeclaredState(name, tuple(names))
