"""How a new client compares with the reference clients: aggregates only, never a row.

What the client function answers, as logic apart from the routes:

* :func:`client_page` and :func:`client_details`: the new clients of the store, listed and
  described in human units (ages and employment in years, amounts, family, housing...).
* :func:`compare_client`: for each comparison feature, the client's value, its percentile
  among the reference clients of a group, and the distribution of the group by class
  (repaid / defaulted) as histograms with shared bin edges.
* :func:`bivariate`: a binned 2-D density of two features by class, and the client's point.
* :func:`similar_clients`: the default rate and a summary of the k nearest reference clients.

Privacy rules, applied to every answer (the reference clients are real people):

* No count from 1 to 4 is ever published: such a bin or cell is ``null`` (suppressed). If a
  histogram then had exactly one suppressed cell, the smallest visible one is suppressed too,
  so that the published totals cannot give the hidden count back by subtraction. Zero is
  published: an empty bin says nothing about anyone.
* A group must hold at least :data:`MIN_GROUP_SIZE` reference clients and
  :data:`MIN_CLASS_SIZE` of each class, or the answer is a 422 ``group_too_small`` that does
  not say how small it is.
* ``similar`` needs ``k >= 20``; medians are rounded to 3 significant digits so that they
  describe a neighbourhood rather than repeat one client's exact figure; category shares
  resting on 1-4 clients are ``null``.
* No answer carries an id (SK_ID_CURR), a row or a per-client array.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from creditscore_common import labels, profiles
from creditscore_common.errors import CreditScoreError, ModelUnavailableError
from creditscore_common.factors import factor_members
from creditscore_common.labels import DEFAULT_LANG, Lang
from creditscore_common.profiles import (
    COMPARISON_FEATURES,
    FEATURES_BY_NAME,
    GROUP_DIMENSIONS,
    GROUPS_BY_NAME,
    ReferenceProfiles,
)

if TYPE_CHECKING:
    from creditscore_common.model import ScoringModel
    from creditscore_common.service import ModelProvider
    from creditscore_common.store import Store

log = logging.getLogger(__name__)

#: Smallest count published; 1-4 are suppressed (the rule of training/stats.py too).
MIN_CELL_COUNT = 5
#: Smallest group (reference clients after the filters) a comparison is computed on.
MIN_GROUP_SIZE = 100
#: Smallest number of clients of each class (repaid, defaulted) in a group.
MIN_CLASS_SIZE = 20
N_BINS = 20
N_BINS_2D = 15
#: Histogram ranges run between these percentiles of all reference clients; the first and
#: last bins are open-ended (they also hold the clients beyond them).
EDGE_PERCENTILES = (1.0, 99.0)
MIN_SIMILAR_K = 20
MAX_SIMILAR_K = 1000
DEFAULT_SIMILAR_K = 50
#: Robust-scaled distances are capped so that one extreme value cannot decide alone.
SCALE_CAP = 5.0
MEDIAN_DIGITS = 3
CLASS_NAMES = ("repaid", "defaulted")
SAME_LEVEL = "same"
#: Summary of the nearest neighbours: comparison features whose median is reported.
SIMILAR_SUMMARY = (
    "AGE_YEARS",
    "YEARS_EMPLOYED",
    "AMT_INCOME_TOTAL",
    "AMT_CREDIT",
    "AMT_ANNUITY",
    "CREDIT_INCOME_RATIO",
    "EXT_SOURCE_MEAN",
)

IntArray = npt.NDArray[np.int64]


# --------------------------------------------------------------------------- errors


class ComparisonRequestError(CreditScoreError):
    """The request names something that cannot be compared (answered with a 422)."""

    status_code = 422
    code = "invalid_request"


class UnknownFeatureError(ComparisonRequestError):
    """Comparison feature names that do not exist."""

    def __init__(self, names: Sequence[str], known: Sequence[str]) -> None:
        self.names = list(names)
        super().__init__(
            f"unknown comparison features: {', '.join(self.names)} (known: {', '.join(known)})"
        )


class GroupTooSmallError(ComparisonRequestError):
    """The filtered group of reference clients is too small to publish anything about."""

    code = "group_too_small"

    def __init__(self, filters: Mapping[str, str]) -> None:
        described = ", ".join(f"{k}={v}" for k, v in filters.items()) or "no filter"
        super().__init__(
            f"the group ({described}) holds fewer than {MIN_GROUP_SIZE} reference clients "
            f"or fewer than {MIN_CLASS_SIZE} of a class: widen the filters"
        )


# --------------------------------------------------------------------------- labels


def label_of(name: str, lang: Lang) -> str:
    """Label of a comparison feature or raw field in ``lang``, from labels.py.

    A comparison feature computed from one raw column takes that column's label (AGE_YEARS
    is "Age", from DAYS_BIRTH); one computed from several is a derived feature of labels.py.
    """
    feature = FEATURES_BY_NAME.get(name)
    if feature is not None and len(feature.source) > 1:
        return labels.feature_label(name, {"kind": "domain"}).text(lang)
    column = feature.source[0] if feature is not None else name
    return labels.column_label(column).text(lang)


def value_text(name: str, record: Mapping[str, Any], value: Any, lang: Lang) -> str:
    """A field's value as labels.py writes it ("45 ans", "202 500", "15,2 %", "oui")."""
    feature = FEATURES_BY_NAME.get(name)
    if feature is not None and len(feature.source) > 1:
        return labels.format_derived_value(name, value, lang)
    column = feature.source[0] if feature is not None else name
    return labels.format_value(column, record.get(column), lang)


# --------------------------------------------------------------------------- privacy


def suppress_small(counts: npt.ArrayLike) -> list[int | None]:
    """Counts fit for publication: 1-4 become None, plus one more if only one was hidden.

    ``counts`` are the cells of one table whose total is known to the reader (a class's
    histogram and its missing count, or a 2-D grid). A single suppressed cell could be
    recovered by subtraction, so the smallest visible non-zero cell is suppressed with it.
    """
    flat = np.asarray(counts, dtype=np.int64).ravel()
    hidden = (flat > 0) & (flat < MIN_CELL_COUNT)
    if int(hidden.sum()) == 1:
        visible = np.flatnonzero(flat >= MIN_CELL_COUNT)
        if visible.size:
            hidden[visible[np.argmin(flat[visible])]] = True
    return [None if h else int(c) for c, h in zip(flat.tolist(), hidden.tolist(), strict=True)]


def _round_significant(value: float, digits: int = MEDIAN_DIGITS) -> float | None:
    if not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


def _clean(value: float, digits: int = 6) -> float | None:
    """A JSON-safe float (None for NaN), trimmed to ``digits`` significant digits."""
    if not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


def _edge_list(edges: npt.NDArray[np.float64]) -> list[float]:
    """Bin edges for JSON (edges are always finite)."""
    return [float(f"{e:.6g}") for e in edges.tolist()]


# --------------------------------------------------------------------------- the index


def sorted_percentiles(sorted_known: npt.NDArray[Any], percentiles: Sequence[float]) -> list[float]:
    """Percentiles (0-100) of sorted values, linearly interpolated like ``np.percentile``."""
    last = sorted_known.size - 1
    out: list[float] = []
    for percentile in percentiles:
        position = last * percentile / 100.0
        low = math.floor(position)
        high = min(low + 1, last)
        below, above = float(sorted_known[low]), float(sorted_known[high])
        out.append(below + (above - below) * (position - low))
    return out


@dataclass(frozen=True)
class _Bins:
    """``count`` bins of ``width`` from ``start``, shared by both classes; end bins open."""

    start: float
    width: float
    count: int

    @classmethod
    def fit(cls, sorted_known: npt.NDArray[Any], n_bins: int, discrete: bool) -> _Bins:
        """Bins between the 1st and 99th percentiles; small integers get one bin a value."""
        if sorted_known.size == 0:
            return cls(0.0, 1.0, 1)
        lo, hi = sorted_percentiles(sorted_known, EDGE_PERCENTILES)
        if discrete and lo.is_integer() and hi.is_integer() and hi - lo < n_bins:
            return cls(lo - 0.5, 1.0, int(hi - lo) + 1)
        if hi <= lo:
            return cls(lo - 0.5, 1.0, 1)
        return cls(lo, (hi - lo) / n_bins, n_bins)

    @property
    def edges(self) -> npt.NDArray[np.float64]:
        """The ``count + 1`` bin edges."""
        return self.start + self.width * np.arange(self.count + 1, dtype=np.float64)

    def codes(self, values: npt.NDArray[Any]) -> IntArray:
        """Bin of each value (below the first edge: bin 0, above the last: the last), -1 missing.

        Arithmetic, not a search: the same float64 operations for a reference client and
        for the client being compared, so both land in the same bin.
        """
        as_float = np.asarray(values, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            position = np.clip(np.floor((as_float - self.start) / self.width), 0, self.count - 1)
        return np.where(np.isfinite(as_float), position, -1).astype(np.int64)


@dataclass(frozen=True)
class _Binning:
    bins: list[_Bins]
    #: (features, n) bin codes, -1 for missing: one contiguous row a feature; int16 keeps
    #: 307k reference clients x 21 features at 13 MB.
    codes: npt.NDArray[np.int16]

    @classmethod
    def build(
        cls,
        values_by_feature: npt.NDArray[np.float32],
        sorted_known: Sequence[npt.NDArray[np.float32]],
        names: Sequence[str],
        n_bins: int,
    ) -> _Binning:
        bins: list[_Bins] = []
        codes = np.empty(values_by_feature.shape, dtype=np.int16)
        for j, name in enumerate(names):
            feature = FEATURES_BY_NAME.get(name)
            bins.append(
                _Bins.fit(sorted_known[j], n_bins, feature is not None and feature.discrete)
            )
            codes[j] = bins[-1].codes(values_by_feature[j])
        return cls(bins, codes)


@dataclass(frozen=True)
class _GroupStats:
    """What a comparison publishes about one group, whatever the client: computed once."""

    size: int
    by_class: tuple[int, int]
    #: Per feature (reference column order): published histograms and missing counts.
    counts: list[ClassCounts]
    missing: list[MissingCounts]
    #: Per feature: the group's known values, sorted (for percentiles by binary search).
    sorted_values: list[npt.NDArray[np.float32]]

    @property
    def too_small(self) -> bool:
        """Whether nothing may be published about this group."""
        return self.size < MIN_GROUP_SIZE or min(self.by_class) < MIN_CLASS_SIZE


GroupKey = tuple[tuple[str, int], ...]


class ReferenceIndex:
    """Reference profiles of one model version with what every request reuses.

    Built once per container and model version (see :func:`reference_index`): bin edges and
    bin codes of every feature for the 1-D and 2-D histograms, the robust-scaled matrix of
    the nearest-neighbour search, and a small cache of group statistics (histograms and
    sorted values of the groups asked for lately; the unfiltered group is computed at once).
    """

    #: Group statistics kept: at most this many groups and this many times n rows in all.
    GROUP_CACHE_ENTRIES = 32
    GROUP_CACHE_ROWS_FACTOR = 4

    def __init__(self, reference: ReferenceProfiles, model_version: str) -> None:
        self.reference = reference
        self.model_version = model_version
        # Only features this code knows how to compute for a new client are comparable.
        self.features = tuple(n for n in reference.feature_names if n in FEATURES_BY_NAME)
        self.column = {name: j for j, name in enumerate(reference.feature_names)}
        self.group_column = {name: j for j, name in enumerate(reference.group_names)}
        # Feature-major copies: a feature's values (or a dimension's codes) are contiguous.
        self.values_by_feature = np.ascontiguousarray(reference.values.T)
        self.groups_by_dimension = np.ascontiguousarray(reference.groups.T)
        # Each feature sorted once: bin ranges, scales and the unfiltered percentiles.
        self.sorted_known = [np.sort(row[np.isfinite(row)]) for row in self.values_by_feature]
        names = reference.feature_names
        self.bins = _Binning.build(self.values_by_feature, self.sorted_known, names, N_BINS)
        self.bins_2d = _Binning.build(self.values_by_feature, self.sorted_known, names, N_BINS_2D)
        self.target = reference.target.astype(np.int64)
        self.default_rate = float(self.target.mean()) if self.target.size else math.nan
        self.similarity_features = tuple(n for n in self.features if FEATURES_BY_NAME[n].similarity)
        scales = [
            _robust_scale(self.sorted_known[self.column[n]]) for n in self.similarity_features
        ]
        self.center = np.array([center for center, _ in scales])
        self.scale = np.array([scale for _, scale in scales])
        # (similarity features, n), capped; a missing value counts as the median (distance 0).
        self.scaled = np.zeros((len(scales), reference.n_clients), dtype=np.float32)
        for s, name in enumerate(self.similarity_features):
            row = (self.values_by_feature[self.column[name]] - self.center[s]) / self.scale[s]
            np.clip(np.nan_to_num(row, nan=0.0), -SCALE_CAP, SCALE_CAP, out=self.scaled[s])
        self._groups: OrderedDict[GroupKey, _GroupStats] = OrderedDict()
        self._groups_lock = threading.Lock()
        self.group_stats({})  # the unfiltered group, at load time rather than on a request

    def scale_client(self, client: Mapping[str, float]) -> npt.NDArray[np.float64]:
        """The client's similarity features, robust-scaled (NaN where missing)."""
        raw = np.array([client.get(n, math.nan) for n in self.similarity_features])
        scaled: npt.NDArray[np.float64] = np.clip(
            (raw - self.center) / self.scale, -SCALE_CAP, SCALE_CAP
        )
        return scaled

    def distances(self, scaled_client: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
        """Squared distance of every reference client over the client's known features."""
        distance = np.zeros(self.reference.n_clients, dtype=np.float32)
        difference = np.empty_like(distance)
        for s in np.flatnonzero(np.isfinite(scaled_client)):
            np.subtract(self.scaled[s], np.float32(scaled_client[s]), out=difference)
            np.multiply(difference, difference, out=difference)
            distance += difference
        return distance

    def group_mask(self, codes: Mapping[str, int]) -> npt.NDArray[np.bool_] | None:
        """Rows of the reference clients in the group (None: no filter, every client)."""
        mask: npt.NDArray[np.bool_] | None = None
        for name, code in codes.items():
            rows = self.groups_by_dimension[self.group_column[name]] == code
            mask = rows if mask is None else mask & rows
        return mask

    def group_stats(self, codes: Mapping[str, int]) -> _GroupStats:
        """Histograms, missing counts and sorted values of a group (cached)."""
        key: GroupKey = tuple(sorted(codes.items()))
        with self._groups_lock:
            stats = self._groups.get(key)
            if stats is not None:
                self._groups.move_to_end(key)
                return stats
        stats = self._compute_group(codes)  # outside the lock: a duplicate is harmless
        with self._groups_lock:
            self._groups[key] = stats
            budget = self.GROUP_CACHE_ROWS_FACTOR * max(self.reference.n_clients, 1)
            while len(self._groups) > 1 and (
                len(self._groups) > self.GROUP_CACHE_ENTRIES
                or sum(g.size for g in self._groups.values()) > budget
            ):
                self._groups.popitem(last=False)
        return stats

    def _compute_group(self, codes: Mapping[str, int]) -> _GroupStats:
        mask = self.group_mask(codes)
        target = self.target if mask is None else self.target[mask]
        by_class = np.bincount(target, minlength=2)
        stats = _GroupStats(int(target.size), (int(by_class[0]), int(by_class[1])), [], [], [])
        if stats.too_small:
            return stats  # nothing is computed, so nothing can leak
        bin_codes = self.bins.codes if mask is None else self.bins.codes[:, mask]
        for j, bins in enumerate(self.bins.bins):
            counts, missing = _class_histogram(bin_codes[j], target, bins.count)
            stats.counts.append(counts)
            stats.missing.append(missing)
            if mask is None:
                stats.sorted_values.append(self.sorted_known[j])
            else:
                values = self.values_by_feature[j][mask]
                stats.sorted_values.append(np.sort(values[np.isfinite(values)]))
        return stats


def _robust_scale(sorted_known: npt.NDArray[np.float32]) -> tuple[float, float]:
    """Median and interquartile range (the 5-95% range, then 1, if that is zero)."""
    if sorted_known.size == 0:
        return 0.0, 1.0
    q05, q25, q50, q75, q95 = sorted_percentiles(sorted_known, (5, 25, 50, 75, 95))
    spread = q75 - q25 if q75 > q25 else q95 - q05
    return q50, spread if spread > 0 else 1.0


_cache: dict[str, ReferenceIndex] = {}
_cache_lock = threading.Lock()
#: Versions kept in memory: the active one and the one before (during a switch).
_CACHE_SIZE = 2


def reference_index(model: ScoringModel) -> ReferenceIndex:
    """The reference index of a model version, loaded and verified once per container."""
    index = _cache.get(model.version)
    if index is not None:
        return index
    with _cache_lock:
        index = _cache.get(model.version)
        if index is None:
            try:
                reference = profiles.read_reference_profiles(
                    model.folder, model.metadata.get("sha256", {})
                )
            except (OSError, KeyError, ValueError) as error:
                log.error("reference profiles of %s refused: %s", model.version, error)
                raise ModelUnavailableError(
                    f"model {model.version}: reference profiles unavailable: {error}"
                ) from error
            index = ReferenceIndex(reference, model.version)
            while len(_cache) >= _CACHE_SIZE:
                _cache.pop(next(iter(_cache)))
            _cache[model.version] = index
            log.info("reference profiles of %s loaded", model.version)
        return index


def clear_cache() -> None:
    """Forget the loaded reference indexes (tests)."""
    with _cache_lock:
        _cache.clear()


def warm_up(models: Callable[[], ModelProvider]) -> None:
    """Load the active version's reference profiles now (cold start); failures are logged."""
    try:
        reference_index(models().current())
    except Exception as error:  # answered later as a clean 503 by the routes
        log.warning("warm-up could not load the reference profiles: %s", error)


# --------------------------------------------------------------------------- requests


def _filter_field(name: str) -> Any:
    """A group filter query parameter, documented with its levels."""
    dimension = GROUPS_BY_NAME[name]
    levels = ", ".join(f"`{slug}` ({raw})" for slug, raw in dimension.levels.items())
    return Field(
        None,
        description=f"keep the reference clients of one {name.replace('_', ' ')}: {levels}, "
        f"or `{SAME_LEVEL}` for the client's own",
        json_schema_extra={"enum": [*dimension.slugs, SAME_LEVEL]},
        max_length=50,
    )


class GroupFilters(BaseModel):
    """Filters of the reference group; an omitted filter keeps every level."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    age_band: str | None = _filter_field("age_band")
    gender: str | None = _filter_field("gender")
    contract_type: str | None = _filter_field("contract_type")
    income_type: str | None = _filter_field("income_type")
    education: str | None = _filter_field("education")

    @field_validator(*(g.name for g in GROUP_DIMENSIONS))
    @classmethod
    def _known_level(cls, value: str | None, info: ValidationInfo) -> str | None:
        allowed = (*GROUPS_BY_NAME[str(info.field_name)].slugs, SAME_LEVEL)
        if value is not None and value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value

    def requested(self) -> dict[str, str]:
        """The filters that were given (dimension -> slug or ``same``)."""
        chosen = {g.name: getattr(self, g.name) for g in GROUP_DIMENSIONS}
        return {name: slug for name, slug in chosen.items() if slug is not None}


def _lang_field() -> Any:
    return Field(DEFAULT_LANG, description="language of the labels")


class ComparisonQuery(GroupFilters):
    """Query of GET /clients/{client_id}/comparison."""

    lang: Lang = _lang_field()

    features: str | None = Field(
        None,
        description="comma-separated comparison features (default: all of them): "
        + ", ".join(f.name for f in COMPARISON_FEATURES),
        max_length=2000,
    )

    def feature_names(self) -> list[str] | None:
        """The requested features, or None for all."""
        if not self.features:
            return None
        return [name.strip() for name in self.features.split(",") if name.strip()]


class BivariateQuery(GroupFilters):
    """Query of GET /clients/{client_id}/bivariate."""

    lang: Lang = _lang_field()

    x: str = Field(description="comparison feature on the horizontal axis", max_length=100)
    y: str = Field(description="comparison feature on the vertical axis", max_length=100)


class SimilarQuery(BaseModel):
    """Query of GET /clients/{client_id}/similar."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lang: Lang = _lang_field()
    k: int = Field(
        DEFAULT_SIMILAR_K,
        ge=MIN_SIMILAR_K,
        le=MAX_SIMILAR_K,
        description=f"number of nearest reference clients ({MIN_SIMILAR_K} to "
        f"{MAX_SIMILAR_K}; fewer would describe too few people)",
    )


# --------------------------------------------------------------------------- answers


class GroupSummary(BaseModel):
    """The reference group an answer is computed on."""

    filters: dict[str, str] = Field(
        description="dimension -> level slug (`same` resolved to the client's level)"
    )
    size: int = Field(description="reference clients in the group")
    by_class: dict[str, int] = Field(description="repaid / defaulted clients in the group")
    default_rate: float


class ClassCounts(BaseModel):
    """Counts per bin for each class; null = 1 to 4 clients (suppressed)."""

    repaid: list[int | None]
    defaulted: list[int | None]


class MissingCounts(BaseModel):
    """Clients of each class with no value; null = suppressed."""

    repaid: int | None
    defaulted: int | None


class FeatureComparison(BaseModel):
    """One feature: the client's value, its percentile and the group's histogram by class."""

    feature: str
    label: str
    unit: str
    client_value: float | None
    client_bin: int | None = Field(description="index of the bin holding the client's value")
    percentile: float | None = Field(
        description="share (0-100) of the group's known values below the client's (ties count half)"
    )
    bin_edges: list[float] = Field(
        description="shared edges; the first and last bins are open-ended"
    )
    counts: ClassCounts
    missing: MissingCounts


class ComparisonResponse(BaseModel):
    """How a client compares with a group of reference clients, feature by feature."""

    client_id: int
    model_version: str
    lang: Lang
    group: GroupSummary
    min_cell_count: int = Field(description="smaller counts are published as null")
    features: list[FeatureComparison]


class Axis(BaseModel):
    """One axis of a bivariate density."""

    feature: str
    label: str
    unit: str
    client_value: float | None
    bin_edges: list[float]


class GridCounts(BaseModel):
    """Counts per cell, ``[x_bin][y_bin]``, for each class; null = suppressed."""

    repaid: list[list[int | None]]
    defaulted: list[list[int | None]]


class BivariateResponse(BaseModel):
    """Binned 2-D density of two features by class, with the client's point."""

    client_id: int
    model_version: str
    lang: Lang
    group: GroupSummary
    min_cell_count: int
    x: Axis
    y: Axis
    counts: GridCounts
    missing: MissingCounts = Field(description="clients with x or y missing, by class")


class ScoreBin(BaseModel):
    """Reference clients whose out-of-fold probability fell near the client's probability."""

    lower: float = Field(description="lowest probability of the bin")
    upper: float = Field(description="highest probability of the bin")
    n_clients: int
    default_rate: float = Field(description="observed default rate in the bin")
    mean_probability: float = Field(description="mean out-of-fold probability in the bin")


class SimilarResponse(BaseModel):
    """Default rate and summary of the k reference clients nearest to the client."""

    client_id: int
    model_version: str
    lang: Lang
    k: int
    n_defaulted: int
    n_repaid: int
    default_rate: float
    reference_default_rate: float
    features_used: list[str] = Field(description="features of the (robust-scaled) distance")
    probability: float = Field(description="the client's P(default), as on the score route")
    score_bin: ScoreBin | None = Field(
        description="observed default rate of reference clients with a similar score "
        "(the calibration bin of the client's probability; null for a model version "
        "trained before bins were recorded)"
    )
    explanation: str = Field(
        description="one sentence on the gap between the neighbours' default rate and the score"
    )
    medians: dict[str, float | None] = Field(description="3 significant digits")
    client_values: dict[str, float | None] = Field(
        description="the client's own values of the summarised features, same units"
    )
    factors: dict[str, str] = Field(description="summarised feature -> its factor key")
    shares: dict[str, dict[str, float | None]] = Field(
        description="share of each level among the k clients (null: 1 to 4 clients)"
    )


# --------------------------------------------------------------------------- logic


def _resolve_group(
    index: ReferenceIndex, requested: Mapping[str, str], own: Mapping[str, str | None]
) -> tuple[dict[str, str], dict[str, int]]:
    """Slugs (``same`` resolved) and codes of the requested filters."""
    filters: dict[str, str] = {}
    codes: dict[str, int] = {}
    for name, slug in requested.items():
        if slug == SAME_LEVEL:
            own_level = own.get(name)
            if own_level is None:
                raise ComparisonRequestError(
                    f"{name}={SAME_LEVEL}: the client's {name.replace('_', ' ')} is unknown"
                )
            slug = own_level
        levels = index.reference.group_levels.get(name)
        if levels is None or slug not in levels:
            raise ComparisonRequestError(f"{name}={slug}: not a level of this model version")
        filters[name] = slug
        codes[name] = levels.index(slug)
    return filters, codes


def _group(
    index: ReferenceIndex, filters: Mapping[str, str], codes: Mapping[str, int]
) -> tuple[_GroupStats, GroupSummary]:
    """The group's statistics and summary (GroupTooSmallError if it is too small)."""
    stats = index.group_stats(codes)
    if stats.too_small:
        raise GroupTooSmallError(filters)
    summary = GroupSummary(
        filters=dict(filters),
        size=stats.size,
        by_class={name: stats.by_class[c] for c, name in enumerate(CLASS_NAMES)},
        default_rate=round(stats.by_class[1] / stats.size, 4),
    )
    return stats, summary


def _check_features(index: ReferenceIndex, names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in index.features]
    if unknown:
        raise UnknownFeatureError(unknown, index.features)


def percentile_rank(sorted_known: npt.NDArray[Any], value: float) -> float | None:
    """Mid-rank percentile (0-100, 1 decimal) of ``value`` among sorted known values.

    Ties count half: among 1, 2, 3, 4 the value 3 ranks (2 + 0.5) / 4 = 62.5.
    """
    if not math.isfinite(value) or sorted_known.size == 0:
        return None
    # The needle in the array's own type: searching float32 values with a Python float
    # would copy the whole array to float64 on every call.
    needle = sorted_known.dtype.type(value)
    below = int(np.searchsorted(sorted_known, needle, side="left"))
    equal = int(np.searchsorted(sorted_known, needle, side="right")) - below
    return round(100.0 * (below + 0.5 * equal) / sorted_known.size, 1)


def _class_histogram(
    codes: npt.NDArray[np.int16], target: IntArray, n_bins: int
) -> tuple[ClassCounts, MissingCounts]:
    # Cell 0 of each class holds the missing values, cells 1..n_bins the bins.
    cells = np.bincount(
        (codes.astype(np.int64) + 1) + target * (n_bins + 1), minlength=2 * (n_bins + 1)
    ).reshape(2, n_bins + 1)
    published = [suppress_small(np.append(row[1:], row[0])) for row in cells]
    return (
        ClassCounts(repaid=published[0][:-1], defaulted=published[1][:-1]),
        MissingCounts(repaid=published[0][-1], defaulted=published[1][-1]),
    )


def _client_values(record: Mapping[str, Any]) -> dict[str, float]:
    """The client's comparison features by name."""
    values = profiles.client_profile(record).tolist()
    return dict(zip(profiles.FEATURE_NAMES, values, strict=True))


def _unit(name: str) -> str:
    return FEATURES_BY_NAME[name].unit


def compare_client(
    index: ReferenceIndex,
    client_id: int,
    record: Mapping[str, Any],
    features: Sequence[str] | None,
    requested: Mapping[str, str],
    lang: Lang = DEFAULT_LANG,
) -> ComparisonResponse:
    """Compare one client's features with a filtered group of reference clients."""
    names = list(features) if features else list(index.features)
    _check_features(index, names)
    filters, codes = _resolve_group(index, requested, profiles.client_groups(record))
    stats, group = _group(index, filters, codes)
    client = _client_values(record)
    compared: list[FeatureComparison] = []
    for name in names:
        j = index.column[name]
        bins = index.bins.bins[j]
        # The reference values are float32: compare the client's at the same precision.
        value = np.float32(client[name])
        client_bin = int(bins.codes(np.array([value]))[0])
        compared.append(
            FeatureComparison(
                feature=name,
                label=label_of(name, lang),
                unit=_unit(name),
                client_value=_clean(float(value)),
                client_bin=client_bin if client_bin >= 0 else None,
                percentile=percentile_rank(stats.sorted_values[j], float(value)),
                bin_edges=_edge_list(bins.edges),
                counts=stats.counts[j],
                missing=stats.missing[j],
            )
        )
    return ComparisonResponse(
        client_id=client_id,
        model_version=index.model_version,
        lang=lang,
        group=group,
        min_cell_count=MIN_CELL_COUNT,
        features=compared,
    )


def bivariate(
    index: ReferenceIndex,
    client_id: int,
    record: Mapping[str, Any],
    x: str,
    y: str,
    requested: Mapping[str, str],
    lang: Lang = DEFAULT_LANG,
) -> BivariateResponse:
    """2-D histogram by class of features ``x`` and ``y`` over a group, cells < 5 suppressed."""
    _check_features(index, [n for n in dict.fromkeys((x, y))])
    if x == y:
        raise ComparisonRequestError("x and y must be two different features")
    filters, codes = _resolve_group(index, requested, profiles.client_groups(record))
    _, group = _group(index, filters, codes)
    client = _client_values(record)
    jx, jy = index.column[x], index.column[y]
    mask = index.group_mask(codes)
    target = index.target if mask is None else index.target[mask]
    x_bins, y_bins = index.bins_2d.codes[jx], index.bins_2d.codes[jy]
    if mask is not None:
        x_bins, y_bins = x_bins[mask], y_bins[mask]
    nx, ny = index.bins_2d.bins[jx].count, index.bins_2d.bins[jy].count
    # One count a cell and class: cell 0 holds the clients with x or y missing.
    cell = np.where((x_bins >= 0) & (y_bins >= 0), x_bins.astype(np.int64) * ny + y_bins + 1, 0)
    n_cells = nx * ny + 1
    counts = np.bincount(cell + target * n_cells, minlength=2 * n_cells).reshape(2, n_cells)
    grids: list[list[list[int | None]]] = []
    missing: list[int | None] = []
    for row in counts:
        published = suppress_small(np.append(row[1:], row[0]))
        grids.append([published[i * ny : (i + 1) * ny] for i in range(nx)])
        missing.append(published[-1])

    def axis(name: str, j: int) -> Axis:
        return Axis(
            feature=name,
            label=label_of(name, lang),
            unit=_unit(name),
            client_value=_clean(float(client[name])),
            bin_edges=_edge_list(index.bins_2d.bins[j].edges),
        )

    return BivariateResponse(
        client_id=client_id,
        model_version=index.model_version,
        lang=lang,
        group=group,
        min_cell_count=MIN_CELL_COUNT,
        x=axis(x, jx),
        y=axis(y, jy),
        counts=GridCounts(repaid=grids[0], defaulted=grids[1]),
        missing=MissingCounts(repaid=missing[0], defaulted=missing[1]),
    )


def similar_clients(
    index: ReferenceIndex,
    client_id: int,
    record: Mapping[str, Any],
    k: int,
    model: ScoringModel,
    lang: Lang = DEFAULT_LANG,
) -> SimilarResponse:
    """Default rate and summary of the k nearest reference clients (aggregates only).

    Beside them: the observed default rate of reference clients with a similar score, and
    one sentence on why the neighbours may disagree with the score.
    """
    if k < MIN_SIMILAR_K:
        raise ComparisonRequestError(f"k must be at least {MIN_SIMILAR_K}")
    n_reference = index.reference.n_clients
    k = min(k, n_reference)
    if k < MIN_SIMILAR_K:
        raise ComparisonRequestError("too few reference clients for a neighbourhood")
    client = _client_values(record)
    scaled = index.scale_client(client)
    known = np.isfinite(scaled)
    if not known.any():
        raise ComparisonRequestError("the client has none of the features the search uses")
    distance = index.distances(scaled)
    nearest = np.argpartition(distance, k - 1)[:k] if k < n_reference else np.arange(k)
    target = index.target[nearest]
    n_defaulted = int(target.sum())
    medians: dict[str, float | None] = {}
    for name in SIMILAR_SUMMARY:
        if name not in index.column:
            continue
        values = index.reference.values[nearest, index.column[name]]
        values = values[np.isfinite(values)]
        medians[name] = (
            _round_significant(float(np.median(values))) if values.size >= MIN_CELL_COUNT else None
        )
    shares: dict[str, dict[str, float | None]] = {}
    for name, levels in index.reference.group_levels.items():
        codes = index.reference.groups[nearest, index.group_column[name]].astype(np.int64)
        counts = np.bincount(codes[codes >= 0], minlength=len(levels))
        shares[name] = {
            level: None if 0 < n < MIN_CELL_COUNT else round(n / k, 4)
            for level, n in zip(levels, counts.tolist(), strict=True)
        }
    probability = model.score_record(record)
    score_bin = score_bin_of(model.metadata.get("score_bins"), probability)
    rate = n_defaulted / k
    used = [n for n, ok in zip(index.similarity_features, known, strict=True) if ok]
    return SimilarResponse(
        client_id=client_id,
        model_version=index.model_version,
        lang=lang,
        probability=probability,
        score_bin=score_bin,
        explanation=_gap_sentence(k, rate, probability, score_bin, used, lang),
        client_values={
            name: _round_significant(client[name]) if math.isfinite(client[name]) else None
            for name in medians
        },
        factors={name: summary_factor(name) for name in medians},
        k=k,
        n_defaulted=n_defaulted,
        n_repaid=k - n_defaulted,
        default_rate=round(n_defaulted / k, 4),
        reference_default_rate=round(index.default_rate, 4),
        features_used=used,
        medians=medians,
        shares=shares,
    )


def score_bin_of(bins: Mapping[str, Any] | None, probability: float) -> ScoreBin | None:
    """The recorded bin of out-of-fold probabilities that ``probability`` falls in."""
    if not bins or not bins.get("edges"):
        return None
    edges = [float(e) for e in bins["edges"]]
    j = int(np.searchsorted(edges, probability, side="right")) - 1
    j = min(max(j, 0), len(edges) - 2)
    n = int(bins["n_clients"][j])
    if n < MIN_GROUP_SIZE:
        return None
    return ScoreBin(
        lower=edges[j],
        upper=edges[j + 1],
        n_clients=n,
        default_rate=round(int(bins["n_defaulted"][j]) / n, 4),
        mean_probability=round(float(bins["mean_probability"][j]), 4),
    )


def summary_factor(name: str) -> str:
    """The factor (factors.py) a comparison feature belongs to."""
    members = factor_members()
    if name in members:
        return members[name]
    return members[FEATURES_BY_NAME[name].source[0]]


def _gap_sentence(
    k: int,
    rate: float,
    probability: float,
    score_bin: ScoreBin | None,
    used: Sequence[str],
    lang: Lang,
) -> str:
    """Neighbours, similar scores and the score in one or two sentences an advisor can say."""
    pct = labels.format_percent
    names = ", ".join(label_of(n, lang).lower() for n in used)
    if lang == "fr":
        text = (
            f"Parmi les {k} clients de référence les plus proches ({names}), "
            f"{pct(rate, lang)} ont fait défaut."
        )
        if score_bin is not None:
            text += (
                f" Parmi les {score_bin.n_clients} clients de référence dont le score était "
                f"voisin ({pct(score_bin.lower, lang)} à {pct(score_bin.upper, lang)}), "
                f"{pct(score_bin.default_rate, lang)} ont fait défaut : c'est ce que "
                f"mesure le score de {pct(probability, lang)}."
            )
        if abs(rate - probability) >= max(0.03, probability / 2):
            text += (
                f" L'écart vient de ce que le voisinage ne compare que ces "
                f"{len(used)} caractéristiques, tandis que le score pèse tout le dossier "
                f"(scores externes en tête), et que {k} clients font un petit échantillon."
            )
        return text
    text = f"Among the {k} most similar reference clients ({names}), {pct(rate, lang)} defaulted."
    if score_bin is not None:
        text += (
            f" Among the {score_bin.n_clients} reference clients with a similar score "
            f"({pct(score_bin.lower, lang)} to {pct(score_bin.upper, lang)}), "
            f"{pct(score_bin.default_rate, lang)} defaulted: that is what the score of "
            f"{pct(probability, lang)} measures."
        )
    if abs(rate - probability) >= max(0.03, probability / 2):
        text += (
            f" The gap comes from the neighbourhood comparing only these {len(used)} "
            "characteristics while the score weighs the whole file (external scores "
            f"first), and from {k} clients being a small sample."
        )
    return text


# --------------------------------------------------------------------------- new clients

Section = Literal["identity", "family", "employment", "housing", "loan", "income", "scores"]

#: What an advisor reads about a client: (field, section, unit, decimals), in display order.
#: Fields named like a comparison feature come from :func:`profiles.client_profile` (human
#: units); the others are raw application fields (texts, Y/N flags as booleans, numbers).
DETAIL_FIELDS: tuple[tuple[str, Section, str | None, int | None], ...] = (
    ("AGE_YEARS", "identity", "years", 1),
    ("CODE_GENDER", "identity", None, None),
    ("NAME_EDUCATION_TYPE", "identity", None, None),
    ("NAME_FAMILY_STATUS", "family", None, None),
    ("CNT_CHILDREN", "family", "count", 0),
    ("CNT_FAM_MEMBERS", "family", "count", 0),
    ("NAME_INCOME_TYPE", "employment", None, None),
    ("OCCUPATION_TYPE", "employment", None, None),
    ("ORGANIZATION_TYPE", "employment", None, None),
    ("YEARS_EMPLOYED", "employment", "years", 1),
    ("NAME_HOUSING_TYPE", "housing", None, None),
    ("FLAG_OWN_REALTY", "housing", None, None),
    ("FLAG_OWN_CAR", "housing", None, None),
    ("OWN_CAR_AGE", "housing", "years", 0),
    ("REGION_RATING_CLIENT", "housing", "rating", 0),
    ("NAME_CONTRACT_TYPE", "loan", None, None),
    ("AMT_CREDIT", "loan", "amount", 2),
    ("AMT_ANNUITY", "loan", "amount", 2),
    ("AMT_GOODS_PRICE", "loan", "amount", 2),
    ("ANNUITY_CREDIT_RATIO", "loan", "ratio", 4),
    ("NAME_TYPE_SUITE", "loan", None, None),
    ("AMT_INCOME_TOTAL", "income", "amount", 2),
    ("CREDIT_INCOME_RATIO", "income", "ratio", 3),
    ("ANNUITY_INCOME_RATIO", "income", "ratio", 3),
    ("INCOME_PER_FAMILY_MEMBER", "income", "amount", 2),
    ("EXT_SOURCE_1", "scores", "score", 3),
    ("EXT_SOURCE_2", "scores", "score", 3),
    ("EXT_SOURCE_3", "scores", "score", 3),
)
_YES_NO = {"Y": True, "N": False}


class ClientField(BaseModel):
    """One labelled fact about a client, in human units."""

    name: str = Field(description="field or comparison feature name")
    label: str
    section: Section
    value: bool | int | float | str | None = Field(
        description="in the unit given (years, amount, ratio...); raw text for categories"
    )
    unit: str | None = Field(description="years, amount, ratio, ...; null for texts")
    text: str = Field(description="the value written for people, in the requested language")


class ClientDetails(BaseModel):
    """What an advisor needs to know about a new client (not the 120 raw fields)."""

    client_id: int
    lang: Lang
    groups: dict[str, str | None] = Field(
        description="the client's level on each comparison group dimension"
    )
    fields: list[ClientField]


class ClientQuery(BaseModel):
    """Query of GET /clients/{client_id}."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lang: Lang = _lang_field()


class ClientListQuery(BaseModel):
    """Query of GET /clients."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(20, ge=1, le=100, description="clients per page")
    cursor: int | None = Field(
        None, ge=0, description="`next_cursor` of the previous page (omit for the first)"
    )
    q: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="search: every word must match; a word of digits matches the start of "
        "the client id, any other word a part (case-insensitive) of the contract type, income "
        "type, education or occupation. E.g. `10001`, `pensioner`, `revolving 1002`",
    )


class ClientSummary(BaseModel):
    """A line of the client list."""

    client_id: int
    contract_type: str | None
    income_type: str | None
    gender: str | None
    age_years: float | None
    income: float | None
    credit: float | None


class ClientPage(BaseModel):
    """A page of new clients; follow ``next_cursor`` until it is null."""

    clients: list[ClientSummary]
    next_cursor: int | None
    limit: int
    q: str | None


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def client_page(store: Store, query: ClientListQuery) -> ClientPage:
    """A page of new clients of the store (GET /clients)."""
    rows, next_cursor = store.list_clients(query.limit, query.cursor, query.q)
    clients = []
    for client_id, summary in rows:
        days_birth = _number(summary.get("DAYS_BIRTH"))
        clients.append(
            ClientSummary(
                client_id=client_id,
                contract_type=_text(summary.get("NAME_CONTRACT_TYPE")),
                income_type=_text(summary.get("NAME_INCOME_TYPE")),
                gender=_text(summary.get("CODE_GENDER")),
                age_years=None
                if days_birth is None
                else round(-days_birth / profiles.DAYS_PER_YEAR, 1),
                income=_number(summary.get("AMT_INCOME_TOTAL")),
                credit=_number(summary.get("AMT_CREDIT")),
            )
        )
    return ClientPage(clients=clients, next_cursor=next_cursor, limit=query.limit, q=query.q)


def describe_client(
    client_id: int, record: Mapping[str, Any], lang: Lang = DEFAULT_LANG
) -> ClientDetails:
    """The labelled, human-unit description of one raw application."""
    profile = dict(
        zip(profiles.FEATURE_NAMES, profiles.client_profile(record).tolist(), strict=True)
    )
    fields = []
    for name, section, unit, decimals in DETAIL_FIELDS:
        value: bool | int | float | str | None
        # Raw fields as given (exact amounts); derived ones from the profile (human units).
        raw = record.get(name) if name in record or name not in profile else profile[name]
        if name.startswith("FLAG_OWN_"):
            value = _YES_NO.get(raw) if isinstance(raw, str) else None
        elif unit is None:
            value = _text(raw)
        else:
            number = _number(raw)
            if number is None or decimals is None:
                value = number
            elif decimals == 0:
                value = round(number)
            else:
                value = round(number, decimals)
        fields.append(
            ClientField(
                name=name,
                label=label_of(name, lang),
                section=section,
                value=value,
                unit=unit,
                text=value_text(name, record, raw, lang),
            )
        )
    return ClientDetails(
        client_id=client_id, lang=lang, groups=profiles.client_groups(record), fields=fields
    )


def client_details(store: Store, client_id: int, query: ClientQuery) -> ClientDetails:
    """GET /clients/{client_id}."""
    return describe_client(client_id, store.get_client(client_id), query.lang)


# --------------------------------------------------------------------------- entry points


def client_comparison(
    store: Store, models: ModelProvider, client_id: int, query: ComparisonQuery
) -> ComparisonResponse:
    """GET /clients/{client_id}/comparison."""
    record = store.get_client(client_id)
    index = reference_index(models.current())
    return compare_client(
        index, client_id, record, query.feature_names(), query.requested(), query.lang
    )


def client_bivariate(
    store: Store, models: ModelProvider, client_id: int, query: BivariateQuery
) -> BivariateResponse:
    """GET /clients/{client_id}/bivariate."""
    record = store.get_client(client_id)
    index = reference_index(models.current())
    return bivariate(index, client_id, record, query.x, query.y, query.requested(), query.lang)


def client_similar(
    store: Store, models: ModelProvider, client_id: int, query: SimilarQuery
) -> SimilarResponse:
    """GET /clients/{client_id}/similar."""
    record = store.get_client(client_id)
    model = models.current()
    index = reference_index(model)
    return similar_clients(index, client_id, record, query.k, model, query.lang)
