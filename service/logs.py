"""How the service's log lines look: text for people (the default) or one JSON object per line.

Every record goes through the same handler on stderr: the request log, uvicorn's own
lines and tracebacks alike. A record may carry structured fields (`extra={"fields":
{...}}`): the JSON format writes them as keys of the line's object, the text format
shows the message alone. Lines written while a request is handled carry its request id
(REQUEST_ID, set by http/request_id.py) in JSON.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Optional

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# the id of the request being handled, for every line written meanwhile
REQUEST_ID: ContextVar[Optional[str]] = ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time, level, logger, message, then its fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": iso_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # ensure_ascii: no control character or line separator survives unescaped
        return json.dumps(entry, default=str)


def iso_time(created: float) -> str:
    """A record's time in ISO 8601, UTC, to the millisecond."""
    moment = datetime.fromtimestamp(created, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def configure_logging(log_format: str = "text") -> None:
    """One handler on stderr for every logger, in the given format (text or json)."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
