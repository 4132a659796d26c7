"""What an advisor can defend: the trained model moves the way a credit officer expects.

Checked on the served model (ONNX, through the common package) over every new client of the
shared data set: a higher income never raises the risk, a larger loan never lowers it,
gender is neither an input nor an influence, and the version records its ablations, its
borderline band and its score bins consistently.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from creditscore_common.features import MONOTONE_DIRECTIONS, PROTECTED_REASON
from creditscore_common.model import ScoringModel
from training.data import NEW_CLIENTS_FILE, TRAIN_FILE, ApplicationTable, load_applications
from training.train import TrainingResult

pytestmark = pytest.mark.xdist_group("trained_model")

#: Float noise of the ONNX runtime (float32 sums of leaf values) on equal true scores.
NOISE = 1e-7


@pytest.fixture(scope="module")
def model(trained_model: TrainingResult) -> ScoringModel:
    return ScoringModel.load(trained_model.version_dir)


@pytest.fixture(scope="module")
def new_clients(small_data_dir: Path) -> ApplicationTable:
    return load_applications(small_data_dir / NEW_CLIENTS_FILE, with_target=False)


@pytest.fixture(scope="module")
def baseline(model: ScoringModel, new_clients: ApplicationTable) -> np.ndarray:
    return model.score_columns(new_clients.columns)


def with_columns(table: ApplicationTable, **changes: Any) -> dict[str, np.ndarray]:
    """The new clients' raw columns with some replaced; the table is left untouched."""
    return {**table.columns, **changes}


def test_doubling_the_income_never_raises_the_probability(
    model: ScoringModel, new_clients: ApplicationTable, baseline: np.ndarray
) -> None:
    income = new_clients.columns["AMT_INCOME_TOTAL"]
    richer = model.score_columns(with_columns(new_clients, AMT_INCOME_TOTAL=income * 2))
    rises = richer - baseline
    assert rises.max() <= NOISE, f"{np.sum(rises > NOISE)} clients riskier with twice the income"
    assert np.any(rises < -1e-4)  # and the income does count for someone


def test_doubling_the_loan_never_lowers_the_probability(
    model: ScoringModel, new_clients: ApplicationTable, baseline: np.ndarray
) -> None:
    columns = new_clients.columns
    bigger = model.score_columns(
        with_columns(
            new_clients,
            AMT_CREDIT=columns["AMT_CREDIT"] * 2,
            AMT_ANNUITY=columns["AMT_ANNUITY"] * 2,
        )
    )
    falls = baseline - bigger
    assert falls.max() <= NOISE, f"{np.sum(falls > NOISE)} clients safer with twice the loan"
    assert np.any(falls < -1e-4)


def test_gender_is_not_an_input(model: ScoringModel) -> None:
    origins = model.spec.feature_origin()
    assert [f for f, o in origins.items() if o["column"] == "CODE_GENDER"] == []
    assert not any(f.startswith("CODE_GENDER") for f in model.metadata["features"])
    assert "CODE_GENDER" not in model.metadata["encodings"]
    assert model.metadata["dropped_columns"]["CODE_GENDER"] == PROTECTED_REASON
    assert "protected" in model.metadata["dropped_columns"]["CODE_GENDER"]


@pytest.mark.parametrize("gender", ["M", "F", "XNA", None])
def test_changing_the_gender_changes_nothing(
    model: ScoringModel, new_clients: ApplicationTable, baseline: np.ndarray, gender: str | None
) -> None:
    swapped = np.full(new_clients.n_rows, gender, dtype=object)
    scored = model.score_columns(with_columns(new_clients, CODE_GENDER=swapped))
    assert np.array_equal(scored, baseline)


def test_changing_the_gender_of_one_application_changes_nothing(
    model: ScoringModel, new_clients: ApplicationTable
) -> None:
    for row in (0, 7, new_clients.n_rows - 1):
        record = new_clients.record(row)
        other = {"M": "F", "F": "M"}.get(record["CODE_GENDER"], "F")
        assert model.score_record({**record, "CODE_GENDER": other}) == model.score_record(record)
        assert model.score_record({k: v for k, v in record.items() if k != "CODE_GENDER"}) == (
            model.score_record(record)
        )


def test_monotone_constraints_are_recorded(model: ScoringModel) -> None:
    recorded = model.metadata["monotone_constraints"]
    expected = {f: d for f, d in MONOTONE_DIRECTIONS.items() if f in model.spec.features}
    assert recorded == expected
    assert {"AMT_INCOME_TOTAL", "AMT_CREDIT", "EXT_SOURCE_MEAN"} <= set(recorded)
    assert model.metadata["chosen"]["lightgbm_params"]["zero_as_missing"] is False


def test_ablations_are_recorded_and_consistent(model: ScoringModel) -> None:
    ablations = model.metadata["ablations"]
    assert set(ablations) == {"served", "with_gender", "without_monotone"}
    served = ablations["served"]
    assert served == {
        "auc": pytest.approx(model.metadata["metrics"]["cv_auc"]),
        "cost_per_client": pytest.approx(model.metadata["metrics"]["cv_cost_per_client"]),
    }
    for name in ("with_gender", "without_monotone"):
        figures = ablations[name]
        assert set(figures) == {"auc", "cost_per_client", "delta_auc", "delta_cost_per_client"}
        assert 0.5 < figures["auc"] < 1.0
        assert figures["delta_auc"] == pytest.approx(figures["auc"] - served["auc"])
        assert figures["delta_cost_per_client"] == pytest.approx(
            figures["cost_per_client"] - served["cost_per_client"]
        )
    # Other models, other out-of-fold predictions: the figures differ from the served ones.
    assert ablations["with_gender"]["auc"] != served["auc"]
    assert ablations["without_monotone"]["auc"] != served["auc"]


def test_borderline_band_holds_the_threshold(
    model: ScoringModel, baseline: np.ndarray, new_clients: ApplicationTable
) -> None:
    band = model.metadata["borderline"]
    assert band["lower"] <= model.threshold <= band["upper"]
    assert band["lower"] < band["upper"]  # 6,000 clients cannot pin the threshold down
    assert (band["coverage"], band["n_resamples"]) == (0.90, 200)
    assert band["cost_per_client_p5"] <= model.metadata["metrics"]["cv_cost_per_client"]
    assert model.metadata["metrics"]["cv_cost_per_client"] <= band["cost_per_client_p95"]
    assert band["threshold_std"] > 0
    assert "bootstrap" in band["method"]
    assert model.borderline == (band["lower"], band["upper"])
    inside = np.mean((baseline >= band["lower"]) & (baseline < band["upper"]))
    assert band["share_of_new_clients"] == pytest.approx(inside, abs=2 / new_clients.n_rows)
    assert 0 < band["share_of_new_clients"] < 0.5


def test_score_bins_cover_every_reference_client(
    model: ScoringModel, trained_model: TrainingResult, small_data_dir: Path
) -> None:
    bins = model.metadata["score_bins"]
    reference = load_applications(small_data_dir / TRAIN_FILE, with_target=True)
    assert reference.target is not None
    edges, counts = bins["edges"], bins["n_clients"]
    assert edges[0] == 0.0 and edges[-1] == 1.0 and len(edges) == len(counts) + 1 <= 21
    assert all(a < b for a, b in itertools.pairwise(edges))
    assert sum(counts) == reference.n_rows == model.metadata["training_data"]["n_clients"]
    assert sum(bins["n_defaulted"]) == int(reference.target.sum())
    assert min(counts) >= 100  # aggregates of many clients, never a row
    oof = trained_model.chosen.oof_probability
    for i, mean in enumerate(bins["mean_probability"]):
        inside = (oof >= edges[i]) & ((oof < edges[i + 1]) | (i == len(counts) - 1))
        assert counts[i] == int(inside.sum())
        assert mean == pytest.approx(float(oof[inside].mean()))
    # Riskier bins default more often (the model ranks), first fifth against last fifth.
    rates = np.array(bins["n_defaulted"]) / np.array(counts)
    assert rates[-4:].mean() > 2 * rates[:4].mean()
