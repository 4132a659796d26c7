"""Business cost, cost curve and threshold choice against cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training.evaluate import (
    CostWeights,
    best_threshold,
    business_cost,
    confusion_at,
    cost_curve,
    evaluate_probabilities,
    fbeta_score,
    metrics_at,
)

# Six clients. Refused when probability >= threshold.
#   probability  0.10  0.20  0.35  0.50  0.70  0.90
#   defaulted       0     0     1     0     1     1
P = np.array([0.10, 0.20, 0.35, 0.50, 0.70, 0.90])
Y = np.array([0, 0, 1, 0, 1, 1])
# threshold -> (FN, FP), worked out by hand from the table above.
HAND_ERRORS = {
    0.10: (0, 3),
    0.20: (0, 2),
    0.35: (0, 1),
    0.50: (1, 1),
    0.70: (1, 0),
    0.90: (2, 0),
    math.inf: (3, 0),
}


@pytest.mark.parametrize(("threshold", "errors"), HAND_ERRORS.items())
def test_confusion_by_hand(threshold: float, errors: tuple[int, int]) -> None:
    tp, fp, fn, tn = confusion_at(Y, P, threshold)
    assert (fn, fp) == errors
    assert tp + fn == 3 and fp + tn == 3


@pytest.mark.parametrize(
    ("threshold", "cost_fn", "cost_fp", "expected"),
    [
        (0.10, 10, 1, 3 / 6),
        (0.20, 10, 1, 2 / 6),
        (0.35, 10, 1, 1 / 6),
        (0.50, 10, 1, 11 / 6),
        (0.70, 10, 1, 10 / 6),
        (0.90, 10, 1, 20 / 6),
        (math.inf, 10, 1, 30 / 6),
        (0.10, 1, 5, 15 / 6),
        (0.50, 1, 5, 6 / 6),
        (0.70, 1, 5, 1 / 6),
        (0.50, 2.5, 0.5, 3 / 6),
        # A threshold between two probabilities decides like the next probability up.
        (0.40, 10, 1, 11 / 6),
        (0.0, 10, 1, 3 / 6),
    ],
)
def test_business_cost_by_hand(
    threshold: float, cost_fn: float, cost_fp: float, expected: float
) -> None:
    weights = CostWeights(cost_fn=cost_fn, cost_fp=cost_fp)
    assert business_cost(Y, P, threshold, weights) == pytest.approx(expected)


def test_default_weights_are_ten_to_one() -> None:
    assert CostWeights() == CostWeights(cost_fn=10.0, cost_fp=1.0)


def test_cost_curve_by_hand() -> None:
    thresholds, costs = cost_curve(Y, P, CostWeights(10, 1))
    assert thresholds.tolist() == [0.10, 0.20, 0.35, 0.50, 0.70, 0.90, math.inf]
    expected = [(10 * fn + fp) / 6 for fn, fp in HAND_ERRORS.values()]
    assert costs == pytest.approx(expected)


def test_cost_curve_merges_tied_probabilities() -> None:
    p = np.array([0.3, 0.6, 0.3, 0.6, 0.6])
    y = np.array([0, 1, 1, 0, 1])
    thresholds, costs = cost_curve(y, p, CostWeights(10, 1))
    assert thresholds.tolist() == [0.3, 0.6, math.inf]
    # 0.3: all refused -> FP 2. 0.6: refuse the three 0.6 -> FP 1, FN 1. inf: FN 3.
    assert costs == pytest.approx([2 / 5, 11 / 5, 30 / 5])


@pytest.mark.parametrize(
    ("cost_fn", "cost_fp", "threshold", "cost"),
    [
        (10, 1, 0.35, 1 / 6),
        (1, 5, 0.70, 1 / 6),
        (3, 1, 0.35, 1 / 6),
        (1, 2, 0.70, 1 / 6),
    ],
)
def test_best_threshold_by_hand(
    cost_fn: float, cost_fp: float, threshold: float, cost: float
) -> None:
    found, found_cost = best_threshold(Y, P, CostWeights(cost_fn, cost_fp))
    assert found == threshold
    assert found_cost == pytest.approx(cost)


def test_ties_go_to_the_highest_threshold() -> None:
    # With equal weights, 0.35 (one FP) and 0.70 (one FN) both cost 1/6: refuse fewer.
    found, cost = best_threshold(Y, P, CostWeights(1, 1))
    assert (found, cost) == (0.70, pytest.approx(1 / 6))


def test_tie_between_a_probability_and_refusing_nobody_goes_to_nobody() -> None:
    p = np.array([0.2, 0.4])
    y = np.array([0, 1])
    # 0.2: FP 1 -> 0.5; 0.4: nothing wrong -> 0; inf: FN 1 -> 0.5.
    assert best_threshold(y, p, CostWeights(1, 1)) == (0.4, 0.0)
    # Both at 0.4: refusing both costs 1/2 (FP 1), refusing nobody costs 1/2 (FN 1).
    p = np.array([0.4, 0.4])
    y = np.array([0, 1])
    threshold, cost = best_threshold(y, p, CostWeights(1, 1))
    assert threshold == math.inf
    assert cost == pytest.approx(0.5)


def test_refusing_nobody_costs_cost_fn_times_defaults_over_clients() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random(200) < 0.1).astype(int)
    p = rng.random(200)
    weights = CostWeights(cost_fn=7.0, cost_fp=2.0)
    thresholds, costs = cost_curve(y, p, weights)
    assert thresholds[-1] == math.inf
    assert costs[-1] == pytest.approx(7.0 * y.sum() / y.size)
    assert business_cost(y, p, math.inf, weights) == pytest.approx(7.0 * y.sum() / y.size)


def test_nobody_refused_when_there_are_no_defaults() -> None:
    p = np.array([0.1, 0.5, 0.9])
    y = np.array([0, 0, 0])
    assert best_threshold(y, p, CostWeights()) == (math.inf, 0.0)


def test_everybody_refused_when_defaults_are_dear_enough() -> None:
    p = np.array([0.1, 0.5, 0.9])
    y = np.array([1, 0, 1])
    # 0.1: FP 1 -> 1/3; 0.5: FN 1 + FP 1 -> 11/3; 0.9: FN 1 -> 10/3; inf: 20/3.
    assert best_threshold(y, p, CostWeights(10, 1)) == (0.1, pytest.approx(1 / 3))


def _brute_force_curve(
    y: np.ndarray, p: np.ndarray, weights: CostWeights
) -> tuple[list[float], list[float]]:
    thresholds = [*sorted(set(p.tolist())), math.inf]
    costs = []
    for t in thresholds:
        fn = sum(1 for yi, pi in zip(y, p, strict=True) if yi == 1 and not pi >= t)
        fp = sum(1 for yi, pi in zip(y, p, strict=True) if yi == 0 and pi >= t)
        costs.append((weights.cost_fn * fn + weights.cost_fp * fp) / len(y))
    return thresholds, costs


@pytest.mark.parametrize("seed", range(60))
def test_cost_curve_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    # Few distinct values, so that ties are common; sometimes a single class.
    p = rng.integers(0, int(rng.integers(1, 12)), size=n) / 10.0
    y = (rng.random(n) < rng.choice([0.0, 0.1, 0.5, 1.0])).astype(int)
    weights = CostWeights(
        cost_fn=float(rng.choice([10.0, 1.0, 0.3, 25.0])),
        cost_fp=float(rng.choice([1.0, 0.1, 4.0])),
    )
    thresholds, costs = cost_curve(y, p, weights)
    expected_t, expected_c = _brute_force_curve(y, p, weights)
    assert thresholds.tolist() == expected_t
    assert costs == pytest.approx(expected_c, rel=1e-12, abs=1e-12)
    for t, c in zip(thresholds, costs, strict=True):
        assert business_cost(y, p, float(t), weights) == pytest.approx(c, rel=1e-12, abs=1e-12)

    best_t, best_c = best_threshold(y, p, weights)
    lowest = min(expected_c)
    assert best_c == pytest.approx(lowest, rel=1e-12, abs=1e-12)
    # Same formula, same floats: ties are exact here.
    tied = [t for t, c in zip(expected_t, expected_c, strict=True) if c == lowest]
    assert best_t == max(tied)


def test_cost_curve_does_not_depend_on_row_order() -> None:
    rng = np.random.default_rng(0)
    p = np.round(rng.random(300), 2)
    y = (rng.random(300) < 0.2).astype(int)
    order = rng.permutation(300)
    a = cost_curve(y, p, CostWeights())
    b = cost_curve(y[order], p[order], CostWeights())
    assert np.array_equal(a[0], b[0])
    assert np.allclose(a[1], b[1])


# ----------------------------------------------------------------------- metrics


def test_metrics_at_by_hand() -> None:
    m = metrics_at(Y, P, 0.35, CostWeights(10, 1), beta=2.0)
    # Refused: 0.35, 0.50, 0.70, 0.90 -> TP 3, FP 1; accepted: 0.10, 0.20 -> TN 2, FN 0.
    assert (m.true_positives, m.false_positives, m.false_negatives, m.true_negatives) == (
        3,
        1,
        0,
        2,
    )
    assert m.precision == pytest.approx(3 / 4)
    assert m.recall == pytest.approx(1.0)
    assert m.fbeta == pytest.approx(5 * 0.75 * 1.0 / (4 * 0.75 + 1.0))  # 0.9375
    assert m.beta == 2.0
    assert m.refusal_rate == pytest.approx(4 / 6)
    assert m.cost_per_client == pytest.approx(1 / 6)
    # 9 (default, good) pairs; the default ranks higher in 8 of them (0.35 < 0.50).
    assert m.auc == pytest.approx(8 / 9)
    assert m.brier == pytest.approx((0.01 + 0.04 + 0.4225 + 0.25 + 0.09 + 0.01) / 6)
    assert m.threshold == 0.35


def test_metrics_at_another_threshold_and_beta() -> None:
    m = metrics_at(Y, P, 0.70, CostWeights(1, 5), beta=1.0)
    # Refused: 0.70, 0.90 (both default) -> TP 2, FP 0, FN 1 (0.35), TN 3.
    assert m.precision == pytest.approx(1.0)
    assert m.recall == pytest.approx(2 / 3)
    assert m.fbeta == pytest.approx(2 * 1.0 * (2 / 3) / (1.0 + 2 / 3))  # F1 = 0.8
    assert m.cost_per_client == pytest.approx(1 / 6)


def test_metrics_when_nobody_is_refused() -> None:
    m = metrics_at(Y, P, math.inf, CostWeights())
    assert (m.precision, m.recall, m.fbeta, m.refusal_rate) == (0.0, 0.0, 0.0, 0.0)
    assert m.cost_per_client == pytest.approx(5.0)


def test_metrics_as_dict_is_plain_floats() -> None:
    d = metrics_at(Y, P, 0.5, CostWeights()).as_dict()
    assert d["false_negatives"] == 1.0 and d["false_positives"] == 1.0
    assert all(type(v) is float for v in d.values())


def test_single_class_auc_is_nan_not_an_error() -> None:
    m = metrics_at(np.zeros(4, dtype=int), np.array([0.1, 0.2, 0.3, 0.4]), 0.25, CostWeights())
    assert math.isnan(m.auc)
    assert m.false_positives == 2


@pytest.mark.parametrize(
    ("precision", "recall", "beta", "expected"),
    [
        (0.5, 0.5, 2.0, 0.5),
        (0.25, 1.0, 2.0, 5 * 0.25 / (4 * 0.25 + 1)),
        (1.0, 0.5, 1.0, 2 / 3),
        (0.0, 0.0, 2.0, 0.0),
        (0.0, 1.0, 2.0, 0.0),
    ],
)
def test_fbeta_by_hand(precision: float, recall: float, beta: float, expected: float) -> None:
    assert fbeta_score(precision, recall, beta) == pytest.approx(expected)


def test_evaluate_probabilities_reports_at_the_best_threshold() -> None:
    m = evaluate_probabilities(Y, P, CostWeights(10, 1))
    assert m.threshold == 0.35
    assert m.cost_per_client == pytest.approx(1 / 6)


# ----------------------------------------------------------------------- weights


@pytest.mark.parametrize(
    ("cost_fn", "cost_fp"), [(0.0, 1.0), (10.0, 0.0), (-1.0, 1.0), (10.0, -0.5), (0.0, 0.0)]
)
def test_cost_weights_reject_non_positive_costs(cost_fn: float, cost_fp: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        CostWeights(cost_fn=cost_fn, cost_fp=cost_fp)


@pytest.mark.parametrize(("cost_fn", "cost_fp"), [(math.nan, 1.0), (10.0, math.nan)])
def test_cost_weights_reject_nan(cost_fn: float, cost_fp: float) -> None:
    """NaN is not a positive number; with it every cost is NaN and no threshold is best."""
    with pytest.raises(ValueError, match="positive"):
        CostWeights(cost_fn=cost_fn, cost_fp=cost_fp)


def test_small_positive_costs_are_accepted() -> None:
    weights = CostWeights(cost_fn=1e-9, cost_fp=1e-9)
    assert weights.cost_fn > 0
