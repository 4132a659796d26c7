"""The borderline band (bootstrap of the cost-optimal threshold) and the score bins."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from training.evaluate import (
    NOBODY_REFUSED,
    CostWeights,
    best_threshold,
    bin_index,
    bootstrap_threshold_band,
    score_bins,
    share_in_band,
)


def noisy(n: int, seed: int, distinct: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes that follow the probabilities, with overlap; ``distinct`` makes ties."""
    rng = np.random.default_rng(seed)
    p = rng.beta(1.2, 9.0, size=n)
    if distinct is not None:
        p = np.round(p * distinct) / distinct
    y = (rng.random(n) < p).astype(np.int8)
    return y, p


# ----------------------------------------------------------------------- bootstrap band


@pytest.mark.parametrize(
    ("n", "distinct", "weights"),
    [
        (40, 6, CostWeights(10, 1)),
        (300, None, CostWeights(10, 1)),
        (300, 20, CostWeights(1, 1)),
        (1000, None, CostWeights(7, 2)),
    ],
)
def test_each_resample_is_the_best_threshold_of_its_rows(
    n: int, distinct: int | None, weights: CostWeights
) -> None:
    """The fast path (sort once, count per resample) equals sorting every resample anew."""
    y, p = noisy(n, seed=n, distinct=distinct)
    band = bootstrap_threshold_band(y, p, weights, n_resamples=25, seed=11)
    rng = np.random.default_rng(11)
    for b in range(25):
        rows = rng.integers(0, n, n)
        threshold, cost = best_threshold(y[rows], p[rows], weights)
        expected = threshold if math.isfinite(threshold) else NOBODY_REFUSED
        assert band.thresholds[b] == expected
        assert band.costs[b] == pytest.approx(cost, rel=1e-12, abs=1e-15)


def test_full_sample_threshold_is_the_served_one() -> None:
    y, p = noisy(500, seed=1)
    band = bootstrap_threshold_band(y, p, CostWeights(), n_resamples=10)
    assert (band.threshold, band.cost_per_client) == best_threshold(y, p, CostWeights())


def test_same_seed_same_band_other_seed_other_band() -> None:
    y, p = noisy(2000, seed=2)
    a = bootstrap_threshold_band(y, p, CostWeights(), seed=5)
    b = bootstrap_threshold_band(y, p, CostWeights(), seed=5)
    c = bootstrap_threshold_band(y, p, CostWeights(), seed=6)
    assert np.array_equal(a.thresholds, b.thresholds) and a.as_dict() == b.as_dict()
    assert not np.array_equal(a.thresholds, c.thresholds)
    assert a.n_resamples == 200


@pytest.mark.parametrize("seed", range(25))
def test_threshold_lies_in_the_band(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y, p = noisy(int(rng.integers(5, 400)), seed=seed, distinct=int(rng.integers(3, 50)))
    band = bootstrap_threshold_band(y, p, CostWeights(), n_resamples=int(rng.integers(1, 60)))
    assert band.lower <= band.threshold <= band.upper
    # The band is the central 90% of the resampled thresholds, widened to the threshold.
    q5, q95 = np.quantile(band.thresholds, [0.05, 0.95])
    assert band.lower == min(q5, band.threshold)
    assert band.upper == max(q95, band.threshold)


def test_band_is_widened_to_hold_the_threshold() -> None:
    """With one resample, the band is that resample's threshold and the full sample's."""
    widened = 0
    for seed in range(20):
        y, p = noisy(30, seed=seed)
        band = bootstrap_threshold_band(y, p, CostWeights(), n_resamples=1, seed=seed)
        (resampled,) = band.thresholds
        assert (band.lower, band.upper) == (
            min(resampled, band.threshold),
            max(resampled, band.threshold),
        )
        widened += resampled != band.threshold
    assert widened > 0  # the clamp was exercised


def test_separable_clients_give_a_narrow_band() -> None:
    rng = np.random.default_rng(4)
    good = rng.uniform(0.0, 0.4, size=900)
    bad = rng.uniform(0.6, 1.0, size=100)
    p = np.r_[good, bad]
    y = np.r_[np.zeros(900, np.int8), np.ones(100, np.int8)]
    band = bootstrap_threshold_band(y, p, CostWeights(), seed=0)
    # Every resample is perfectly separated: no error, the lowest bad client drawn.
    assert np.all(band.costs == 0.0)
    assert np.all(band.thresholds >= 0.6) and np.all(band.thresholds <= bad.min() + 0.05)
    assert band.upper - band.lower < 0.02
    # Overlapping clients: the threshold moves from resample to resample.
    y_noisy, p_noisy = noisy(1000, seed=4)
    wide = bootstrap_threshold_band(y_noisy, p_noisy, CostWeights(), seed=0)
    assert wide.upper - wide.lower > 5 * (band.upper - band.lower)


def test_refusing_nobody_is_recorded_as_a_finite_threshold() -> None:
    y = np.zeros(50, dtype=np.int8)
    p = np.linspace(0.01, 0.5, 50)
    band = bootstrap_threshold_band(y, p, CostWeights(), n_resamples=20)
    assert band.threshold == band.lower == band.upper == NOBODY_REFUSED
    assert np.all(band.costs == 0.0)


def test_metadata_record_is_strict_json_with_the_contract_keys() -> None:
    y, p = noisy(3000, seed=8)
    band = bootstrap_threshold_band(y, p, CostWeights(), seed=3)
    record = band.as_dict()
    assert set(record) == {
        "lower",
        "upper",
        "coverage",
        "n_resamples",
        "method",
        "threshold_std",
        "cost_per_client_p5",
        "cost_per_client_p95",
    }
    json.dumps(record, allow_nan=False)
    assert record["coverage"] == 0.90 and record["n_resamples"] == 200
    assert "5th–95th percentile" in str(record["method"])
    assert "200 bootstrap resamples" in str(record["method"])
    assert "[lower, upper)" in str(record["method"])
    assert record["threshold_std"] == pytest.approx(np.std(band.thresholds, ddof=1))
    assert float(record["threshold_std"]) > 0
    p5, p95 = np.percentile(band.costs, [5, 95])
    assert (record["cost_per_client_p5"], record["cost_per_client_p95"]) == (p5, p95)
    assert p5 <= band.cost_per_client <= p95


def test_other_coverages_name_their_percentiles() -> None:
    y, p = noisy(500, seed=9)
    record = bootstrap_threshold_band(y, p, CostWeights(), n_resamples=30, coverage=0.8).as_dict()
    assert "10th–90th percentile" in str(record["method"])
    assert "cost_per_client_p10" in record and "cost_per_client_p90" in record


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"coverage": 1.0}, "coverage"),
        ({"coverage": 0.0}, "coverage"),
        ({"n_resamples": 0}, "n_resamples"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, float], message: str) -> None:
    y, p = noisy(20, seed=0)
    with pytest.raises(ValueError, match=message):
        bootstrap_threshold_band(y, p, CostWeights(), **kwargs)  # type: ignore[arg-type]


def test_share_in_band_is_half_open() -> None:
    p = np.array([0.1, 0.2, 0.3, 0.4])
    assert share_in_band(p, 0.2, 0.4) == 0.5  # 0.2 and 0.3; 0.4 is not in [0.2, 0.4)
    assert share_in_band(p, 0.3, 0.3) == 0.0
    assert share_in_band(np.array([]), 0.0, 1.0) == 0.0


# ----------------------------------------------------------------------- score bins


def test_score_bins_by_hand() -> None:
    p = np.array([0.1, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    y = np.array([0, 0, 0, 1, 0, 0, 1, 0, 1, 1])
    bins = score_bins(y, p, n_bins=5)
    # Quantiles 20/40/60/80% are 0.1, 0.3, 0.5, 0.7; 0.1 is the lowest probability, an edge
    # there would leave [0, 0.1) empty, so it goes.
    assert bins["edges"] == [0.0, 0.3, 0.5, 0.7, 1.0]
    assert bins["n_clients"] == [3, 2, 2, 3]
    assert bins["n_defaulted"] == [0, 1, 1, 2]
    rates = [d / n for d, n in zip(bins["n_defaulted"], bins["n_clients"], strict=True)]
    assert rates == pytest.approx([0.0, 0.5, 0.5, 2 / 3])
    assert bins["mean_probability"] == pytest.approx([0.4 / 3, 0.35, 0.55, 0.8])


@pytest.mark.parametrize("seed", range(20))
def test_score_bins_add_up_and_none_is_empty(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    y, p = noisy(n, seed=seed, distinct=int(rng.choice([2, 7, 100, 10**6])))
    bins = score_bins(y, p)
    edges, counts = bins["edges"], bins["n_clients"]
    assert edges[0] == 0.0 and edges[-1] == 1.0
    assert all(a < b for a, b in itertools.pairwise(edges))
    assert len(counts) == len(bins["n_defaulted"]) == len(bins["mean_probability"])
    assert len(edges) == len(counts) + 1 <= 21
    assert sum(counts) == n and sum(bins["n_defaulted"]) == int(y.sum())
    assert all(type(c) is int and c > 0 for c in counts)
    assert all(type(c) is int for c in bins["n_defaulted"])
    for i, mean in enumerate(bins["mean_probability"]):
        assert edges[i] - 1e-12 <= mean <= edges[i + 1] + 1e-12
    json.dumps(bins, allow_nan=False)


def test_quantile_bins_are_about_equal_on_distinct_probabilities() -> None:
    y, p = noisy(20_000, seed=3)
    counts = score_bins(y, p)["n_clients"]
    assert len(counts) == 20
    assert max(counts) - min(counts) <= 2


def test_every_probability_falls_in_exactly_one_bin() -> None:
    y, p = noisy(500, seed=5, distinct=40)
    edges = score_bins(y, p)["edges"]
    probes = np.unique(
        np.r_[
            0.0,
            1.0,
            np.linspace(0.0, 1.0, 1001),
            edges,
            np.nextafter(edges, -np.inf),
            np.nextafter(edges, np.inf),
        ]
    )
    probes = probes[(probes >= 0.0) & (probes <= 1.0)]
    last = len(edges) - 2
    for value, index in zip(probes, bin_index(edges, probes), strict=True):
        inside = [
            i
            for i in range(len(edges) - 1)
            if edges[i] <= value < edges[i + 1] or (i == last and value == edges[-1])
        ]
        assert inside == [index], value


def test_one_probability_for_everybody_is_one_bin() -> None:
    bins = score_bins(np.array([0, 1, 0]), np.full(3, 0.2))
    assert bins == {
        "edges": [0.0, 1.0],
        "n_clients": [3],
        "n_defaulted": [1],
        "mean_probability": [pytest.approx(0.2)],
    }


@pytest.mark.parametrize("bad", [[0.2, 1.2], [-0.1, 0.5], [0.2, math.nan], []])
def test_score_bins_refuse_what_is_not_a_probability(bad: list[float]) -> None:
    with pytest.raises(ValueError):
        score_bins(np.zeros(len(bad), dtype=int), np.array(bad))
