"""The statistics of the exploratory report: pure functions of validated application tables.

Every figure counts all clients: nothing here samples. Numbers are read through the shared
feature transform (:func:`numeric_view`), so that ``DAYS_EMPLOYED = 365243`` is missing and the
ratios are the model's own, never a second formula.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from creditscore_common.features import (
    DAYS_PER_YEAR,
    EMPLOYMENT_ANOMALY_FEATURE,
    PROTECTED_COLUMNS,
    FeatureSpec,
    transform_batch,
)
from creditscore_common.labels import column_label, feature_label
from creditscore_common.reference_schema import DAYS_EMPLOYED_ANOMALY, load_schema
from monitoring.inputs import comparable
from monitoring.stats import chi2_test, js_distance, ks_test, level_counts, numeric_psi, psi
from training.data import ApplicationTable

FloatArray = npt.NDArray[np.float64]
TargetArray = npt.NDArray[np.int8]

#: Pseudo-columns of the drivers section, in human units (computed from the transform's view).
AGE_YEARS = "AGE_YEARS"
EMPLOYMENT_YEARS = "EMPLOYMENT_YEARS"
_OWN_LABELS = {AGE_YEARS: "Age (years)", EMPLOYMENT_YEARS: "Employment length (years)"}
#: The main drivers shown by class: external scores, age, employment and the loan's weight.
DRIVERS = (
    "EXT_SOURCE_1",
    "EXT_SOURCE_2",
    "EXT_SOURCE_3",
    AGE_YEARS,
    EMPLOYMENT_YEARS,
    "CREDIT_INCOME_RATIO",
    "ANNUITY_INCOME_RATIO",
    "CREDIT_GOODS_RATIO",
)
#: The share of clients at each end of a driver's range whose default rates are compared.
DRIVER_TAIL = 0.2


def label(name: str) -> str:
    """English label of a raw column, a derived feature or a pseudo-column of this report."""
    if name in _OWN_LABELS:
        return _OWN_LABELS[name]
    try:
        return column_label(name).en
    except KeyError:
        return feature_label(name, {"kind": "domain", "column": name}).en


def is_number_column(name: str) -> bool:
    """Integer and float columns (flags and text levels are categories here, as in drift)."""
    return load_schema()[name].kind in ("integer", "float")


def missing_share(values: npt.NDArray[Any]) -> float:
    """Share of unknown values: NaN for numbers, None (or NaN) for categories."""
    if values.size == 0:
        return 1.0
    if values.dtype.kind == "f":
        return float(np.mean(np.isnan(values)))
    # The loader gives text or None; pandas tests that in C (a Python loop took seconds).
    return float(np.mean(pd.isna(values)))


# --------------------------------------------------------------------------- numbers


@dataclass(frozen=True)
class NumericView:
    """Every number column as the shared transform computes it, before clipping.

    The integer and float columns (``DAYS_EMPLOYED`` with the anomaly as missing), the anomaly
    flag and the derived features, as float32: the precision the model reads.
    """

    names: tuple[str, ...]
    matrix: npt.NDArray[np.float32]

    def column(self, name: str) -> npt.NDArray[np.float32]:
        """One column of the view."""
        return self.matrix[:, self.names.index(name)]


def numeric_view(spec: FeatureSpec, table: ApplicationTable) -> NumericView:
    """The transform of ``spec`` without clipping and on every number column, kept or not."""
    schema = load_schema()
    numbers = tuple(n for n in schema.application_names if is_number_column(n))
    unclipped = FeatureSpec(numbers, (), {}, {}, derived_features=spec.derived_features)
    return NumericView(unclipped.numeric_features, transform_batch(unclipped, table.columns))


# --------------------------------------------------------------------------- missing values


@dataclass(frozen=True)
class MissingColumn:
    """One application column's missing share, and why training drops it (None: kept)."""

    name: str
    missing_reference: float
    missing_new: float
    dropped_reason: str | None


def missing_columns(
    reference: ApplicationTable, new_clients: ApplicationTable, spec: FeatureSpec
) -> list[MissingColumn]:
    """Every application column, most missing (reference clients) first."""
    rows = [
        MissingColumn(
            name,
            missing_share(values),
            missing_share(new_clients.columns[name]),
            spec.dropped_columns.get(name),
        )
        for name, values in reference.columns.items()
    ]
    return sorted(rows, key=lambda r: (-r.missing_reference, r.name))


# --------------------------------------------------------------------------- associations


@dataclass(frozen=True)
class NumericAssociation:
    """Correlation of one number column with TARGET on the clients who have a value."""

    name: str
    n_known: int
    point_biserial: float
    p_value: float
    spearman: float


def numeric_associations(view: NumericView, target: TargetArray) -> list[NumericAssociation]:
    """Point-biserial and Spearman correlation of each number with TARGET, strongest first.

    The anomaly flag is left to its own section; columns with a single known value (or one
    class only) have no correlation and are left out.
    """
    y = target.astype(np.float64)
    found: list[NumericAssociation] = []
    for j, name in enumerate(view.names):
        if name == EMPLOYMENT_ANOMALY_FEATURE:
            continue
        values = view.matrix[:, j].astype(np.float64)
        known = np.isfinite(values)
        x, outcome = values[known], y[known]
        if x.size < 3 or np.ptp(x) == 0 or np.ptp(outcome) == 0:
            continue
        r, p = stats.pointbiserialr(outcome, x)
        # Spearman's rho is Pearson's r of the ranks; the ranks of a 0/1 outcome are an
        # affine map of it, which r ignores: one ranking instead of two (spearmanr's way).
        rho = np.corrcoef(stats.rankdata(x), outcome)[0, 1]
        found.append(NumericAssociation(name, int(x.size), float(r), float(p), float(rho)))
    return sorted(found, key=lambda a: (-abs(a.point_biserial), a.name))


@dataclass(frozen=True)
class LevelRate:
    """Clients and defaults at one level of a category (missing is a level)."""

    level: str
    count: int
    defaults: int

    @property
    def default_rate(self) -> float:
        """Share of the level's clients who defaulted."""
        return self.defaults / self.count if self.count else math.nan


@dataclass(frozen=True)
class CategoricalAssociation:
    """Default rate per level of one category and the chi-square test of independence.

    Cramér's V of the 2 × k table is sqrt(chi² / n): 0 independent, 1 the level decides.
    """

    name: str
    levels: tuple[LevelRate, ...]
    chi2: float
    p_value: float
    cramers_v: float

    @property
    def protected(self) -> bool:
        """A protected attribute: shown for fairness, never a model input."""
        return self.name in PROTECTED_COLUMNS


def categorical_association(
    name: str, values: npt.NDArray[Any], target: TargetArray
) -> CategoricalAssociation:
    """Default rate per level of one category column (text levels or a 0/1 flag).

    The test is monitoring's chi-square: sparse levels are pooled until every expected count
    is at least 5.
    """
    levels_seen = comparable(name, "categorical", values)
    names, repaid, defaulted = level_counts(levels_seen[target == 0], levels_seen[target == 1])
    rates = [
        LevelRate(level, int(r + d), int(d))
        for level, r, d in zip(names, repaid, defaulted, strict=True)
    ]
    rates.sort(key=lambda lv: (-lv.count, lv.level))
    chi2, p_value = chi2_test(repaid, defaulted)
    n = target.size
    v = math.sqrt(chi2 / n) if n else math.nan
    return CategoricalAssociation(name, tuple(rates), chi2, p_value, v)


def categorical_associations(
    table: ApplicationTable, target: TargetArray
) -> list[CategoricalAssociation]:
    """Every text and flag column's association with TARGET, strongest (Cramér's V) first."""
    found = [
        categorical_association(name, values, target)
        for name, values in table.columns.items()
        if not is_number_column(name)
    ]
    return sorted(found, key=lambda a: (-a.cramers_v, a.name))


# --------------------------------------------------------------------------- drivers by class


@dataclass(frozen=True)
class DriverDistribution:
    """One driver's known values per class, and its default rate at both ends of its range."""

    name: str
    repaid: FloatArray
    defaulted: FloatArray
    missing_repaid: float
    missing_defaulted: float
    rate_low: float
    rate_high: float


def _tail_rates(values: FloatArray, target: TargetArray) -> tuple[float, float]:
    """Default rate of the lowest and of the highest :data:`DRIVER_TAIL` of known values."""
    known = np.isfinite(values)
    order = np.argsort(values[known], kind="stable")
    outcome = target[known][order]
    tail = int(outcome.size * DRIVER_TAIL)
    if tail == 0:
        return math.nan, math.nan
    return float(outcome[:tail].mean()), float(outcome[-tail:].mean())


def driver_values(view: NumericView, name: str) -> FloatArray:
    """A driver's values: a view column, or age and employment in years from the days."""
    if name == AGE_YEARS:
        return -view.column("DAYS_BIRTH").astype(np.float64) / DAYS_PER_YEAR
    if name == EMPLOYMENT_YEARS:
        return -view.column("DAYS_EMPLOYED").astype(np.float64) / DAYS_PER_YEAR
    return view.column(name).astype(np.float64)


def driver_distributions(view: NumericView, target: TargetArray) -> list[DriverDistribution]:
    """The :data:`DRIVERS`, split into repaid (TARGET 0) and defaulted (TARGET 1) clients."""
    found = []
    for name in DRIVERS:
        values = driver_values(view, name)
        low, high = _tail_rates(values, target)
        by_class = [values[target == k] for k in (0, 1)]
        found.append(
            DriverDistribution(
                name,
                by_class[0][np.isfinite(by_class[0])],
                by_class[1][np.isfinite(by_class[1])],
                float(np.mean(np.isnan(by_class[0]))) if by_class[0].size else math.nan,
                float(np.mean(np.isnan(by_class[1]))) if by_class[1].size else math.nan,
                low,
                high,
            )
        )
    return found


def median(values: FloatArray) -> float:
    """Median of known values (NaN when there is none)."""
    return float(np.median(values)) if values.size else math.nan


# --------------------------------------------------------------------------- the anomaly


@dataclass(frozen=True)
class EmploymentAnomaly:
    """``DAYS_EMPLOYED = 365243``: who, how many, their default rate, and what training does."""

    n_reference: int
    n_anomaly: int
    #: Clients the transform flags (``DAYS_EMPLOYED_ANOMALY`` = 1): equals n_anomaly.
    n_flagged: int
    n_new: int
    n_new_anomaly: int
    #: (income type, clients with the anomaly, clients of that type), most anomalies first.
    by_income_type: tuple[tuple[str, int, int], ...]
    defaults_anomaly: int
    defaults_others: int
    p_value: float
    flag_is_model_feature: bool

    @property
    def rate_anomaly(self) -> float:
        """Default rate of the clients with the anomaly."""
        return self.defaults_anomaly / self.n_anomaly if self.n_anomaly else math.nan

    @property
    def rate_others(self) -> float:
        """Default rate of every other reference client."""
        others = self.n_reference - self.n_anomaly
        return self.defaults_others / others if others else math.nan


def employment_anomaly(
    reference: ApplicationTable,
    new_clients: ApplicationTable,
    view: NumericView,
    spec: FeatureSpec,
) -> EmploymentAnomaly:
    """Count the anomaly in the raw files and check that the transform flags every one."""
    assert reference.target is not None
    raw = reference.columns["DAYS_EMPLOYED"]
    anomaly = raw == DAYS_EMPLOYED_ANOMALY
    income = comparable("NAME_INCOME_TYPE", "categorical", reference.columns["NAME_INCOME_TYPE"])
    # Levels most frequent among the anomalies first; a missing income type is a level.
    levels, with_anomaly, everyone = level_counts(income[anomaly], income)
    by_type = [
        (level, int(n), int(total))
        for level, n, total in zip(levels, with_anomaly, everyone, strict=True)
        if n > 0
    ]
    target = reference.target
    defaults_anomaly = int(target[anomaly].sum())
    defaults_others = int(target[~anomaly].sum())
    n_anomaly = int(anomaly.sum())
    table = np.array(
        [
            [n_anomaly - defaults_anomaly, defaults_anomaly],
            [reference.n_rows - n_anomaly - defaults_others, defaults_others],
        ]
    )
    p_value = math.nan
    if (table.sum(axis=0) > 0).all() and (table.sum(axis=1) > 0).all():
        p_value = float(stats.chi2_contingency(table).pvalue)
    flag = view.column(EMPLOYMENT_ANOMALY_FEATURE)
    return EmploymentAnomaly(
        n_reference=reference.n_rows,
        n_anomaly=n_anomaly,
        n_flagged=int(np.sum(flag == 1)),
        n_new=new_clients.n_rows,
        n_new_anomaly=int(np.sum(new_clients.columns["DAYS_EMPLOYED"] == DAYS_EMPLOYED_ANOMALY)),
        by_income_type=tuple(by_type),
        defaults_anomaly=defaults_anomaly,
        defaults_others=defaults_others,
        p_value=p_value,
        flag_is_model_feature=EMPLOYMENT_ANOMALY_FEATURE in spec.features,
    )


# --------------------------------------------------------------------------- outliers


@dataclass(frozen=True)
class OutlierShare:
    """Reference clients whose value one clipping limit changes."""

    name: str
    lower: float
    upper: float
    n_below: int
    n_above: int
    n_rows: int
    minimum: float
    maximum: float

    @property
    def share_below(self) -> float:
        """Share of all reference clients raised to the lower limit."""
        return self.n_below / self.n_rows if self.n_rows else 0.0

    @property
    def share_above(self) -> float:
        """Share of all reference clients lowered to the upper limit."""
        return self.n_above / self.n_rows if self.n_rows else 0.0

    @property
    def share(self) -> float:
        """Share of all reference clients the clipping changes (a missing value never is)."""
        return self.share_below + self.share_above


def outlier_shares(
    values: Mapping[str, npt.NDArray[np.floating[Any]]],
    clip_limits: Mapping[str, tuple[float, float]],
) -> list[OutlierShare]:
    """Per clipped feature, the clients beyond its limits, most affected first.

    Compared at the values' own precision (float32 for the view: what the model reads), so a
    client counts exactly when clipping changes the number the model sees. The share is of
    all clients, missing ones included.
    """
    found = []
    for name, (lower, upper) in clip_limits.items():
        if name not in values:
            continue
        column = np.asarray(values[name])
        lo, hi = column.dtype.type(lower), column.dtype.type(upper)
        known = column[np.isfinite(column)]
        found.append(
            OutlierShare(
                name,
                float(lower),
                float(upper),
                int(np.sum(known < lo)),
                int(np.sum(known > hi)),
                int(column.size),
                float(known.min()) if known.size else math.nan,
                float(known.max()) if known.size else math.nan,
            )
        )
    return sorted(found, key=lambda o: (-o.share, o.name))


# --------------------------------------------------------------------------- reference vs new


@dataclass(frozen=True)
class ColumnShift:
    """How one column differs between reference and new clients (monitoring's statistics)."""

    name: str
    kind: str
    psi: float
    #: "KS" (numbers: Kolmogorov-Smirnov) or "JS" (categories: Jensen-Shannon distance).
    statistic_name: str
    statistic: float
    missing_reference: float
    missing_new: float
    model_input: bool


def column_shifts(
    reference: ApplicationTable, new_clients: ApplicationTable, spec: FeatureSpec
) -> list[ColumnShift]:
    """Every application column compared as the drift report does, largest PSI first."""
    inputs = set(spec.input_columns)
    found = []
    for name in reference.columns:
        kind = "numeric" if is_number_column(name) else "categorical"
        ref = comparable(name, kind, reference.columns[name])
        cur = comparable(name, kind, new_clients.columns[name])
        if kind == "numeric":
            value, statistic = numeric_psi(ref, cur), ks_test(ref, cur)[0]
        else:
            _, ref_counts, cur_counts = level_counts(ref, cur)
            value = psi(
                ref_counts / max(ref_counts.sum(), 1), cur_counts / max(cur_counts.sum(), 1)
            )
            statistic = js_distance(ref_counts, cur_counts)
        found.append(
            ColumnShift(
                name,
                kind,
                value,
                "KS" if kind == "numeric" else "JS",
                statistic,
                missing_share(ref),
                missing_share(cur),
                name in inputs,
            )
        )
    return sorted(found, key=lambda s: (-s.psi, s.name))


# --------------------------------------------------------------------------- everything


@dataclass(frozen=True)
class Exploration:
    """Every statistic of the report, computed on all clients of one data folder."""

    data_dir: str
    n_reference: int
    n_new: int
    default_rate: float
    spec: FeatureSpec
    #: The number columns before clipping (for the figures).
    view: NumericView
    missing: list[MissingColumn]
    numeric: list[NumericAssociation]
    categorical: list[CategoricalAssociation]
    drivers: list[DriverDistribution]
    anomaly: EmploymentAnomaly
    outliers: list[OutlierShare]
    shifts: list[ColumnShift]
