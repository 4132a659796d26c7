"""Structured JSON logs for the functions (one line a record, CloudWatch-friendly)."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    """Format a log record as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON: time, level, logger, message and any exception."""
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def configure_logging() -> None:
    """JSON logs at LOG_LEVEL on Lambda (or with LOG_FORMAT=json); idempotent.

    Elsewhere (local server, tests) the host process keeps its own logging set-up.
    """
    if "AWS_LAMBDA_FUNCTION_NAME" not in os.environ and os.environ.get("LOG_FORMAT") != "json":
        return
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    # Lambda's runtime installs its own handler; ours replaces it for one format everywhere.
    root.handlers = [handler]
    root.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
