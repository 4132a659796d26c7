"""The statistics of the drift report: effect sizes and hypothesis tests on two samples.

Pure functions of arrays (numbers as float with NaN for missing, categories as objects with
None for missing); the rule that combines them is :mod:`monitoring.compare`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

FloatArray = npt.NDArray[np.float64]

MISSING_LEVEL = "(missing)"
#: Shares below this are raised to it in PSI (an empty bin would make PSI infinite).
PSI_EPSILON = 1e-4
PSI_BINS = 10
#: Chi-square needs expected counts of about 5 or more in every cell.
MIN_EXPECTED_COUNT = 5.0


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
