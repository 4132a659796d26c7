"""How a new client compares with the reference clients: aggregates only, never a row.

What the client function answers about comparisons, as logic apart from the routes:

* :func:`compare_client`: for each comparison feature, the client's value, its percentile
  among the reference clients of a group, and the distribution of the group by class
  (repaid / defaulted) as histograms with shared bin edges.
* :func:`bivariate`: a binned 2-D density of two features by class, and the client's point.
* :func:`similar_clients`: the default rate and a summary of the k nearest reference clients.

They read the reference index of the model version (``reference_index.py``) and publish
under the rules of ``privacy.py``: no count of 1 to 4 (with complementary suppression), no
group under :data:`~creditscore_common.privacy.MIN_GROUP_SIZE` clients or
:data:`~creditscore_common.privacy.MIN_CLASS_SIZE` of a class (a 422 ``group_too_small``
that does not say how small it is). Besides:

* ``similar`` needs ``k >= 20``; medians are rounded to 3 significant digits so that they
  describe a neighbourhood rather than repeat one client's exact figure; category shares
  resting on 1-4 clients are ``null``.
* No answer carries an id (SK_ID_CURR), a row or a per-client array.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from creditscore_common import profiles
from creditscore_common.clients import label_of, lang_field
from creditscore_common.errors import CreditScoreError
from creditscore_common.labels import DEFAULT_LANG, Lang
from creditscore_common.privacy import (
    MIN_CELL_COUNT,
    MIN_CLASS_SIZE,
    MIN_GROUP_SIZE,
    round_significant,
    suppress_small,
)
from creditscore_common.profiles import (
    COMPARISON_FEATURES,
    FEATURES_BY_NAME,
    GROUP_DIMENSIONS,
    GROUPS_BY_NAME,
)
from creditscore_common.reference_index import (
    ClassCounts,
    GroupStats,
    MissingCounts,
    ReferenceIndex,
    reference_index,
)

if TYPE_CHECKING:
    from creditscore_common.provider import ModelProvider
    from creditscore_common.store import Store

CLASS_NAMES = ("repaid", "defaulted")
SAME_LEVEL = "same"
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


class ComparisonQuery(GroupFilters):
    """Query of GET /clients/{client_id}/comparison."""

    lang: Lang = lang_field()

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

    lang: Lang = lang_field()

    x: str = Field(description="comparison feature on the horizontal axis", max_length=100)
    y: str = Field(description="comparison feature on the vertical axis", max_length=100)


# --------------------------------------------------------------------------- answers


class GroupSummary(BaseModel):
    """The reference group an answer is computed on."""

    filters: dict[str, str] = Field(
        description="dimension -> level slug (`same` resolved to the client's level)"
    )
    size: int = Field(description="reference clients in the group")
    by_class: dict[str, int] = Field(description="repaid / defaulted clients in the group")
    default_rate: float


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
) -> tuple[GroupStats, GroupSummary]:
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


def client_features(record: Mapping[str, Any]) -> dict[str, float]:
    """The client's comparison features by name."""
    values = profiles.client_profile(record).tolist()
    return dict(zip(profiles.FEATURE_NAMES, values, strict=True))


def _unit(name: str) -> str:
    return FEATURES_BY_NAME[name].unit


def _edge_list(edges: npt.NDArray[np.float64]) -> list[float]:
    """Bin edges for JSON (edges are always finite: none is left out)."""
    return [edge for edge in map(round_significant, edges.tolist()) if edge is not None]


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
    client = client_features(record)
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
                client_value=round_significant(float(value)),
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
    client = client_features(record)
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
            client_value=round_significant(float(client[name])),
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
