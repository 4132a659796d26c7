"""The exploratory report's figures: PNG bytes, each with its text alternative and summary.

Okabe-Ito colours (safe for the common colour-vision deficiencies), and hatches or line
styles so that no colour alone tells two things apart. Every figure draws all the clients it
describes: histograms bin them, nothing is sampled.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # no screen needed: figures go to files
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure as MplFigure

from training.eda.analysis import (
    CategoricalAssociation,
    DriverDistribution,
    FloatArray,
    MissingColumn,
    NumericAssociation,
    OutlierShare,
    label,
    median,
)
from training.eda.text import limit, number, share

REPAID_COLOUR = "#0072B2"
DEFAULTED_COLOUR = "#D55E00"
NEUTRAL_COLOUR = "#009E73"
_DPI = 90
#: Below this |r| a correlation is called weak in the text.
WEAK_CORRELATION = 0.3


@dataclass(frozen=True)
class Figure:
    """One figure of the report: its file name, PNG bytes, text alternative and summary."""

    file_name: str
    png: bytes
    alt: str
    summary: str


def _png(figure: MplFigure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _range(values: FloatArray) -> tuple[float, float]:
    """The 0.5-99.5% range of values (a unit wide when they are all equal)."""
    if values.size == 0:
        return 0.0, 1.0
    low, high = np.quantile(values, [0.005, 0.995])
    return (float(low) - 0.5, float(high) + 0.5) if low == high else (float(low), float(high))


def missing_figure(columns: Sequence[MissingColumn], max_rate: float) -> Figure | None:
    """Missing share of every column that has missing values, with the drop line."""
    shown = [c for c in columns if c.missing_reference > 0]
    if not shown:
        return None
    beyond = [c for c in shown if c.missing_reference > max_rate]
    figure, axis = plt.subplots(figsize=(7.5, 0.15 * len(shown) + 1.3))
    positions = np.arange(len(shown))
    over = np.array([c.missing_reference > max_rate for c in shown])
    shares = np.array([c.missing_reference for c in shown])
    axis.barh(positions[~over], shares[~over], color=REPAID_COLOUR, height=0.8,
              label=f"kept (≤ {max_rate:.0%})")  # fmt: skip
    axis.barh(positions[over], shares[over], color=DEFAULTED_COLOUR, hatch="xx", height=0.8,
              label=f"dropped (> {max_rate:.0%})")  # fmt: skip
    axis.axvline(max_rate, color="black", linestyle="--", linewidth=1.2)
    axis.set_yticks(positions, [c.name for c in shown], fontsize=6)
    axis.invert_yaxis()
    axis.set_xlim(0, 1)
    axis.set_xlabel("share of reference clients with no value")
    axis.set_title(f"Missing values per column (dashed line: {max_rate:.0%})", fontsize=10)
    axis.legend(frameon=False, loc="lower right", fontsize=8)
    alt = (
        f"Horizontal bar chart of the missing share of the {len(shown)} columns that have "
        f"missing values, most missing first; a dashed line marks {max_rate:.0%} and the "
        f"{len(beyond)} columns beyond it are hatched."
    )
    first = shown[0]
    summary = (
        f"{len(shown)} of {len(columns)} columns have missing values among reference clients; "
        f"{len(beyond)} are missing for more than {max_rate:.0%} of them. The most missing is "
        f"{first.name} ({share(first.missing_reference)})."
    )
    return Figure("eda_missing_values.png", _png(figure), alt, summary)


def numeric_association_figure(associations: Sequence[NumericAssociation]) -> Figure:
    """Point-biserial and Spearman correlations with TARGET of the strongest numbers."""
    figure, axis = plt.subplots(figsize=(7.5, 0.3 * max(len(associations), 1) + 1.3))
    positions = np.arange(len(associations))
    axis.barh(positions - 0.2, [a.point_biserial for a in associations], height=0.4,
              color=REPAID_COLOUR, hatch="//", label="point-biserial r")  # fmt: skip
    axis.barh(positions + 0.2, [a.spearman for a in associations], height=0.4,
              color=DEFAULTED_COLOUR, label="Spearman ρ")  # fmt: skip
    axis.axvline(0, color="grey", linewidth=0.8)
    axis.set_yticks(positions, [a.name for a in associations], fontsize=7)
    axis.invert_yaxis()
    axis.set_xlabel("correlation with TARGET (> 0: more defaults as the value grows)")
    axis.set_title("Numbers most associated with default", fontsize=10)
    axis.legend(frameon=False, fontsize=8)
    strongest = "; ".join(
        f"{a.name} (r = {number(a.point_biserial)}, ρ = {number(a.spearman)})"
        for a in associations[:3]
    )
    alt = (
        f"Horizontal bar chart of the point-biserial and Spearman correlations with default of "
        f"the {len(associations)} most associated numbers, strongest first: {strongest}."
    )
    summary = (
        f"Strongest: {strongest}. A negative correlation means fewer defaults as the value grows."
    )
    if associations and abs(associations[0].point_biserial) < WEAK_CORRELATION:
        summary += " Every correlation is weak: no single number separates the classes."
    return Figure("eda_numeric_associations.png", _png(figure), alt, summary)


def categorical_association_figure(associations: Sequence[CategoricalAssociation]) -> Figure:
    """Cramér's V of the strongest categories (protected attributes hatched)."""
    figure, axis = plt.subplots(figsize=(7.5, 0.3 * max(len(associations), 1) + 1.3))
    positions = np.arange(len(associations))
    bars = axis.barh(positions, [a.cramers_v for a in associations], color=NEUTRAL_COLOUR)
    for bar, association in zip(bars, associations, strict=True):
        if association.protected:
            bar.set_hatch("xx")
    names = [f"{a.name} (protected)" if a.protected else a.name for a in associations]
    axis.set_yticks(positions, names, fontsize=7)
    axis.invert_yaxis()
    axis.set_xlabel("Cramér's V with TARGET (0: independent)")
    axis.set_title("Categories most associated with default", fontsize=10)
    strongest = "; ".join(f"{a.name} (V = {number(a.cramers_v)})" for a in associations[:3])
    alt = (
        f"Horizontal bar chart of Cramér's V between default and each of the "
        f"{len(associations)} most associated categories, strongest first: {strongest}."
    )
    summary = f"Strongest: {strongest}."
    if any(a.protected for a in associations):
        summary += " Protected attributes (hatched) are shown for fairness: never model inputs."
    return Figure("eda_categorical_associations.png", _png(figure), alt, summary)


def level_rate_figure(
    association: CategoricalAssociation, overall_rate: float, max_levels: int = 12
) -> Figure:
    """Default rate per level of one category (the most frequent levels), overall rate dashed."""
    levels = association.levels[:max_levels]
    figure, axis = plt.subplots(figsize=(7.5, 0.3 * len(levels) + 1.3))
    positions = np.arange(len(levels))
    axis.barh(positions, [lv.default_rate for lv in levels], color=NEUTRAL_COLOUR)
    axis.axvline(overall_rate, color="black", linestyle="--", linewidth=1.2)
    axis.set_yticks(positions, [f"{lv.level[:35]} (n={lv.count:,})" for lv in levels], fontsize=7)
    axis.invert_yaxis()
    axis.set_xlabel(f"default rate (dashed line: all clients, {share(overall_rate)})")
    axis.set_title(f"Default rate per level — {association.name}", fontsize=10)
    rated = [lv for lv in levels if lv.count >= 100] or list(levels)
    worst = max(rated, key=lambda lv: lv.default_rate)
    best = min(rated, key=lambda lv: lv.default_rate)
    more = f" (the {len(levels)} most frequent of {len(association.levels)})"
    alt = (
        f"Horizontal bar chart of the default rate of each level of {association.name}"
        f"{more if len(association.levels) > len(levels) else ''}, with the overall rate "
        f"{share(overall_rate)} as a dashed line."
    )
    summary = (
        f"{association.name} ({label(association.name)}): default rate from "
        f"{share(best.default_rate)} ({best.level}, {best.count:,} clients) to "
        f"{share(worst.default_rate)} ({worst.level}, {worst.count:,} clients) among levels of "
        f"at least 100 clients; chi² {number(association.chi2)}, Cramér's V "
        f"{number(association.cramers_v)}."
    )
    return Figure(f"eda_default_rate_{association.name}.png", _png(figure), alt, summary)


def driver_figure(driver: DriverDistribution) -> Figure:
    """Densities of one driver for repaid (blue, hatched) and defaulted (orange, dashed) clients."""
    both = np.concatenate([driver.repaid, driver.defaulted])
    low, high = _range(both)
    bins = list(np.linspace(low, high, 41))
    figure, axis = plt.subplots(figsize=(6.4, 3.2))
    if driver.repaid.size:
        axis.hist(np.clip(driver.repaid, low, high), bins=bins, density=True,
                  histtype="stepfilled", alpha=0.35, color=REPAID_COLOUR, hatch="//",
                  label=f"repaid (n={driver.repaid.size:,})")  # fmt: skip
    if driver.defaulted.size:
        axis.hist(np.clip(driver.defaulted, low, high), bins=bins, density=True,
                  histtype="step", linewidth=2, linestyle="--", color=DEFAULTED_COLOUR,
                  label=f"defaulted (n={driver.defaulted.size:,})")  # fmt: skip
    axis.set_title(f"{label(driver.name)} by outcome", fontsize=10)
    axis.set_xlabel(driver.name)
    axis.set_ylabel("density")
    axis.legend(frameon=False, fontsize=8)
    medians = (
        f"median {number(median(driver.repaid))} for repaid and "
        f"{number(median(driver.defaulted))} for defaulted clients"
    )
    alt = (
        f"Overlaid histograms of {label(driver.name)} ({driver.name}) for repaid and "
        f"defaulted clients, 0.5-99.5% range: {medians}."
    )
    summary = (
        f"{label(driver.name)}: {medians}; default rate {share(driver.rate_low)} in the "
        f"lowest fifth of values and {share(driver.rate_high)} in the highest fifth; missing "
        f"for {share(driver.missing_repaid)} of repaid and {share(driver.missing_defaulted)} "
        "of defaulted clients."
    )
    return Figure(f"eda_driver_{driver.name}.png", _png(figure), alt, summary)


def clipping_figure(outlier: OutlierShare, values: FloatArray) -> Figure:
    """One feature before clipping (all values, limits dashed) and after."""
    known = values[np.isfinite(values)]
    figure, (before, after) = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    # Histograms as one outline each (stairs), not one patch per bin: much faster to draw.
    counts, edges = np.histogram(known, bins=60)
    before.stairs(np.maximum(counts, 0.5), edges, baseline=0.5, fill=True, color=REPAID_COLOUR)
    before.set_yscale("log")
    before.set_ylim(bottom=0.5)
    for bound in (outlier.lower, outlier.upper):
        before.axvline(bound, color="black", linestyle="--", linewidth=1.2)
    before.set_title("before clipping (log count; limits dashed)", fontsize=9)
    before.set_xlabel(outlier.name)
    before.set_ylabel("clients")
    counts, edges = np.histogram(np.clip(known, outlier.lower, outlier.upper), bins=60)
    after.stairs(counts, edges, fill=True, color=NEUTRAL_COLOUR, hatch="//")
    after.set_title("after clipping (what the model reads)", fontsize=9)
    after.set_xlabel(outlier.name)
    figure.suptitle(f"{label(outlier.name)}: {share(outlier.share, 2)} of clients clipped",
                    fontsize=10)  # fmt: skip
    alt = (
        f"Two histograms of {outlier.name}: before clipping, values from "
        f"{limit(outlier.minimum)} to {limit(outlier.maximum)} with the limits "
        f"{limit(outlier.lower)} and {limit(outlier.upper)} dashed; after clipping, the "
        "same values held within the limits."
    )
    summary = (
        f"{outlier.name} ({label(outlier.name)}): {outlier.n_below:,} clients "
        f"({share(outlier.share_below, 2)}) raised to {limit(outlier.lower)} and "
        f"{outlier.n_above:,} ({share(outlier.share_above, 2)}) lowered to "
        f"{limit(outlier.upper)}; before clipping the values span {limit(outlier.minimum)} "
        f"to {limit(outlier.maximum)}."
    )
    return Figure(f"eda_clipping_{outlier.name}.png", _png(figure), alt, summary)
