"""Ready-made properties for StateFun functions and types.

Each one raises ``AssertionError`` with the difference it found::

    from statefun.testing.properties import assert_batch_equivalent, assert_deterministic, assert_roundtrip
    import statefun.testing.strategies as sst

    def test_greet_roundtrip():
        assert_roundtrip(GREET)                       # runs its own @given

    @given(st.lists(sst.messages(GREET, to=sst.addresses("example/person")), max_size=5))
    def test_greeter_is_deterministic(messages):
        assert_deterministic(functions, GREET, messages)

    CART = Address("example/cart", "c-1")

    @given(st.lists(st.one_of(sst.messages(ADD, to=CART), sst.messages(REMOVE, to=CART))))
    def test_a_mixed_batch_is_one_batch_or_many(messages):
        assert_batch_equivalent(functions, ADD | REMOVE, messages)   # what bind(accepts=) got

Needs Hypothesis, the ``testing`` extra for :func:`assert_roundtrip`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar, Union

from .. import Address, DefinitionError, Functions, Message, Type, TypeUnion
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
    accepts: Type[T] | TypeUnion[T],
    messages: Iterable[Message[T]],
    *,
    advance: timedelta | None = None,
) -> None:
    """Check that the same messages give the same outcome twice, on fresh runtimes.

    Each run sends every message, runs until idle, then lets time pass:
    ``advance`` if given, otherwise until no timer is left. Catches functions
    that read clocks, randomness or other hidden inputs.

    >>> from examples.cart.functions import ADD, REMOVE, Add, Remove, functions
    >>> CART = Address("shop/cart", "u1")
    >>> assert_deterministic(functions, ADD | REMOVE, [
    ...     Message(CART, Add("pen"), typename=ADD.typename),
    ...     Message(CART, Remove("pen"), typename=REMOVE.typename),
    ... ])

    Parameters
    ----------
    runtime
        The functions to run in process, or a callable making a fresh runtime
        (to give a module.yaml or another transport).
    accepts
        The message types, as given to ``Functions.bind(accepts=...)``: one
        :class:`statefun.Type`, or a :class:`statefun.TypeUnion` such as
        ``ADD | REMOVE``. Each message is encoded with the member its
        ``typename`` names, so with a union of several types every message must
        say its ``typename`` (:func:`statefun.testing.strategies.messages` does).
    messages
        The messages to send, in order.
    """
    raw = _encode("assert_deterministic", accepts, messages)
    first = _play(runtime, advance, lambda rt: _send_each(rt, raw))
    second = _play(runtime, advance, lambda rt: _send_each(rt, raw))
    _assert_same(first, second, "the first run", "the second run")


def assert_batch_equivalent(
    runtime: RuntimeSource,
    accepts: Type[T] | TypeUnion[T],
    messages: Sequence[Message[T]],
    *,
    advance: timedelta | None = None,
) -> None:
    """Check that N messages in one batch give the same state and effects as N requests.

    The runtime batches messages that arrive while a request to the same
    address is in flight (protocol.md §1.9); a function must not care. Every
    message must have the same target. One run makes N requests of one message
    each, the other one request of N; only then is what they caused delivered,
    and time let pass as in :func:`assert_deterministic`. ``accepts`` is as
    there: one Type, or a union for a mixed batch, each message encoded with
    the member its ``typename`` names.

    >>> from examples.cart.functions import ADD, REMOVE, Add, Remove, functions
    >>> CART = Address("shop/cart", "u1")
    >>> assert_batch_equivalent(functions, ADD | REMOVE, [
    ...     Message(CART, Add("pen"), typename=ADD.typename),
    ...     Message(CART, Remove("pen"), typename=REMOVE.typename),
    ... ])
    """
    targets = {message.target for message in messages}
    if len(targets) > 1:
        raise DefinitionError(
            f"assert_batch_equivalent: every message must go to one address, got {len(targets)}:"
            f" {sorted(map(str, targets))}"
        )
    raw = [m for _, m in _encode("assert_batch_equivalent", accepts, messages)]
    if not raw:
        return
    target = messages[0].target
    single = _play(runtime, advance, lambda rt: _requests(rt, target, [[m] for m in raw]))
    batched = _play(runtime, advance, lambda rt: _requests(rt, target, [raw]))
    _assert_same(single, batched, f"{len(raw)} single requests", f"one batch of {len(raw)}")


def _encode(
    where: str, accepts: Type[T] | TypeUnion[T], messages: Iterable[Message[T]]
) -> list[tuple[Address, RawMessage]]:
    """Each message as it travels, encoded with the member of ``accepts`` it names."""
    types = accepts.types if isinstance(accepts, TypeUnion) else (accepts,)
    by_typename = {t.typename: t for t in types}
    listed = ", ".join(f"`{t.typename}`" for t in types)
    messages = list(messages)
    out: list[tuple[Address, RawMessage]] = []
    for number, message in enumerate(messages, start=1):
        which = f"{where}: message {number} of {len(messages)}"
        if message.typename is None and len(types) == 1:
            type_ = types[0]
        elif message.typename is None:
            raise DefinitionError(
                f"{which} has no typename, and accepts has {len(types)} types ({listed});"
                f" say which, e.g. Message(target, value, typename={types[0].typename!r}):"
                f" {message!r}"
            )
        elif message.typename in by_typename:
            type_ = by_typename[message.typename]
        else:
            raise DefinitionError(
                f"{which} has typename `{message.typename}`, which accepts does not have"
                f" ({listed}): {message!r}"
            )
        data = type_.encode(message.value)
        out.append((message.target, RawMessage(type_.typename, data, message.caller)))
    return out


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


def _send_each(runtime: LocalRuntime, messages: list[tuple[Address, RawMessage]]) -> None:
    for target, message in messages:
        runtime.send_raw(target, message.typename, message.value, caller=message.caller)


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
