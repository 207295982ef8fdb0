"""The timeouts example: delayed messages with cancellation tokens.

    statefun serve examples.timeouts.functions:functions

``example/timeouts`` takes commands keyed by a job id. ``start`` schedules a
reminder to itself after ``delay_ms``, with the command's ``token`` as its
cancellation token; ``cancel`` cancels it. A reminder that fires is written
to the Kafka topic ``timeouts-out``. So "start a, cancel a, start b" gives
exactly one record, for ``b``, once ``b``'s delay has passed.

The function keeps the tokens it has pending: the runtime fails the job when
a token is reused while its message is pending, so a second ``start`` with a
pending token is ignored instead.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import msgspec

from statefun import (
    CancelDelayed,
    Effect,
    Functions,
    KafkaRecord,
    Message,
    Result,
    SendAfter,
    State,
    ValueSpec,
    json_type,
)


class Command(msgspec.Struct, frozen=True):
    """What a client asks for: ``start`` (after ``delay_ms``) or ``cancel`` a reminder."""

    action: Literal["start", "cancel"]
    token: str
    delay_ms: int = 1000
    text: str = ""


class Reminder(msgspec.Struct, frozen=True):
    """The delayed message itself; also the JSON written to ``timeouts-out``."""

    token: str
    text: str
    delay_ms: int


COMMAND = json_type("example/TimeoutCommand", Command)
REMINDER = json_type("example/TimeoutReminder", Reminder)
PENDING = ValueSpec("pending", json_type("example/PendingTokens", tuple[str, ...]))

EGRESS = "example/timeouts-out"
TOPIC = "timeouts-out"

functions = Functions()


@functions.bind("example/timeouts", accepts=COMMAND | REMINDER, specs=[PENDING])
def timeouts(state: State, msg: Message[Command | Reminder]) -> Result:
    """Schedule, cancel, or report a reminder."""
    pending = state.get(PENDING) or ()
    effects: list[Effect] = []
    match msg.value:
        case Command(action="start", token=token) as command if token not in pending:
            reminder = Reminder(token, command.text, command.delay_ms)
            delay = timedelta(milliseconds=command.delay_ms)
            effects.append(
                SendAfter(delay, msg.target, REMINDER, reminder, cancellation_token=token)
            )
            pending = (*pending, token)
        case Command(action="cancel", token=token) if token in pending:
            effects.append(CancelDelayed(token))
            pending = tuple(t for t in pending if t != token)
        case Reminder(token=token) as reminder:
            value = msgspec.json.encode(reminder)
            effects.append(KafkaRecord(EGRESS, topic=TOPIC, key=msg.target.id, value=value))
            pending = tuple(t for t in pending if t != token)
        case _:
            pass  # a start with a pending token, or a cancel of nothing pending
    new_state = state.set(PENDING, pending) if pending else state.delete(PENDING)
    return Result(new_state, effects)
