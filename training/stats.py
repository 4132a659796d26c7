"""Aggregated statistics of the reference clients and the model's global importance.

Both files ship with every model version. ``global_importance.json`` feeds the API's global
explanation (``GET /model/importance``); ``reference_stats.json`` is for people and audits
(and MLflow): the API's comparisons read ``reference_profiles.npz`` instead. They hold
aggregates only, never a client row, under the privacy rules of the API
(``creditscore_common.privacy``): no count of 1 to 4 clients, with complementary
suppression, and percentiles that stop at 1 and 99.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from creditscore_common.privacy import (
    MIN_CELL_COUNT,
    hidden_cells,
    is_small,
    published,
    round_significant,
)

#: The API's smallest published count (written as ``min_bin_count``).
MIN_BIN_COUNT = MIN_CELL_COUNT
N_BINS = 20
PERCENTILES = tuple(range(1, 100))
CLASS_NAMES = {0: "repaid", 1: "defaulted"}


def _share(part: int, total: int) -> float | None:
    """Part / total, hidden when either the part or the rest is a handful of clients."""
    if total == 0 or is_small(part) or is_small(total - part):
        return None
    return round_significant(part / total)


def _class_histograms(
    values: npt.NDArray[np.float64],
    known: npt.NDArray[np.bool_],
    y: npt.NDArray[np.int8],
    edges: npt.NDArray[np.float64],
) -> dict[str, list[int | None]]:
    """Counts per bin for each class and overall, with complementary suppression.

    The rule of the API (:func:`~creditscore_common.privacy.hidden_cells`): a bin is hidden
    in every series as soon as one class hides it, since "all" minus the other class would
    give it back; and never a single hidden bin in a class, since the class's known total
    (its size less its missing values) would.
    """
    per_class = {
        name: np.histogram(values[known & (y == c)], bins=edges)[0]
        for c, name in CLASS_NAMES.items()
    }
    hidden = hidden_cells(list(per_class.values()))
    series = {"all": per_class["repaid"] + per_class["defaulted"], **per_class}
    return {k: published(v, hidden) for k, v in series.items()}


def _numeric_stats(values: npt.NDArray[np.float64], y: npt.NDArray[np.int8]) -> dict[str, Any]:
    known = np.isfinite(values)
    finite = values[known]
    out: dict[str, Any] = {"kind": "numeric"}
    out["missing_share"] = {
        "all": _share(int((~known).sum()), int(known.size)),
        **{
            name: _share(int((~known[y == c]).sum()), int((y == c).sum()))
            for c, name in CLASS_NAMES.items()
        },
    }
    if finite.size < MIN_CELL_COUNT:
        out["percentiles"] = None
        out["histogram"] = None
        return out
    out["percentiles"] = [round_significant(v) for v in np.percentile(finite, PERCENTILES)]
    lo, hi = np.percentile(finite, (0.5, 99.5))
    if lo == hi:
        lo, hi = float(finite.min()), float(finite.max()) + 1e-9
    edges = np.linspace(lo, hi, N_BINS + 1)
    clipped = np.clip(values, lo, hi)
    histogram: dict[str, Any] = {"edges": [round_significant(e) for e in edges]}
    histogram.update(_class_histograms(clipped, known, y, edges))
    for c, name in CLASS_NAMES.items():
        chosen = known & (y == c)
        out.setdefault("median_by_class", {})[name] = (
            round_significant(float(np.median(values[chosen])))
            if chosen.sum() >= MIN_CELL_COUNT
            else None
        )
    out["histogram"] = histogram
    return out


def _binary_stats(values: npt.NDArray[np.float64], y: npt.NDArray[np.int8]) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "binary", "share_of_ones": {}, "counts": {}}
    for name, mask in (
        ("all", np.ones_like(y, dtype=bool)),
        *((n, y == c) for c, n in CLASS_NAMES.items()),
    ):
        ones = int(np.sum(values[mask] == 1))
        zeros = int(np.sum(values[mask] == 0))
        # Both counts go together: with the total known, one reveals the other.
        hidden = is_small(ones) or is_small(zeros)
        out["counts"][name] = [None, None] if hidden else [zeros, ones]
        out["share_of_ones"][name] = (
            None if hidden else round_significant(ones / max(ones + zeros, 1))
        )
    # A hidden class count could still be recovered as "all" minus the other class.
    if any(v == [None, None] for v in out["counts"].values()):
        out["counts"] = {k: [None, None] for k in out["counts"]}
        out["share_of_ones"] = {k: None for k in out["share_of_ones"]}
    return out


def reference_stats(
    x: npt.NDArray[np.float32], y: npt.NDArray[np.int8], features: list[str]
) -> dict[str, Any]:
    """Per feature: missing share, percentiles, and histograms overall and per class."""
    per_feature: dict[str, Any] = {}
    for j, name in enumerate(features):
        values = x[:, j].astype(np.float64)
        finite = values[np.isfinite(values)]
        if finite.size and np.all(np.isin(finite, (0.0, 1.0))):
            per_feature[name] = _binary_stats(values, y)
        else:
            per_feature[name] = _numeric_stats(values, y)
    return {
        "n_clients": int(y.size),
        "n_by_class": {name: int(np.sum(y == c)) for c, name in CLASS_NAMES.items()},
        "default_rate": round_significant(float(y.mean())),
        "min_bin_count": MIN_CELL_COUNT,
        "percentiles": list(PERCENTILES),
        "features": per_feature,
    }


def shap_values(
    booster: lgb.Booster, x: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.float64], float]:
    """Exact TreeSHAP contributions (log-odds) per row and feature, and the base value."""
    contributions = np.asarray(booster.predict(x, pred_contrib=True), dtype=np.float64)
    return contributions[:, :-1], float(contributions[0, -1])


def global_importance(
    contributions: npt.NDArray[np.float64], base_value: float, features: list[str]
) -> dict[str, Any]:
    """Mean |SHAP| per feature (log-odds), largest first, with the mean signed effect."""
    mean_abs = np.abs(contributions).mean(axis=0)
    mean_signed = contributions.mean(axis=0)
    order = np.argsort(-mean_abs, kind="stable")
    return {
        "method": "mean |TreeSHAP| in log-odds (LightGBM pred_contrib)",
        "n_clients_sampled": int(contributions.shape[0]),
        "base_value": round_significant(base_value),
        "features": [
            {
                "feature": features[j],
                "mean_abs_shap": round_significant(float(mean_abs[j])),
                "mean_shap": round_significant(float(mean_signed[j])),
            }
            for j in order
        ],
    }
