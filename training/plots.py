"""The training report's figures: ROC curves, cost vs threshold, calibration, SHAP summary."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

matplotlib.use("Agg")  # no screen needed: figures go to files
import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from sklearn.calibration import calibration_curve
from sklearn.metrics import roc_curve

from training.evaluate import CostWeights, cost_curve
from training.modelling import CandidateResult

_DPI = 110


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
    return path


def roc_plot(candidates: Sequence[CandidateResult], y: npt.NDArray[np.int8], path: Path) -> Path:
    """Out-of-fold ROC curve of every candidate, AUC in the legend."""
    fig, ax = plt.subplots(figsize=(6, 5))
    for c in candidates:
        fpr, tpr, _ = roc_curve(y, c.oof_probability)
        ax.plot(fpr, tpr, lw=1.4, label=f"{c.name} (AUC {c.metrics.auc:.3f})")
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8)
    ax.set(xlabel="False positive rate (good clients refused)",
           ylabel="True positive rate (defaults refused)", title="ROC, out-of-fold")  # fmt: skip
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def cost_plot(
    chosen: CandidateResult,
    y: npt.NDArray[np.int8],
    weights: CostWeights,
    path: Path,
    band: tuple[float, float] | None = None,
) -> Path:
    """Business cost per client against the threshold, with the chosen threshold marked.

    ``band`` (lower, upper), when given, is shaded: the borderline files to be examined.
    """
    thresholds, costs = cost_curve(y, chosen.oof_probability, weights)
    finite = np.isfinite(thresholds)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(thresholds[finite], costs[finite], lw=1.4)
    if band is not None and band[1] > band[0]:
        ax.axvspan(*band, color="orange", alpha=0.2, lw=0,
                   label=f"borderline [{band[0]:.3f}, {band[1]:.3f})")  # fmt: skip
    t, c = chosen.metrics.threshold, chosen.metrics.cost_per_client
    if np.isfinite(t):  # +inf: refusing nobody is cheapest, nothing to mark
        ax.axvline(t, c="crimson", ls="--", lw=1)
        ax.scatter([t], [c], c="crimson", zorder=3, label=f"threshold {t:.3f}: {c:.4f} per client")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    ax.set(xlabel="Threshold (refuse when P(default) ≥ threshold)",
           ylabel=f"Cost per client (FN×{weights.cost_fn:g} + FP×{weights.cost_fp:g}) / n",
           title=f"Business cost vs threshold — {chosen.name}")  # fmt: skip
    return _save(fig, path)


def calibration_plot(
    candidates: Sequence[CandidateResult], y: npt.NDArray[np.int8], path: Path
) -> Path:
    """Reliability diagram (quantile bins) of the calibrated out-of-fold probabilities."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    top = max(float(np.quantile(c.oof_probability, 0.995)) for c in candidates)
    for c in candidates:
        observed, predicted = calibration_curve(
            y, c.oof_probability, n_bins=15, strategy="quantile"
        )
        ax.plot(predicted, observed, marker="o", ms=3, lw=1.2,
                label=f"{c.name} (Brier {c.metrics.brier:.4f})")  # fmt: skip
    ax.plot([0, top], [0, top], ls="--", c="grey", lw=0.8)
    ax.set(xlabel="Predicted P(default)", ylabel="Observed default rate",
           title="Calibration, out-of-fold")  # fmt: skip
    ax.legend(fontsize=7)
    return _save(fig, path)


def shap_summary_plot(
    contributions: npt.NDArray[np.float64],
    x: npt.NDArray[np.float32],
    features: Sequence[str],
    path: Path,
    top: int = 20,
) -> Path:
    """Beeswarm-style summary: each dot a client, colour the feature value's rank."""
    mean_abs = np.abs(contributions).mean(axis=0)
    order = np.argsort(-mean_abs)[:top][::-1]
    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(order) + 1.5))
    for row, j in enumerate(order):
        values = x[:, j].astype(np.float64)
        finite = np.isfinite(values)
        colour = np.full(values.size, 0.5)
        if finite.sum() > 1:
            ranks = values[finite].argsort().argsort()
            colour[finite] = ranks / max(ranks.max(), 1)
        jitter = rng.normal(0, 0.08, values.size)
        ax.scatter(contributions[:, j], row + jitter, c=colour, cmap="coolwarm", s=3, alpha=0.6,
                   rasterized=True)  # fmt: skip
    ax.set_yticks(range(len(order)), [features[j] for j in order], fontsize=7)
    ax.axvline(0, c="grey", lw=0.8)
    ax.set(xlabel="SHAP value (log-odds of default; > 0 raises the risk)",
           title="What drives the score (colour: low → high feature value)")  # fmt: skip
    return _save(fig, path)
