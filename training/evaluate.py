"""Business cost, the cost-optimal threshold and the metrics reported for every model.

A client whose default probability is at or above the threshold is refused. A refused good
client costs ``cost_fp`` (a false positive: lost business); an accepted client who defaults
costs ``cost_fn`` (a false negative: the loss on the loan). By default a default costs ten
times a refusal. The business cost per client is ``(cost_fn * FN + cost_fp * FP) / n``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
from sklearn.metrics import brier_score_loss, roc_auc_score

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.integer]

#: The alarm rings above this cross-validated AUC: on this table alone, the best known models
#: reach about 0.76-0.79, so a higher figure almost always means a leak of the target.
LEAKAGE_AUC = 0.82


@dataclass(frozen=True)
class CostWeights:
    """What each kind of error costs the lender (relative units)."""

    cost_fn: float = 10.0
    cost_fp: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.cost_fn) and math.isfinite(self.cost_fp)):
            raise ValueError("cost_fn and cost_fp must be finite positive numbers")
        if self.cost_fn <= 0 or self.cost_fp <= 0:
            raise ValueError("cost_fn and cost_fp must both be positive")


@dataclass(frozen=True)
class ThresholdMetrics:
    """Everything reported about one set of probabilities at one decision threshold."""

    threshold: float
    auc: float
    cost_per_client: float
    recall: float
    precision: float
    fbeta: float
    beta: float
    brier: float
    refusal_rate: float
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int

    def as_dict(self) -> dict[str, float]:
        """Plain dict of the figures (for JSON and MLflow)."""
        return {k: float(v) for k, v in asdict(self).items()}


def confusion_at(
    y_true: IntArray, probability: FloatArray, threshold: float
) -> tuple[int, int, int, int]:
    """(TP, FP, FN, TN) when clients with probability >= threshold are refused."""
    refused = probability >= threshold
    positive = y_true == 1
    tp = int(np.sum(refused & positive))
    fp = int(np.sum(refused & ~positive))
    fn = int(np.sum(~refused & positive))
    tn = int(np.sum(~refused & ~positive))
    return tp, fp, fn, tn


def business_cost(
    y_true: IntArray, probability: FloatArray, threshold: float, weights: CostWeights
) -> float:
    """Cost per client of refusing every client with probability >= threshold."""
    _, fp, fn, _ = confusion_at(y_true, probability, threshold)
    return (weights.cost_fn * fn + weights.cost_fp * fp) / len(y_true)


def cost_curve(
    y_true: IntArray, probability: FloatArray, weights: CostWeights
) -> tuple[FloatArray, FloatArray]:
    """Exact cost per client for every distinct threshold, in increasing threshold order.

    Candidate thresholds are the distinct probabilities themselves plus +inf (refuse nobody):
    between two neighbouring probabilities the decisions, hence the cost, cannot change.
    """
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(probability, dtype=np.float64)
    n = y.size
    order = np.argsort(-p, kind="stable")
    p_sorted, y_sorted = p[order], y[order]
    # Refusing everyone at or above p_sorted[i]: positives/negatives among the first i+1.
    refused_pos = np.cumsum(y_sorted)
    refused_neg = np.arange(1, n + 1) - refused_pos
    last_of_run = np.r_[p_sorted[1:] != p_sorted[:-1], True]
    thresholds = p_sorted[last_of_run]
    fn = refused_pos[-1] - refused_pos[last_of_run]
    fp = refused_neg[last_of_run]
    costs = (weights.cost_fn * fn + weights.cost_fp * fp) / n
    # Nobody refused: every default is accepted.
    thresholds = np.r_[thresholds, np.inf]
    costs = np.r_[costs, weights.cost_fn * refused_pos[-1] / n]
    increasing = np.argsort(thresholds, kind="stable")
    return thresholds[increasing], costs[increasing]


def best_threshold(
    y_true: IntArray, probability: FloatArray, weights: CostWeights
) -> tuple[float, float]:
    """The threshold with the lowest business cost, and that cost per client.

    Ties go to the highest threshold (fewest refusals for the same cost).
    """
    thresholds, costs = cost_curve(y_true, probability, weights)
    best = np.flatnonzero(costs == costs.min())[-1]
    return float(thresholds[best]), float(costs[best])


def fbeta_score(precision: float, recall: float, beta: float) -> float:
    """F-beta from precision and recall (0 when both are 0)."""
    denominator = beta**2 * precision + recall
    return 0.0 if denominator == 0 else (1 + beta**2) * precision * recall / denominator


def metrics_at(
    y_true: IntArray,
    probability: FloatArray,
    threshold: float,
    weights: CostWeights,
    beta: float = 2.0,
) -> ThresholdMetrics:
    """AUC, business cost, recall, precision, F-beta and Brier at a given threshold."""
    tp, fp, fn, tn = confusion_at(y_true, probability, threshold)
    n = tp + fp + fn + tn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    single_class = len(np.unique(y_true)) < 2
    return ThresholdMetrics(
        threshold=float(threshold),
        auc=float("nan") if single_class else float(roc_auc_score(y_true, probability)),
        cost_per_client=(weights.cost_fn * fn + weights.cost_fp * fp) / n,
        recall=recall,
        precision=precision,
        fbeta=fbeta_score(precision, recall, beta),
        beta=beta,
        brier=float(brier_score_loss(y_true, np.clip(probability, 0.0, 1.0))),
        refusal_rate=(tp + fp) / n,
        true_positives=tp,
        false_positives=fp,
        false_negatives=fn,
        true_negatives=tn,
    )


def evaluate_probabilities(
    y_true: IntArray, probability: FloatArray, weights: CostWeights, beta: float = 2.0
) -> ThresholdMetrics:
    """Choose the cost-optimal threshold on these probabilities and report the metrics there."""
    threshold, _ = best_threshold(y_true, probability, weights)
    return metrics_at(y_true, probability, threshold, weights, beta)
