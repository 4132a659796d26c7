"""Data drift: do current clients still look like those the model learned from? A report.

Compares reference clients (``application_train.csv``) with current clients: the new clients
of ``application_test.csv``, or the traffic the API actually scored (its traffic log lines,
see :mod:`creditscore_common.traffic`). Every *model input* is compared: the raw application
columns the model version's transform reads (:attr:`FeatureSpec.input_columns`), not the
~250 engineered features, because a raw column is what a person can check and fix, and every
feature is a function of them.

Per input, one hypothesis test and effect sizes:

- numbers: two-sample Kolmogorov-Smirnov on the known values, plus a chi-square test of the
  missing share when anything is missing (the two p-values combined with Bonferroni, x2);
  effect sizes: Wasserstein distance divided by the reference standard deviation, and PSI
  over 10 reference-quantile bins plus one bin for missing values. ``DAYS_EMPLOYED = 365243``
  (no employment) counts as missing, as the transform treats it.
- categories (text levels and 0/1 flags): chi-square on the level counts, a missing value
  being a level of its own (sparse levels pooled so that every expected count is >= 5);
  effect sizes: Jensen-Shannon distance (base 2) and PSI over the levels.

The p-values of all inputs are corrected together (Benjamini-Hochberg, false discovery rate
``alpha``). With 307,511 vs 48,744 clients a test finds shifts far too small to matter, so
an input is *drifted* only when its corrected p-value is below ``alpha`` **and** its effect
reaches a floor (PSI >= 0.1, or Wasserstein/std >= 0.1 for numbers, or Jensen-Shannon
>= 0.1 for categories: the usual conventions, Evidently's defaults among them).

The dataset verdict is "drift" when the share of drifted inputs reaches ``share_threshold``
(0.3 by default), "insufficient data" below ``min_rows`` current (or reference) rows. The
default probability is compared too (prediction drift), rescored by the model for files, or
as logged by the API for traffic. Outputs: ``drift_summary.json`` (the shape of
:class:`creditscore_common.monitoring.DriftSummary`) and ``drift_report.html`` (one
self-contained file: tables and plots, with text alternatives).
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import math
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

from creditscore_common.features import (
    EMPLOYMENT_ANOMALY_FEATURE,
    EXT_SOURCE_FEATURES,
    EXT_SOURCES,
    RATIO_FEATURES,
    FeatureSpec,
)
from creditscore_common.labels import column_label
from creditscore_common.model import IMPORTANCE_FILE, ScoringModel
from creditscore_common.monitoring import DriftSummary
from creditscore_common.schema import DAYS_EMPLOYED_ANOMALY, load_schema
from creditscore_common.traffic import SCORE_EVENT
from training.data import NEW_CLIENTS_FILE, TRAIN_FILE, load_applications

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Columns = dict[str, npt.NDArray[Any]]

REPORT_FILE = "drift_report.html"
SUMMARY_FILE = "drift_summary.json"
MISSING_LEVEL = "(missing)"
#: Shares below this are raised to it in PSI (an empty bin would make PSI infinite).
PSI_EPSILON = 1e-4
PSI_BINS = 10
#: Chi-square needs expected counts of about 5 or more in every cell.
MIN_EXPECTED_COUNT = 5.0
#: Rows scored at a time: the feature matrix of 307k clients would take ~1 GB at once.
SCORE_CHUNK = 50_000
#: Okabe-Ito colours (safe for the common colour-vision deficiencies); line styles and
#: hatches tell the two samples apart without colour too.
REFERENCE_COLOUR = "#0072B2"
CURRENT_COLOUR = "#E69F00"


@dataclass(frozen=True)
class DriftConfig:
    """Thresholds of the drift rule (see the module docstring and the README)."""

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
class Sample:
    """Raw model inputs of one group of clients (numbers: float, NaN = missing; text: object).

    ``probabilities`` are the served ones for traffic (None for files: they are rescored).
    """

    columns: Columns
    rows: int
    source: str
    probabilities: FloatArray | None = None
    model_versions: dict[str, int] | None = None


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


# ============================================================================ statistics


def psi(reference_shares: npt.ArrayLike, current_shares: npt.ArrayLike) -> float:
    """Population stability index: sum of (current - reference) * ln(current / reference).

    Shares are floored at :data:`PSI_EPSILON` so that a bin empty on one side counts as a
    large but finite shift.
    """
    ref = np.maximum(np.asarray(reference_shares, dtype=np.float64), PSI_EPSILON)
    cur = np.maximum(np.asarray(current_shares, dtype=np.float64), PSI_EPSILON)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def quantile_edges(reference: FloatArray, n_bins: int = PSI_BINS) -> FloatArray:
    """Inner bin edges at the reference quantiles (repeated edges merged: discrete values)."""
    known = reference[np.isfinite(reference)]
    if known.size == 0:
        return np.empty(0)
    inner = np.quantile(known, np.linspace(0, 1, n_bins + 1)[1:-1])
    return np.unique(inner)


def binned_shares(values: FloatArray, edges: FloatArray) -> FloatArray:
    """Shares of values in each bin of ``edges`` (len(edges) + 1 bins) plus a missing bin."""
    if values.size == 0:
        return np.zeros(edges.size + 2)
    known = np.isfinite(values)
    bins = np.searchsorted(edges, values[known], side="right")
    counts = np.bincount(bins, minlength=edges.size + 1).astype(np.float64)
    counts = np.append(counts, float((~known).sum()))
    return counts / values.size


def numeric_psi(reference: FloatArray, current: FloatArray, n_bins: int = PSI_BINS) -> float:
    """PSI of a numeric column over reference-quantile bins and a missing bin."""
    edges = quantile_edges(reference, n_bins)
    return psi(binned_shares(reference, edges), binned_shares(current, edges))


def level_counts(
    reference: npt.NDArray[Any], current: npt.NDArray[Any]
) -> tuple[list[str], FloatArray, FloatArray]:
    """Counts per level (missing as :data:`MISSING_LEVEL`) on the union of both samples."""
    ref = pd.Series(reference, dtype=object).fillna(MISSING_LEVEL).value_counts()
    cur = pd.Series(current, dtype=object).fillna(MISSING_LEVEL).value_counts()
    levels = sorted(set(ref.index) | set(cur.index), key=lambda lv: (-ref.get(lv, 0), str(lv)))
    ref_counts = np.array([float(ref.get(lv, 0)) for lv in levels])
    cur_counts = np.array([float(cur.get(lv, 0)) for lv in levels])
    return [str(lv) for lv in levels], ref_counts, cur_counts


def pooled_table(ref_counts: FloatArray, cur_counts: FloatArray) -> npt.NDArray[np.float64]:
    """The 2 x k table with sparse levels pooled until every expected count is >= 5."""
    table = np.vstack([ref_counts, cur_counts])
    table = table[:, table.sum(axis=0) > 0]
    total = table.sum()
    if total == 0 or (table.sum(axis=1) == 0).any():
        return table
    expected_min = np.outer(table.sum(axis=1), table.sum(axis=0)).min(axis=0) / total
    sparse = expected_min < MIN_EXPECTED_COUNT
    if sparse.sum() >= 1 and (~sparse).sum() >= 1:
        pooled = table[:, sparse].sum(axis=1, keepdims=True)
        table = np.hstack([table[:, ~sparse], pooled])
        # The pooled cell may itself stay sparse: fold it into the smallest other level.
        expected = np.outer(table.sum(axis=1), table[:, -1].sum()) / total
        if expected.min() < MIN_EXPECTED_COUNT and table.shape[1] > 2:
            smallest = int(np.argmin(table[:, :-1].sum(axis=0)))
            table[:, smallest] += table[:, -1]
            table = table[:, :-1]
    return table


def chi2_test(ref_counts: FloatArray, cur_counts: FloatArray) -> tuple[float, float]:
    """Chi-square test of homogeneity of two count vectors: (statistic, p-value)."""
    table = pooled_table(ref_counts, cur_counts)
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    result = stats.chi2_contingency(table)
    return float(result.statistic), float(result.pvalue)


def js_distance(ref_counts: FloatArray, cur_counts: FloatArray) -> float:
    """Jensen-Shannon distance (base 2, from 0 to 1) between two count vectors."""
    if ref_counts.sum() == 0 or cur_counts.sum() == 0:
        return math.nan
    return float(jensenshannon(ref_counts, cur_counts, base=2))


def ks_test(reference: FloatArray, current: FloatArray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov on the known values: (statistic, p-value)."""
    ref, cur = reference[np.isfinite(reference)], current[np.isfinite(current)]
    if ref.size == 0 or cur.size == 0:
        return math.nan, 1.0
    # The exact distribution is slow beyond a few thousand rows and no better there.
    method = "auto" if ref.size * cur.size <= 1_000_000 else "asymp"
    result = stats.ks_2samp(ref, cur, method=method)
    return float(result.statistic), float(result.pvalue)


def wasserstein(reference: FloatArray, current: FloatArray) -> tuple[float, float]:
    """Wasserstein-1 distance of the known values, and divided by the reference std."""
    ref, cur = reference[np.isfinite(reference)], current[np.isfinite(current)]
    if ref.size == 0 or cur.size == 0:
        return math.nan, math.nan
    distance = float(stats.wasserstein_distance(ref, cur))
    std = float(np.std(ref))
    if std == 0:
        return distance, 0.0 if distance == 0 else 1.0
    return distance, distance / std


def missing_share_test(ref_missing: int, ref_rows: int, cur_missing: int, cur_rows: int) -> float:
    """p-value of a chi-square test that both samples have the same missing share."""
    if ref_missing + cur_missing == 0 or ref_rows == 0 or cur_rows == 0:
        return 1.0
    counts = np.array(
        [[ref_missing, ref_rows - ref_missing], [cur_missing, cur_rows - cur_missing]]
    )
    if (counts.sum(axis=0) == 0).any():
        return 1.0
    return float(stats.chi2_contingency(counts).pvalue)


def benjamini_hochberg(p_values: Sequence[float]) -> FloatArray:
    """Benjamini-Hochberg adjusted p-values (NaN stays NaN and does not count in m)."""
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(p.shape, np.nan)
    known = np.flatnonzero(np.isfinite(p))
    m = known.size
    if m == 0:
        return adjusted
    order = known[np.argsort(p[known], kind="stable")]
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return adjusted


# ============================================================================ inputs


def input_kinds(spec: FeatureSpec) -> dict[str, str]:
    """Each model input column and how it is compared: "numeric" or "categorical".

    0/1 flags are compared as categories: a KS test on two values says nothing a
    chi-square test would not, and their missing share is then a level like the others.
    """
    schema = load_schema()
    return {
        name: "numeric" if schema[name].kind in ("integer", "float") else "categorical"
        for name in spec.input_columns
    }


def comparable(name: str, kind: str, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A column as compared: numbers as float (365243 days employed = missing), flags as text."""
    if kind == "numeric":
        numbers = np.asarray(values, dtype=np.float64)
        if name == "DAYS_EMPLOYED":
            numbers = np.where(numbers == DAYS_EMPLOYED_ANOMALY, np.nan, numbers)
        return numbers
    if np.asarray(values).dtype.kind == "f":  # a 0/1 flag
        numbers = np.asarray(values, dtype=np.float64)
        text = np.where(numbers == 1, "1", "0").astype(object)
        text[~np.isfinite(numbers)] = None
        return text
    return np.asarray(values, dtype=object)


def column_importance(spec: FeatureSpec, importance: Mapping[str, float]) -> dict[str, float]:
    """Each input column's share of the model's mean |SHAP| (features mapped to columns).

    A one-hot level or the employment flag belongs to its column; a domain feature (a
    ratio, an EXT_SOURCE aggregate) is shared equally between the columns it is made of.
    """
    origin = spec.feature_origin()
    totals: dict[str, float] = dict.fromkeys(spec.input_columns, 0.0)
    for feature, value in importance.items():
        where = origin.get(feature)
        if where is None:
            continue
        if feature in RATIO_FEATURES:
            sources: Sequence[str] = RATIO_FEATURES[feature]
        elif feature in EXT_SOURCE_FEATURES:
            sources = EXT_SOURCES
        elif feature == EMPLOYMENT_ANOMALY_FEATURE:
            sources = ("DAYS_EMPLOYED",)
        else:
            sources = (where["column"],)
        for column in sources:
            if column in totals:
                totals[column] += value / len(sources)
    grand = sum(totals.values())
    return {k: (v / grand if grand > 0 else 0.0) for k, v in totals.items()}


def read_importance(model: ScoringModel) -> dict[str, float]:
    """Mean |SHAP| per feature from the version's global_importance.json ({} if absent)."""
    path = model.folder / IMPORTANCE_FILE
    if not path.is_file():
        return {}
    raw = json.loads(path.read_text())
    return {f["feature"]: float(f["mean_abs_shap"]) for f in raw.get("features", [])}


# ============================================================================ the comparison


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
        ref_values = comparable(name, kind, _column(reference, name))
        cur_values = comparable(name, kind, _column(current, name))
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


def _column(sample: Sample, name: str) -> npt.NDArray[Any]:
    values = sample.columns.get(name)
    if values is None:  # a log written by another model version may lack a column
        return np.full(sample.rows, np.nan)
    return values


# ============================================================================ loading


def file_sample(path: Path, columns: Iterable[str], with_target: bool) -> Sample:
    """A validated application file (training/data.py) reduced to the given columns."""
    table = load_applications(path, with_target=with_target)
    wanted = set(columns)
    kept = {k: v for k, v in table.columns.items() if k in wanted}
    return Sample(kept, table.n_rows, f"{path.name} ({path.parent})")


def _traffic_object(line: str) -> dict[str, Any] | None:
    """The traffic record on a log line, or None for any other line.

    Accepts a bare JSON line (stdout, --traffic-log), a line whose JSON follows a prefix
    (CloudWatch exports put a timestamp first), and a JSON log record whose ``message`` is
    the traffic line (Lambda's JSON log format).
    """
    start = line.find("{")
    if start < 0:
        return None
    try:
        record = json.loads(line[start:])
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    if record.get("event") != SCORE_EVENT and isinstance(record.get("message"), str):
        return _traffic_object(record["message"])
    if record.get("event") != SCORE_EVENT or not isinstance(record.get("inputs"), dict):
        return None
    return record


def read_traffic(paths: Sequence[Path], kinds: Mapping[str, str]) -> Sample:
    """The served traffic of some log files as a sample (logged probabilities kept)."""
    schema = load_schema()
    values: dict[str, list[Any]] = {name: [] for name in kinds}
    probabilities: list[float] = []
    versions: Counter[str] = Counter()
    skipped = 0
    for path in paths:
        with Path(path).open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                record = _traffic_object(line)
                probability = None if record is None else record.get("probability")
                if record is None or not isinstance(probability, int | float):
                    skipped += line.strip() != ""
                    continue
                inputs = record["inputs"]
                for name in kinds:
                    values[name].append(inputs.get(name))
                probabilities.append(float(probability))
                versions[str(record.get("model_version"))] += 1
    columns: Columns = {}
    for name, column in values.items():
        if schema[name].is_categorical:
            columns[name] = np.array(
                [v if isinstance(v, str) else None for v in column], dtype=object
            )
        else:
            columns[name] = np.array(
                [
                    float(v) if isinstance(v, int | float) and not isinstance(v, bool) else np.nan
                    for v in column
                ],
                dtype=np.float64,
            )
    names = ", ".join(Path(p).name for p in paths)
    log.info("traffic: %d scores read from %s (%d other lines)", len(probabilities), names, skipped)
    return Sample(
        columns,
        len(probabilities),
        f"served traffic ({names})",
        probabilities=np.asarray(probabilities, dtype=np.float64),
        model_versions=dict(versions),
    )


# ============================================================================ the report


def _figure_png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _numeric_plot(name: str, title: str, reference: FloatArray, current: FloatArray) -> str:
    import matplotlib.pyplot as plt

    ref, cur = reference[np.isfinite(reference)], current[np.isfinite(current)]
    figure, axis = plt.subplots(figsize=(6.4, 3.2))
    both = np.concatenate([ref, cur]) if ref.size + cur.size else np.zeros(1)
    low, high = np.quantile(both, [0.005, 0.995])
    if low == high:
        low, high = low - 0.5, high + 0.5
    bins = list(np.linspace(low, high, 41))
    if ref.size:
        axis.hist(np.clip(ref, low, high), bins=bins, density=True, histtype="stepfilled",
                  alpha=0.35, color=REFERENCE_COLOUR, hatch="//", label="reference")  # fmt: skip
    if cur.size:
        axis.hist(np.clip(cur, low, high), bins=bins, density=True, histtype="step",
                  linewidth=2, linestyle="--", color=CURRENT_COLOUR, label="current")  # fmt: skip
    axis.set_title(title, fontsize=10)
    axis.set_xlabel(name)
    axis.set_ylabel("density")
    axis.legend(frameon=False)
    return _figure_png(figure)


def _categorical_plot(
    name: str, title: str, reference: npt.NDArray[Any], current: npt.NDArray[Any]
) -> str:
    import matplotlib.pyplot as plt

    levels, ref_counts, cur_counts = level_counts(reference, current)
    ref_share = ref_counts / max(ref_counts.sum(), 1)
    cur_share = cur_counts / max(cur_counts.sum(), 1)
    order = np.argsort(-np.maximum(ref_share, cur_share), kind="stable")[:12]
    positions = np.arange(order.size)
    figure, axis = plt.subplots(figsize=(6.4, 0.35 * order.size + 1.4))
    axis.barh(positions - 0.2, ref_share[order], height=0.4, color=REFERENCE_COLOUR,
              hatch="//", label="reference")  # fmt: skip
    axis.barh(positions + 0.2, cur_share[order], height=0.4, color=CURRENT_COLOUR,
              label="current")  # fmt: skip
    axis.set_yticks(positions, [levels[i][:40] for i in order], fontsize=8)
    axis.invert_yaxis()
    axis.set_xlabel("share of clients")
    axis.set_title(title, fontsize=10)
    axis.legend(frameon=False, loc="lower right")
    return _figure_png(figure)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != 0 and abs(value) < 10**-digits:
            return f"{value:.1e}"
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def _effect_text(feature: Mapping[str, Any]) -> str:
    statistics = feature["statistics"]
    if feature["kind"] == "numeric":
        return (
            f"KS {_fmt(statistics.get('ks'))}, Wasserstein/std "
            f"{_fmt(statistics.get('wasserstein_normed'))}"
        )
    chi2 = _fmt(statistics.get("chi2"), 1)
    return f"chi² {chi2}, Jensen-Shannon {_fmt(statistics.get('jensen_shannon'))}"


PREDICTION_HEADERS = ("mean (reference)", "mean (current)", "PSI", "KS", "p-value",
                      "Wasserstein/std", "drifted")  # fmt: skip
PREDICTION_KEYS = ("reference_mean", "current_mean", "psi", "ks_statistic", "p_value",
                   "wasserstein_normed", "drifted")  # fmt: skip
FEATURE_HEADERS = ("column", "label", "kind", "statistics", "p-value", "adjusted p", "PSI",
                   "missing ref.", "missing cur.", "importance rank", "drifted")  # fmt: skip
_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1300px;margin:2em auto;padding:0 1em;
color:#1a1a1a;line-height:1.45}
table{border-collapse:collapse;width:100%;font-size:.9em;margin:1em 0}
caption{text-align:left;font-weight:600;padding:.3em 0}
th,td{border:1px solid #bbb;padding:.3em .5em;text-align:right}
th[scope=row],td.text{text-align:left}
thead th{background:#eee;position:sticky;top:0}
tr.drifted{background:#fdf0d5}
.verdict{font-size:1.3em;font-weight:700;padding:.6em;border:3px solid #1a1a1a}
figure{display:inline-block;margin:.5em;vertical-align:top;max-width:48%}
figcaption{font-size:.85em}
img{max-width:100%}
main{overflow-x:auto}
"""


def render_html(result: DriftResult, config: DriftConfig) -> str:
    """The self-contained HTML report (plots embedded as PNG, each with a text alternative)."""
    summary = result.summary
    features = summary["features"]
    e = html.escape
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>Data drift report — model {e(summary['model_version'])}</title>",
        f"<style>{_STYLE}</style></head><body><main>",
        f"<h1>Data drift report — model {e(summary['model_version'])}</h1>",
        f"<p class='verdict' role='status'>Verdict: {e(summary['verdict'].upper())} — "
        f"{e(summary['message'])}</p>",
        "<table><caption>Samples compared</caption><thead><tr><th scope='col'>sample</th>"
        "<th scope='col'>rows</th><th scope='col'>source</th></tr></thead><tbody>",
    ]
    for side in ("reference", "current"):
        sample = summary[side]
        parts.append(
            f"<tr><th scope='row'>{side}</th><td>{sample['rows']:,}</td>"
            f"<td class='text'>{e(sample['source'])}</td></tr>"
        )
    parts.append("</tbody></table>")
    thresholds = summary["thresholds"]
    parts.append(
        "<h2>Rule</h2><p>An input is flagged when its Benjamini-Hochberg corrected p-value is "
        f"below {thresholds['alpha']} <em>and</em> its shift is large enough: PSI ≥ "
        f"{thresholds['psi']}, or Wasserstein distance / reference std ≥ "
        f"{thresholds['wasserstein_normed']} or a missing share moved by at least "
        f"{thresholds['missing_share']:.0%} points (numbers), or Jensen-Shannon distance ≥ "
        f"{thresholds['jensen_shannon']} (categories). Numbers: Kolmogorov-Smirnov test "
        "(and a chi-square test of the missing share); categories and 0/1 flags: chi-square, "
        "a missing value being a level. The verdict is <strong>drift</strong> when at least "
        f"{summary['share_threshold']:.0%} of the {summary['n_features']} inputs are flagged; "
        f"here {summary['n_drifted']} ({summary['drift_share']:.1%}).</p>"
    )
    if summary["importance_drift_share"] is not None:
        parts.append(
            "<p>Drifted inputs carry "
            f"{summary['importance_drift_share']:.1%} of the model's global importance "
            "(mean |SHAP|, for information).</p>"
        )

    prediction = summary["prediction"]
    parts.append("<h2>Prediction drift (default probability)</h2>")
    if prediction is not None:
        parts.append(
            "<table><caption>Default probability, reference vs current "
            f"({e(prediction['source'])})</caption><thead><tr>"
            + "".join(f"<th scope='col'>{h}</th>" for h in PREDICTION_HEADERS)
            + "</tr></thead><tbody><tr>"
            + "".join(f"<td>{_fmt(prediction[k], 4)}</td>" for k in PREDICTION_KEYS)
            + "</tr></tbody></table>"
        )
        png = _numeric_plot(
            "P(default)",
            "Default probability: reference vs current",
            result.reference_scores,
            result.current_scores,
        )
        alt = (
            f"Histogram of the default probability, reference (mean "
            f"{_fmt(prediction['reference_mean'], 4)}) vs current (mean "
            f"{_fmt(prediction['current_mean'], 4)}); PSI {_fmt(prediction['psi'])}, "
            f"{'drifted' if prediction['drifted'] else 'not drifted'}."
        )
        parts.append(
            f"<figure><img src='data:image/png;base64,{png}' alt='{e(alt)}'>"
            f"<figcaption>{e(alt)}</figcaption></figure>"
        )

    parts.append(
        "<h2>Every model input</h2><table><caption>Inputs, drifted first, then by the "
        "model's importance</caption><thead><tr>"
        + "".join(f"<th scope='col'>{h}</th>" for h in FEATURE_HEADERS)
        + "</tr></thead><tbody>"
    )
    for f in features:
        parts.append(
            f"<tr class='{'drifted' if f['drifted'] else ''}'>"
            f"<th scope='row'>{e(f['name'])}</th><td class='text'>{e(f['label'])}</td>"
            f"<td class='text'>{f['kind']}</td><td class='text'>{_effect_text(f)}</td>"
            f"<td>{_fmt(f['p_value'])}</td><td>{_fmt(f['p_adjusted'])}</td>"
            f"<td>{_fmt(f['psi'])}</td><td>{_fmt(f['missing_reference'])}</td>"
            f"<td>{_fmt(f['missing_current'])}</td><td>{_fmt(f['importance_rank'])}</td>"
            f"<td>{_fmt(f['drifted'])}</td></tr>"
        )
    parts.append("</tbody></table>")

    chosen = [f for f in features if f["drifted"]]
    chosen += sorted(
        (f for f in features if not f["drifted"] and f["importance_rank"] is not None),
        key=lambda f: f["importance_rank"],
    )
    chosen = chosen[: max(config.max_plots, sum(f["drifted"] for f in features))]
    parts.append(
        "<h2>Distributions</h2><p>Every drifted input, then the most important ones. "
        "Reference: blue, hatched; current: orange, dashed.</p>"
    )
    for f in chosen:
        name, kind = f["name"], f["kind"]
        ref_values = comparable(name, kind, _column(result.reference, name))
        cur_values = comparable(name, kind, _column(result.current, name))
        status = "drifted" if f["drifted"] else "not drifted"
        title = f"{name} — {f['label']} ({status})"
        if kind == "numeric":
            png = _numeric_plot(name, title, ref_values, cur_values)
        else:
            png = _categorical_plot(name, title, ref_values, cur_values)
        alt = (
            f"{'Histogram' if kind == 'numeric' else 'Bar chart of level shares'} of {name} "
            f"({f['label_en']}), reference vs current: {_effect_text(f)}, PSI {_fmt(f['psi'])}, "
            f"missing {_fmt(f['missing_reference'])} vs {_fmt(f['missing_current'])}; {status}."
        )
        parts.append(
            f"<figure><img src='data:image/png;base64,{png}' alt='{e(alt)}'>"
            f"<figcaption>{e(alt)}</figcaption></figure>"
        )
    parts.append(
        f"<footer><p>Generated {e(summary['generated_at'])} by <code>creditscore drift</code>."
        "</p></footer></main></body></html>"
    )
    return "\n".join(parts)


def _write_atomically(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, 0o644)  # a report to share, not a secret (mkstemp makes 0600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_outputs(result: DriftResult, out_dir: Path, config: DriftConfig) -> tuple[Path, Path]:
    """Write drift_summary.json and drift_report.html into ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    report = out_dir / REPORT_FILE
    _write_atomically(report, render_html(result, config))
    result.seconds["report"] = time.perf_counter() - started
    summary_path = out_dir / SUMMARY_FILE
    _write_atomically(
        summary_path, json.dumps(result.summary, indent=2, ensure_ascii=False, allow_nan=False)
    )
    return summary_path, report


# ============================================================================ entry point


@dataclass(frozen=True)
class DriftRun:
    """What :func:`run_drift` produced."""

    summary: dict[str, Any]
    summary_path: Path
    report_path: Path
    seconds: dict[str, float]


def run_drift(
    data_dir: Path,
    model_path: Path,
    out_dir: Path,
    from_logs: Sequence[Path] | None = None,
    config: DriftConfig | None = None,
) -> DriftRun:
    """The whole drift analysis: load, compare, write the summary and the HTML report.

    The reference is ``data_dir/application_train.csv``; the current clients are
    ``data_dir/application_test.csv``, or the served traffic of ``from_logs``.
    """
    config = config or DriftConfig()
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    model = ScoringModel.load(model_path, threads=0)
    kinds = input_kinds(model.spec)
    reference = file_sample(Path(data_dir) / TRAIN_FILE, kinds, with_target=True)
    if from_logs:
        current = read_traffic([Path(p) for p in from_logs], kinds)
    else:
        current = file_sample(Path(data_dir) / NEW_CLIENTS_FILE, kinds, with_target=False)
    seconds["load"] = time.perf_counter() - started
    result = compare(reference, current, model, config)
    summary_path, report_path = write_outputs(result, Path(out_dir), config)
    seconds.update(result.seconds)
    seconds["total"] = time.perf_counter() - started
    return DriftRun(result.summary, summary_path, report_path, seconds)
