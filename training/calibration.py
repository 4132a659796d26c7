"""Calibration of the chosen model's out-of-fold probabilities: how far to trust "8 %".

A probability is calibrated when, among clients given about 8 %, about 8 % default. Three
figures say how far the chosen model's out-of-fold probabilities are from that:

- the reliability curve: clients sorted into :data:`RELIABILITY_BINS` quantile bins of
  their probability (the bins of :func:`training.evaluate.score_bins`: bin i is
  ``[edges[i], edges[i + 1])``, the last one closed), and in each bin the number of clients,
  of defaults, the mean predicted probability and the observed default rate;
- the Brier score, ``mean((p - y) ** 2)``;
- the expected calibration error, ``ECE = sum_b n_b / n * |mean_p_b - rate_b|`` over the
  same bins: the gap between predicted and observed default rates, weighted by bin size.

When the ECE exceeds :data:`ECE_TOLERANCE`, :func:`assess` fits an intercept-only
correction on the out-of-fold predictions: ``logit(p') = logit(p) + b``, Platt scaling
with its slope held at 1. A constant in log-odds can be added to the first tree's leaves
(:func:`training.modelling.add_logit_offset`), so the native booster, its ONNX export and
its exact TreeSHAP values keep agreeing and keep adding up. A free slope ``a != 1`` would
scale every tree's output, and isotonic regression is a step function of the probability:
neither is a sum of per-tree leaf values, so neither can be folded into a tree model's
ONNX graph without an extra post-processing step that breaks the additivity of the
explanations. The shift ``b`` is the maximum-likelihood one, which makes the mean
probability equal the observed default rate.

Numpy only; every figure can be checked by hand on a few clients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np
import numpy.typing as npt

from training.evaluate import score_bins

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.integer]

#: Quantile bins of the reliability curve and of the ECE.
RELIABILITY_BINS = 10
#: Above this ECE, the served probabilities are corrected (an intercept shift in log-odds).
ECE_TOLERANCE = 0.01
#: Newton steps of the intercept fit (it converges in a handful; this is a safety bound).
MAX_NEWTON_STEPS = 50

CORRECTION_METHOD = (
    "intercept-only logistic recalibration (Platt scaling with slope a = 1): "
    "logit(p') = logit(p) + b, b fitted by maximum likelihood on the out-of-fold predictions "
    "and added to the first tree's leaves"
)
WHY_NOT_ISOTONIC = (
    "isotonic regression, or Platt scaling with a slope a != 1, is not a sum of per-tree leaf "
    "values: it cannot be folded into the booster and its ONNX export without a "
    "post-processing step that breaks the additivity of the TreeSHAP explanations; a "
    "constant shift in log-odds can"
)


class ReliabilityCurve(TypedDict):
    """Quantile bins of the probabilities: counts, mean prediction and observed rate."""

    edges: list[float]
    n_clients: list[int]
    n_defaulted: list[int]
    mean_probability: list[float]
    observed_rate: list[float]


class CalibrationFigures(TypedDict):
    """The figures of one set of probabilities."""

    ece: float
    brier: float
    mean_probability: float
    reliability: ReliabilityCurve


def _arrays(y_true: IntArray, probability: FloatArray) -> tuple[FloatArray, FloatArray]:
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(probability, dtype=np.float64)
    if y.shape != p.shape or p.ndim != 1:
        raise ValueError("outcomes and probabilities must be two vectors of the same length")
    if p.size == 0:
        raise ValueError("no clients")
    return y, p


def brier_score(y_true: IntArray, probability: FloatArray) -> float:
    """Mean squared gap between probability and outcome (0 is perfect; 0.25 is a coin)."""
    y, p = _arrays(y_true, probability)
    return float(np.mean((p - y) ** 2))


def reliability_curve(
    y_true: IntArray, probability: FloatArray, n_bins: int = RELIABILITY_BINS
) -> ReliabilityCurve:
    """Clients, defaults, mean probability and observed default rate in quantile bins.

    The bins are those of :func:`training.evaluate.score_bins` (at most ``n_bins``, none
    empty; clients sharing a probability always share a bin).
    """
    y, p = _arrays(y_true, probability)
    bins = score_bins(y.astype(np.int64), p, n_bins)
    return {
        **bins,
        "observed_rate": [
            d / n for d, n in zip(bins["n_defaulted"], bins["n_clients"], strict=True)
        ],
    }


def expected_calibration_error(curve: ReliabilityCurve) -> float:
    """``sum_b n_b / n * |mean_p_b - rate_b|`` over the bins of a reliability curve."""
    n = np.asarray(curve["n_clients"], dtype=np.float64)
    gap = np.abs(
        np.asarray(curve["mean_probability"], dtype=np.float64)
        - np.asarray(curve["observed_rate"], dtype=np.float64)
    )
    return float(np.sum(n / n.sum() * gap))


def figures(
    y_true: IntArray, probability: FloatArray, n_bins: int = RELIABILITY_BINS
) -> CalibrationFigures:
    """ECE, Brier score, mean probability and reliability curve of a set of probabilities."""
    curve = reliability_curve(y_true, probability, n_bins)
    return {
        "ece": expected_calibration_error(curve),
        "brier": brier_score(y_true, probability),
        "mean_probability": float(np.mean(probability)),
        "reliability": curve,
    }


def _logit(probability: FloatArray) -> FloatArray:
    p = np.clip(probability, 1e-12, 1 - 1e-12)
    return np.asarray(np.log(p / (1 - p)), dtype=np.float64)


def _sigmoid(log_odds: FloatArray) -> FloatArray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * log_odds)), dtype=np.float64)


def shift_probabilities(probability: FloatArray, shift: float) -> FloatArray:
    """``sigmoid(logit(p) + shift)``: what adding ``shift`` to the booster's log-odds gives."""
    return _sigmoid(_logit(np.asarray(probability, dtype=np.float64)) + shift)


def fit_logit_shift(y_true: IntArray, probability: FloatArray) -> float:
    """The maximum-likelihood ``b`` of ``P(default) = sigmoid(logit(p) + b)``.

    Newton's method on the log-likelihood, which is concave in ``b``: its gradient is
    ``sum(y - p_b)`` and its curvature ``-sum(p_b (1 - p_b))``. At the optimum the mean
    corrected probability equals the observed default rate.
    """
    y, p = _arrays(y_true, probability)
    if y.min() == y.max():
        raise ValueError("a logit shift needs both defaults and good clients")
    z = _logit(p)
    shift = 0.0
    for _ in range(MAX_NEWTON_STEPS):
        q = _sigmoid(z + shift)
        step = float(np.sum(y - q) / max(float(np.sum(q * (1 - q))), 1e-12))
        shift += step
        if abs(step) < 1e-10:
            break
    return shift


@dataclass(frozen=True)
class CalibrationOutcome:
    """What :func:`assess` found: the metadata record, and the shift to serve (0 if none)."""

    record: dict[str, Any]
    #: Added to the booster's log-odds; 0.0 when the probabilities are left as they are.
    logit_shift: float
    #: The out-of-fold probabilities as served (shifted when calibrated).
    probability: FloatArray


def assess(
    y_true: IntArray,
    probability: FloatArray,
    tolerance: float = ECE_TOLERANCE,
    n_bins: int = RELIABILITY_BINS,
) -> CalibrationOutcome:
    """Measure the out-of-fold calibration; correct the intercept if the ECE exceeds tolerance.

    The record (``metadata.json["calibration"]``) always holds ``before``; ``ece`` and
    ``brier`` at its top are those of the probabilities as served (``after`` when corrected).
    """
    before = figures(y_true, probability, n_bins)
    record: dict[str, Any] = {
        "predictions": "out-of-fold probabilities of the chosen model",
        "n_bins": n_bins,
        "binning": "quantile bins of the probabilities (as score_bins); ECE weighted by bin size",
        "tolerance": tolerance,
        "before": before,
    }
    if before["ece"] <= tolerance:
        record.update(
            calibrated=False,
            reason=f"ECE <= {tolerance:g}",
            method=None,
            logit_shift=0.0,
            after=None,
            ece=before["ece"],
            brier=before["brier"],
        )
        return CalibrationOutcome(record, 0.0, np.asarray(probability, dtype=np.float64))
    shift = fit_logit_shift(y_true, probability)
    corrected = shift_probabilities(probability, shift)
    after = figures(y_true, corrected, n_bins)
    record.update(
        calibrated=True,
        reason=f"ECE {before['ece']:.4f} > {tolerance:g}",
        method=CORRECTION_METHOD,
        why_not_isotonic=WHY_NOT_ISOTONIC,
        logit_shift=shift,
        after=after,
        ece=after["ece"],
        brier=after["brier"],
    )
    return CalibrationOutcome(record, shift, corrected)
