"""The plausibility rules: each rule on hand-made edge values, in and out.

The same checks serve the API (a 422 naming the field and the rule) and training (the value is
read as missing), so each case is also checked through the API's Application model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from creditscore_common import plausibility
from creditscore_common.plausibility import (
    CROSS_FIELD_RULE,
    OLDEST_DAY,
    REFERENCE_MAX_MULTIPLE,
    RULES,
    check_cross_field,
    check_record,
    check_value,
    column_bounds,
    column_checks,
    find_violations,
)
from creditscore_common.reference_schema import DAYS_EMPLOYED_ANOMALY, load_schema
from creditscore_common.schemas import ScoreRequest, application_bounds


def reference_max(column: str) -> float:
    return max(load_schema()[column].quantiles.values())


def api_errors(application: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, problem) of each error the API's model finds in an application."""
    try:
        ScoreRequest.model_validate({"application": application})
    except ValidationError as error:
        return [(str(e["loc"][-1]), e["msg"]) for e in error.errors()]
    return []


AMOUNT_MAX = REFERENCE_MAX_MULTIPLE * reference_max("AMT_CREDIT")
OBS_MAX = REFERENCE_MAX_MULTIPLE * reference_max("OBS_30_CNT_SOCIAL_CIRCLE")

#: rule -> (column, values accepted, values refused): the edges on either side.
CASES: dict[str, tuple[str, list[float], list[float]]] = {
    "amount_range": ("AMT_CREDIT", [0.0, 45_000.0, AMOUNT_MAX], [-0.01, AMOUNT_MAX + 1, 1e308]),
    "count_range": ("CNT_CHILDREN", [0.0, 19.0, 30.0], [-1.0, 31.0, 1e308]),
    "car_age_range": ("OWN_CAR_AGE", [0.0, 91.0, 120.0], [-1.0, 121.0]),
    "days_in_past": ("DAYS_BIRTH", [0.0, -9461.0], [1.0, 400.0]),
    "days_within_120_years": ("DAYS_BIRTH", [OLDEST_DAY, -25_000.0], [OLDEST_DAY - 1, -1e308]),
    "score_range": ("EXT_SOURCE_2", [0.0, 0.5, 1.0], [-0.001, 1.001, 7.5]),
    "normalised_range": ("APARTMENTS_AVG", [0.0, 1.0], [-0.1, 1.5]),
    "rating_range": ("REGION_RATING_CLIENT", [1.0, 2.0, 3.0], [0.0, 4.0]),
    "hour_range": ("HOUR_APPR_PROCESS_START", [0.0, 23.0], [-1.0, 24.0]),
    "flag_value": ("FLAG_MOBIL", [0.0, 1.0], [0.5, 2.0, -1.0]),
}


def test_every_column_rule_has_a_case_and_a_message() -> None:
    assert set(CASES) | {CROSS_FIELD_RULE} == set(RULES)
    for checks in column_checks().values():
        for check in checks:
            assert check.rule in RULES and check.message and check.source


@pytest.mark.parametrize("rule", CASES)
def test_rule_on_edge_values(rule: str) -> None:
    column, accepted, refused = CASES[rule]
    for value in accepted:
        assert check_value(column, value) is None, (column, value)
        assert api_errors({column: value}) == [], (column, value)
    for value in refused:
        violation = check_value(column, value)
        assert violation is not None and violation.rule == rule, (column, value, violation)
        assert violation.fields == (column,)
        ((field, problem),) = api_errors({column: value})
        assert field == column and problem.startswith(f"{rule}: "), problem


@pytest.mark.parametrize("rule", CASES)
def test_batch_and_single_values_agree(rule: str) -> None:
    column, accepted, refused = CASES[rule]
    values = np.asarray([*accepted, *refused, np.nan], dtype=np.float64)
    found = find_violations({column: values})
    mask = found.masks.get((rule, column), np.zeros(values.size, dtype=bool))
    expected = [False] * len(accepted) + [True] * len(refused) + [False]
    assert mask.tolist() == expected
    assert found.rows().tolist() == expected


def test_days_employed_is_in_the_past_or_the_no_employment_marker() -> None:
    marker = float(DAYS_EMPLOYED_ANOMALY)
    for value in (0.0, -3000.0, OLDEST_DAY, marker):
        assert check_value("DAYS_EMPLOYED", value) is None, value
    for value in (1.0, 100.0, marker - 1, marker + 1):
        violation = check_value("DAYS_EMPLOYED", value)
        assert violation is not None and violation.rule == "days_in_past", value
    violation = check_value("DAYS_EMPLOYED", -1e308)
    assert violation is not None and violation.rule == "days_within_120_years"


def test_other_days_columns_share_the_rules() -> None:
    for column in ("DAYS_REGISTRATION", "DAYS_ID_PUBLISH", "DAYS_LAST_PHONE_CHANGE"):
        assert column_bounds(column) == (OLDEST_DAY, 0.0)
        assert check_value(column, 1.0) is not None
        assert check_value(column, OLDEST_DAY - 1) is not None


def test_amount_and_count_limits_come_from_the_reference_schema() -> None:
    for column in ("AMT_INCOME_TOTAL", "AMT_CREDIT", "AMT_ANNUITY", "AMT_GOODS_PRICE"):
        assert column_bounds(column) == (0.0, REFERENCE_MAX_MULTIPLE * reference_max(column))
    assert column_bounds("OBS_30_CNT_SOCIAL_CIRCLE") == (0.0, OBS_MAX)
    assert column_bounds("CNT_FAM_MEMBERS") == (0.0, 40.0)
    # The full real table's largest income (117 M) and social circle (348) stay plausible.
    assert check_value("AMT_INCOME_TOTAL", 117_000_000.0) is None
    assert check_value("OBS_30_CNT_SOCIAL_CIRCLE", 348.0) is None
    assert check_value("AMT_REQ_CREDIT_BUREAU_QRT", 261.0) is None


def test_every_numeric_column_is_checked_and_the_api_reads_the_same_bounds() -> None:
    schema = load_schema()
    assert set(column_checks()) == set(schema.numeric_names)
    for name in schema.numeric_names:
        assert application_bounds(name, schema[name].kind) == column_bounds(name)
    assert column_bounds("DAYS_EMPLOYED") == (OLDEST_DAY, None)  # 365243 lies above 0


# ------------------------------------------------------------------ the cross-field rule


def test_employment_longer_than_life() -> None:
    assert check_cross_field({"DAYS_EMPLOYED": -10_000.0, "DAYS_BIRTH": -10_000.0}) == []
    assert check_cross_field({"DAYS_EMPLOYED": -3_000.0, "DAYS_BIRTH": -10_000.0}) == []
    assert check_cross_field({"DAYS_EMPLOYED": DAYS_EMPLOYED_ANOMALY, "DAYS_BIRTH": -8000}) == []
    assert check_cross_field({"DAYS_EMPLOYED": -12_000.0}) == []
    assert check_cross_field({"DAYS_BIRTH": -12_000.0}) == []
    (violation,) = check_cross_field({"DAYS_EMPLOYED": -10_001.0, "DAYS_BIRTH": -10_000.0})
    assert violation.rule == CROSS_FIELD_RULE
    assert violation.fields == ("DAYS_EMPLOYED", "DAYS_BIRTH")
    assert "DAYS_EMPLOYED" in violation.message and "DAYS_BIRTH" in violation.message


def test_the_api_names_both_fields_of_the_cross_field_rule() -> None:
    errors = api_errors({"DAYS_EMPLOYED": -12_000.0, "DAYS_BIRTH": -10_000.0})
    assert sorted(field for field, _ in errors) == ["DAYS_BIRTH", "DAYS_EMPLOYED"]
    assert all(problem.startswith(f"{CROSS_FIELD_RULE}: ") for _, problem in errors)


def test_the_cross_field_rule_looks_only_at_valid_fields() -> None:
    """A birth date in the future is refused for itself, not compared with the employment."""
    record = {"DAYS_EMPLOYED": -12_000.0, "DAYS_BIRTH": 400.0}
    assert [v.rule for v in check_record(record)] == ["days_in_past"]
    assert [field for field, _ in api_errors(record)] == ["DAYS_BIRTH"]
    columns = {k: np.asarray([v]) for k, v in record.items()}
    assert set(find_violations(columns).masks) == {("days_in_past", "DAYS_BIRTH")}


def test_every_broken_rule_is_reported_at_once() -> None:
    record = {
        "AMT_CREDIT": 1e308,
        "CNT_CHILDREN": 1e308,
        "EXT_SOURCE_3": 7.5,
        "DAYS_EMPLOYED": -12_000.0,
        "DAYS_BIRTH": -10_000.0,
    }
    rules = sorted(v.rule for v in check_record(record))
    assert rules == ["amount_range", "count_range", CROSS_FIELD_RULE, "score_range"]
    assert sorted(field for field, _ in api_errors(record)) == sorted(record)
    # Other errors (a wrong type, an unknown field) come with the rules' own.
    mixed = {**record, "CODE_GENDER": 1, "SALARY_IN_BITCOIN": 3}
    assert {field for field, _ in api_errors(mixed)} == set(mixed)


def test_the_batch_marks_the_employment_as_missing() -> None:
    columns = {
        "DAYS_EMPLOYED": np.asarray([-12_000.0, -3_000.0, float(DAYS_EMPLOYED_ANOMALY), np.nan]),
        "DAYS_BIRTH": np.asarray([-10_000.0, -10_000.0, -10_000.0, -10_000.0]),
    }
    found = find_violations(columns)
    assert set(found.masks) == {(CROSS_FIELD_RULE, "DAYS_EMPLOYED")}
    assert found.masks[(CROSS_FIELD_RULE, "DAYS_EMPLOYED")].tolist() == [True, False, False, False]
    assert set(found.missing_by_column()) == {"DAYS_EMPLOYED"}


def test_plausibility_rules_are_one_module() -> None:
    """The API's schema module keeps no bounds of its own."""
    from creditscore_common import schemas

    assert not hasattr(schemas, "_BOUNDS")
    assert plausibility.MAX_AGE_YEARS == 120
