"""Fairness figures by hand on a tiny table: rates, parity ratio, equal-opportunity gap."""

from __future__ import annotations

import numpy as np
import pytest

from creditscore_common.features import DAYS_PER_YEAR
from training.fairness import (
    MIN_GROUP_SIZE,
    OTHER,
    UNKNOWN,
    age_band_groups,
    dimension_figures,
    fairness_report,
    gender_groups,
    group_figures,
    level_groups,
)

THRESHOLD = 0.5
#: Group A, six clients: approved (p < 0.5) are 0.1, 0.2 and 0.3.
#:   defaulters 0.2 (approved), 0.7 and 0.8 (refused); good 0.1 and 0.3 (approved), 0.6 (refused)
#: Group B, four clients: approved 0.1, 0.2 and 0.3.
#:   defaulters 0.3 (approved) and 0.9 (refused); good 0.1 and 0.2 (approved)
#: Group C, two clients: too small with a minimum of 3.
GROUPS = np.array(["A"] * 6 + ["B"] * 4 + ["C"] * 2, dtype=object)
P = np.array([0.1, 0.2, 0.6, 0.7, 0.3, 0.8, 0.1, 0.2, 0.3, 0.9, 0.1, 0.9])
Y = np.array([0, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 1])


def test_one_group_by_hand() -> None:
    a = group_figures(Y[:6], P[:6] < THRESHOLD, min_group_size=1)
    assert a == {
        "n": 6,
        "n_approved": 3,
        "n_defaulted": 3,
        "approval_rate": pytest.approx(3 / 6),
        "default_rate_approved": pytest.approx(1 / 3),  # 1 defaulter among 3 approved
        "false_positive_rate": pytest.approx(1 / 3),  # 1 of 3 good clients refused
        "false_negative_rate": pytest.approx(1 / 3),  # 1 of 3 defaulters approved
        "true_positive_rate": pytest.approx(2 / 3),  # 2 of 3 defaulters refused
    }
    b = group_figures(Y[6:10], P[6:10] < THRESHOLD, min_group_size=1)
    assert b["approval_rate"] == pytest.approx(3 / 4)
    assert b["default_rate_approved"] == pytest.approx(1 / 3)
    assert b["false_positive_rate"] == 0.0  # no good client refused
    assert b["false_negative_rate"] == pytest.approx(1 / 2)
    assert b["true_positive_rate"] == pytest.approx(1 / 2)


def test_undefined_rates_are_null() -> None:
    # Nobody approved, nobody defaulted: no default rate among the approved, no FNR or TPR.
    figures = group_figures(np.zeros(3), np.zeros(3, dtype=bool), min_group_size=1)
    assert figures["approval_rate"] == 0.0 and figures["false_positive_rate"] == 1.0
    assert figures["default_rate_approved"] is None
    assert figures["false_negative_rate"] is None and figures["true_positive_rate"] is None


def test_a_small_group_shows_its_size_only() -> None:
    figures = group_figures(Y[:6], P[:6] < THRESHOLD)  # 6 < MIN_GROUP_SIZE
    assert figures["n"] == 6
    assert all(value is None for key, value in figures.items() if key != "n")
    assert MIN_GROUP_SIZE == 50


def test_parity_ratio_and_equal_opportunity_gap_by_hand() -> None:
    figures = dimension_figures(GROUPS, Y, P, THRESHOLD, min_group_size=3)
    assert [g["group"] for g in figures["groups"]] == ["A", "B", "C"]  # by size
    assert [g["n"] for g in figures["groups"]] == [6, 4, 2]
    assert figures["groups"][2]["approval_rate"] is None  # C: 2 clients, left out
    # approval: A 1/2, B 3/4 -> ratio (1/2) / (3/4) = 2/3 < 0.8: flagged
    assert figures["parity_ratio"] == pytest.approx(2 / 3)
    assert (figures["lowest_approval"], figures["highest_approval"]) == ("A", "B")
    assert figures["below_four_fifths"] is True
    # TPR: A 2/3, B 1/2 -> gap 1/6
    assert figures["equal_opportunity_gap"] == pytest.approx(1 / 6)


def test_a_probability_at_the_threshold_is_refused() -> None:
    figures = dimension_figures(
        np.array(["A", "A"], dtype=object), np.array([0, 0]), np.array([0.5, 0.49]), 0.5, None, 1
    )
    assert figures["groups"][0]["approval_rate"] == 0.5
    # One group only: no ratio, no gap.
    assert figures["parity_ratio"] is None and figures["below_four_fifths"] is None
    assert figures["equal_opportunity_gap"] is None


def test_equal_approval_meets_the_four_fifths_rule() -> None:
    groups = np.array(["x"] * 4 + ["y"] * 4, dtype=object)
    p = np.array([0.1, 0.1, 0.9, 0.9] * 2)
    y = np.array([0, 1, 1, 0] * 2)
    figures = dimension_figures(groups, y, p, 0.5, min_group_size=1)
    assert figures["parity_ratio"] == 1.0 and figures["below_four_fifths"] is False
    assert figures["equal_opportunity_gap"] == 0.0


def test_groups_of_each_dimension() -> None:
    assert gender_groups(["F", "M", "XNA", None, "F"], 5).tolist() == ["F", "M", OTHER, OTHER, "F"]
    ages = np.array([29.99, 30.0, 44.9, 45.0, 59.99, 60.0, 90.0, np.nan])
    days = -ages * DAYS_PER_YEAR
    assert age_band_groups(days, 8).tolist() == [
        "< 30",
        "30–45",
        "30–45",
        "45–60",
        "45–60",
        "≥ 60",
        "≥ 60",
        UNKNOWN,
    ]
    assert level_groups(["Married", None, float("nan"), "", "Widow"], 5).tolist() == [
        "Married",
        UNKNOWN,
        UNKNOWN,
        UNKNOWN,
        "Widow",
    ]
    assert level_groups(None, 2).tolist() == [UNKNOWN, UNKNOWN]


def test_the_report_counts_every_client_once_per_dimension() -> None:
    n = 240
    rng = np.random.default_rng(1)
    columns = {
        "CODE_GENDER": rng.choice(
            np.array(["M", "F", "XNA"], dtype=object), n, p=[0.4, 0.58, 0.02]
        ),
        "DAYS_BIRTH": -rng.uniform(20, 70, n) * DAYS_PER_YEAR,
        "NAME_FAMILY_STATUS": rng.choice(
            np.array(["Married", "Widow", None], dtype=object), n, p=[0.7, 0.25, 0.05]
        ),
    }
    y = rng.integers(0, 2, n)
    p = rng.uniform(size=n)
    report = fairness_report(columns, y, p, 0.3)
    assert report["n_clients"] == n and report["threshold"] == 0.3
    assert report["min_group_size"] == MIN_GROUP_SIZE
    assert set(report["dimensions"]) == {"gender", "age_band", "family_status"}
    for dimension in report["dimensions"].values():
        assert sum(g["n"] for g in dimension["groups"]) == n
    gender = report["dimensions"]["gender"]
    assert gender["column"] == "CODE_GENDER"
    assert [g["group"] for g in gender["groups"]] == ["F", "M", OTHER]
    assert gender["groups"][2]["approval_rate"] is None  # about 5 clients
    family = [g["group"] for g in report["dimensions"]["family_status"]["groups"]]
    assert family == ["Married", "Widow", UNKNOWN]
    # The same figures as one dimension computed alone.
    alone = dimension_figures(
        gender_groups(columns["CODE_GENDER"], n), y, p, 0.3, ("F", "M", OTHER)
    )
    assert gender == {"column": "CODE_GENDER", **alone}
    with pytest.raises(ValueError, match="one probability"):
        fairness_report(columns, y, p[:-1], 0.3)
