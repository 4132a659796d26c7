"""Factors: every model feature under exactly one name an advisor can say, never gender."""

from __future__ import annotations

from pathlib import Path

import pytest

from creditscore_common.factors import factor_members, factors, feature_factors, member_of
from creditscore_common.features import (
    DOMAIN_FEATURES,
    EMPLOYMENT_ANOMALY_FEATURE,
    PROTECTED_COLUMNS,
    FeatureSpec,
    fit_feature_spec,
)
from creditscore_common.reference_schema import load_schema
from training.data import ApplicationTable, load_reference_and_new


@pytest.fixture(scope="module")
def reference(small_data_dir: Path) -> ApplicationTable:
    table, _ = load_reference_and_new(small_data_dir)
    return table


def test_every_field_and_derived_feature_has_exactly_one_factor() -> None:
    members = factor_members()  # raises if a member is listed under two factors
    expected = {*load_schema().application_names, *DOMAIN_FEATURES} - set(PROTECTED_COLUMNS)
    assert set(members) == expected
    assert set(members.values()) == set(factors())


def test_protected_attributes_have_no_factor() -> None:
    for column in PROTECTED_COLUMNS:
        assert column not in factor_members()
    for factor in factors().values():
        for text in (factor.fr, factor.en):
            assert "genre" not in text.lower() and "gender" not in text.lower()


def test_every_model_feature_belongs_to_one_factor(reference: ApplicationTable) -> None:
    spec = fit_feature_spec(reference.columns)
    mapping = feature_factors(spec)
    assert set(mapping) == set(spec.features)
    origin = spec.feature_origin()
    # One-hot levels follow their column; the employment flag goes with employment.
    for feature, key in mapping.items():
        if origin[feature]["kind"] == "level":
            assert key == factor_members()[origin[feature]["column"]]
    assert mapping[EMPLOYMENT_ANOMALY_FEATURE] == "employment"
    assert mapping["EXT_SOURCE_PRODUCT"] == mapping["EXT_SOURCE_1"] == "external_scores"
    assert mapping["CREDIT_GOODS_RATIO"] == mapping["AMT_CREDIT"] == "loan"
    building = [f for f in spec.features if f.endswith(("_AVG", "_MODE", "_MEDI"))]
    assert {mapping[f] for f in building} <= {"building"}


def test_a_model_reading_gender_cannot_be_explained(reference: ApplicationTable) -> None:
    with_gender: FeatureSpec = fit_feature_spec(reference.columns, protected=())
    with pytest.raises(ValueError, match="protected attribute CODE_GENDER"):
        feature_factors(with_gender)


def test_member_of_names_the_declared_field() -> None:
    assert member_of("CODE_X__a", {"kind": "level", "column": "CODE_X"}) == "CODE_X"
    assert member_of("CREDIT_INCOME_RATIO", {"kind": "domain", "column": "X"}) == (
        "CREDIT_INCOME_RATIO"
    )


def test_quoted_fields_are_declared_fields() -> None:
    names = set(load_schema().application_names)
    for factor in factors().values():
        assert factor.quoted, factor.key
        assert set(factor.quoted) <= names - set(PROTECTED_COLUMNS), factor.key
