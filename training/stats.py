"""Aggregated statistics of the reference clients and the model's global importance.

Both files ship with every model version and feed the client comparisons and the global
explanation of the API. They hold aggregates only, never a client row: histogram bins with
fewer than :data:`MIN_BIN_COUNT` clients are suppressed, and percentiles stop at 1 and 99.
"""

from __future__ import annotations

import math
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

MIN_BIN_COUNT = 5
N_BINS = 20
PERCENTILES = tuple(range(1, 100))
CLASS_NAMES = {0: "repaid", 1: "defaulted"}


def _round(value: float, digits: int = 6) -> float | None:
    if not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


def _small(count: int) -> bool:
    return 0 < count < MIN_BIN_COUNT


def _share(part: int, total: int) -> float | None:
    """Part / total, hidden when either the part or the rest is a handful of clients."""
    if total == 0 or _small(part) or _small(total - part):
        return None
    return _round(part / total)


def _class_histograms(
    values: npt.NDArray[np.float64],
    known: npt.NDArray[np.bool_],
    y: npt.NDArray[np.int8],
    edges: npt.NDArray[np.float64],
) -> dict[str, list[int | None]]:
    """Counts per bin for each class and overall, with complementary suppression.

    A bin is hidden in every series as soon as one class has 1-4 clients in it: hiding only
    that cell would let anyone recover it as "all" minus the other class.
    """
    per_class = {
        name: np.histogram(values[known & (y == c)], bins=edges)[0]
        for c, name in CLASS_NAMES.items()
    }
    total = per_class["repaid"] + per_class["defaulted"]
    hidden = np.zeros(total.shape, dtype=bool)
    for counts in (*per_class.values(), total):
        hidden |= (counts > 0) & (counts < MIN_BIN_COUNT)
    series = {"all": total, **per_class}
    return {
        k: [None if h else int(c) for c, h in zip(v, hidden, strict=True)]
        for k, v in series.items()
    }


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
    if finite.size < MIN_BIN_COUNT:
        out["percentiles"] = None
        out["histogram"] = None
        return out
    out["percentiles"] = [_round(v) for v in np.percentile(finite, PERCENTILES)]
    lo, hi = np.percentile(finite, (0.5, 99.5))
    if lo == hi:
        lo, hi = float(finite.min()), float(finite.max()) + 1e-9
    edges = np.linspace(lo, hi, N_BINS + 1)
    clipped = np.clip(values, lo, hi)
    histogram: dict[str, Any] = {"edges": [_round(e) for e in edges]}
    histogram.update(_class_histograms(clipped, known, y, edges))
    for c, name in CLASS_NAMES.items():
        chosen = known & (y == c)
        out.setdefault("median_by_class", {})[name] = (
            _round(float(np.median(values[chosen]))) if chosen.sum() >= MIN_BIN_COUNT else None
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
        hidden = _small(ones) or _small(zeros)
        out["counts"][name] = [None, None] if hidden else [zeros, ones]
        out["share_of_ones"][name] = None if hidden else _round(ones / max(ones + zeros, 1))
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
        "default_rate": _round(float(y.mean())),
        "min_bin_count": MIN_BIN_COUNT,
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
        "base_value": _round(base_value),
        "features": [
            {
                "feature": features[j],
                "mean_abs_shap": _round(float(mean_abs[j])),
                "mean_shap": _round(float(mean_signed[j])),
            }
            for j in order
        ],
    }
