"""The growth benchmark's requests, built on the fly, and the check of their answers.

Runs inside every worker (bench/worker.py's ``growth`` op), like contract.py: it
builds with whichever generated protobuf classes the venv has, so no binary is
committed and each request is the same bytes in every venv (deterministic:
fixed values, no randomness, protobuf's field-number order).

Every request is W2's (CONTRACT.md): ``bench.fns/batch`` id ``acct-7`` with the
states ``counter`` = int 1000, ``profile`` = a JSON object and ``label`` =
string ``"gold-tier"``, and ``messages`` invocations with arguments int 1..n from
callers ``bench.fns/producer`` ``p-0``..``p-9`` in turn. Two things vary:

- ``messages``: the batch size (1 to 10,000) with W2's ~210 B profile; with 100
  messages the request is byte for byte ``payloads/w2_batch.bin``;
- ``state_bytes``: the profile padded to at least that many bytes of JSON with
  extra ``tags`` (``"tag-000001"``, ...), the shape every contestant's profile
  type accepts, so the functions stay CONTRACT.md's W2 unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from contract import INT_TYPENAME, PROFILE_TYPENAME, STRING_TYPENAME, ContractError, generated

BASE_PROFILE: dict[str, Any] = {
    "id": "acct-7",
    "owner": "Ada Lovelace",
    "email": "ada.lovelace@example.org",
    "plan": "gold",
    "tags": ["analytics", "engine", "notes"],
    "limits": {"daily": 5000, "monthly": 150000},
    "n": 0,
    "last": 0,
    "total": 0,
}


def profile_json(state_bytes: int | None = None) -> bytes:
    """W2's profile, padded with tags to at least ``state_bytes`` bytes (None: unpadded)."""
    data = json.dumps(BASE_PROFILE).encode()
    if state_bytes is None or len(data) >= state_bytes:
        return data
    tag = len(', "tag-000000"')  # each extra tag adds exactly this many bytes
    count = -(-(state_bytes - len(data)) // tag)
    profile = {**BASE_PROFILE, "tags": [*BASE_PROFILE["tags"], *tags(count)]}
    return json.dumps(profile).encode()


def tags(count: int) -> list[str]:
    return [f"tag-{i:06d}" for i in range(1, count + 1)]


def request(messages: int, state_bytes: int | None = None) -> bytes:
    """The ToFunction of ``messages`` invocations on a profile of ``state_bytes``."""
    if not 1 <= messages <= 40_000:  # counter and total stay far inside int32
        raise ValueError(f"messages={messages} is outside 1..40,000")
    pb = generated()
    out = pb.rr.ToFunction()
    batch = out.invocation
    batch.target.namespace = "bench.fns"
    batch.target.type = "batch"
    batch.target.id = "acct-7"
    for name, typename, value in (
        ("counter", INT_TYPENAME, pb.types.IntWrapper(value=1000).SerializeToString()),
        ("profile", PROFILE_TYPENAME, profile_json(state_bytes)),
        ("label", STRING_TYPENAME, pb.types.StringWrapper(value="gold-tier").SerializeToString()),
    ):
        state = batch.state.add()
        state.state_name = name
        state.state_value.typename = typename
        state.state_value.has_value = True
        state.state_value.value = value
    for i in range(messages):
        invocation = batch.invocations.add()
        invocation.caller.namespace = "bench.fns"
        invocation.caller.type = "producer"
        invocation.caller.id = f"p-{i % 10}"
        invocation.argument.typename = INT_TYPENAME
        invocation.argument.has_value = True
        invocation.argument.value = pb.types.IntWrapper(value=i + 1).SerializeToString()
    return bytes(out.SerializeToString())


def check(answer: bytes, messages: int, state_bytes: int | None = None) -> None:
    """Raise ContractError unless ``answer`` is W2's answer for this request, decoded."""
    pb = generated()
    response = pb.rr.FromFunction.FromString(answer)
    if response.WhichOneof("response") != "invocation_result":
        raise ContractError(f"growth: got {response.WhichOneof('response')}")
    result = response.invocation_result
    got = {m.state_name: m for m in result.state_mutations}
    if sorted(got) != ["counter", "profile"] or len(result.state_mutations) != 2:
        raise ContractError(f"growth: mutated {[m.state_name for m in result.state_mutations]}")
    total = messages * (messages + 1) // 2
    counter = pb.types.IntWrapper.FromString(got["counter"].state_value.value).value
    if counter != 1000 + total:
        raise ContractError(f"growth: counter {counter}, expected {1000 + total}")
    want = {**json.loads(profile_json(state_bytes)), "n": messages, "last": messages}
    want["total"] = total
    profile = got["profile"].state_value
    if profile.typename != PROFILE_TYPENAME or json.loads(profile.value) != want:
        raise ContractError("growth: the profile is not the expected one")
    if result.outgoing_messages or result.delayed_invocations or result.outgoing_egresses:
        raise ContractError("growth: effects other than the two mutations")
