"""The reference clients of one model version, indexed for the comparisons.

Built once per container and model version (:func:`reference_index`, cached): the bins of
every comparison feature (1-D and 2-D histograms), the bin code of every reference client,
the robust-scaled matrix of the nearest-neighbour search, and the statistics of the groups
asked for lately (their published histograms and sorted values). What a group may publish
follows :mod:`creditscore_common.privacy`; what is asked of it is in ``compare.py``.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from creditscore_common import profiles
from creditscore_common.errors import ModelUnavailableError
from creditscore_common.privacy import MIN_CLASS_SIZE, MIN_GROUP_SIZE, suppress_small
from creditscore_common.profiles import FEATURES_BY_NAME, ReferenceProfiles
from creditscore_common.provider import check_served_file
from creditscore_common.version import PROFILES_FILE

if TYPE_CHECKING:
    from creditscore_common.model import ScoringModel
    from creditscore_common.provider import ModelProvider

log = logging.getLogger(__name__)

N_BINS = 20
N_BINS_2D = 15
#: Histogram ranges run between these percentiles of all reference clients; the first and
#: last bins are open-ended (they also hold the clients beyond them).
EDGE_PERCENTILES = (1.0, 99.0)
#: Robust-scaled distances are capped so that one extreme value cannot decide alone.
SCALE_CAP = 5.0

IntArray = npt.NDArray[np.int64]
GroupKey = tuple[tuple[str, int], ...]


# --------------------------------------------------------------------------- bins
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
class Bins:
    """``count`` bins of ``width`` from ``start``, shared by both classes; end bins open."""

    start: float
    width: float
    count: int

    @classmethod
    def fit(cls, sorted_known: npt.NDArray[Any], n_bins: int, discrete: bool) -> Bins:
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
class Binning:
    """Bins of every feature and the bin code of every reference client."""

    bins: list[Bins]
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
    ) -> Binning:
        """The bins of each feature, fitted on its sorted known values, and every code."""
        bins: list[Bins] = []
        codes = np.empty(values_by_feature.shape, dtype=np.int16)
        for j, name in enumerate(names):
            feature = FEATURES_BY_NAME.get(name)
            bins.append(Bins.fit(sorted_known[j], n_bins, feature is not None and feature.discrete))
            codes[j] = bins[-1].codes(values_by_feature[j])
        return cls(bins, codes)


# --------------------------------------------------------------------------- groups


class ClassCounts(BaseModel):
    """Counts per bin for each class; null = 1 to 4 clients (suppressed)."""

    repaid: list[int | None]
    defaulted: list[int | None]


class MissingCounts(BaseModel):
    """Clients of each class with no value; null = suppressed."""

    repaid: int | None
    defaulted: int | None


@dataclass(frozen=True)
class GroupStats:
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
        self.bins = Binning.build(self.values_by_feature, self.sorted_known, names, N_BINS)
        self.bins_2d = Binning.build(self.values_by_feature, self.sorted_known, names, N_BINS_2D)
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
        self._groups: OrderedDict[GroupKey, GroupStats] = OrderedDict()
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

    def group_stats(self, codes: Mapping[str, int]) -> GroupStats:
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

    def _compute_group(self, codes: Mapping[str, int]) -> GroupStats:
        mask = self.group_mask(codes)
        target = self.target if mask is None else self.target[mask]
        by_class = np.bincount(target, minlength=2)
        stats = GroupStats(int(target.size), (int(by_class[0]), int(by_class[1])), [], [], [])
        if stats.too_small:
            return stats  # nothing is computed, so nothing can leak
        bin_codes = self.bins.codes if mask is None else self.bins.codes[:, mask]
        for j, bins in enumerate(self.bins.bins):
            counts, missing = class_histogram(bin_codes[j], target, bins.count)
            stats.counts.append(counts)
            stats.missing.append(missing)
            if mask is None:
                stats.sorted_values.append(self.sorted_known[j])
            else:
                values = self.values_by_feature[j][mask]
                stats.sorted_values.append(np.sort(values[np.isfinite(values)]))
        return stats


def class_histogram(
    codes: npt.NDArray[np.int16], target: IntArray, n_bins: int
) -> tuple[ClassCounts, MissingCounts]:
    """Published histogram of each class, and its missing count, from the bin codes."""
    # Cell 0 of each class holds the missing values, cells 1..n_bins the bins.
    cells = np.bincount(
        (codes.astype(np.int64) + 1) + target * (n_bins + 1), minlength=2 * (n_bins + 1)
    ).reshape(2, n_bins + 1)
    published = [suppress_small(np.append(row[1:], row[0])) for row in cells]
    return (
        ClassCounts(repaid=published[0][:-1], defaulted=published[1][:-1]),
        MissingCounts(repaid=published[0][-1], defaulted=published[1][-1]),
    )


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
    check_served_file(model, PROFILES_FILE)  # altered on disk since it was read: refused
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
