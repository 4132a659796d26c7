"""Comparison profiles: a few readable features, in human units, for reference and new clients.

The model's features (``features.py``) are what the model needs; an advisor needs something
else: an age in years, an employment length in years, amounts, ratios. This module holds the
one definition of those *comparison features* and of the *group codes* the comparisons can
filter on (age band, gender, contract type, income type, education). Numpy only: training
applies it to every reference client (:func:`build_reference_profiles`, saved in the model
version as ``reference_profiles.npz``); the client function applies it to one new client
(:func:`client_profile`). Both go through :func:`profile_columns`, so they cannot disagree.

The file holds values and the outcome of reference clients, never their ids. It sits in the
model version folder, whose metadata records its sha256; :func:`read_reference_profiles`
refuses a file whose hash differs. The API only ever returns aggregates computed from it.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from creditscore_common.features import (
    DAYS_PER_YEAR,
    RATIO_FEATURES,
    RawColumns,
    as_float,
    count_rows,
    safe_ratio,
)
from creditscore_common.reference_schema import DAYS_EMPLOYED_ANOMALY
from creditscore_common.version import PROFILES_FILE, ModelIntegrityError, read_verified

FloatArray = npt.NDArray[np.float64]

#: Layout version of that file; bumped on an incompatible change.
PROFILES_FORMAT = 1
#: Code of a group level that is missing or unknown (such a client matches no level filter).
UNKNOWN_GROUP = -1

Unit = Literal["years", "amount", "ratio", "score", "count", "rating"]


@dataclass(frozen=True)
class ComparisonFeature:
    """One comparison feature: its name, unit and how it is compared."""

    name: str
    unit: Unit
    #: Raw column(s) it is computed from; one column also gives the feature its label
    #: (AGE_YEARS is labelled as DAYS_BIRTH), several mean a derived feature of labels.py.
    source: tuple[str, ...]
    #: Integer-valued: histograms use one bin per value when there are few of them.
    discrete: bool = False
    #: Used in the distance of the nearest-neighbour search (``/similar``).
    similarity: bool = True


def _ratio_source(name: str) -> tuple[str, ...]:
    return RATIO_FEATURES[name]


#: The comparison features, in display order.
COMPARISON_FEATURES: tuple[ComparisonFeature, ...] = (
    ComparisonFeature("AGE_YEARS", "years", ("DAYS_BIRTH",)),
    ComparisonFeature("YEARS_EMPLOYED", "years", ("DAYS_EMPLOYED",)),
    ComparisonFeature("YEARS_REGISTRATION", "years", ("DAYS_REGISTRATION",), similarity=False),
    ComparisonFeature("YEARS_ID_PUBLISH", "years", ("DAYS_ID_PUBLISH",), similarity=False),
    ComparisonFeature("AMT_INCOME_TOTAL", "amount", ("AMT_INCOME_TOTAL",)),
    ComparisonFeature("AMT_CREDIT", "amount", ("AMT_CREDIT",)),
    ComparisonFeature("AMT_ANNUITY", "amount", ("AMT_ANNUITY",)),
    ComparisonFeature("AMT_GOODS_PRICE", "amount", ("AMT_GOODS_PRICE",), similarity=False),
    ComparisonFeature("CREDIT_INCOME_RATIO", "ratio", _ratio_source("CREDIT_INCOME_RATIO")),
    ComparisonFeature("ANNUITY_INCOME_RATIO", "ratio", _ratio_source("ANNUITY_INCOME_RATIO")),
    ComparisonFeature("ANNUITY_CREDIT_RATIO", "ratio", _ratio_source("ANNUITY_CREDIT_RATIO")),
    ComparisonFeature(
        "CREDIT_GOODS_RATIO", "ratio", _ratio_source("CREDIT_GOODS_RATIO"), similarity=False
    ),
    ComparisonFeature(
        "INCOME_PER_FAMILY_MEMBER",
        "amount",
        _ratio_source("INCOME_PER_FAMILY_MEMBER"),
        similarity=False,
    ),
    ComparisonFeature("EXT_SOURCE_1", "score", ("EXT_SOURCE_1",)),
    ComparisonFeature("EXT_SOURCE_2", "score", ("EXT_SOURCE_2",)),
    ComparisonFeature("EXT_SOURCE_3", "score", ("EXT_SOURCE_3",)),
    ComparisonFeature(
        "EXT_SOURCE_MEAN",
        "score",
        ("EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"),
        similarity=False,
    ),
    ComparisonFeature("CNT_CHILDREN", "count", ("CNT_CHILDREN",), discrete=True),
    ComparisonFeature("CNT_FAM_MEMBERS", "count", ("CNT_FAM_MEMBERS",), discrete=True),
    ComparisonFeature("REGION_RATING_CLIENT", "rating", ("REGION_RATING_CLIENT",), discrete=True),
    ComparisonFeature(
        "AMT_REQ_CREDIT_BUREAU_YEAR",
        "count",
        ("AMT_REQ_CREDIT_BUREAU_YEAR",),
        discrete=True,
        similarity=False,
    ),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in COMPARISON_FEATURES)
FEATURES_BY_NAME: dict[str, ComparisonFeature] = {f.name: f for f in COMPARISON_FEATURES}


@dataclass(frozen=True)
class GroupDimension:
    """A dimension the comparisons can filter on: its levels as URL-safe slugs."""

    name: str
    column: str
    #: slug -> raw value of the column (for age bands, the band's display text).
    levels: dict[str, str]
    #: Age bands only: lower edges (years) of every band but the first.
    edges: tuple[float, ...] = field(default_factory=tuple)

    @property
    def slugs(self) -> tuple[str, ...]:
        """Level slugs in code order (code i is ``slugs[i]``)."""
        return tuple(self.levels)


AGE_BAND_EDGES = (25.0, 35.0, 45.0, 55.0, 65.0)
GROUP_DIMENSIONS: tuple[GroupDimension, ...] = (
    GroupDimension(
        "age_band",
        "DAYS_BIRTH",
        {
            "under_25": "< 25",
            "25_35": "25-35",
            "35_45": "35-45",
            "45_55": "45-55",
            "55_65": "55-65",
            "65_plus": "65+",
        },
        AGE_BAND_EDGES,
    ),
    GroupDimension("gender", "CODE_GENDER", {"female": "F", "male": "M"}),
    GroupDimension(
        "contract_type",
        "NAME_CONTRACT_TYPE",
        {"cash": "Cash loans", "revolving": "Revolving loans"},
    ),
    GroupDimension(
        "income_type",
        "NAME_INCOME_TYPE",
        {
            "working": "Working",
            "commercial_associate": "Commercial associate",
            "pensioner": "Pensioner",
            "state_servant": "State servant",
            "unemployed": "Unemployed",
            "student": "Student",
            "businessman": "Businessman",
            "maternity_leave": "Maternity leave",
        },
    ),
    GroupDimension(
        "education",
        "NAME_EDUCATION_TYPE",
        {
            "secondary": "Secondary / secondary special",
            "higher": "Higher education",
            "incomplete_higher": "Incomplete higher",
            "lower_secondary": "Lower secondary",
            "academic_degree": "Academic degree",
        },
    ),
)
GROUP_NAMES: tuple[str, ...] = tuple(g.name for g in GROUP_DIMENSIONS)
GROUPS_BY_NAME: dict[str, GroupDimension] = {g.name: g for g in GROUP_DIMENSIONS}


# --------------------------------------------------------------------------- computing


def _texts(values: Any, n_rows: int) -> npt.NDArray[np.object_]:
    """Category values as an object array (None for missing)."""
    if values is None:
        return np.full(n_rows, None, dtype=object)
    return np.asarray(values, dtype=object).reshape(n_rows)


def _feature_values(columns: RawColumns, n_rows: int) -> dict[str, FloatArray]:
    def raw(name: str) -> FloatArray:
        return as_float(columns.get(name), n_rows)

    days_employed = raw("DAYS_EMPLOYED")
    days_employed[days_employed == DAYS_EMPLOYED_ANOMALY] = np.nan  # no employment
    values: dict[str, FloatArray] = {
        "AGE_YEARS": -raw("DAYS_BIRTH") / DAYS_PER_YEAR,
        "YEARS_EMPLOYED": -days_employed / DAYS_PER_YEAR,
        "YEARS_REGISTRATION": -raw("DAYS_REGISTRATION") / DAYS_PER_YEAR,
        "YEARS_ID_PUBLISH": -raw("DAYS_ID_PUBLISH") / DAYS_PER_YEAR,
    }
    for name in (
        "CREDIT_INCOME_RATIO",
        "ANNUITY_INCOME_RATIO",
        "ANNUITY_CREDIT_RATIO",
        "CREDIT_GOODS_RATIO",
    ):
        numerator, denominator = RATIO_FEATURES[name]
        values[name] = safe_ratio(raw(numerator), raw(denominator))
    numerator, denominator = RATIO_FEATURES["INCOME_PER_FAMILY_MEMBER"]
    values["INCOME_PER_FAMILY_MEMBER"] = safe_ratio(raw(numerator), raw(denominator))
    ext = np.column_stack([raw(f"EXT_SOURCE_{i}") for i in (1, 2, 3)])
    known = np.isfinite(ext)
    values["EXT_SOURCE_MEAN"] = safe_ratio(
        np.where(known, ext, 0.0).sum(axis=1), known.sum(axis=1).astype(np.float64)
    )
    for feature in COMPARISON_FEATURES:
        if feature.name not in values:
            values[feature.name] = raw(feature.name)
    return values


def profile_columns(columns: RawColumns, n_rows: int | None = None) -> npt.NDArray[np.float32]:
    """Comparison features of a batch of raw applications: float32, shape (n, features).

    Raw columns may lack any field (treated as missing). Values are not clipped: they are
    what the advisor reads (an income of 2,000,000 stays 2,000,000). ``n_rows`` is only
    needed when ``columns`` is empty.
    """
    n_rows = count_rows(columns) if n_rows is None else n_rows
    values = _feature_values(columns, n_rows)
    matrix = np.column_stack([values[name] for name in FEATURE_NAMES]) if n_rows else None
    if matrix is None:
        return np.empty((0, len(FEATURE_NAMES)), dtype=np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        out = matrix.astype(np.float32)
    out[~np.isfinite(out)] = np.nan  # an overflow to inf is no value either
    return out


def group_codes(columns: RawColumns, n_rows: int | None = None) -> npt.NDArray[np.int8]:
    """Group codes of a batch: int8, shape (n, dimensions); -1 where unknown."""
    n_rows = count_rows(columns) if n_rows is None else n_rows
    out = np.full((n_rows, len(GROUP_DIMENSIONS)), UNKNOWN_GROUP, dtype=np.int8)
    for j, dimension in enumerate(GROUP_DIMENSIONS):
        if dimension.edges:
            age = -as_float(columns.get(dimension.column), n_rows) / DAYS_PER_YEAR
            band = np.searchsorted(np.asarray(dimension.edges), age, side="right")
            out[:, j] = np.where(np.isfinite(age), band, UNKNOWN_GROUP)
            continue
        code_of = {raw: code for code, raw in enumerate(dimension.levels.values())}
        texts = _texts(columns.get(dimension.column), n_rows)
        out[:, j] = [code_of.get(v, UNKNOWN_GROUP) if isinstance(v, str) else -1 for v in texts]
    return out


def client_profile(record: Mapping[str, Any]) -> npt.NDArray[np.float32]:
    """Comparison features of one raw application (field -> value): shape (features,)."""
    batch = profile_columns({name: [value] for name, value in record.items()}, n_rows=1)
    return batch.reshape(-1)


def client_groups(record: Mapping[str, Any]) -> dict[str, str | None]:
    """The group level slug of one raw application on each dimension (None if unknown)."""
    codes = group_codes({name: [value] for name, value in record.items()}, n_rows=1)[0]
    return {
        dimension.name: dimension.slugs[code] if code >= 0 else None
        for dimension, code in zip(GROUP_DIMENSIONS, codes.tolist(), strict=True)
    }


# --------------------------------------------------------------------------- the file


@dataclass(frozen=True)
class ReferenceProfiles:
    """Comparison features, outcome and group codes of every reference client (no ids)."""

    feature_names: tuple[str, ...]
    values: npt.NDArray[np.float32]
    target: npt.NDArray[np.int8]
    group_names: tuple[str, ...]
    groups: npt.NDArray[np.int8]
    #: Level slugs of each group dimension, in code order, as training recorded them.
    group_levels: dict[str, tuple[str, ...]]

    @property
    def n_clients(self) -> int:
        """Number of reference clients."""
        return int(self.target.size)

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        """The arrays saved in ``reference_profiles.npz``."""
        arrays: dict[str, npt.NDArray[Any]] = {
            "format": np.array([PROFILES_FORMAT], dtype=np.int16),
            "feature_names": np.array(self.feature_names, dtype=np.str_),
            "values": self.values,
            "target": self.target,
            "group_names": np.array(self.group_names, dtype=np.str_),
            "groups": self.groups,
        }
        for name, levels in self.group_levels.items():
            arrays[f"levels__{name}"] = np.array(levels, dtype=np.str_)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[Any]]) -> ReferenceProfiles:
        """Inverse of :meth:`to_arrays` (ValueError on an unknown layout)."""
        layout = int(arrays["format"][0])
        if layout != PROFILES_FORMAT:
            raise ValueError(f"reference profiles format {layout}, expected {PROFILES_FORMAT}")
        group_names = tuple(str(n) for n in arrays["group_names"])
        profiles = cls(
            feature_names=tuple(str(n) for n in arrays["feature_names"]),
            values=np.asarray(arrays["values"], dtype=np.float32),
            target=np.asarray(arrays["target"], dtype=np.int8),
            group_names=group_names,
            groups=np.asarray(arrays["groups"], dtype=np.int8),
            group_levels={n: tuple(str(s) for s in arrays[f"levels__{n}"]) for n in group_names},
        )
        n = profiles.n_clients
        if profiles.values.shape != (n, len(profiles.feature_names)) or profiles.groups.shape != (
            n,
            len(group_names),
        ):
            raise ValueError("reference profiles arrays have inconsistent shapes")
        return profiles


def build_reference_profiles(
    columns: RawColumns, target: npt.NDArray[np.integer[Any]]
) -> ReferenceProfiles:
    """Profiles of all reference clients (training): float32 values, int8 target and groups."""
    values = profile_columns(columns)
    target8 = np.asarray(target, dtype=np.int8).reshape(-1)
    if target8.size != values.shape[0]:
        raise ValueError(f"{target8.size} targets for {values.shape[0]} clients")
    return ReferenceProfiles(
        feature_names=FEATURE_NAMES,
        values=values,
        target=target8,
        group_names=GROUP_NAMES,
        groups=group_codes(columns),
        group_levels={g.name: g.slugs for g in GROUP_DIMENSIONS},
    )


def write_reference_profiles(path: Path, profiles: ReferenceProfiles) -> None:
    """Save the profiles as a compressed ``.npz`` (no pickled objects)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **profiles.to_arrays())  # type: ignore[arg-type]
    path.write_bytes(buffer.getvalue())


class ProfileIntegrityError(ValueError):
    """The reference profiles are absent from a model version or differ from their hash."""


def read_reference_profiles(folder: Path, recorded_sha256: Mapping[str, str]) -> ReferenceProfiles:
    """Load ``reference_profiles.npz`` from a version folder, checking its recorded sha256."""
    if PROFILES_FILE not in recorded_sha256:
        raise ProfileIntegrityError(
            f"this model version records no {PROFILES_FILE}: retrain it to enable comparisons"
        )
    try:
        data = read_verified(folder, {"sha256": recorded_sha256}, PROFILES_FILE)
    except ModelIntegrityError as error:
        raise ProfileIntegrityError(str(error)) from error
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        return ReferenceProfiles.from_arrays({name: arrays[name] for name in arrays.files})
