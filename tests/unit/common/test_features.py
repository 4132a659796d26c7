"""The feature transform: one client at a time must give exactly what the batch gives."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from creditscore_common import features
from creditscore_common.features import (
    DOMAIN_FEATURES,
    EMPLOYMENT_ANOMALY_FEATURE,
    EXT_SOURCE_FEATURES,
    LEGACY_DERIVED_FEATURES,
    PROTECTED_COLUMNS,
    PROTECTED_REASON,
    RATIO_FEATURES,
    FeatureSpec,
    fit_feature_spec,
    transform_batch,
    transform_record,
    transform_record_features,
)
from creditscore_common.model import ScoringModel
from creditscore_common.reference_schema import DAYS_EMPLOYED_ANOMALY, load_schema
from creditscore_common.version import METADATA_FILE
from training.data import ApplicationTable, load_reference_and_new
from training.holdout import split_reference
from training.train import TrainingResult

N_PARITY_CLIENTS = 300


@pytest.fixture(scope="module")
def tables(small_data_dir: Path) -> tuple[ApplicationTable, ApplicationTable]:
    return load_reference_and_new(small_data_dir)


@pytest.fixture(scope="module")
def reference(tables: tuple[ApplicationTable, ApplicationTable]) -> ApplicationTable:
    return tables[0]


@pytest.fixture(scope="module")
def new_clients(tables: tuple[ApplicationTable, ApplicationTable]) -> ApplicationTable:
    return tables[1]


@pytest.fixture(scope="module")
def spec(reference: ApplicationTable) -> FeatureSpec:
    return fit_feature_spec(reference.columns)


def col(spec: FeatureSpec, name: str) -> int:
    return spec.features.index(name)


def one_hot_slice(spec: FeatureSpec, column: str) -> list[int]:
    (encoded,) = [c for c in spec.one_hot if c.column == column]
    return [col(spec, f) for f in encoded.features]


def clipped(spec: FeatureSpec, feature: str, value: float) -> np.float32:
    """What the transform should output for ``value``: flattened at the learned limits."""
    lo, hi = spec.clip_limits.get(feature, (-math.inf, math.inf))
    return np.float32(min(max(value, lo), hi))


# ----------------------------------------------------------------------- batch/record parity


@pytest.mark.parametrize("which", ["reference", "new_clients"])
def test_record_equals_batch_row_for_hundreds_of_clients(
    which: str, request: pytest.FixtureRequest, spec: FeatureSpec
) -> None:
    table: ApplicationTable = request.getfixturevalue(which)
    batch = transform_batch(spec, table.columns)
    assert batch.shape == (table.n_rows, len(spec.features))
    assert batch.dtype == np.float32
    rows = np.linspace(0, table.n_rows - 1, N_PARITY_CLIENTS).astype(int)
    mismatched = []
    for row in rows:
        single = transform_record(spec, table.record(int(row)))
        assert single.shape == (1, len(spec.features))
        if not np.array_equal(single[0], batch[row], equal_nan=True):
            mismatched.append(int(row))
    assert mismatched == []


def test_parity_sample_covers_the_interesting_cases(
    reference: ApplicationTable, spec: FeatureSpec
) -> None:
    """The parity sample must contain anomalies, missing values and one-hot levels."""
    rows = np.linspace(0, reference.n_rows - 1, N_PARITY_CLIENTS).astype(int)
    batch = transform_batch(spec, reference.columns)[rows]
    assert batch[:, col(spec, EMPLOYMENT_ANOMALY_FEATURE)].sum() > 0
    assert np.isnan(batch).any()
    one_hot_start = len(spec.numeric_features)
    assert batch[:, one_hot_start:].sum() > 0


def test_record_with_numpy_scalars_matches_plain_python(
    reference: ApplicationTable, spec: FeatureSpec
) -> None:
    plain = reference.record(11)
    as_numpy = {k: (np.float64(v) if isinstance(v, float) else v) for k, v in plain.items()}
    assert np.array_equal(
        transform_record(spec, plain), transform_record(spec, as_numpy), equal_nan=True
    )


@pytest.mark.parametrize(
    "odd",
    [True, False, np.bool_(True), "12.5", [1, 2], None, np.int32(7), np.float32(0.25), 10**30],
    ids=repr,
)
def test_a_record_of_odd_values_is_transformed_as_object_columns_are(
    reference: ApplicationTable, spec: FeatureSpec, odd: Any
) -> None:
    """The one-record fast path (numbers as float64 at once) changes no value: a bool, text
    or a list still counts as missing, a numpy scalar or a big int as its number."""
    record = {**reference.record(3), "AMT_CREDIT": odd, "CNT_CHILDREN": odd, "EXT_SOURCE_2": odd}
    as_objects = {name: features._one_value(value) for name, value in record.items()}
    expected = transform_batch(spec, as_objects, n_rows=1)
    assert np.array_equal(transform_record(spec, record), expected, equal_nan=True)


# ----------------------------------------------------------------------- spec round trip


def test_spec_json_round_trip_gives_identical_outputs(
    spec: FeatureSpec, new_clients: ApplicationTable
) -> None:
    text = json.dumps(spec.to_dict(), allow_nan=False)
    restored = FeatureSpec.from_dict(json.loads(text))
    assert restored == spec
    assert restored.features == spec.features
    assert np.array_equal(
        transform_batch(restored, new_clients.columns),
        transform_batch(spec, new_clients.columns),
        equal_nan=True,
    )
    record = new_clients.record(3)
    assert np.array_equal(
        transform_record(restored, record), transform_record(spec, record), equal_nan=True
    )


def test_spec_with_a_different_recorded_feature_order_is_refused(spec: FeatureSpec) -> None:
    raw = spec.to_dict()
    raw["features"] = list(reversed(raw["features"]))
    with pytest.raises(ValueError, match="feature order"):
        FeatureSpec.from_dict(raw)


def test_a_spec_without_derived_features_gets_the_legacy_list(spec: FeatureSpec) -> None:
    """Versions fitted before the spec recorded its derived features computed these."""
    raw = spec.to_dict()
    assert raw["derived_features"] == list(LEGACY_DERIVED_FEATURES) == list(DOMAIN_FEATURES)
    del raw["derived_features"]
    assert FeatureSpec.from_dict(raw) == spec


def test_a_spec_naming_a_derived_feature_the_code_lacks_is_refused(spec: FeatureSpec) -> None:
    raw = spec.to_dict()
    raw["derived_features"] = [*raw["derived_features"], "NOT_A_RATIO"]
    raw["features"] = None
    with pytest.raises(ValueError, match="NOT_A_RATIO"):
        FeatureSpec.from_dict(raw)


NEW_RATIO = "GOODS_INCOME_RATIO"


@pytest.mark.xdist_group("trained_model")
@pytest.mark.parametrize("recorded", [True, False], ids=["recorded", "before-recording"])
def test_a_new_derived_feature_leaves_published_versions_as_they_were(
    trained_model: TrainingResult,
    reference: ApplicationTable,
    new_clients: ApplicationTable,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    recorded: bool,
) -> None:
    """The code learns a derived feature: a published version keeps computing its own list
    and scores exactly as before, and a spec fitted from then on includes the new one."""
    folder = tmp_path / trained_model.model_version
    shutil.copytree(trained_model.version_dir, folder)
    if not recorded:  # a version trained before the spec recorded its derived features
        metadata = json.loads((folder / METADATA_FILE).read_text())
        del metadata["feature_spec"]["derived_features"]
        (folder / METADATA_FILE).write_text(json.dumps(metadata))
    published = ScoringModel.load(folder)
    before = published.score_columns(new_clients.columns)

    monkeypatch.setitem(features.RATIO_FEATURES, NEW_RATIO, ("AMT_GOODS_PRICE", "AMT_INCOME_TOTAL"))

    reloaded = ScoringModel.load(folder)
    assert reloaded.spec == published.spec and NEW_RATIO not in reloaded.spec.features
    assert np.array_equal(reloaded.score_columns(new_clients.columns), before)
    record = new_clients.record(0)
    assert reloaded.score_record(record) == published.score_record(record)
    # Training fits on the reference clients less the held-out ones (training.holdout).
    refitted = fit_feature_spec(split_reference(reference).training.columns)
    assert NEW_RATIO in refitted.derived_features and NEW_RATIO in refitted.features
    assert set(refitted.features) - set(published.spec.features) == {NEW_RATIO}
    assert FeatureSpec.from_dict(json.loads(json.dumps(refitted.to_dict()))) == refitted


def test_record_features_are_the_row_and_the_values_before_clipping(
    spec: FeatureSpec, new_clients: ApplicationTable
) -> None:
    """One transform gives what the model reads and what an advisor is shown (unclipped)."""
    unclipped_spec = dataclasses.replace(spec, clip_limits={})
    n_numeric = len(spec.numeric_features)
    for i in range(0, new_clients.n_rows, max(1, new_clients.n_rows // 25)):
        record = new_clients.record(i)
        transformed = transform_record_features(spec, record)
        assert np.array_equal(transformed.row, transform_record(spec, record), equal_nan=True)
        assert np.array_equal(
            transformed.unclipped,
            transform_record(unclipped_spec, record)[0, :n_numeric],
            equal_nan=True,
        )
    values = transformed.numeric_values(spec)
    assert list(values) == list(spec.numeric_features)


# ----------------------------------------------------------------------- missing / odd input


def _expected_for_nothing_known(spec: FeatureSpec) -> np.ndarray:
    expected = np.full(len(spec.features), np.nan, dtype=np.float32)
    expected[col(spec, EMPLOYMENT_ANOMALY_FEATURE)] = 0.0
    expected[col(spec, "EXT_SOURCE_MISSING_COUNT")] = clipped(spec, "EXT_SOURCE_MISSING_COUNT", 3.0)
    expected[len(spec.numeric_features) :] = 0.0
    return expected


def test_empty_record_gives_one_row_of_missing_values_and_zero_one_hot(
    spec: FeatureSpec,
) -> None:
    out = transform_record(spec, {})
    assert out.shape == (1, len(spec.features))
    assert np.array_equal(out[0], _expected_for_nothing_known(spec), equal_nan=True)


def test_record_of_only_none_values_equals_the_all_missing_row(spec: FeatureSpec) -> None:
    record = dict.fromkeys(load_schema().application_names)
    out = transform_record(spec, record)
    assert out.shape == (1, len(spec.features))
    assert np.array_equal(out[0], _expected_for_nothing_known(spec), equal_nan=True)


def test_record_with_some_keys_only(spec: FeatureSpec) -> None:
    record = {"AMT_INCOME_TOTAL": 200_000.0, "AMT_CREDIT": 500_000.0, "FLAG_OWN_CAR": "Y"}
    out = transform_record(spec, record)[0]
    assert out.shape == (len(spec.features),)
    assert out[col(spec, "AMT_INCOME_TOTAL")] == clipped(spec, "AMT_INCOME_TOTAL", 200_000.0)
    assert out[col(spec, "AMT_CREDIT")] == clipped(spec, "AMT_CREDIT", 500_000.0)
    assert out[col(spec, "CREDIT_INCOME_RATIO")] == clipped(spec, "CREDIT_INCOME_RATIO", 2.5)
    for name in ("AMT_ANNUITY", "DAYS_BIRTH", "ANNUITY_INCOME_RATIO", "CREDIT_GOODS_RATIO"):
        assert np.isnan(out[col(spec, name)]), name
    car = one_hot_slice(spec, "FLAG_OWN_CAR")
    assert out[col(spec, "FLAG_OWN_CAR__Y")] == 1.0
    assert out[car].sum() == 1.0
    assert out[one_hot_slice(spec, "NAME_CONTRACT_TYPE")].sum() == 0.0


def test_gender_is_never_a_model_input(spec: FeatureSpec) -> None:
    assert "CODE_GENDER" in spec.dropped_columns
    assert "protected" in spec.dropped_columns["CODE_GENDER"]
    assert "CODE_GENDER" not in spec.input_columns
    assert not [f for f in spec.features if f.startswith("CODE_GENDER")]
    record = {"AMT_INCOME_TOTAL": 200_000.0, "AMT_CREDIT": 500_000.0}
    as_man = transform_record(spec, {**record, "CODE_GENDER": "M"})
    as_woman = transform_record(spec, {**record, "CODE_GENDER": "F"})
    assert np.array_equal(as_man, as_woman, equal_nan=True)


def test_gender_kept_only_when_asked(reference: ApplicationTable) -> None:
    with_gender = fit_feature_spec(reference.columns, protected=())
    assert "CODE_GENDER" in with_gender.input_columns


def test_monotone_constraints_follow_the_model_order(spec: FeatureSpec) -> None:
    constraints = spec.monotone_constraints()
    assert len(constraints) == len(spec.features)
    by_name = dict(zip(spec.features, constraints, strict=True))
    assert by_name["EXT_SOURCE_MEAN"] == -1 and by_name["CREDIT_INCOME_RATIO"] == 1
    assert by_name["AMT_INCOME_TOTAL"] == -1 and by_name["DAYS_EMPLOYED"] == 1
    # The loan term (annuity / credit) is not monotone: no constraint.
    assert by_name["ANNUITY_CREDIT_RATIO"] == 0
    assert set(constraints) <= {-1, 0, 1}


@pytest.mark.parametrize("value", ["Space loans", None, "", 3, 2.5, float("nan"), {"a": 1}])
def test_unseen_missing_or_odd_level_gives_all_zero_one_hot(
    spec: FeatureSpec, reference: ApplicationTable, value: Any
) -> None:
    record = reference.record(0)
    record["NAME_CONTRACT_TYPE"] = value
    out = transform_record(spec, record)[0]
    assert out[one_hot_slice(spec, "NAME_CONTRACT_TYPE")].sum() == 0.0
    # Nothing else moves.
    baseline = transform_record(spec, reference.record(0))[0]
    others = [j for j in range(out.size) if j not in one_hot_slice(spec, "NAME_CONTRACT_TYPE")]
    assert np.array_equal(out[others], baseline[others], equal_nan=True)


@pytest.mark.parametrize("value", [["Revolving loans"], ["Revolving loans", "Cash loans"]])
def test_list_sent_as_a_category_counts_as_unseen(
    spec: FeatureSpec, reference: ApplicationTable, value: list[str]
) -> None:
    """The module promises that nothing a client sends breaks the transform.

    A JSON client can send a list where a category belongs: it is not a level (it must not
    be matched as one) and must not change the number of rows or raise.
    """
    record = reference.record(0)
    record["NAME_CONTRACT_TYPE"] = value
    out = transform_record(spec, record)
    assert out.shape == (1, len(spec.features))
    assert out[0, one_hot_slice(spec, "NAME_CONTRACT_TYPE")].sum() == 0.0


def test_seen_level_sets_exactly_its_own_feature(spec: FeatureSpec) -> None:
    (encoded,) = [c for c in spec.one_hot if c.column == "NAME_CONTRACT_TYPE"]
    for level, feature in zip(encoded.levels, encoded.features, strict=True):
        out = transform_record(spec, {"NAME_CONTRACT_TYPE": level})[0]
        hot = one_hot_slice(spec, "NAME_CONTRACT_TYPE")
        assert out[col(spec, feature)] == 1.0
        assert out[hot].sum() == 1.0


def test_days_employed_anomaly_becomes_missing_with_a_flag(spec: FeatureSpec) -> None:
    assert "DAYS_EMPLOYED" in spec.numeric_columns
    base = {"DAYS_BIRTH": -20_000.0}
    anomalous = transform_record(spec, {**base, "DAYS_EMPLOYED": float(DAYS_EMPLOYED_ANOMALY)})[0]
    assert np.isnan(anomalous[col(spec, "DAYS_EMPLOYED")])
    assert anomalous[col(spec, EMPLOYMENT_ANOMALY_FEATURE)] == 1.0
    assert np.isnan(anomalous[col(spec, "EMPLOYED_AGE_RATIO")])
    # Also as an integer, the way a JSON client would send it.
    as_int = transform_record(spec, {**base, "DAYS_EMPLOYED": DAYS_EMPLOYED_ANOMALY})
    assert np.array_equal(as_int[0], anomalous, equal_nan=True)

    normal = transform_record(spec, {**base, "DAYS_EMPLOYED": -2_000.0})[0]
    assert normal[col(spec, EMPLOYMENT_ANOMALY_FEATURE)] == 0.0
    assert normal[col(spec, "DAYS_EMPLOYED")] == clipped(spec, "DAYS_EMPLOYED", -2_000.0)
    assert normal[col(spec, "EMPLOYED_AGE_RATIO")] == clipped(spec, "EMPLOYED_AGE_RATIO", 0.1)

    missing = transform_record(spec, {**base, "DAYS_EMPLOYED": None})[0]
    assert missing[col(spec, EMPLOYMENT_ANOMALY_FEATURE)] == 0.0
    assert np.isnan(missing[col(spec, "DAYS_EMPLOYED")])


def test_anomaly_in_the_batch_matches_the_raw_file(
    spec: FeatureSpec, reference: ApplicationTable
) -> None:
    raw = reference.columns["DAYS_EMPLOYED"]
    batch = transform_batch(spec, reference.columns)
    is_anomaly = raw == DAYS_EMPLOYED_ANOMALY
    assert is_anomaly.any()
    assert np.array_equal(batch[:, col(spec, EMPLOYMENT_ANOMALY_FEATURE)], is_anomaly)
    assert np.isnan(batch[is_anomaly, col(spec, "DAYS_EMPLOYED")]).all()


# ----------------------------------------------------------------------- domain features


HAND_RECORD = {
    "AMT_INCOME_TOTAL": 180_000.0,
    "AMT_CREDIT": 540_000.0,
    "AMT_ANNUITY": 27_000.0,
    "AMT_GOODS_PRICE": 450_000.0,
    "DAYS_EMPLOYED": -2_000.0,
    "DAYS_BIRTH": -16_000.0,
    "CNT_FAM_MEMBERS": 3.0,
    "EXT_SOURCE_1": 0.4,
    "EXT_SOURCE_2": 0.6,
    "EXT_SOURCE_3": 0.5,
}
HAND_EXPECTED = {
    "CREDIT_INCOME_RATIO": 3.0,
    "ANNUITY_INCOME_RATIO": 0.15,
    "ANNUITY_CREDIT_RATIO": 0.05,
    "EMPLOYED_AGE_RATIO": 0.125,
    "INCOME_PER_FAMILY_MEMBER": 60_000.0,
    "CREDIT_GOODS_RATIO": 1.2,
    "EXT_SOURCE_MEAN": 0.5,
    "EXT_SOURCE_MIN": 0.4,
    "EXT_SOURCE_MAX": 0.6,
    "EXT_SOURCE_PRODUCT": 0.12,
    "EXT_SOURCE_MISSING_COUNT": 0.0,
}


def test_domain_features_computed_by_hand(spec: FeatureSpec) -> None:
    assert set(HAND_EXPECTED) == set(DOMAIN_FEATURES)
    for name, value in HAND_EXPECTED.items():
        lo, hi = spec.clip_limits.get(name, (-math.inf, math.inf))
        assert lo <= value <= hi, f"hand value of {name} must be inside its clip limits"
    out = transform_record(spec, HAND_RECORD)[0]
    for name, value in HAND_EXPECTED.items():
        assert out[col(spec, name)] == pytest.approx(value, rel=1e-6), name


def test_ext_source_aggregates_skip_missing_scores(spec: FeatureSpec) -> None:
    out = transform_record(spec, {**HAND_RECORD, "EXT_SOURCE_1": None})[0]
    assert out[col(spec, "EXT_SOURCE_MEAN")] == pytest.approx(0.55, rel=1e-6)
    assert out[col(spec, "EXT_SOURCE_MIN")] == pytest.approx(0.5, rel=1e-6)
    assert out[col(spec, "EXT_SOURCE_MAX")] == pytest.approx(0.6, rel=1e-6)
    assert out[col(spec, "EXT_SOURCE_PRODUCT")] == pytest.approx(0.3, rel=1e-6)
    assert out[col(spec, "EXT_SOURCE_MISSING_COUNT")] == clipped(
        spec, "EXT_SOURCE_MISSING_COUNT", 1.0
    )
    # Keys that are not raw columns (here the names of the aggregates) are ignored.
    extra = {**HAND_RECORD, "EXT_SOURCE_1": None, **dict.fromkeys(EXT_SOURCE_FEATURES, 99.0)}
    assert np.array_equal(transform_record(spec, extra)[0], out, equal_nan=True)


@pytest.mark.parametrize(
    ("field", "broken"),
    [
        ("AMT_INCOME_TOTAL", ("CREDIT_INCOME_RATIO", "ANNUITY_INCOME_RATIO")),
        ("CNT_FAM_MEMBERS", ("INCOME_PER_FAMILY_MEMBER",)),
        ("AMT_GOODS_PRICE", ("CREDIT_GOODS_RATIO",)),
    ],
)
def test_zero_denominator_gives_missing_not_infinity(
    spec: FeatureSpec, field: str, broken: tuple[str, ...]
) -> None:
    out = transform_record(spec, {**HAND_RECORD, field: 0.0})[0]
    for name in broken:
        assert np.isnan(out[col(spec, name)]), name
    assert np.isfinite(out[~np.isnan(out)]).all()


def test_ratio_features_use_the_documented_columns() -> None:
    assert RATIO_FEATURES["CREDIT_INCOME_RATIO"] == ("AMT_CREDIT", "AMT_INCOME_TOTAL")
    assert RATIO_FEATURES["INCOME_PER_FAMILY_MEMBER"] == ("AMT_INCOME_TOTAL", "CNT_FAM_MEMBERS")


# ----------------------------------------------------------------------- clipping


def test_clip_limits_are_the_training_quantiles(
    spec: FeatureSpec, reference: ApplicationTable
) -> None:
    income = reference.columns["AMT_INCOME_TOTAL"]
    finite = income[np.isfinite(income)]
    lo, hi = np.quantile(finite, spec.clip_quantiles)
    assert spec.clip_quantiles == (0.001, 0.999)
    assert spec.clip_limits["AMT_INCOME_TOTAL"] == (pytest.approx(lo), pytest.approx(hi))
    assert lo > finite.min() or hi < finite.max()  # the limits actually bite on this sample


def test_huge_and_tiny_values_are_flattened_to_the_learned_limits(spec: FeatureSpec) -> None:
    lo, hi = spec.clip_limits["AMT_INCOME_TOTAL"]
    huge = transform_record(spec, {"AMT_INCOME_TOTAL": 1e12})[0]
    tiny = transform_record(spec, {"AMT_INCOME_TOTAL": -1e12})[0]
    assert huge[col(spec, "AMT_INCOME_TOTAL")] == np.float32(hi)
    assert tiny[col(spec, "AMT_INCOME_TOTAL")] == np.float32(lo)
    # Domain features are clipped too, at their own limits.
    ratio_hi = spec.clip_limits["INCOME_PER_FAMILY_MEMBER"][1]
    crazy = transform_record(spec, {"AMT_INCOME_TOTAL": 1e12, "CNT_FAM_MEMBERS": 1.0})[0]
    assert crazy[col(spec, "INCOME_PER_FAMILY_MEMBER")] == np.float32(ratio_hi)


def test_batch_never_leaves_the_clip_limits(
    spec: FeatureSpec, new_clients: ApplicationTable
) -> None:
    batch = transform_batch(spec, new_clients.columns)
    for name, (lo, hi) in spec.clip_limits.items():
        values = batch[:, col(spec, name)]
        known = values[~np.isnan(values)]
        assert (known >= np.float32(lo)).all() and (known <= np.float32(hi)).all(), name


def test_missing_values_are_not_clipped(spec: FeatureSpec) -> None:
    out = transform_record(spec, {"AMT_INCOME_TOTAL": None})[0]
    assert np.isnan(out[col(spec, "AMT_INCOME_TOTAL")])


# ----------------------------------------------------------------------- fitting


def test_columns_mostly_missing_are_dropped_and_absent_from_features(
    spec: FeatureSpec, reference: ApplicationTable
) -> None:
    schema = load_schema()
    assert spec.max_missing_rate == 0.60
    for name in schema.application_names:
        values = reference.columns[name]
        if schema[name].is_categorical:
            missing = np.mean([not isinstance(v, str) for v in values])
        else:
            missing = np.mean(~np.isfinite(values.astype(np.float64)))
        prefix = f"{name}__"
        present = name in spec.features or any(f.startswith(prefix) for f in spec.features)
        if name in PROTECTED_COLUMNS:
            assert spec.dropped_columns[name] == PROTECTED_REASON, name
            assert not present, name
        elif missing > 0.60:
            assert name in spec.dropped_columns, name
            assert not present, name
        elif name in spec.dropped_columns:
            assert "single" in spec.dropped_columns[name], name
            assert not present, name
        else:
            assert present, name
    assert any("missing" in why for why in spec.dropped_columns.values())


@pytest.mark.parametrize(("share", "dropped"), [(0.7, True), (0.6, False), (0.5, False)])
def test_missing_rate_threshold(reference: ApplicationTable, share: float, dropped: bool) -> None:
    columns = dict(reference.columns)
    values = columns["AMT_REQ_CREDIT_BUREAU_YEAR"].copy()
    values[: round(share * values.size)] = np.nan
    values[round(share * values.size) :] = np.arange(values.size - round(share * values.size))
    columns["AMT_REQ_CREDIT_BUREAU_YEAR"] = values
    spec = fit_feature_spec(columns)
    assert ("AMT_REQ_CREDIT_BUREAU_YEAR" in spec.dropped_columns) is dropped
    assert ("AMT_REQ_CREDIT_BUREAU_YEAR" in spec.features) is not dropped


def test_mostly_missing_category_is_dropped(reference: ApplicationTable) -> None:
    columns = dict(reference.columns)
    values = columns["NAME_TYPE_SUITE"].copy()
    values[: int(0.8 * values.size)] = None
    columns["NAME_TYPE_SUITE"] = values
    spec = fit_feature_spec(columns)
    assert "NAME_TYPE_SUITE" in spec.dropped_columns
    assert not any(f.startswith("NAME_TYPE_SUITE") for f in spec.features)
    assert "NAME_TYPE_SUITE" not in {c.column for c in spec.one_hot}


def test_absent_column_is_recorded_as_dropped(reference: ApplicationTable) -> None:
    columns = {k: v for k, v in reference.columns.items() if k != "OCCUPATION_TYPE"}
    spec = fit_feature_spec(columns)
    assert "OCCUPATION_TYPE" in spec.dropped_columns
    assert not any(f.startswith("OCCUPATION_TYPE") for f in spec.features)


def test_features_are_unique_even_when_level_names_collide(
    spec: FeatureSpec, reference: ApplicationTable
) -> None:
    assert len(spec.features) == len(set(spec.features))
    columns = dict(reference.columns)
    n = reference.n_rows
    levels = np.array(["Type: 1", "Type 1", "Type-1", "type_1", "Type 1_2"], dtype=object)
    columns["ORGANIZATION_TYPE"] = levels[np.arange(n) % levels.size]
    colliding = fit_feature_spec(columns)
    assert len(colliding.features) == len(set(colliding.features))
    hot = one_hot_slice(colliding, "ORGANIZATION_TYPE")
    assert len(hot) == levels.size
    out = transform_record(colliding, {"ORGANIZATION_TYPE": "Type-1"})[0]
    (encoded,) = [c for c in colliding.one_hot if c.column == "ORGANIZATION_TYPE"]
    expected = encoded.features[encoded.levels.index("Type-1")]
    assert out[col(colliding, expected)] == 1.0
    assert out[hot].sum() == 1.0


def test_rare_levels_are_not_encoded(reference: ApplicationTable) -> None:
    columns = dict(reference.columns)
    values = columns["NAME_HOUSING_TYPE"].copy()
    values[:9] = "Igloo"  # below the default minimum of 10 clients
    values[9:30] = "Treehouse"
    columns["NAME_HOUSING_TYPE"] = values
    spec = fit_feature_spec(columns)
    (encoded,) = [c for c in spec.one_hot if c.column == "NAME_HOUSING_TYPE"]
    assert "Treehouse" in encoded.levels
    assert "Igloo" not in encoded.levels


def test_fitting_does_not_look_at_the_new_clients(
    spec: FeatureSpec, reference: ApplicationTable
) -> None:
    """Refitting on the same reference gives the same spec (deterministic, reference only)."""
    assert fit_feature_spec(reference.columns) == spec


# ----------------------------------------------------------------------- dependencies


def test_serving_modules_import_no_training_libraries() -> None:
    code = (
        "import sys\n"
        "import creditscore_common.features, creditscore_common.model\n"
        "print(','.join(m for m in ('pandas', 'sklearn', 'lightgbm', 'scipy') "
        "if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == ""
