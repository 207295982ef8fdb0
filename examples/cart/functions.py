"""The cart example: one function accepting three message types, and dead letters.

    statefun serve examples.cart.functions:functions

``shop/cart`` keeps the items of one cart (the id is the user). ``Add`` and
``Remove`` change them; ``Checkout`` writes a receipt to Kafka and empties the
cart. A message that can never succeed (bytes that are not an ``Add``, a
quantity that is not positive) is set aside on the ``dead-letters`` topic, and
the carts carry on.
"""

from __future__ import annotations

import msgspec

from statefun import (
    DeadLetters,
    Functions,
    KafkaRecord,
    Message,
    Permanent,
    Result,
    State,
    ValueSpec,
    json_type,
)


class Add(msgspec.Struct, frozen=True):
    """Put ``quantity`` more of ``sku`` in the cart."""

    sku: str
    quantity: int = 1


class Remove(msgspec.Struct, frozen=True):
    """Take every ``sku`` out of the cart."""

    sku: str


class Checkout(msgspec.Struct, frozen=True):
    """Pay for what is in the cart."""


class Receipt(msgspec.Struct, frozen=True):
    """What a checkout writes to the `receipts` topic."""

    user: str
    items: dict[str, int]


ADD = json_type("shop/Add", Add)
REMOVE = json_type("shop/Remove", Remove)
CHECKOUT = json_type("shop/Checkout", Checkout)
RECEIPT = json_type("shop/Receipt", Receipt)
ITEMS = ValueSpec("items", json_type("shop/Items", dict[str, int]))

DEAD_LETTERS = DeadLetters("shop/dead-letters", topic="dead-letters")

functions = Functions()


@functions.bind("shop/cart", accepts=ADD | REMOVE | CHECKOUT, specs=[ITEMS], on_error=DEAD_LETTERS)
def cart(state: State, msg: Message[Add | Remove | Checkout]) -> Result:
    """Change the cart, or check it out."""
    items = state.get(ITEMS) or {}
    match msg.value:
        case Add(sku=sku, quantity=quantity):
            if quantity <= 0:
                raise Permanent(f"quantity must be positive, got {quantity}")
            return Result(state.set(ITEMS, {**items, sku: items.get(sku, 0) + quantity}))
        case Remove(sku=sku):
            return Result(state.set(ITEMS, {k: v for k, v in items.items() if k != sku}))
        case Checkout():
            receipt = RECEIPT.encode(Receipt(msg.target.id, items))
            record = KafkaRecord(
                "shop/receipts", topic="receipts", key=msg.target.id, value=receipt
            )
            return Result(state.delete(ITEMS), [record])
