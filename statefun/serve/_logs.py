"""Log records as JSON lines: ``statefun serve --log-format json``."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import msgspec


class JsonFormatter(logging.Formatter):
    """Formats each log record as one line of JSON: for ``statefun serve --log-format json``.

    Keys: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``; the
    record's ``statefun_*`` fields that are plain values (function, id, typename
    and error of a failed request or a dead letter); for ``aiohttp.access`` lines
    the request's fields as aiohttp names them (``remote_address``,
    ``first_request_line``, ``response_status``, ``response_size``,
    ``request_header``), and the first three for ``uvicorn.access`` lines too;
    and ``exception``, the traceback, when there is one.

    >>> handler = logging.StreamHandler()
    >>> handler.setFormatter(JsonFormatter())
    >>> logging.basicConfig(level=logging.INFO, handlers=[handler])
    """

    _ACCESS_FIELDS = (
        "remote_address",
        "first_request_line",
        "response_status",
        "response_size",
        "request_header",
    )

    def format(self, record: logging.LogRecord) -> str:
        time = datetime.fromtimestamp(record.created, timezone.utc)
        entry: dict[str, object] = {
            "time": time.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = record.__dict__
        for key, value in fields.items():
            # Plain values only: an object such as a DeadLetter holds the payload.
            if key.startswith("statefun_") and isinstance(value, (str, int, float)):
                entry[key] = value
        if record.name == "aiohttp.access":
            entry.update((key, fields[key]) for key in self._ACCESS_FIELDS if key in fields)
        elif record.name == "uvicorn.access" and isinstance(record.args, tuple):
            entry.update(_uvicorn_access(record.args))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return msgspec.json.encode(entry, enc_hook=str).decode()


def _uvicorn_access(args: tuple[object, ...]) -> dict[str, object]:
    """uvicorn's access record (client, method, path, HTTP version, status) in aiohttp's names."""
    if len(args) != 5:
        return {}
    client, method, path, version, status = args
    return {
        "remote_address": str(client).rsplit(":", 1)[0],
        "first_request_line": f"{method} {path} HTTP/{version}",
        "response_status": status,
    }
