"""The drift statistics against SciPy and hand-computed values; PSI and pooling edge cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from creditscore_common.traffic import SCORE_EVENT
from monitoring.inputs import comparable
from monitoring.stats import (
    MISSING_LEVEL,
    PSI_EPSILON,
    benjamini_hochberg,
    binned_shares,
    chi2_test,
    js_distance,
    ks_test,
    level_counts,
    missing_share_test,
    numeric_psi,
    pooled_table,
    psi,
    quantile_edges,
    wasserstein,
)
from monitoring.traffic import _traffic_object

RNG = np.random.default_rng(20261128)


# ---------------------------------------------------------------------------- PSI


def test_psi_by_hand() -> None:
    reference, current = [0.25, 0.25, 0.5], [0.5, 0.25, 0.25]
    expected = (0.5 - 0.25) * math.log(0.5 / 0.25) + (0.25 - 0.5) * math.log(0.25 / 0.5)
    assert psi(reference, current) == pytest.approx(expected)
    assert psi(reference, reference) == 0.0


def test_psi_is_symmetric_and_positive() -> None:
    a, b = [0.1, 0.2, 0.7], [0.3, 0.3, 0.4]
    assert psi(a, b) == pytest.approx(psi(b, a))
    assert psi(a, b) > 0


def test_psi_empty_bin_is_large_but_finite() -> None:
    value = psi([0.5, 0.5, 0.0], [0.4, 0.4, 0.2])
    assert math.isfinite(value)
    # The empty reference bin is counted at PSI_EPSILON, exactly.
    expected = 2 * (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.2 - PSI_EPSILON) * math.log(
        0.2 / PSI_EPSILON
    )
    assert value == pytest.approx(expected)
    assert value > 1.0


def test_numeric_psi_counts_missing_values_as_a_bin() -> None:
    reference = RNG.normal(size=20_000)
    current = reference.copy()
    assert numeric_psi(reference, current) == pytest.approx(0.0, abs=1e-12)
    current[:6_000] = np.nan  # same values, 30% blanked: only the missing bin moves
    shares = binned_shares(current, quantile_edges(reference))
    assert shares[-1] == pytest.approx(0.3)
    assert numeric_psi(reference, current) > 0.1


def test_quantile_edges_merge_repeated_values() -> None:
    children = np.array([0] * 700 + [1] * 200 + [2] * 90 + [3] * 10, dtype=float)
    edges = quantile_edges(children)
    assert list(edges) == sorted(set(edges))
    shares = binned_shares(children, edges)
    assert shares.sum() == pytest.approx(1.0)
    assert shares[-1] == 0.0  # nothing missing


def test_binned_shares_of_nothing() -> None:
    assert binned_shares(np.empty(0), np.array([0.0, 1.0])).sum() == 0.0
    assert quantile_edges(np.full(10, np.nan)).size == 0


def test_numeric_psi_of_a_shift() -> None:
    reference = RNG.normal(size=50_000)
    # PSI of a normal mean shift of d standard deviations is about d^2 (the J divergence).
    assert numeric_psi(reference, RNG.normal(0.5, 1.0, 50_000)) == pytest.approx(0.25, rel=0.2)


# ---------------------------------------------------------------------------- numbers


def test_ks_matches_scipy_and_ignores_missing() -> None:
    a, b = RNG.normal(size=3000), RNG.normal(0.2, 1, size=800)
    with_missing = np.concatenate([b, np.full(50, np.nan)])
    statistic, p_value = ks_test(a, with_missing)
    expected = stats.ks_2samp(a, b, method="asymp")
    assert statistic == pytest.approx(expected.statistic)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-6)


def test_ks_small_samples_use_scipys_exact_test() -> None:
    a, b = RNG.normal(size=60), RNG.normal(size=40)
    assert ks_test(a, b) == pytest.approx(tuple(stats.ks_2samp(a, b)[:2]))


def test_ks_without_values() -> None:
    statistic, p_value = ks_test(np.array([1.0, 2.0]), np.array([np.nan]))
    assert math.isnan(statistic) and p_value == 1.0


def test_wasserstein_matches_scipy_and_is_normalised_by_the_reference_std() -> None:
    a, b = RNG.normal(10, 2, size=5000), RNG.normal(11, 2, size=5000)
    distance, normed = wasserstein(a, b)
    assert distance == pytest.approx(stats.wasserstein_distance(a, b))
    assert normed == pytest.approx(distance / np.std(a))
    assert normed == pytest.approx(0.5, abs=0.1)


def test_wasserstein_of_a_constant_reference() -> None:
    assert wasserstein(np.ones(10), np.ones(5)) == (0.0, 0.0)
    assert wasserstein(np.ones(10), np.full(5, 2.0))[1] == 1.0


def test_missing_share_test_matches_a_two_by_two_chi_square() -> None:
    p_value = missing_share_test(200, 1000, 350, 1000)
    table = np.array([[200, 800], [350, 650]])
    assert p_value == pytest.approx(stats.chi2_contingency(table).pvalue)
    assert p_value < 1e-10
    assert missing_share_test(0, 1000, 0, 500) == 1.0


def test_days_employed_anomaly_counts_as_missing() -> None:
    values = np.array([-100.0, 365243.0, -2000.0])
    cleaned = comparable("DAYS_EMPLOYED", "numeric", values)
    assert np.isnan(cleaned[1]) and cleaned[0] == -100.0


def test_flags_are_compared_as_levels() -> None:
    values = np.array([1.0, 0.0, np.nan, 1.0])
    assert list(comparable("FLAG_OWN_CAR", "categorical", values)) == ["1", "0", None, "1"]


# ---------------------------------------------------------------------------- categories


def test_level_counts_treat_missing_as_a_level() -> None:
    reference = np.array(["a", "a", "b", None, None], dtype=object)
    current = np.array(["a", "c", None], dtype=object)
    levels, ref, cur = level_counts(reference, current)
    counts = {level: (r, c) for level, r, c in zip(levels, ref, cur, strict=True)}
    assert counts == {"a": (2, 1), MISSING_LEVEL: (2, 1), "b": (1, 0), "c": (0, 1)}


def test_chi2_matches_scipy_when_cells_are_large() -> None:
    ref, cur = np.array([500.0, 300.0, 200.0]), np.array([90.0, 70.0, 40.0])
    statistic, p_value = chi2_test(ref, cur)
    expected = stats.chi2_contingency(np.vstack([ref, cur]))
    assert statistic == pytest.approx(expected.statistic)
    assert p_value == pytest.approx(expected.pvalue)


def test_sparse_levels_are_pooled_until_expected_counts_reach_five() -> None:
    ref = np.array([5000.0, 3000.0, 10.0, 8.0, 3.0])
    cur = np.array([500.0, 300.0, 1.0, 0.0, 2.0])
    table = pooled_table(ref, cur)
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    assert expected.min() >= 5
    assert table.sum() == ref.sum() + cur.sum()


def test_chi2_of_a_single_level_says_nothing() -> None:
    assert chi2_test(np.array([100.0]), np.array([10.0])) == (0.0, 1.0)
    assert chi2_test(np.array([100.0, 5.0]), np.array([0.0, 0.0])) == (0.0, 1.0)


def test_jensen_shannon_matches_scipy_base_two() -> None:
    ref, cur = np.array([903.0, 97.0]), np.array([800.0, 200.0])
    assert js_distance(ref, cur) == pytest.approx(jensenshannon(ref, cur, base=2))
    assert js_distance(ref, ref) == pytest.approx(0.0, abs=1e-7)
    assert js_distance(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)
    assert math.isnan(js_distance(ref, np.zeros(2)))


# ---------------------------------------------------------------------------- correction


def test_benjamini_hochberg_matches_scipy() -> None:
    p_values = RNG.uniform(size=40) ** 3
    expected = stats.false_discovery_control(p_values, method="bh")
    assert benjamini_hochberg(p_values) == pytest.approx(expected)


def test_benjamini_hochberg_by_hand_and_with_nan() -> None:
    adjusted = benjamini_hochberg([0.01, 0.04, 0.03, float("nan"), 0.5])
    # m = 4 known: sorted 0.01, 0.03, 0.04, 0.5 -> 0.04, 0.0533, 0.0533, 0.5
    assert adjusted[0] == pytest.approx(0.04)
    assert adjusted[1] == pytest.approx(0.04 * 4 / 3)
    assert adjusted[2] == pytest.approx(0.04 * 4 / 3)
    assert math.isnan(adjusted[3])
    assert adjusted[4] == pytest.approx(0.5)
    assert benjamini_hochberg([]).size == 0
    assert benjamini_hochberg([0.9, 0.99]).max() <= 1.0


# ---------------------------------------------------------------------------- log lines


def _line(**fields: object) -> str:
    record = {"event": SCORE_EVENT, "probability": 0.1, "inputs": {"AMT_CREDIT": 1.0}}
    return json.dumps({**record, **fields})


def test_traffic_lines_bare_prefixed_and_wrapped() -> None:
    bare = _line()
    assert _traffic_object(bare) is not None
    assert _traffic_object(f"2026-11-28T10:00:00.000Z {bare}") is not None
    wrapped = json.dumps({"time": "x", "level": "INFO", "message": bare})
    assert _traffic_object(wrapped) is not None


def test_other_lines_are_skipped() -> None:
    assert _traffic_object("START RequestId: 123 Version: $LATEST") is None
    assert _traffic_object('{"level": "INFO", "message": "model loaded"}') is None
    assert _traffic_object("{not json") is None
    assert _traffic_object(_line(event="other")) is None
    assert _traffic_object(_line(inputs=None)) is None
