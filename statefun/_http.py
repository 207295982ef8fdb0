"""What every HTTP shell answers: one request body in, a status and a body out, logged once.

The aiohttp and ASGI adapters differ only in how bytes reach them; the mapping
from the handler's outcome to an HTTP answer, and what is logged, is here.
"""

from __future__ import annotations

import logging

import msgspec

from ._dead_letter import DeadLetter
from ._errors import InvalidResult, InvocationFailed, RequestError, StateTypeMismatch
from ._handler import Handler
from ._text import one_line

__all__ = ("OCTET_STREAM", "Reply", "log_dead_letter", "respond", "too_large")

logger = logging.getLogger("statefun")

OCTET_STREAM = "application/octet-stream"
"""The only Content-Type the runtime accepts (the OkHttp transport compares it exactly)."""

_TEXT = "text/plain; charset=utf-8"


class Reply(msgspec.Struct, frozen=True, gc=False):
    """An HTTP answer: status, body, and its Content-Type."""

    status: int
    body: bytes
    content_type: str = OCTET_STREAM


def _text(status: int, reason: str) -> Reply:
    return Reply(status, f"{reason}\n".encode(), _TEXT)


async def respond(handler: Handler, body: bytes) -> Reply:
    """Answer ``body``: ``200`` with the ``FromFunction``, or a one-line reason.

    ``400``/``404`` for a request that cannot be served; ``500`` when a function
    raised, its results cannot be sent, or the runtime holds a state under another
    type (logged once, with the traceback, on the ``statefun`` logger, its facts
    as ``statefun_*`` fields). Dead letters are logged, one WARNING each.
    """
    try:
        answer = await handler.answer(body)
    except RequestError as exc:
        return _text(exc.status, one_line(str(exc)))
    except (InvocationFailed, InvalidResult, StateTypeMismatch) as exc:
        reason = one_line(str(exc))
        logger.error("%s", reason, exc_info=exc.__cause__ or exc, extra=_fields(exc))
        return _text(500, reason)
    except Exception as exc:
        reason = one_line(f"{type(exc).__name__}: {exc}")
        logger.exception(
            "statefun: failed to answer a request: %s", reason, extra={"statefun_error": reason}
        )
        return _text(500, reason)
    for letter in answer.dead_letters:
        log_dead_letter(letter)
    return Reply(200, answer.body)


def too_large(limit: int) -> Reply:
    """The ``413`` for a body over ``limit`` bytes."""
    return _text(413, f"the request body is larger than {limit} bytes (max_body_size)")


def log_dead_letter(letter: DeadLetter) -> None:
    """One WARNING record on the ``statefun`` logger for a message set aside.

    The payload is never logged: only where it was going and why.
    """
    logger.warning(
        "%s",
        one_line(
            f"dead letter: function `{letter.function}` id={letter.id!r} message"
            f" `{letter.typename}` ({len(letter.value)} bytes): {letter.error_type}: {letter.error}"
        ),
        extra={
            "statefun_function": letter.function,
            "statefun_id": letter.id,
            "statefun_typename": letter.typename,
            "statefun_error": one_line(f"{letter.error_type}: {letter.error}"),
            # The whole letter, for a handler of your own; it holds the payload, so
            # statefun.serve.JsonFormatter leaves it out.
            "statefun_dead_letter": letter,
        },
    )


def _fields(exc: InvocationFailed | InvalidResult | StateTypeMismatch) -> dict[str, object]:
    """The structured ``extra`` of a failed request's record: where, and what went wrong."""
    if isinstance(exc, StateTypeMismatch):
        return {"statefun_state": exc.name, "statefun_error": one_line(str(exc))}
    cause = exc.__cause__
    error = (
        one_line(f"{type(cause).__name__}: {cause}") if cause is not None else one_line(str(exc))
    )
    fields: dict[str, object] = {"statefun_function": exc.function, "statefun_id": exc.id}
    if isinstance(exc, InvocationFailed):
        fields["statefun_typename"] = exc.typename
    fields["statefun_error"] = error
    return fields
