"""Comparisons with reference clients: right numbers, and nothing about any one person."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest
from pydantic import BaseModel, ValidationError

from creditscore_common import clients, profiles, reference_index
from creditscore_common.compare import (
    BivariateQuery,
    ComparisonQuery,
    ComparisonRequestError,
    GroupTooSmallError,
    UnknownFeatureError,
    bivariate,
    compare_client,
    percentile_rank,
)
from creditscore_common.errors import ModelUnavailableError
from creditscore_common.privacy import MIN_CELL_COUNT, suppress_small
from creditscore_common.profiles import (
    FEATURE_NAMES,
    GROUP_DIMENSIONS,
    PROFILES_FILE,
    ReferenceProfiles,
    write_reference_profiles,
)
from creditscore_common.reference_index import ReferenceIndex
from creditscore_common.similar import SimilarQuery, similar_clients

N_REFERENCE = 4000
#: A new client: 40 years old, female, cash loan, working, secondary education.
CLIENT: dict[str, Any] = {
    "DAYS_BIRTH": -40 * 365.25,
    "DAYS_EMPLOYED": -3 * 365.25,
    "AMT_INCOME_TOTAL": 150000.0,
    "AMT_CREDIT": 450000.0,
    "AMT_ANNUITY": 22500.0,
    "AMT_GOODS_PRICE": 400000.0,
    "CNT_CHILDREN": 1.0,
    "CNT_FAM_MEMBERS": 3.0,
    "EXT_SOURCE_2": 0.5,
    "EXT_SOURCE_3": 0.45,
    "REGION_RATING_CLIENT": 2.0,
    "CODE_GENDER": "F",
    "NAME_CONTRACT_TYPE": "Cash loans",
    "NAME_INCOME_TYPE": "Working",
    "NAME_EDUCATION_TYPE": "Secondary / secondary special",
}


def synthetic_columns(n: int, seed: int = 0) -> tuple[dict[str, Any], np.ndarray]:
    """Raw columns of ``n`` made-up reference clients and their outcome."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(21, 69, n)
    income = np.round(rng.lognormal(11.9, 0.5, n), -2)
    credit = np.round(income * rng.uniform(0.5, 6, n), -2)
    ext2 = rng.uniform(0, 0.85, n)
    ext1 = np.where(rng.random(n) < 0.5, np.nan, rng.uniform(0, 0.9, n))
    target = (rng.random(n) < 0.05 + 0.25 * (ext2 < 0.2)).astype(np.int8)

    def levels(values: list[str], weights: list[float]) -> np.ndarray:
        return np.array(rng.choice(values, size=n, p=weights), dtype=object)

    columns: dict[str, Any] = {
        "DAYS_BIRTH": -age * 365.25,
        "DAYS_EMPLOYED": np.where(rng.random(n) < 0.15, 365243.0, -rng.uniform(0, 20, n) * 365),
        "DAYS_REGISTRATION": -rng.uniform(0, 30, n) * 365,
        "DAYS_ID_PUBLISH": -rng.uniform(0, 15, n) * 365,
        "AMT_INCOME_TOTAL": income,
        "AMT_CREDIT": credit,
        "AMT_ANNUITY": np.round(credit / rng.uniform(10, 30, n), 1),
        "AMT_GOODS_PRICE": np.round(credit * 0.9, -2),
        "EXT_SOURCE_1": ext1,
        "EXT_SOURCE_2": ext2,
        "EXT_SOURCE_3": rng.uniform(0, 0.85, n),
        "CNT_CHILDREN": rng.choice([0, 0, 0, 1, 1, 2, 3, 5], n).astype(float),
        "CNT_FAM_MEMBERS": rng.choice([1, 2, 2, 3, 4], n).astype(float),
        "REGION_RATING_CLIENT": rng.choice([1, 2, 2, 2, 3], n).astype(float),
        "AMT_REQ_CREDIT_BUREAU_YEAR": rng.choice([0, 1, 2, 3, np.nan], n),
        "CODE_GENDER": levels(["F", "M"], [0.65, 0.35]),
        "NAME_CONTRACT_TYPE": levels(["Cash loans", "Revolving loans"], [0.9, 0.1]),
        # A handful of students: a group far too small to publish anything about.
        "NAME_INCOME_TYPE": levels(
            ["Working", "Pensioner", "Commercial associate", "Student"], [0.6, 0.2, 0.198, 0.002]
        ),
        "NAME_EDUCATION_TYPE": levels(
            ["Secondary / secondary special", "Higher education"], [0.7, 0.3]
        ),
    }
    return columns, target


@pytest.fixture(scope="module")
def reference() -> ReferenceProfiles:
    columns, target = synthetic_columns(N_REFERENCE)
    return profiles.build_reference_profiles(columns, target)


@pytest.fixture(scope="module")
def index(reference: ReferenceProfiles) -> ReferenceIndex:
    return ReferenceIndex(reference, "test-version")


@dataclass(frozen=True)
class FixedScoreModel:
    """Stands for the scoring model in similar_clients: one probability, recorded bins."""

    probability: float = 0.12
    metadata: dict[str, Any] = field(
        default_factory=lambda: {
            "score_bins": {
                "edges": [0.0, 0.05, 0.1, 0.2, 1.0],
                "n_clients": [4000, 3000, 2000, 1000],
                "n_defaulted": [80, 180, 260, 300],
                "mean_probability": [0.02, 0.07, 0.14, 0.31],
            }
        }
    )

    def score_record(self, record: Any) -> float:
        return self.probability


MODEL = cast(Any, FixedScoreModel())


# --------------------------------------------------------------------------- helpers


def all_counts(payload: Any) -> list[Any]:
    """Every value under a ``counts`` or ``missing`` key of an answer, flattened."""
    found: list[Any] = []

    def flatten(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                flatten(item)
        elif isinstance(value, dict):
            for item in value.values():
                flatten(item)
        else:
            found.append(value)

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("counts", "missing"):
                    flatten(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(payload)
    return found


def longest_list(payload: Any) -> int:
    if isinstance(payload, list):
        return max([len(payload), *(longest_list(v) for v in payload)])
    if isinstance(payload, dict):
        return max([0, *(longest_list(v) for v in payload.values())])
    return 0


def assert_publishable(answer: BaseModel) -> None:
    """No count of 1-4, no id, no per-client array."""
    payload = json.loads(answer.model_dump_json())
    counts = all_counts(payload)
    assert counts, "expected some counts"
    assert all(c is None or c == 0 or c >= MIN_CELL_COUNT for c in counts)
    text = json.dumps(payload)
    assert "SK_ID_CURR" not in text
    assert longest_list(payload) <= max(reference_index.N_BINS + 1, reference_index.N_BINS_2D + 1)


# --------------------------------------------------------------------------- privacy rules


@pytest.mark.parametrize(
    ("counts", "published"),
    [
        ([0, 12, 30], [0, 12, 30]),  # nothing small
        ([3, 2, 40], [None, None, 40]),  # two hidden cells: totals do not reveal either
        ([0, 3, 10, 7], [0, None, 10, None]),  # one hidden: the smallest visible goes too
        ([4, 9], [None, None]),
        ([1], [None]),
        ([0, 0], [0, 0]),
    ],
)
def test_suppress_small(counts: list[int], published: list[int | None]) -> None:
    assert suppress_small(counts) == published


def test_comparison_publishes_no_small_count(index: ReferenceIndex) -> None:
    for filters in ({}, {"gender": "male"}, {"age_band": "same", "contract_type": "same"}):
        answer = compare_client(index, 1, CLIENT, None, filters)
        assert_publishable(answer)
        for feature in answer.features:
            for klass in ("repaid", "defaulted"):
                cells = [*getattr(feature.counts, klass), getattr(feature.missing, klass)]
                # Never exactly one hidden cell: the class total would give it back.
                assert sum(c is None for c in cells) != 1


def test_bivariate_publishes_no_small_cell(index: ReferenceIndex) -> None:
    answer = bivariate(index, 1, CLIENT, "AGE_YEARS", "EXT_SOURCE_2", {"gender": "female"})
    assert_publishable(answer)
    for grid, missing in (
        (answer.counts.repaid, answer.missing.repaid),
        (answer.counts.defaulted, answer.missing.defaulted),
    ):
        cells = [c for row in grid for c in row] + [missing]
        assert sum(c is None for c in cells) != 1
    assert len(answer.counts.repaid) == len(answer.x.bin_edges) - 1
    assert {len(row) for row in answer.counts.repaid} == {len(answer.y.bin_edges) - 1}
    assert answer.x.client_value == pytest.approx(40.0)


def test_similar_publishes_aggregates_only(index: ReferenceIndex) -> None:
    answer = similar_clients(index, 1, CLIENT, 20, MODEL)
    payload = json.loads(answer.model_dump_json())
    assert "SK_ID_CURR" not in json.dumps(payload)
    assert longest_list(payload) <= len(FEATURE_NAMES)
    for shares in answer.shares.values():
        for share in shares.values():
            # A share resting on 1 to 4 of the k clients is hidden.
            assert share is None or share == 0 or share * answer.k >= MIN_CELL_COUNT - 1e-9


@pytest.mark.parametrize("k", [0, 1, 19])
def test_similar_refuses_fewer_than_20_neighbours(index: ReferenceIndex, k: int) -> None:
    with pytest.raises(ComparisonRequestError, match="at least 20"):
        similar_clients(index, 1, CLIENT, k, MODEL)
    with pytest.raises(ValidationError):
        SimilarQuery(k=k)


def test_a_small_group_is_refused_without_saying_how_small(index: ReferenceIndex) -> None:
    with pytest.raises(GroupTooSmallError) as raised:
        compare_client(index, 1, CLIENT, None, {"income_type": "student"})
    assert raised.value.status_code == 422
    n_students = int(np.sum(index.reference.groups[:, 3] == 5))
    assert 0 < n_students < 100 and str(n_students) not in str(raised.value)
    with pytest.raises(GroupTooSmallError):
        bivariate(index, 1, CLIENT, "AGE_YEARS", "AMT_CREDIT", {"income_type": "student"})


# --------------------------------------------------------------------------- the numbers


def test_percentile_by_hand() -> None:
    known = np.array([1, 2, 3, 4], dtype=np.float32)
    assert percentile_rank(known, 3.0) == 62.5  # 2 below, 1 tie counted half, of 4
    assert percentile_rank(known, 2.5) == 50.0
    assert percentile_rank(known, 0.0) == 0.0
    assert percentile_rank(known, 9.0) == 100.0
    ties = np.array([1, 1, 1, 5], dtype=np.float32)
    assert percentile_rank(ties, 1.0) == 37.5
    assert percentile_rank(known, float("nan")) is None
    assert percentile_rank(np.array([], dtype=np.float32), 1.0) is None


def test_comparison_numbers_match_a_direct_computation(
    index: ReferenceIndex, reference: ReferenceProfiles
) -> None:
    answer = compare_client(index, 7, CLIENT, ["AGE_YEARS", "CNT_CHILDREN"], {"gender": "same"})
    female = reference.groups[:, profiles.GROUP_NAMES.index("gender")] == 0
    assert answer.group.filters == {"gender": "female"}
    assert answer.group.size == int(female.sum())
    assert answer.group.by_class["defaulted"] == int(reference.target[female].sum())
    ages = reference.values[female, FEATURE_NAMES.index("AGE_YEARS")]
    age = next(f for f in answer.features if f.feature == "AGE_YEARS")
    client_age = float(np.float32(40.0))
    expected = 100 * (np.sum(ages < client_age) + 0.5 * np.sum(ages == client_age)) / ages.size
    assert age.percentile == pytest.approx(expected, abs=0.05)
    assert age.client_value == pytest.approx(40.0)
    edges = np.array(age.bin_edges)
    assert edges[0] < client_age < edges[-1]
    assert edges[age.client_bin] <= client_age < edges[age.client_bin + 1]  # type: ignore[operator]
    # Every client of each class is in one bin (the end bins are open) or missing.
    for klass, code in (("repaid", 0), ("defaulted", 1)):
        counts = getattr(age.counts, klass)
        if None not in counts:
            assert sum(counts) == int(np.sum(reference.target[female] == code))
    children = next(f for f in answer.features if f.feature == "CNT_CHILDREN")
    assert children.bin_edges[:3] == [-0.5, 0.5, 1.5]  # one bin a value for small counts
    assert children.unit == "count"


def test_answer_follows_the_requested_features(index: ReferenceIndex) -> None:
    answer = compare_client(index, 1, CLIENT, ["EXT_SOURCE_2", "AGE_YEARS"], {})
    assert [f.feature for f in answer.features] == ["EXT_SOURCE_2", "AGE_YEARS"]
    everything = compare_client(index, 1, CLIENT, None, {})
    assert [f.feature for f in everything.features] == list(FEATURE_NAMES)
    missing = next(f for f in everything.features if f.feature == "EXT_SOURCE_1")
    assert missing.client_value is None and missing.percentile is None
    assert missing.client_bin is None


def test_unknown_features_are_named(index: ReferenceIndex) -> None:
    with pytest.raises(UnknownFeatureError) as raised:
        compare_client(index, 1, CLIENT, ["AGE_YEARS", "SK_ID_CURR", "SHOE_SIZE"], {})
    assert raised.value.names == ["SK_ID_CURR", "SHOE_SIZE"]
    assert "SHOE_SIZE" in str(raised.value)
    with pytest.raises(UnknownFeatureError):
        bivariate(index, 1, CLIENT, "AGE_YEARS", "SHOE_SIZE", {})
    with pytest.raises(ComparisonRequestError, match="different"):
        bivariate(index, 1, CLIENT, "AGE_YEARS", "AGE_YEARS", {})


def test_same_needs_a_known_level(index: ReferenceIndex) -> None:
    with pytest.raises(ComparisonRequestError, match="unknown"):
        compare_client(index, 1, {**CLIENT, "CODE_GENDER": None}, None, {"gender": "same"})


def test_query_models_refuse_unknown_levels_and_parameters() -> None:
    assert ComparisonQuery(gender="same", features="AGE_YEARS, EXT_SOURCE_2").feature_names() == [
        "AGE_YEARS",
        "EXT_SOURCE_2",
    ]
    assert ComparisonQuery().feature_names() is None
    with pytest.raises(ValidationError, match="must be one of"):
        ComparisonQuery(gender="unknown")
    with pytest.raises(ValidationError):
        ComparisonQuery.model_validate({"gendr": "male"})
    with pytest.raises(ValidationError):
        BivariateQuery.model_validate({"x": "AGE_YEARS"})
    for dimension in GROUP_DIMENSIONS:  # every level of profiles.py is accepted
        for slug in dimension.slugs:
            ComparisonQuery.model_validate({dimension.name: slug})


def test_similar_finds_the_nearest_clients() -> None:
    # 30 reference clients who look like CLIENT and all defaulted, 2000 far away who repaid.
    far, _ = synthetic_columns(2000, seed=3)
    far["EXT_SOURCE_2"] = np.full(2000, 0.84)
    far["AMT_INCOME_TOTAL"] = far["AMT_INCOME_TOTAL"] * 5
    columns: dict[str, Any] = {}
    for name, values in far.items():
        near = np.array([CLIENT.get(name)] * 30, dtype=values.dtype)
        columns[name] = np.concatenate([near, values])
    target = np.concatenate([np.ones(30, np.int8), np.zeros(2000, np.int8)])
    index = ReferenceIndex(profiles.build_reference_profiles(columns, target), "v")
    answer = similar_clients(index, 1, CLIENT, 20, MODEL)
    assert (answer.k, answer.n_defaulted, answer.default_rate) == (20, 20, 1.0)
    assert answer.medians["AGE_YEARS"] == pytest.approx(40.0)
    assert answer.shares["gender"] == {"female": 1.0, "male": 0.0}
    assert "EXT_SOURCE_1" not in answer.features_used  # unknown for the client
    wider = similar_clients(index, 1, CLIENT, 60, MODEL)
    assert wider.n_defaulted == 30 and wider.default_rate == 0.5
    # Beside the neighbours: reference clients with a similar score, and why they differ.
    assert answer.probability == 0.12
    assert answer.score_bin is not None
    assert (answer.score_bin.lower, answer.score_bin.upper) == (0.1, 0.2)
    assert answer.score_bin.default_rate == 0.13 and answer.score_bin.n_clients == 2000
    assert "100\u00a0%" in answer.explanation and "13,0\u00a0%" in answer.explanation
    assert "L'écart vient" in answer.explanation  # 100 % of neighbours vs a 12 % score
    assert set(answer.client_values) == set(answer.medians)
    assert answer.client_values["AGE_YEARS"] == pytest.approx(40.0)
    assert answer.factors["AGE_YEARS"] == "age" and answer.factors["AMT_CREDIT"] == "loan"


def test_reference_index_checks_the_recorded_hash(
    reference: ReferenceProfiles, tmp_path: Path
) -> None:
    write_reference_profiles(tmp_path / PROFILES_FILE, reference)
    digest = hashlib.sha256((tmp_path / PROFILES_FILE).read_bytes()).hexdigest()
    reference_index.clear_cache()
    model = SimpleNamespace(
        version="v-ok", folder=tmp_path, metadata={"sha256": {PROFILES_FILE: digest}}
    )
    loaded = reference_index.reference_index(cast(Any, model))
    assert loaded.reference.n_clients == N_REFERENCE
    assert reference_index.reference_index(cast(Any, model)) is loaded  # once per version
    tampered = SimpleNamespace(
        version="v-bad", folder=tmp_path, metadata={"sha256": {PROFILES_FILE: "0" * 64}}
    )
    with pytest.raises(ModelUnavailableError, match="reference profiles"):
        reference_index.reference_index(cast(Any, tampered))
    reference_index.clear_cache()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_feature_and_field_has_a_label(lang: str) -> None:
    names = [*FEATURE_NAMES, *(name for name, *_ in clients.DETAIL_FIELDS)]
    for name in names:
        label = clients.label_of(name, cast(Any, lang))
        assert label and label != name, name


def test_client_description_in_human_units() -> None:
    details = clients.describe_client(5, {**CLIENT, "FLAG_OWN_REALTY": "Y"}, "en")
    fields = {f.name: f for f in details.fields}
    assert fields["AGE_YEARS"].value == 40.0 and fields["AGE_YEARS"].unit == "years"
    assert fields["AGE_YEARS"].label == "Age" and fields["AGE_YEARS"].text == "40 years"
    assert fields["YEARS_EMPLOYED"].value == 3.0
    assert fields["AMT_CREDIT"].value == 450000.0 and fields["AMT_CREDIT"].text == "€450,000"
    assert fields["CREDIT_INCOME_RATIO"].value == 3.0
    assert fields["FLAG_OWN_REALTY"].value is True and fields["FLAG_OWN_REALTY"].text == "yes"
    assert fields["FLAG_OWN_CAR"].value is None
    assert fields["NAME_CONTRACT_TYPE"].value == "Cash loans"
    assert details.groups["age_band"] == "35_45" and details.groups["gender"] == "female"
    french = clients.describe_client(5, CLIENT, "fr")
    assert {f.name: f for f in french.fields}["AGE_YEARS"].label == "Âge"
