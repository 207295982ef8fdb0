"""The cart example on the local runtime: several message types, and dead letters."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import statefun.testing.strategies as sst
from examples.cart.functions import (
    ADD,
    CHECKOUT,
    ITEMS,
    RECEIPT,
    REMOVE,
    Add,
    Checkout,
    Receipt,
    Remove,
    functions,
)
from statefun import DEAD_LETTER, Address, DeadLetter, Message
from statefun.local import EPOCH, LocalRuntime
from statefun.testing.properties import assert_batch_equivalent, assert_roundtrip

MODULE = Path(__file__).parents[2] / "examples" / "cart" / "module.yaml"
ANA = Address("shop/cart", "ana")


def cart() -> LocalRuntime:
    return LocalRuntime(functions, module=MODULE)


def test_a_bad_record_in_the_middle_is_set_aside_and_the_rest_is_processed() -> None:
    runtime = cart()
    for topic, value in [
        ("cart-add", b'{"sku": "tea", "quantity": 2}'),
        ("cart-add", b'{"sku": "tea", "quantity": "lots"}'),
        ("cart-add", b'{"sku": "cake"}'),
        ("cart-add", b'{"sku": "cups", "quantity": -1}'),
        ("cart-checkout", b"{}"),
    ]:
        runtime.ingest(topic, "ana", value)
        runtime.run_until_idle()
    assert runtime.egress("shop/receipts", RECEIPT) == [Receipt("ana", {"tea": 2, "cake": 1})]
    assert runtime.egress("shop/dead-letters", DEAD_LETTER) == [
        DeadLetter(
            function="shop/cart",
            id="ana",
            typename="shop/Add",
            value=b'{"sku": "tea", "quantity": "lots"}',
            error_type="statefun.SerdeError",
            error="`shop/Add`: Expected `int`, got `str` - at `$.quantity`",
            time=EPOCH,
        ),
        DeadLetter(
            function="shop/cart",
            id="ana",
            typename="shop/Add",
            value=b'{"sku": "cups", "quantity": -1}',
            error_type="statefun.Permanent",
            error="quantity must be positive, got -1",
            time=EPOCH,
        ),
    ]
    assert runtime.state(ANA, ITEMS) is None


def test_a_dead_letter_replays_once_fixed() -> None:
    runtime = cart()
    runtime.ingest("cart-add", "ana", b'{"sku": "tea", "quantity": "2"}')
    runtime.run_until_idle()
    [letter] = runtime.egress("shop/dead-letters", DEAD_LETTER)
    # The fix: the producer sent the quantity as a string. Replay the repaired bytes.
    fixed = letter.value.replace(b'"2"', b"2")
    runtime.send_raw(letter.target, letter.typename, fixed, caller=letter.caller)
    runtime.run_until_idle()
    assert runtime.state(ANA, ITEMS) == {"tea": 2}


def test_the_types_round_trip() -> None:
    assert_roundtrip(ADD)
    assert_roundtrip(REMOVE)
    assert_roundtrip(CHECKOUT)
    assert_roundtrip(RECEIPT)
    assert_roundtrip(DEAD_LETTER)


COMMANDS = ADD | REMOVE | CHECKOUT


@given(st.lists(sst.messages(COMMANDS, to=ANA), max_size=6))
def test_batches_do_not_matter(messages: list[Message[Add | Remove | Checkout]]) -> None:
    assert_batch_equivalent(functions, COMMANDS, messages)
