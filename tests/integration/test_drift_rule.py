"""The drift rule as used on every input: both the correction and the effect floor count.

The statistics are unit-tested in tests/unit/monitoring/test_drift_stats.py; these tests check their
use in :func:`monitoring.compare.compare`, where removing the Benjamini-Hochberg correction
or the effect-size floor (each alone) would flag inputs that have not drifted:

- a 0.04-standard-deviation shift on 50,000 clients is significant but too small to matter;
- a moderate shift on a small sample, significant alone (p < 0.05), is not significant once
  corrected for the ~100 inputs compared at the same time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from creditscore_common.model import ScoringModel
from monitoring.compare import DriftConfig, compare
from monitoring.inputs import Sample
from training.data import TRAIN_FILE, load_applications
from training.train import TrainingResult

pytestmark = pytest.mark.xdist_group("trained_model")

SHIFTED = "EXT_SOURCE_2"


@pytest.fixture(scope="module")
def model(trained_model: TrainingResult) -> ScoringModel:
    return ScoringModel.load(trained_model.version_dir)


@pytest.fixture(scope="module")
def reference_columns(small_data_dir: Path) -> dict[str, Any]:
    table = load_applications(small_data_dir / TRAIN_FILE, with_target=True)
    return dict(table.columns)


def resample(columns: dict[str, Any], n: int, seed: int) -> Sample:
    rows = np.random.default_rng(seed).integers(0, len(columns[SHIFTED]), size=n)
    return Sample({k: np.asarray(v)[rows] for k, v in columns.items()}, n, f"sample {seed}")


def shifted(sample: Sample, by_std: float) -> Sample:
    values = np.asarray(sample.columns[SHIFTED], dtype=np.float64)
    moved = values + by_std * float(np.nanstd(values))
    return Sample({**sample.columns, SHIFTED: moved}, sample.rows, sample.source + " shifted")


def row_of(result: Any, name: str) -> dict[str, Any]:
    (row,) = [f for f in result.summary["features"] if f["name"] == name]
    return row


def test_a_tiny_but_significant_shift_is_not_drift(
    model: ScoringModel, reference_columns: dict[str, Any]
) -> None:
    reference = resample(reference_columns, 50_000, seed=1)
    current = shifted(resample(reference_columns, 50_000, seed=2), 0.04)
    result = compare(reference, current, model)
    row = row_of(result, SHIFTED)
    config = DriftConfig()
    assert row["p_adjusted"] < config.alpha, "the shift must be significant for this check"
    assert row["drifted"] is False  # below the effect floor: not worth an alarm
    others = [f for f in result.summary["features"] if f["name"] != SHIFTED]
    assert not [f["name"] for f in others if f["drifted"]]


def test_significance_is_corrected_for_the_number_of_inputs(
    model: ScoringModel, reference_columns: dict[str, Any]
) -> None:
    reference = resample(reference_columns, 20_000, seed=3)
    config = DriftConfig()
    # A moderate shift on a small current sample: search the seed and size of a sample whose
    # raw p-value is significant while the corrected one is not (it exists for this rule).
    for seed in range(4, 40):
        current = shifted(resample(reference_columns, 240, seed=seed), 0.17)
        result = compare(reference, current, model, config)
        row = row_of(result, SHIFTED)
        if row["p_value"] < config.alpha <= row["p_adjusted"]:
            break
    else:
        pytest.fail("no sample with p < alpha <= p_adjusted: the check would be empty")
    n_compared = len(result.summary["features"])
    assert n_compared > 50
    assert row["drifted"] is False
