"""Structured logs: with CIVICBOT_LOG_FORMAT=json every log line is one JSON object.

    {"time": "2026-12-03T12:00:00.123Z", "level": "INFO", "logger": "bot.app", "message": "...", ...}

Anything passed as `extra=` to a logging call comes along as its own key; an exception's traceback
comes as "exception". Values JSON does not know are written as their str().
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# the attributes every LogRecord has: whatever else a record carries came from `extra=`
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
