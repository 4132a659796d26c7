"""What an advisor can defend: the trained model moves the way a credit officer expects.

Checked on the served model (ONNX, through the common package) over every new client of the
shared data set: a higher income never raises the risk, a larger loan never lowers it,
gender is neither an input nor an influence, and the version records its ablations, its
borderline band, its score bins, its calibration and its fairness by group consistently (in
metadata.json, the MLflow run and ``GET /model``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from settings_env import clear_settings_env

from creditscore_common.features import MONOTONE_DIRECTIONS, PROTECTED_REASON
from creditscore_common.model import ScoringModel
from serving.local_server import load_function
from training import calibration, fairness
from training.data import NEW_CLIENTS_FILE, TRAIN_FILE, ApplicationTable, load_applications
from training.evaluate import CostWeights, best_threshold
from training.holdout import split_reference
from training.modelling import logit, sigmoid
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
def reference(small_data_dir: Path) -> ApplicationTable:
    """The reference clients training fits on: the file's, less the held-out ones."""
    table = load_applications(small_data_dir / TRAIN_FILE, with_target=True)
    return split_reference(table).training


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
    model: ScoringModel, trained_model: TrainingResult, reference: ApplicationTable
) -> None:
    bins = model.metadata["score_bins"]
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


# ----------------------------------------------------------------------- calibration


def test_calibration_is_measured_on_the_out_of_fold_probabilities(
    model: ScoringModel, trained_model: TrainingResult, reference: ApplicationTable
) -> None:
    record = model.metadata["calibration"]
    assert reference.target is not None
    y, served = reference.target, trained_model.chosen.oof_probability
    assert (record["n_bins"], record["tolerance"]) == (10, 0.01)
    for key in ("before", *(("after",) if record["calibrated"] else ())):
        curve = record[key]["reliability"]
        assert len(curve["n_clients"]) == 10
        assert sum(curve["n_clients"]) == reference.n_rows
        assert sum(curve["n_defaulted"]) == int(y.sum())
    # The served figures are those of the probabilities the threshold was chosen on.
    figures = calibration.figures(y, served)
    assert record["ece"] == pytest.approx(figures["ece"])
    assert record["brier"] == pytest.approx(figures["brier"])
    assert record["brier"] == pytest.approx(model.metadata["metrics"]["brier"])
    shift = record["logit_shift"]
    if record["before"]["ece"] <= record["tolerance"]:
        assert (record["calibrated"], record["reason"]) == (False, "ECE <= 0.01")
        assert record["after"] is None and shift == 0.0
        return
    # Above tolerance: an intercept shift, fitted on the out-of-fold predictions, in the model.
    assert record["calibrated"] is True and shift != 0.0
    before = sigmoid(logit(served) - shift)
    assert record["before"]["ece"] == pytest.approx(calibration.figures(y, before)["ece"])
    assert calibration.fit_logit_shift(y, before) == pytest.approx(shift)
    assert float(np.mean(served)) == pytest.approx(float(np.mean(y)), abs=1e-9)
    assert record["after"]["ece"] < record["before"]["ece"]
    # A monotone shift: same ranking, same cost; the threshold moved with the probabilities.
    weights = CostWeights(model.metadata["cost_fn"], model.metadata["cost_fp"])
    before_threshold, before_cost = best_threshold(y, before, weights)
    assert model.metadata["metrics"]["cv_cost_per_client"] == pytest.approx(before_cost)
    assert logit(np.array([model.threshold]))[0] == pytest.approx(
        logit(np.array([before_threshold]))[0] + shift, abs=1e-9
    )


# ----------------------------------------------------------------------- fairness


def test_fairness_is_recorded_for_every_reference_client(
    model: ScoringModel, trained_model: TrainingResult, reference: ApplicationTable
) -> None:
    record = model.metadata["fairness"]
    assert reference.target is not None
    assert record["threshold"] == model.threshold
    assert record["n_clients"] == reference.n_rows == model.metadata["training_data"]["n_clients"]
    assert set(record["dimensions"]) == {"gender", "age_band", "family_status"}
    for dimension in record["dimensions"].values():
        groups = dimension["groups"]
        assert sum(g["n"] for g in groups) == reference.n_rows
        rated = [g for g in groups if g["n"] >= record["min_group_size"]]
        assert all(g["approval_rate"] is not None for g in rated)
        assert all(g["approval_rate"] is None for g in groups if g not in rated)
        if len(rated) == len(groups):
            assert sum(g["n_defaulted"] for g in groups) == int(reference.target.sum())
        rates = [g["approval_rate"] for g in rated]
        assert dimension["parity_ratio"] == pytest.approx(min(rates) / max(rates))
        assert dimension["below_four_fifths"] == (dimension["parity_ratio"] < 0.8)
        tpr = [g["true_positive_rate"] for g in rated]
        assert dimension["equal_opportunity_gap"] == pytest.approx(max(tpr) - min(tpr))
        for g in rated:
            assert g["true_positive_rate"] == pytest.approx(1 - g["false_negative_rate"])
    gender = record["dimensions"]["gender"]
    assert [g["group"] for g in gender["groups"]][:2] == ["F", "M"]
    # Exactly what the out-of-fold probabilities give at the served threshold.
    again = fairness.fairness_report(
        reference.columns, reference.target, trained_model.chosen.oof_probability, model.threshold
    )
    assert again == record
    approved = trained_model.chosen.oof_probability < model.threshold
    overall = float(np.mean(approved))
    assert overall == pytest.approx(1 - model.metadata["metrics"]["refusal_rate"])


def test_calibration_and_fairness_reach_mlflow(
    model: ScoringModel, trained_model: TrainingResult, training_tracking_uri: str
) -> None:
    from mlflow import MlflowClient

    from training.tracking import EXPERIMENT_NAME

    client = MlflowClient(tracking_uri=training_tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
    assert experiment is not None
    (run,) = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.model_version = '{trained_model.model_version}'",
    )
    metrics = run.data.metrics
    record = model.metadata["calibration"]
    assert metrics["calibration.ece"] == pytest.approx(record["ece"])
    assert metrics["calibration.brier"] == pytest.approx(record["brier"])
    if record["calibrated"]:
        assert metrics["calibration.ece_before"] == pytest.approx(record["before"]["ece"])
        assert metrics["calibration.logit_shift"] == pytest.approx(record["logit_shift"])
    for name, dimension in model.metadata["fairness"]["dimensions"].items():
        for key in ("parity_ratio", "equal_opportunity_gap"):
            assert metrics[f"fairness.{name}.{key}"] == pytest.approx(dimension[key])


def test_the_model_card_gives_calibration_and_fairness(
    model: ScoringModel,
    publish_local: Callable[[Path], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from creditscore_common import explain
    from creditscore_common.api import reset_caches

    store = publish_local(tmp_path / "store")
    clear_settings_env(monkeypatch)
    monkeypatch.setenv("STORE_BACKEND", "local")
    monkeypatch.setenv("LOCAL_STORE_PATH", str(store))
    monkeypatch.setenv("API_TOKEN", "card-token")
    monkeypatch.setenv("AUTH_MODE", "token")
    reset_caches()
    explain.clear_cache()
    module = load_function("explain")
    assert module is not None
    try:
        http = TestClient(module.app, raise_server_exceptions=False)
        auth = {"Authorization": "Bearer card-token"}
        card = http.get("/model", headers=auth, params={"lang": "fr"}).json()
        english = http.get("/model", headers=auth, params={"lang": "en"}).json()
    finally:
        reset_caches()
        explain.clear_cache()
    recorded = model.metadata["calibration"]
    assert card["calibration"]["ece"] == pytest.approx(recorded["ece"])
    assert card["calibration"]["calibrated"] == recorded["calibrated"]
    assert card["calibration"]["before"]["reliability"] == recorded["before"]["reliability"]
    fair = card["fairness"]
    assert fair["threshold"] == card["threshold"]
    for name, dimension in model.metadata["fairness"]["dimensions"].items():
        served = fair["dimensions"][name]
        assert [g["n"] for g in served["groups"]] == [g["n"] for g in dimension["groups"]]
        assert served["parity_ratio"] == dimension["parity_ratio"]
        for got, want in zip(served["groups"], dimension["groups"], strict=True):
            assert {k: v for k, v in got.items() if k != "label"} == want
    labels = {g["group"]: g["label"] for g in fair["dimensions"]["gender"]["groups"]}
    assert (labels["F"], labels["M"]) == ("femmes", "hommes")
    assert fair["dimensions"]["age_band"]["label"] == "Âge"
    english_labels = [g["label"] for g in english["fairness"]["dimensions"]["gender"]["groups"]]
    assert english_labels[:2] == ["women", "men"]
