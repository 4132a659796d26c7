"""Contracts that a quiet regression would break, each checked where it can fail.

- the decision rule: a probability exactly at the threshold is refused, a hair below is
  accepted, on the single and the batch path alike;
- the saved feature spec is the one fitted on the reference clients (not the new ones);
- the ONNX parity check refuses a 1e-3 disagreement (the float32 split fix must not regress);
- behaviour of the trained model: higher external scores never raise the risk (all else
  equal); a field the model does not read changes nothing; a clearly good and a clearly bad
  application get the decisions a credit officer expects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from creditscore_common.features import FeatureSpec, fit_feature_spec, transform_batch
from creditscore_common.model import ScoringModel
from creditscore_common.version import MODEL_FILE, ONNX_FILE
from training import export
from training.data import (
    NEW_CLIENTS_FILE,
    ApplicationTable,
    load_applications,
    load_reference_and_new,
)
from training.holdout import split_reference
from training.train import TrainingResult

pytestmark = pytest.mark.xdist_group("trained_model")

NOISE = 1e-7


@pytest.fixture(scope="module")
def model(trained_model: TrainingResult) -> ScoringModel:
    return ScoringModel.load(trained_model.version_dir)


@pytest.fixture(scope="module")
def new_clients(small_data_dir: Path) -> ApplicationTable:
    return load_applications(small_data_dir / NEW_CLIENTS_FILE, with_target=False)


# ---------------------------------------------------------------------------- decision rule


def with_threshold(model: ScoringModel, threshold: float) -> ScoringModel:
    metadata: dict[str, Any] = {**model.metadata, "threshold": threshold}
    metadata.pop("borderline", None)
    return ScoringModel(model.folder, metadata, model.spec, model.scorer)


@pytest.mark.parametrize("threshold", [0.0917, 0.5, 1e-6])
def test_a_probability_on_the_threshold_is_refused(model: ScoringModel, threshold: float) -> None:
    served = with_threshold(model, threshold)
    below = float(np.nextafter(threshold, 0.0))
    assert served.decide(threshold) == "refuse"
    assert served.decide(below) == "accept"
    batch = served.decide_many(np.array([threshold, below, np.nextafter(threshold, 1.0)]))
    assert batch.tolist() == ["refuse", "accept", "refuse"]


def test_the_score_route_uses_the_same_rule(
    model: ScoringModel, new_clients: ApplicationTable
) -> None:
    """A threshold set exactly on one client's probability refuses that very client."""
    record = {k: v for k, v in new_clients.record(0).items() if v is not None}
    probability = model.score_record(record)
    on_it = with_threshold(model, probability)
    assert on_it.decide(on_it.score_record(record)) == "refuse"
    just_above = with_threshold(model, float(np.nextafter(probability, 1.0)))
    assert just_above.decide(just_above.score_record(record)) == "accept"


# ---------------------------------------------------------------------------- feature spec


def test_saved_spec_is_fitted_on_the_reference_clients(
    trained_model: TrainingResult, small_data_dir: Path
) -> None:
    reference, new = load_reference_and_new(small_data_dir)
    saved = FeatureSpec.from_dict(trained_model.metadata["feature_spec"])
    assert saved == fit_feature_spec(split_reference(reference).training.columns)
    # The new clients would give other clipping limits: the check above can fail.
    assert saved != fit_feature_spec(new.columns)


# ---------------------------------------------------------------------------- ONNX parity


def test_parity_check_refuses_a_1e3_disagreement(
    trained_model: TrainingResult, model: ScoringModel, new_clients: ApplicationTable
) -> None:
    booster = lgb.Booster(model_file=str(trained_model.version_dir / MODEL_FILE))
    onnx_bytes = (trained_model.version_dir / ONNX_FILE).read_bytes()
    x = transform_batch(model.spec, new_clients.columns)
    assert export.check_parity(booster, onnx_bytes, x) <= export.PARITY_TOLERANCE
    # Move every leaf of the first tree by a constant: about 1e-3 of probability apart.
    shifted = lgb.Booster(model_str=booster.model_to_string())
    n_leaves = shifted.dump_model(num_iteration=1)["tree_info"][0]["num_leaves"]
    for leaf in range(n_leaves):
        shifted.set_leaf_output(0, leaf, shifted.get_leaf_output(0, leaf) + 0.012)
    shifted = lgb.Booster(model_str=shifted.model_to_string())
    gap = float(np.max(np.abs(shifted.predict(x) - booster.predict(x))))
    assert 5e-4 < gap < 5e-3
    with pytest.raises(export.ExportParityError, match="disagree"):
        export.check_parity(shifted, onnx_bytes, x)


# ---------------------------------------------------------------------------- behaviour


def test_higher_external_scores_never_raise_the_risk(
    model: ScoringModel, new_clients: ApplicationTable
) -> None:
    baseline = model.score_columns(new_clients.columns)
    for name in ("EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"):
        values = np.asarray(new_clients.columns[name], dtype=np.float64)
        better = np.where(np.isfinite(values), np.minimum(values + 0.1, 1.0), values)
        scored = model.score_columns({**new_clients.columns, name: better})
        assert (scored - baseline).max() <= NOISE, name


def test_a_field_the_model_does_not_read_changes_nothing(
    model: ScoringModel, new_clients: ApplicationTable
) -> None:
    unread = sorted(set(model.spec.dropped_columns) - set(model.spec.input_columns))
    assert unread, "the spec drops no column: nothing to check"
    baseline = model.score_columns(new_clients.columns)
    changed = dict(new_clients.columns)
    for name in unread:
        values = np.asarray(changed[name])
        changed[name] = (
            np.full(values.shape, "something else", dtype=object)
            if values.dtype == object
            else np.full(values.shape, 1.0)
        )
    assert np.array_equal(model.score_columns(changed), baseline)


GOOD = {
    "AMT_INCOME_TOTAL": 300_000.0,
    "AMT_CREDIT": 300_000.0,
    "AMT_ANNUITY": 15_000.0,
    "AMT_GOODS_PRICE": 300_000.0,
    "DAYS_BIRTH": -45 * 365.25,
    "DAYS_EMPLOYED": -15 * 365.25,
    "EXT_SOURCE_1": 0.8,
    "EXT_SOURCE_2": 0.8,
    "EXT_SOURCE_3": 0.8,
    "NAME_EDUCATION_TYPE": "Higher education",
    "NAME_INCOME_TYPE": "State servant",
}
BAD = {
    "AMT_INCOME_TOTAL": 60_000.0,
    "AMT_CREDIT": 900_000.0,
    "AMT_ANNUITY": 50_000.0,
    "AMT_GOODS_PRICE": 700_000.0,
    "DAYS_BIRTH": -22 * 365.25,
    "DAYS_EMPLOYED": -60.0,
    "EXT_SOURCE_1": 0.1,
    "EXT_SOURCE_2": 0.1,
    "EXT_SOURCE_3": 0.1,
    "NAME_EDUCATION_TYPE": "Lower secondary",
    "NAME_INCOME_TYPE": "Working",
}


def test_minimum_functionality_per_decision(model: ScoringModel) -> None:
    good, bad = model.score_record(GOOD), model.score_record(BAD)
    assert model.decide(good) == "accept" and model.band(good) == "clear"
    assert model.decide(bad) == "refuse" and model.band(bad) == "clear"
    assert good < model.borderline[0] <= model.borderline[1] < bad
