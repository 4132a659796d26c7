"""``creditscore drift``: load both samples, compare them, write the summary and the report.

The method is described in :mod:`monitoring`; this module only puts its parts together.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from creditscore_common.model import ScoringModel
from monitoring.compare import REPORT_FILE, SUMMARY_FILE, DriftConfig, DriftResult, compare
from monitoring.inputs import file_sample, input_kinds
from monitoring.report import render_html
from monitoring.traffic import read_traffic
from training.data import NEW_CLIENTS_FILE, TRAIN_FILE


def _write_atomically(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, 0o644)  # a report to share, not a secret (mkstemp makes 0600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_outputs(result: DriftResult, out_dir: Path, config: DriftConfig) -> tuple[Path, Path]:
    """Write drift_summary.json and drift_report.html into ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    report = out_dir / REPORT_FILE
    _write_atomically(report, render_html(result, config))
    result.seconds["report"] = time.perf_counter() - started
    summary_path = out_dir / SUMMARY_FILE
    _write_atomically(
        summary_path, json.dumps(result.summary, indent=2, ensure_ascii=False, allow_nan=False)
    )
    return summary_path, report


@dataclass(frozen=True)
class DriftRun:
    """What :func:`run_drift` produced."""

    summary: dict[str, Any]
    summary_path: Path
    report_path: Path
    seconds: dict[str, float]


def run_drift(
    data_dir: Path,
    model_path: Path,
    out_dir: Path,
    from_logs: Sequence[Path] | None = None,
    config: DriftConfig | None = None,
) -> DriftRun:
    """The whole drift analysis: load, compare, write the summary and the HTML report.

    The reference is ``data_dir/application_train.csv``; the current clients are
    ``data_dir/application_test.csv``, or the served traffic of ``from_logs``.
    """
    config = config or DriftConfig()
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    model = ScoringModel.load(model_path, threads=0)
    kinds = input_kinds(model.spec)
    reference = file_sample(Path(data_dir) / TRAIN_FILE, kinds, with_target=True)
    if from_logs:
        current = read_traffic([Path(p) for p in from_logs], kinds)
    else:
        current = file_sample(Path(data_dir) / NEW_CLIENTS_FILE, kinds, with_target=False)
    seconds["load"] = time.perf_counter() - started
    result = compare(reference, current, model, config)
    summary_path, report_path = write_outputs(result, Path(out_dir), config)
    seconds.update(result.seconds)
    seconds["total"] = time.perf_counter() - started
    return DriftRun(result.summary, summary_path, report_path, seconds)
