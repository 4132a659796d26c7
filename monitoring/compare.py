"""The drift rule applied to two samples: each input flagged or not, the verdict, the summary.

:func:`compare` tests every model input (:mod:`monitoring.stats`), corrects the p-values
together, flags the inputs whose shift is both significant and large enough, compares the
default probability, and returns the summary the API serves
(:class:`creditscore_common.monitoring.DriftSummary`, checked here) with the arrays the
report plots.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from creditscore_common.labels import column_label
from creditscore_common.model import ScoringModel
from creditscore_common.monitoring import DriftSummary
from creditscore_common.store.base import DRIFT_SUMMARY_FILE
from monitoring.inputs import (
    Sample,
    column_importance,
    comparable,
    input_kinds,
    read_importance,
)
from monitoring.stats import (
    MISSING_LEVEL,
    FloatArray,
    benjamini_hochberg,
    chi2_test,
    js_distance,
    ks_test,
    level_counts,
    missing_share_test,
    numeric_psi,
    psi,
    wasserstein,
)

#: The two files of a drift report; the summary names the HTML one.
REPORT_FILE = "drift_report.html"
SUMMARY_FILE = DRIFT_SUMMARY_FILE  # the name the store publishes it under
#: Rows scored at a time: the feature matrix of 307k clients would take ~1 GB at once.
SCORE_CHUNK = 50_000


@dataclass(frozen=True)
class DriftConfig:
    """Thresholds of the drift rule (see :mod:`monitoring` and the README)."""

    alpha: float = 0.05
    share_threshold: float = 0.3
    psi_threshold: float = 0.1
    wasserstein_threshold: float = 0.1
    js_threshold: float = 0.1
    #: A change of the missing share of a number by this much (absolute) is large enough.
    missing_threshold: float = 0.05
    min_rows: int = 200
    #: Per-column plots in the HTML report: every drifted input, then the most important.
    max_plots: int = 16

    def as_json(self) -> dict[str, Any]:
        """The thresholds block of the summary."""
        return {
            "alpha": self.alpha,
            "correction": "benjamini-hochberg",
            "psi": self.psi_threshold,
            "wasserstein_normed": self.wasserstein_threshold,
            "jensen_shannon": self.js_threshold,
            "missing_share": self.missing_threshold,
        }


@dataclass
class DriftResult:
    """The summary (JSON-ready) and the arrays the report plots."""

    summary: dict[str, Any]
    reference: Sample
    current: Sample
    kinds: dict[str, str]
    reference_scores: FloatArray
    current_scores: FloatArray
    seconds: dict[str, float] = field(default_factory=dict)


def _finite_or_none(value: float | None, digits: int = 6) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


def _numeric_drift(reference: FloatArray, current: FloatArray) -> dict[str, Any]:
    ks, p_ks = ks_test(reference, current)
    distance, normed = wasserstein(reference, current)
    ref_missing, cur_missing = int(np.isnan(reference).sum()), int(np.isnan(current).sum())
    p_value = p_ks
    if ref_missing + cur_missing > 0:
        p_missing = missing_share_test(ref_missing, reference.size, cur_missing, current.size)
        p_value = min(1.0, 2 * min(p_ks, p_missing))  # Bonferroni over the two tests
    return {
        "test": "ks",
        "statistics": {"ks": ks, "wasserstein": distance, "wasserstein_normed": normed},
        "statistic": ks,
        "p_value": p_value,
        "psi": numeric_psi(reference, current),
        "effect": normed,
        "missing_reference": ref_missing / reference.size if reference.size else math.nan,
        "missing_current": cur_missing / current.size if current.size else math.nan,
    }


def _categorical_drift(reference: npt.NDArray[Any], current: npt.NDArray[Any]) -> dict[str, Any]:
    levels, ref_counts, cur_counts = level_counts(reference, current)
    statistic, p_value = chi2_test(ref_counts, cur_counts)
    js = js_distance(ref_counts, cur_counts)
    ref_total, cur_total = ref_counts.sum(), cur_counts.sum()
    share_psi = math.nan
    if ref_total > 0 and cur_total > 0:
        share_psi = psi(ref_counts / ref_total, cur_counts / cur_total)
    missing = levels.index(MISSING_LEVEL) if MISSING_LEVEL in levels else None
    return {
        "test": "chi2",
        "statistics": {"chi2": statistic, "jensen_shannon": js},
        "statistic": statistic,
        "p_value": p_value if cur_total > 0 else math.nan,
        "psi": share_psi,
        "effect": js,
        "missing_reference": (ref_counts[missing] / ref_total if missing is not None else 0.0)
        if ref_total
        else math.nan,
        "missing_current": (cur_counts[missing] / cur_total if missing is not None else 0.0)
        if cur_total
        else math.nan,
    }


def _large_enough(row: Mapping[str, Any], kind: str, config: DriftConfig) -> bool:
    psi_value = row["psi"]
    if math.isfinite(psi_value) and psi_value >= config.psi_threshold:
        return True
    if kind == "numeric":
        change = abs(row["missing_current"] - row["missing_reference"])
        if math.isfinite(change) and change >= config.missing_threshold:
            return True
    effect = row["effect"]
    floor = config.wasserstein_threshold if kind == "numeric" else config.js_threshold
    return bool(math.isfinite(effect) and effect >= floor)


def prediction_drift(
    reference: FloatArray, current: FloatArray, config: DriftConfig, judged: bool, source: str
) -> dict[str, Any]:
    """Drift of the default probability: PSI (reference deciles), KS, Wasserstein/std."""
    ks, p_value = ks_test(reference, current)
    _, normed = wasserstein(reference, current)
    score_psi = numeric_psi(reference, current) if current.size else math.nan
    large = (math.isfinite(score_psi) and score_psi >= config.psi_threshold) or (
        math.isfinite(normed) and normed >= config.wasserstein_threshold
    )
    return {
        "psi": _finite_or_none(score_psi),
        "ks_statistic": _finite_or_none(ks),
        "p_value": _finite_or_none(p_value),
        "wasserstein_normed": _finite_or_none(normed),
        "reference_mean": _finite_or_none(float(reference.mean())) if reference.size else None,
        "current_mean": _finite_or_none(float(current.mean())) if current.size else None,
        "drifted": bool(judged and p_value < config.alpha and large),
        "source": source,
    }


def score_sample(model: ScoringModel, sample: Sample) -> FloatArray:
    """P(default) of every row of a sample, by chunks (bounded memory)."""
    if sample.rows == 0:
        return np.empty(0)
    parts = []
    for start in range(0, sample.rows, SCORE_CHUNK):
        chunk = {k: v[start : start + SCORE_CHUNK] for k, v in sample.columns.items()}
        parts.append(model.score_columns(chunk))
    return np.concatenate(parts)


def compare(
    reference: Sample,
    current: Sample,
    model: ScoringModel,
    config: DriftConfig | None = None,
    reference_scores: FloatArray | None = None,
) -> DriftResult:
    """Compare every model input and the default probability; the verdict and the summary."""
    config = config or DriftConfig()
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    kinds = input_kinds(model.spec)
    importance = column_importance(model.spec, read_importance(model))
    ranked = sorted(importance, key=lambda c: -importance[c])
    rank = {column: i + 1 for i, column in enumerate(ranked)} if any(importance.values()) else {}
    judged = current.rows >= config.min_rows and reference.rows >= config.min_rows

    rows: list[dict[str, Any]] = []
    for name, kind in kinds.items():
        ref_values = comparable(name, kind, reference.column(name))
        cur_values = comparable(name, kind, current.column(name))
        if kind == "numeric":
            row = _numeric_drift(ref_values, cur_values)
        else:
            row = _categorical_drift(ref_values, cur_values)
        label = column_label(name)
        rows.append({"name": name, "kind": kind, "label": label.fr, "label_en": label.en, **row})
    adjusted = benjamini_hochberg([r["p_value"] for r in rows])
    features: list[dict[str, Any]] = []
    for row, p_adjusted in zip(rows, adjusted, strict=True):
        significant = bool(math.isfinite(p_adjusted) and p_adjusted < config.alpha)
        drifted = judged and significant and _large_enough(row, row["kind"], config)
        features.append(
            {
                "name": row["name"],
                "kind": row["kind"],
                "label": row["label"],
                "label_en": row["label_en"],
                "test": row["test"],
                "statistics": {k: _finite_or_none(v) for k, v in row["statistics"].items()},
                "p_value": _finite_or_none(row["p_value"], 4),
                "p_adjusted": _finite_or_none(float(p_adjusted), 4),
                "psi": _finite_or_none(row["psi"], 4),
                "missing_reference": _finite_or_none(row["missing_reference"], 4),
                "missing_current": _finite_or_none(row["missing_current"], 4),
                "drifted": drifted,
                "importance": _finite_or_none(importance.get(row["name"]), 4) if rank else None,
                "importance_rank": rank.get(row["name"]),
            }
        )
    features.sort(
        key=lambda f: (
            not f["drifted"],
            f["importance_rank"] or len(rank) + 1,
            -(f["psi"] or 0.0),
            f["name"],
        )
    )
    seconds["inputs"] = time.perf_counter() - started

    started = time.perf_counter()
    ref_scores = (
        reference_scores if reference_scores is not None else score_sample(model, reference)
    )
    if current.probabilities is not None:
        cur_scores, score_source = current.probabilities, "logged"
    else:
        cur_scores, score_source = score_sample(model, current), "rescored"
    prediction = (
        prediction_drift(ref_scores, cur_scores, config, judged, score_source)
        if ref_scores.size
        else None
    )
    seconds["prediction"] = time.perf_counter() - started

    n_drifted = sum(f["drifted"] for f in features)
    share = n_drifted / len(features) if features else 0.0
    if not judged:
        verdict = "insufficient data"
        message = (
            f"only {current.rows} current and {reference.rows} reference rows: at least "
            f"{config.min_rows} of each are needed to judge drift; the statistics are shown "
            "for information and no input is flagged"
        )
    elif share >= config.share_threshold:
        verdict = "drift"
        message = (
            f"{n_drifted} of {len(features)} model inputs drifted ({share:.0%}, threshold "
            f"{config.share_threshold:.0%}): the current clients differ from the reference "
            "clients; review the inputs flagged below before trusting the scores"
        )
    else:
        verdict = "no drift"
        message = (
            f"{n_drifted} of {len(features)} model inputs drifted ({share:.0%}, below the "
            f"{config.share_threshold:.0%} threshold)"
        )
    importance_share = (
        sum(importance.get(f["name"], 0.0) for f in features if f["drifted"]) if rank else None
    )
    summary: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model_version": model.version,
        "reference": {
            "rows": reference.rows,
            "source": reference.source,
            "model_versions": reference.model_versions,
        },
        "current": {
            "rows": current.rows,
            "source": current.source,
            "model_versions": current.model_versions,
        },
        "verdict": verdict,
        "message": message,
        "drift_share": share,
        "share_threshold": config.share_threshold,
        "importance_drift_share": _finite_or_none(importance_share, 4),
        "n_features": len(features),
        "n_drifted": n_drifted,
        "min_rows": config.min_rows,
        "thresholds": config.as_json(),
        "features": features,
        "prediction": prediction,
        "report_file": REPORT_FILE,
    }
    DriftSummary.model_validate(summary)  # the contract the API serves
    return DriftResult(summary, reference, current, kinds, ref_scores, cur_scores, seconds)
