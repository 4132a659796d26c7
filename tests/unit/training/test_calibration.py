"""Calibration figures by hand: Brier score, reliability bins, ECE, and the intercept shift."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training import calibration
from training.calibration import (
    assess,
    brier_score,
    expected_calibration_error,
    fit_logit_shift,
    reliability_curve,
    shift_probabilities,
)

#: Five clients. With 2 quantile bins the edge is the median probability, 0.3 (bins are
#: [edge, next edge)): bin 0 = {0.1, 0.2}, bin 1 = {0.3, 0.4, 0.5}.
P5 = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
Y5 = np.array([0, 1, 0, 1, 1])


def test_brier_score_by_hand() -> None:
    y = np.array([0, 1, 1, 0])
    p = np.array([0.1, 0.8, 0.6, 0.3])
    # (0.1^2 + 0.2^2 + 0.4^2 + 0.3^2) / 4 = (0.01 + 0.04 + 0.16 + 0.09) / 4
    assert brier_score(y, p) == pytest.approx(0.075)
    assert brier_score(y, y.astype(float)) == 0.0
    assert brier_score(y, np.full(4, 0.5)) == pytest.approx(0.25)


def test_reliability_curve_on_two_bins_by_hand() -> None:
    curve = reliability_curve(Y5, P5, n_bins=2)
    assert curve["edges"] == [0.0, 0.3, 1.0]
    assert curve["n_clients"] == [2, 3]
    assert curve["n_defaulted"] == [1, 2]
    assert curve["mean_probability"] == pytest.approx([0.15, 0.4])
    assert curve["observed_rate"] == pytest.approx([0.5, 2 / 3])


def test_expected_calibration_error_on_two_bins_by_hand() -> None:
    # bin 0: |0.15 - 0.5| = 0.35 on 2 of 5 clients; bin 1: |0.4 - 2/3| = 4/15 on 3 of 5.
    # ECE = 2/5 * 0.35 + 3/5 * 4/15 = 0.14 + 0.16 = 0.30
    curve = reliability_curve(Y5, P5, n_bins=2)
    assert expected_calibration_error(curve) == pytest.approx(0.30)
    figures = calibration.figures(Y5, P5, n_bins=2)
    assert figures["ece"] == pytest.approx(0.30)
    assert figures["brier"] == pytest.approx((0.01 + 0.64 + 0.09 + 0.36 + 0.25) / 5)
    assert figures["mean_probability"] == pytest.approx(0.3)


def test_a_perfectly_calibrated_bin_has_no_error() -> None:
    # Ties never straddle two bins: eight clients at two probabilities make one bin here
    # (the median, 0.25, is the lowest probability), where 4 of 8 default at a mean of 0.5.
    p = np.array([0.25] * 4 + [0.75] * 4)
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    curve = reliability_curve(y, p, n_bins=2)
    assert curve["n_clients"] == [8]
    assert expected_calibration_error(curve) == 0.0


def test_ten_quantile_bins_count_every_client_once() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0.0, 0.6, 1000)
    y = (rng.uniform(size=1000) < p).astype(np.int8)
    curve = reliability_curve(y, p)
    # Edges are the 10%, 20%, ... quantiles and bins [edge, next edge): the k-th quantile
    # opens bin k, so the first bin holds 99 clients and the last 101.
    assert curve["n_clients"] == [99] + [100] * 8 + [101]
    assert sum(curve["n_defaulted"]) == int(y.sum())
    for i, (lo, hi) in enumerate(zip(curve["edges"][:-1], curve["edges"][1:], strict=True)):
        inside = (p >= lo) & ((p < hi) | (i == 9))
        assert curve["n_clients"][i] == int(inside.sum())
        assert curve["mean_probability"][i] == pytest.approx(float(p[inside].mean()))
        assert curve["observed_rate"][i] == pytest.approx(float(y[inside].mean()))


def test_the_logit_shift_matches_the_mean_to_the_default_rate() -> None:
    # Everybody at 50%, one in five defaults: the shift is logit(0.2) = log(1/4).
    y = np.array([1, 0, 0, 0, 0] * 20)
    p = np.full(100, 0.5)
    shift = fit_logit_shift(y, p)
    assert shift == pytest.approx(math.log(0.25))
    assert shift_probabilities(p, shift) == pytest.approx(np.full(100, 0.2))
    # In general the maximum-likelihood shift makes the mean probability the default rate.
    rng = np.random.default_rng(0)
    q = rng.uniform(0.01, 0.5, 2000)
    outcome = (rng.uniform(size=2000) < q * 0.7).astype(int)
    shifted = shift_probabilities(q, fit_logit_shift(outcome, q))
    assert float(shifted.mean()) == pytest.approx(float(outcome.mean()), abs=1e-9)
    with pytest.raises(ValueError, match="both"):
        fit_logit_shift(np.zeros(4), np.full(4, 0.1))


def test_shifting_keeps_the_order_of_the_clients() -> None:
    p = np.array([0.01, 0.05, 0.2, 0.6, 0.95])
    shifted = shift_probabilities(p, -0.7)
    assert np.all(np.diff(shifted) > 0) and np.all(shifted < p)
    assert shift_probabilities(p, 0.0) == pytest.approx(p)


def test_calibrated_enough_is_left_alone() -> None:
    # Half the clients at 10% (5 of 50 default), half at 30% (15 of 50): the median is the
    # lowest probability, so one bin, at a mean of 20% where 20% default: ECE 0.
    p = np.repeat([0.1, 0.3], 50)
    y = np.r_[np.repeat([1, 0], [5, 45]), np.repeat([1, 0], [15, 35])]
    outcome = assess(y, p, n_bins=2)
    record = outcome.record
    assert record["before"]["ece"] == pytest.approx(0.0, abs=1e-12)
    assert (record["calibrated"], record["reason"]) == (False, "ECE <= 0.01")
    assert record["after"] is None and record["method"] is None
    assert outcome.logit_shift == 0.0 and record["logit_shift"] == 0.0
    assert (record["ece"], record["brier"]) == (record["before"]["ece"], record["before"]["brier"])
    assert np.array_equal(outcome.probability, p)


def test_miscalibrated_gets_an_intercept_shift() -> None:
    # Everybody at 50% while one in five defaults: ECE 0.3, Brier 0.25.
    y = np.array([1, 0, 0, 0, 0] * 20)
    p = np.full(100, 0.5)
    outcome = assess(y, p)
    record = outcome.record
    assert record["before"]["ece"] == pytest.approx(0.3)
    assert record["before"]["brier"] == pytest.approx(0.25)
    assert record["calibrated"] is True and record["reason"] == "ECE 0.3000 > 0.01"
    assert outcome.logit_shift == pytest.approx(math.log(0.25)) == record["logit_shift"]
    assert outcome.probability == pytest.approx(np.full(100, 0.2))
    # After: 20% for everybody, 20% default: no gap, and a Brier of 0.2 * 0.8.
    assert record["after"]["ece"] == pytest.approx(0.0, abs=1e-9) == record["ece"]
    assert record["after"]["brier"] == pytest.approx(0.16) == record["brier"]
    assert "a = 1" in record["method"] and "isotonic" in record["why_not_isotonic"]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        brier_score(np.array([0, 1]), np.array([0.5]))
    with pytest.raises(ValueError, match="no clients"):
        reliability_curve(np.array([]), np.array([]))
