"""Logs of the functions: Powertools' structured JSON on Lambda, the host's logging elsewhere.

On Lambda (or with LOG_FORMAT=json) every record of every logger that reaches the root
logger is one JSON object on stdout, formatted by Powertools for AWS Lambda (level, message,
location, timestamp, service, and, during an invocation, the Lambda context and the API
Gateway request id as ``correlation_id``: see :func:`creditscore_common.observability.instrument`).
Elsewhere (the local server, tests, the command line) the host process keeps its own,
readable, logging set-up. The traffic lines (:mod:`creditscore_common.traffic`) do not go
through the root logger: they stay bare JSON lines.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

#: The service name of the logs when POWERTOOLS_SERVICE_NAME is not set (and none is given).
DEFAULT_SERVICE = "creditscore-api"

_configured: list[Logger] = []


def json_logs_wanted() -> bool:
    """Whether logs are JSON: on Lambda, or when LOG_FORMAT=json."""
    return "AWS_LAMBDA_FUNCTION_NAME" in os.environ or os.environ.get("LOG_FORMAT") == "json"


def service_name(default: str = DEFAULT_SERVICE) -> str:
    """The function's name in logs, metrics, traces: POWERTOOLS_SERVICE_NAME, else ``default``."""
    return os.environ.get("POWERTOOLS_SERVICE_NAME") or default


def lambda_logger() -> Logger | None:
    """The Powertools logger :func:`configure_logging` set up (None if logs are the host's)."""
    return _configured[0] if _configured else None


def configure_logging(default_service: str = DEFAULT_SERVICE) -> None:
    """JSON logs at LOG_LEVEL on Lambda (or with LOG_FORMAT=json); idempotent.

    ``default_service``: the function's name when POWERTOOLS_SERVICE_NAME is not set.
    Elsewhere (local server, tests) the host process keeps its own logging set-up.
    """
    if not json_logs_wanted() or _configured:
        return
    from aws_lambda_powertools import Logger

    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    service = service_name(default_service)
    logger = Logger(service=service, level=level, utc=True)
    # The package logs through module loggers (creditscore.api, creditscore_common.*) that
    # propagate to the root logger: the root logger gets Powertools' handler and formatter,
    # whose keys (Lambda context, correlation id) the handler's decorator sets. Lambda's
    # runtime installs a handler of its own there; this one replaces it.
    root = logging.getLogger()
    root.handlers = [logger.registered_handler]
    root.setLevel(level)
    # Records of Powertools' own logger (named after the service) are not printed twice.
    logging.getLogger(service).propagate = False
    _configured.append(logger)
