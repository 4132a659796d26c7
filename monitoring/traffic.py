"""The API's traffic logs read back: the clients it actually scored, as a drift sample.

The score routes write one JSON line per served score (:mod:`creditscore_common.traffic`);
this module reads those lines from local files or log exports and skips every other line.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from creditscore_common.reference_schema import load_schema
from creditscore_common.traffic import SCORE_EVENT
from monitoring.inputs import Columns, Sample

log = logging.getLogger(__name__)


def _traffic_object(line: str) -> dict[str, Any] | None:
    """The traffic record on a log line, or None for any other line.

    Accepts a bare JSON line (stdout, --traffic-log), a line whose JSON follows a prefix
    (CloudWatch exports put a timestamp first), and a JSON log record whose ``message`` is
    the traffic line (Lambda's JSON log format).
    """
    start = line.find("{")
    if start < 0:
        return None
    try:
        record = json.loads(line[start:])
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    if record.get("event") != SCORE_EVENT and isinstance(record.get("message"), str):
        return _traffic_object(record["message"])
    if record.get("event") != SCORE_EVENT or not isinstance(record.get("inputs"), dict):
        return None
    return record


def read_traffic(paths: Sequence[Path], kinds: Mapping[str, str]) -> Sample:
    """The served traffic of some log files as a sample (logged probabilities kept)."""
    schema = load_schema()
    values: dict[str, list[Any]] = {name: [] for name in kinds}
    probabilities: list[float] = []
    versions: Counter[str] = Counter()
    skipped = 0
    for path in paths:
        with Path(path).open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                record = _traffic_object(line)
                probability = None if record is None else record.get("probability")
                if record is None or not isinstance(probability, int | float):
                    skipped += line.strip() != ""
                    continue
                inputs = record["inputs"]
                for name in kinds:
                    values[name].append(inputs.get(name))
                probabilities.append(float(probability))
                versions[str(record.get("model_version"))] += 1
    columns: Columns = {}
    for name, column in values.items():
        if schema[name].is_categorical:
            columns[name] = np.array(
                [v if isinstance(v, str) else None for v in column], dtype=object
            )
        else:
            columns[name] = np.array(
                [
                    float(v) if isinstance(v, int | float) and not isinstance(v, bool) else np.nan
                    for v in column
                ],
                dtype=np.float64,
            )
    names = ", ".join(Path(p).name for p in paths)
    log.info("traffic: %d scores read from %s (%d other lines)", len(probabilities), names, skipped)
    return Sample(
        columns,
        len(probabilities),
        f"served traffic ({names})",
        probabilities=np.asarray(probabilities, dtype=np.float64),
        model_versions=dict(versions),
    )
