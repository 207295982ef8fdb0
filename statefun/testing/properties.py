"""Ready-made properties for StateFun functions and types.

Each one raises ``AssertionError`` with the difference it found::

    from statefun.testing.properties import assert_batch_equivalent, assert_deterministic, assert_roundtrip
    import statefun.testing.strategies as sst

    def test_greet_roundtrip():
        assert_roundtrip(GREET)                       # runs its own @given

    @given(st.lists(sst.messages(GREET, to=sst.addresses("example/person")), max_size=5))
    def test_greeter_is_deterministic(messages):
        assert_deterministic(functions, GREET, messages)

Needs ``pip install 'statefun-sdk[testing]'`` for :func:`assert_roundtrip`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar, Union

from .. import Address, Functions, Message, Type
from ..local import EgressRecord, LocalRuntime, PendingTimer, RawMessage

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = (
    "Outcome",
    "assert_batch_equivalent",
    "assert_deterministic",
    "assert_roundtrip",
    "outcome",
)

T = TypeVar("T")

# Union, not `|`: Python 3.10 cannot `|` a class with a Callable[...] alias.
RuntimeSource = Union[Functions, Callable[[], LocalRuntime]]  # noqa: UP007


@dataclass(frozen=True, slots=True)
class Outcome:
    """Everything a run left behind: egress records, live state, pending timers."""

    egress: tuple[EgressRecord, ...]
    state: dict[Address, dict[str, bytes]]
    timers: tuple[PendingTimer, ...]


def outcome(runtime: LocalRuntime) -> Outcome:
    """What ``runtime`` has produced so far, as one value to compare."""
    return Outcome(
        tuple(runtime.egress()), runtime.state_snapshot(), tuple(runtime.pending_timers())
    )


def assert_roundtrip(
    type_: Type[T], values: SearchStrategy[T] | None = None, *, max_examples: int = 100
) -> None:
    """Check that every value survives ``encode`` then ``decode``, and encodes stably.

    ``values`` defaults to :func:`statefun.testing.strategies.values` of ``type_``.
    Runs its own Hypothesis test; call it from a plain test function.
    """
    from hypothesis import given, settings

    from .strategies import values as values_of

    strategy = values if values is not None else values_of(type_)

    @settings(max_examples=max_examples, deadline=None)
    @given(strategy)
    def roundtrip(value: T) -> None:
        data = type_.encode(value)
        back = type_.decode(data)
        assert back == value, (
            f"`{type_.typename}`: {value!r} came back as {back!r} (bytes {data!r})"
        )
        again = type_.encode(back)
        assert again == data, (
            f"`{type_.typename}`: {value!r} encodes to {data!r}, then to {again!r}"
        )

    roundtrip()


def assert_deterministic(
    runtime: RuntimeSource,
    type_: Type[T],
    messages: Iterable[Message[T]],
    *,
    advance: timedelta | None = None,
) -> None:
    """Check that the same messages give the same outcome twice, on fresh runtimes.

    Each run sends every message, runs until idle, then lets time pass:
    ``advance`` if given, otherwise until no timer is left. Catches functions
    that read clocks, randomness or other hidden inputs.

    Parameters
    ----------
    runtime
        The functions to run in process, or a callable making a fresh runtime
        (to give a module.yaml or another transport).
    """
    messages = list(messages)
    first = _play(runtime, advance, lambda rt: _send_each(rt, type_, messages))
    second = _play(runtime, advance, lambda rt: _send_each(rt, type_, messages))
    _assert_same(first, second, "the first run", "the second run")


def assert_batch_equivalent(
    runtime: RuntimeSource,
    type_: Type[T],
    messages: Sequence[Message[T]],
    *,
    advance: timedelta | None = None,
) -> None:
    """Check that N messages in one batch give the same state and effects as N requests.

    The runtime batches messages that arrive while a request to the same
    address is in flight (protocol.md §1.9); a function must not care. Every
    message must have the same target. One run makes N requests of one message
    each, the other one request of N; only then is what they caused delivered,
    and time let pass as in :func:`assert_deterministic`.
    """
    targets = {message.target for message in messages}
    if len(targets) > 1:
        raise ValueError(
            f"assert_batch_equivalent: every message must go to one address, got {len(targets)}:"
            f" {sorted(map(str, targets))}"
        )
    if not messages:
        return
    target = messages[0].target
    raw = [RawMessage(type_.typename, type_.encode(m.value), m.caller) for m in messages]
    single = _play(runtime, advance, lambda rt: _requests(rt, target, [[m] for m in raw]))
    batched = _play(runtime, advance, lambda rt: _requests(rt, target, [raw]))
    _assert_same(
        single, batched, f"{len(messages)} single requests", f"one batch of {len(messages)}"
    )


def _play(
    source: RuntimeSource, advance: timedelta | None, feed: Callable[[LocalRuntime], None]
) -> Outcome:
    runtime = LocalRuntime(source) if isinstance(source, Functions) else source()
    with runtime:
        feed(runtime)
        runtime.run_until_idle()
        if advance is None:
            runtime.advance_until_idle()
        else:
            runtime.advance(advance)
        return outcome(runtime)


def _send_each(runtime: LocalRuntime, type_: Type[T], messages: Iterable[Message[T]]) -> None:
    for message in messages:
        runtime.send(message.target, type_, message.value, caller=message.caller)


def _requests(runtime: LocalRuntime, target: Address, batches: list[list[RawMessage]]) -> None:
    # Requests made one after another, before anything they cause is delivered:
    # both runs see the rest of the world in the same state.
    for batch in batches:
        runtime.request(target, batch)


def _assert_same(a: Outcome, b: Outcome, name_a: str, name_b: str) -> None:
    problems: list[str] = []
    for address in sorted(set(a.state) | set(b.state), key=str):
        left, right = a.state.get(address, {}), b.state.get(address, {})
        for spec in sorted(set(left) | set(right)):
            if left.get(spec) != right.get(spec):
                problems.append(
                    f"state `{spec}` of {address}: {left.get(spec)!r} after {name_a},"
                    f" {right.get(spec)!r} after {name_b}"
                )
    _compare("egress", a.egress, b.egress, name_a, name_b, problems)
    _compare("pending timers", a.timers, b.timers, name_a, name_b, problems)
    if problems:
        raise AssertionError(f"{name_a} and {name_b} differ:\n  " + "\n  ".join(problems))


def _compare(
    what: str,
    a: Sequence[Any],
    b: Sequence[Any],
    name_a: str,
    name_b: str,
    problems: list[str],
) -> None:
    if list(a) == list(b):
        return
    only_a = Counter(a) - Counter(b)
    only_b = Counter(b) - Counter(a)
    for item in only_a.elements():
        problems.append(f"{what}: {item!r} only after {name_a}")
    for item in only_b.elements():
        problems.append(f"{what}: {item!r} only after {name_b}")
    if not only_a and not only_b:
        problems.append(f"{what}: the same records in another order")
