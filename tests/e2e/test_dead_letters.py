"""Dead letters through the real runtime: a bad record in the middle of a stream.

``examples/cart`` (unchanged) behind StateFun 3.3 with exactly-once egress
(``apps/cart_exactly_once``). Between good commands come a record that is not an
``Add`` and one the function refuses as ``Permanent``. Under the default policy
either would fail the job, and its restart would meet the record again forever;
with ``DeadLetters`` both land on ``dead-letters``, the commands after them are
processed, the job never restarts (it may not: ``restart_attempts=0``), and a
``read_committed`` reader sees every receipt and every dead letter exactly once.
"""

from __future__ import annotations

import collections
import json

import pytest

from examples.cart.functions import RECEIPT, Receipt
from statefun import DEAD_LETTER

from . import harness
from .conftest import FunctionServerFactory, StatefunJobFactory

pytestmark = pytest.mark.e2e

MODULE = harness.HERE / "apps" / "cart_exactly_once"
SERVE = harness.serve_argv("examples.cart.functions:functions")
TOPICS = ["cart-add", "cart-remove", "cart-checkout", "receipts", "dead-letters"]
USERS = ["ana", "bo"]


@pytest.mark.e2e_timeout(240)
def test_a_bad_record_is_set_aside_and_the_stream_carries_on(
    kafka: harness.KafkaBroker,
    function_server: FunctionServerFactory,
    statefun_job: StatefunJobFactory,
) -> None:
    kafka.reset_topics(TOPICS)
    function_server(SERVE)
    job = statefun_job(MODULE, restart_attempts=0)
    since = job.log_offset()

    for user in USERS:
        kafka.produce(
            "cart-add",
            [
                (user, json.dumps({"sku": "tea", "quantity": 2})),
                (user, json.dumps({"sku": "tea", "quantity": "lots"})),  # not an Add
                (user, json.dumps({"sku": "cake"})),
                (user, json.dumps({"sku": "cups", "quantity": -1})),  # Permanent
            ],
        )
    # Checkout goes on its own topic: wait until every add is in the state first.
    letters = kafka.consume("dead-letters", count=2 * len(USERS), timeout=90)
    kafka.produce("cart-checkout", [(user, "{}") for user in USERS])
    receipts = kafka.consume("receipts", count=len(USERS), timeout=90, settle=5)
    letters = kafka.consume("dead-letters", count=2 * len(USERS), timeout=30, settle=3)

    job.check_alive()
    assert job.process is not None
    assert "RESTARTING" not in job.process.log_path.read_bytes()[since:].decode(errors="replace")

    got = {(r.user, tuple(r.items.items())) for r in (RECEIPT.decode(v) for _, v in receipts)}
    assert (len(receipts), got) == (
        len(USERS),
        {(user, tuple(Receipt(user, {"tea": 2, "cake": 1}).items.items())) for user in USERS},
    )
    decoded = [(key, DEAD_LETTER.decode(value)) for key, value in letters]
    assert collections.Counter(value for _, value in letters).most_common(1)[0][1] == 1
    by_user: dict[str, list[tuple[str, bytes]]] = {}
    for key, letter in decoded:
        assert key is not None and key.decode() == letter.id
        assert (letter.function, letter.typename, letter.caller) == ("shop/cart", "shop/Add", None)
        by_user.setdefault(letter.id, []).append((letter.error_type, letter.value))
    assert by_user == {
        user: [
            ("statefun.SerdeError", b'{"sku": "tea", "quantity": "lots"}'),
            ("statefun.Permanent", b'{"sku": "cups", "quantity": -1}'),
        ]
        for user in USERS
    }
