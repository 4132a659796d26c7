"""The exact and the bootstrap-averaged cost-optimal thresholds, and which one is served."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from test_bootstrap_band import noisy

from training.evaluate import (
    NOBODY_REFUSED,
    CostWeights,
    ThresholdRules,
    best_threshold,
    bootstrap_threshold_band,
    business_cost,
    threshold_rules,
)
from training.train import TrainingResult


def brute_force(
    y: np.ndarray, p: np.ndarray, weights: CostWeights, n_resamples: int, seed: int
) -> dict[str, Any]:
    """The averaged rule by its definition: every candidate, every explicit resample."""
    rng = np.random.default_rng(seed)
    resamples = [rng.integers(0, y.size, y.size) for _ in range(n_resamples)]
    candidates = np.r_[np.unique(p), np.inf]
    mean_costs = np.array(
        [np.mean([business_cost(y[r], p[r], t, weights) for r in resamples]) for t in candidates]
    )
    best = np.flatnonzero(mean_costs == mean_costs.min())[-1]
    exact, exact_cost = best_threshold(y, p, weights)
    at_exact = [business_cost(y[r], p[r], exact, weights) for r in resamples]
    minimisers = [best_threshold(y[r], p[r], weights)[0] for r in resamples]
    minimisers = [t if math.isfinite(t) else NOBODY_REFUSED for t in minimisers]
    averaged = float(candidates[best])
    return {
        "averaged": averaged if math.isfinite(averaged) else NOBODY_REFUSED,
        "averaged_mean": float(mean_costs[best]),
        "averaged_oof": business_cost(y, p, averaged, weights),
        "exact": exact if math.isfinite(exact) else NOBODY_REFUSED,
        "exact_cost": exact_cost,
        "exact_mean": float(np.mean(at_exact)),
        "exact_se": float(np.std(at_exact, ddof=1)) / math.sqrt(n_resamples),
        "interval": tuple(np.quantile(minimisers, [0.05, 0.95])),
    }


@pytest.mark.parametrize(
    ("n", "distinct", "weights", "seed"),
    [
        (40, 6, CostWeights(10, 1), 3),
        (120, None, CostWeights(10, 1), 7),
        (80, 12, CostWeights(3, 2), 1),
        (30, None, CostWeights(1, 50), 4),  # refusing nobody is cheapest
    ],
)
def test_averaged_rule_equals_brute_force(
    n: int, distinct: int | None, weights: CostWeights, seed: int
) -> None:
    y, p = noisy(n, seed, distinct)
    rules = threshold_rules(y, p, weights, n_resamples=15, seed=seed)
    expected = brute_force(y, p, weights, 15, seed)
    assert rules.averaged_threshold == expected["averaged"]
    assert rules.averaged_cost_mean == pytest.approx(expected["averaged_mean"])
    assert rules.averaged_cost_on_oof == pytest.approx(expected["averaged_oof"])
    assert rules.exact_threshold == expected["exact"]
    assert rules.exact_cost == pytest.approx(expected["exact_cost"])
    assert rules.exact_cost_mean == pytest.approx(expected["exact_mean"])
    assert rules.exact_cost_mean_se == pytest.approx(expected["exact_se"])
    assert rules.interval == pytest.approx(expected["interval"])


def test_the_band_is_that_of_the_same_resamples() -> None:
    y, p = noisy(400, 2)
    rules = threshold_rules(y, p, CostWeights(), n_resamples=40, seed=9)
    band = bootstrap_threshold_band(y, p, CostWeights(), n_resamples=40, seed=9)
    assert rules.band.as_dict() == band.as_dict()
    assert np.array_equal(rules.band.thresholds, band.thresholds)
    # The interval is the raw percentiles; the band is widened to hold the exact threshold.
    assert band.lower <= rules.interval[0] and rules.interval[1] <= band.upper


def test_averaging_the_cost_over_resamples_does_not_steady_the_threshold() -> None:
    """The cost at a fixed threshold is linear in how often each client is drawn.

    Its mean over resamples is therefore the out-of-fold cost plus Monte Carlo noise, and
    its minimiser moves between samples as much as the exact one does: it is no remedy
    for a threshold that chases noise (see ThresholdRules).
    """
    exact, averaged = [], []
    for seed in range(30):
        y, p = noisy(300, seed)
        rules = threshold_rules(y, p, CostWeights(), seed=seed)
        exact.append(rules.exact_threshold)
        averaged.append(rules.averaged_threshold)
    assert np.std(averaged) >= 0.9 * np.std(exact)
    assert np.mean(np.abs(np.subtract(exact, averaged))) < 0.1 * np.std(exact)


def test_the_averaged_curve_is_the_oof_curve_plus_monte_carlo_noise() -> None:
    y, p = noisy(500, 1)
    z = []
    for seed in range(20):
        rules = threshold_rules(y, p, CostWeights(), n_resamples=100, seed=seed)
        z.append((rules.exact_cost_mean - rules.exact_cost) / rules.exact_cost_mean_se)
    assert abs(np.mean(z)) < 3 / math.sqrt(len(z))  # no bias beyond three standard errors


def rules_with(**changes: Any) -> ThresholdRules:
    y, p = noisy(300, 5)
    return replace(threshold_rules(y, p, CostWeights(), n_resamples=50, seed=5), **changes)


def test_the_exact_threshold_is_served_when_it_is_as_good() -> None:
    rules = rules_with(interval=(0.05, 0.2), exact_cost_mean=1.0, averaged_cost_mean=1.0)
    rules = replace(rules, averaged_threshold=rules.exact_threshold + 0.01)
    rules = replace(rules, band=replace(rules.band, threshold=0.1))
    assert rules.served == "exact" and rules.threshold == 0.1
    assert "served: exact" in rules.why()


@pytest.mark.parametrize(
    "changes",
    [
        {"interval": (0.11, 0.2)},  # outside the resamples' central interval
        {"exact_cost_mean": 1.0 + 0.02},  # worse than the averaged minimum by more than 1 SE
        {"averaged_cost_on_oof": 0.0},  # a higher out-of-fold cost
    ],
)
def test_otherwise_the_averaged_threshold_is_served(changes: dict[str, Any]) -> None:
    base = rules_with(
        interval=(0.05, 0.2),
        exact_cost_mean=1.0,
        averaged_cost_mean=1.0,
        exact_cost_mean_se=0.01,
        averaged_threshold=0.12,
    )
    base = replace(base, band=replace(base.band, threshold=0.1))
    assert base.served == "exact"
    rules = replace(base, **changes)
    assert rules.served == "bootstrap_averaged" and rules.threshold == 0.12
    assert "served: bootstrap_averaged" in rules.why()


def test_the_record_is_json_ready() -> None:
    y, p = noisy(300, 6)
    rules = threshold_rules(y, p, CostWeights(), n_resamples=30)
    record = json.loads(json.dumps(rules.as_dict()))
    assert record["exact"]["threshold"] == rules.exact_threshold
    assert set(record["bootstrap_averaged"]) == {
        "threshold",
        "cost_per_client_mean",
        "cost_per_client_on_oof",
    }
    assert record["n_resamples"] == 30
    assert record["calibrated_rule"] == pytest.approx(1 / 11)
    assert record["served"] in ("exact", "bootstrap_averaged")
    assert record[record["served"]]["threshold"] == rules.threshold
    assert "as good" in record["why"]


def test_calibrated_threshold_balances_the_two_costs() -> None:
    assert CostWeights().calibrated_threshold() == pytest.approx(1 / 11)
    p = CostWeights(4, 1).calibrated_threshold()
    assert 4 * p == pytest.approx(1 - p)


def test_containing_widens_the_band_only_when_needed() -> None:
    y, p = noisy(300, 8)
    band = bootstrap_threshold_band(y, p, CostWeights(), n_resamples=20)
    assert band.containing(band.threshold) == band
    wide = band.containing(band.upper + 0.05)
    assert wide.lower == band.lower and wide.upper == band.upper + 0.05


def test_bad_arguments_are_refused() -> None:
    y, p = noisy(50, 0)
    with pytest.raises(ValueError, match="n_resamples"):
        threshold_rules(y, p, CostWeights(), n_resamples=0)
    with pytest.raises(ValueError, match="coverage"):
        threshold_rules(y, p, CostWeights(), coverage=1.0)


@pytest.mark.slow
@pytest.mark.xdist_group("trained_model")
def test_the_trained_model_serves_the_threshold_its_rules_name(
    trained_model: TrainingResult,
) -> None:
    metadata = trained_model.metadata
    rules = metadata["threshold_rules"]
    assert rules["served"] in ("exact", "bootstrap_averaged")
    assert metadata["threshold"] == rules[rules["served"]]["threshold"]
    assert rules["n_resamples"] == metadata["borderline"]["n_resamples"]
    assert rules["calibrated_rule"] == pytest.approx(
        metadata["cost_fp"] / (metadata["cost_fp"] + metadata["cost_fn"])
    )
    borderline = metadata["borderline"]
    assert borderline["lower"] <= metadata["threshold"] <= borderline["upper"]
    assert rules["exact"]["cost_per_client"] == pytest.approx(
        metadata["metrics"]["cv_cost_per_client"]
    )
    assert (
        rules["exact"]["cost_per_client"] <= rules["bootstrap_averaged"]["cost_per_client_on_oof"]
    )
