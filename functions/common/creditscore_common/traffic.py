"""Production traffic: one structured JSON line for every score the API serves.

The drift analysis (``creditscore drift --from-logs``) reads these lines back and compares the
clients the API actually scored with the reference clients. A line holds what scoring used and
what it answered, nothing that identifies a person beyond the client id:

``{"event": "creditscore.score", "logged_at", "route", "client_id", "model_version",
"probability", "threshold", "decision", "inputs": {column: value}}``

``inputs`` are the raw columns the model version's transform reads
(:attr:`FeatureSpec.input_columns`), numbers and category levels only: a category value that
is not a level of the reference schema is logged as :data:`OTHER_LEVEL` (a POST body may put
any text there), a missing value as null. The application table holds no name or free text.

The lines go to the ``creditscore.traffic`` logger, which does not propagate to the root
logger: on Lambda (``TRAFFIC_LOG=stdout``) each line is printed as is, so CloudWatch stores
the bare JSON; the local server may write them to a file (``--traffic-log FILE``).
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from creditscore_common.features import FeatureSpec
from creditscore_common.reference_schema import load_schema

if TYPE_CHECKING:  # service.py logs through this module: no import cycle at run time
    from creditscore_common.service import Score

TRAFFIC_LOGGER = "creditscore.traffic"
#: The ``event`` of a traffic line; other lines of a log file are not traffic.
SCORE_EVENT = "creditscore.score"
#: A category value outside the reference levels (its text is never logged).
OTHER_LEVEL = "(other)"

_logger = logging.getLogger(TRAFFIC_LOGGER)
_logger.propagate = False
_logger.disabled = True  # off until configure_traffic_log names a target
_HANDLER_MARK = "_creditscore_traffic"

#: Per feature spec: (column, levels if categorical else None), in schema order.
_InputColumns = tuple[tuple[str, frozenset[str] | None], ...]
_columns_cache: dict[int, tuple[FeatureSpec, _InputColumns]] = {}


def configure_traffic_log(target: str) -> None:
    """Send traffic lines to ``target``: "" (off), "stdout", or a file path (appended).

    Idempotent: a second call replaces the handler of the first one.
    """
    for old in list(_logger.handlers):
        if getattr(old, _HANDLER_MARK, False):
            _logger.removeHandler(old)
            old.close()
    if not target:
        _logger.disabled = True
        return
    handler: logging.Handler
    if target == "stdout":
        handler = logging.StreamHandler(sys.stdout)
    else:
        handler = logging.FileHandler(target, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    setattr(handler, _HANDLER_MARK, True)
    _logger.addHandler(handler)
    _logger.setLevel(logging.INFO)
    _logger.disabled = False


def traffic_enabled() -> bool:
    """Whether served scores are being logged."""
    return _logger.isEnabledFor(logging.INFO)


def _input_columns(spec: FeatureSpec) -> _InputColumns:
    cached = _columns_cache.get(id(spec))
    if cached is not None and cached[0] is spec:
        return cached[1]
    schema = load_schema()
    columns = tuple(
        (name, frozenset(schema[name].levels) if schema[name].is_categorical else None)
        for name in spec.input_columns
    )
    if len(_columns_cache) > 8:  # a few model versions per container at most
        _columns_cache.clear()
    _columns_cache[id(spec)] = (spec, columns)
    return columns


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def logged_inputs(spec: FeatureSpec, application: Mapping[str, Any]) -> dict[str, Any]:
    """The model inputs of an application as logged: numbers, known levels, or null."""
    inputs: dict[str, Any] = {}
    for name, levels in _input_columns(spec):
        value = application.get(name)
        if levels is None:
            inputs[name] = _number(value)
        elif isinstance(value, str):
            inputs[name] = value if value in levels else OTHER_LEVEL
        else:
            inputs[name] = None
    return inputs


def traffic_record(
    spec: FeatureSpec,
    application: Mapping[str, Any],
    *,
    client_id: int | None,
    model_version: str,
    probability: float,
    threshold: float,
    decision: str,
) -> dict[str, Any]:
    """The traffic line of one served score, as a dict."""
    return {
        "event": SCORE_EVENT,
        "logged_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "route": "client" if client_id is not None else "application",
        "client_id": client_id,
        "model_version": model_version,
        "probability": probability,
        "threshold": threshold,
        "decision": decision,
        "inputs": logged_inputs(spec, application),
    }


def log_served_score(
    spec: FeatureSpec,
    application: Mapping[str, Any],
    score: Score,
    client_id: int | None = None,
) -> None:
    """Write the traffic line of one served score (nothing when traffic logging is off)."""
    if not _logger.isEnabledFor(logging.INFO):
        return
    record = traffic_record(
        spec,
        application,
        client_id=client_id,
        model_version=score.model_version,
        probability=score.probability,
        threshold=score.threshold,
        decision=score.decision,
    )
    _logger.info(json.dumps(record, separators=(",", ":"), allow_nan=False))
