"""The one feature transform, shared by training (a batch) and the functions (one record).

Numpy only: it runs inside the Lambda functions, where pandas is not shipped. The learned
state is a :class:`FeatureSpec`, a small JSON-serialisable object stored in each model
version's ``metadata.json``; fitting it needs the training table, applying it needs nothing
but the spec and raw application fields.

Steps, in order:

1. Clean: ``DAYS_EMPLOYED == 365243`` (no employment) becomes missing, with a 0/1 flag.
2. Domain (derived) features from the raw values: credit/income, annuity/income,
   annuity/credit, employed/age, income per family member, credit/goods price and EXT_SOURCE
   aggregates. The spec records which ones, in which order (``derived_features``), so that a
   version keeps computing its own list when the code learns a new one.
3. Numbers (raw and domain) are flattened at the quantiles learned on training data.
4. Categories become one 0/1 column per level seen in training; a missing or unseen level
   gives zeros on all of them, so nothing a client sends can break the transform.

Columns unknown for more than ``max_missing_rate`` of the training clients are dropped; the
list is recorded in the spec. Raw inputs may lack any column: it is then treated as missing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from creditscore_common.reference_schema import DAYS_EMPLOYED_ANOMALY, load_schema

FloatArray = npt.NDArray[np.float64]
#: Raw columns as arrays (numbers as float, categories as objects), or scalars for one record.
RawColumns = Mapping[str, Any]

#: DAYS_* fields count days before the application; this many make a year.
DAYS_PER_YEAR = 365.25

EMPLOYMENT_ANOMALY_FEATURE = "DAYS_EMPLOYED_ANOMALY"
EXT_SOURCES = ("EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3")

#: Domain features: name -> (numerator, denominator) of a ratio of raw columns.
RATIO_FEATURES: dict[str, tuple[str, str]] = {
    "CREDIT_INCOME_RATIO": ("AMT_CREDIT", "AMT_INCOME_TOTAL"),
    "ANNUITY_INCOME_RATIO": ("AMT_ANNUITY", "AMT_INCOME_TOTAL"),
    "ANNUITY_CREDIT_RATIO": ("AMT_ANNUITY", "AMT_CREDIT"),
    "EMPLOYED_AGE_RATIO": ("DAYS_EMPLOYED", "DAYS_BIRTH"),
    "INCOME_PER_FAMILY_MEMBER": ("AMT_INCOME_TOTAL", "CNT_FAM_MEMBERS"),
    "CREDIT_GOODS_RATIO": ("AMT_CREDIT", "AMT_GOODS_PRICE"),
}
EXT_SOURCE_FEATURES = (
    "EXT_SOURCE_MEAN",
    "EXT_SOURCE_MIN",
    "EXT_SOURCE_MAX",
    "EXT_SOURCE_PRODUCT",
    "EXT_SOURCE_MISSING_COUNT",
)


def domain_features() -> tuple[str, ...]:
    """The derived features this code computes, in the order a newly fitted spec lists them."""
    return (*RATIO_FEATURES, *EXT_SOURCE_FEATURES)


#: :func:`domain_features` as the code stands (a spec records its own list: ``derived_features``).
DOMAIN_FEATURES = domain_features()
#: The derived features of every version fitted before the spec recorded its own list:
#: written out, not computed, so that adding a feature to the code leaves them as they were.
LEGACY_DERIVED_FEATURES: tuple[str, ...] = (
    "CREDIT_INCOME_RATIO",
    "ANNUITY_INCOME_RATIO",
    "ANNUITY_CREDIT_RATIO",
    "EMPLOYED_AGE_RATIO",
    "INCOME_PER_FAMILY_MEMBER",
    "CREDIT_GOODS_RATIO",
    "EXT_SOURCE_MEAN",
    "EXT_SOURCE_MIN",
    "EXT_SOURCE_MAX",
    "EXT_SOURCE_PRODUCT",
    "EXT_SOURCE_MISSING_COUNT",
)


#: Protected attributes: never a model input (a lender may not decide on them). Training
#: still reads them from the raw files, for fairness reporting only.
PROTECTED_COLUMNS: tuple[str, ...] = ("CODE_GENDER",)
PROTECTED_REASON = "protected attribute: never a model input (fairness reporting only)"

#: Directions a credit officer expects, all else equal: +1 the risk of default never falls
#: when the feature grows, -1 it never rises. Training passes them to LightGBM as
#: ``monotone_constraints``; features left out (the loan term, age...) are free.
#: DAYS_EMPLOYED counts days before the application (negative): a longer employment is a
#: smaller number, hence +1.
MONOTONE_DIRECTIONS: dict[str, int] = {
    "EXT_SOURCE_1": -1,
    "EXT_SOURCE_2": -1,
    "EXT_SOURCE_3": -1,
    "EXT_SOURCE_MEAN": -1,
    "EXT_SOURCE_MIN": -1,
    "EXT_SOURCE_MAX": -1,
    "EXT_SOURCE_PRODUCT": -1,
    "AMT_INCOME_TOTAL": -1,
    "INCOME_PER_FAMILY_MEMBER": -1,
    "AMT_CREDIT": 1,
    "AMT_ANNUITY": 1,
    "CREDIT_INCOME_RATIO": 1,
    "ANNUITY_INCOME_RATIO": 1,
    "CREDIT_GOODS_RATIO": 1,
    "DAYS_EMPLOYED": 1,
    "EMPLOYED_AGE_RATIO": -1,
}

#: Defaults of the learned parts; recorded in the spec so a model version says what it used.
DEFAULT_MAX_MISSING_RATE = 0.60
DEFAULT_CLIP_QUANTILES = (0.001, 0.999)
DEFAULT_MIN_LEVEL_COUNT = 10
_LEVEL_SEPARATOR = "__"


@dataclass(frozen=True)
class OneHotColumn:
    """One categorical raw column and the levels that each get a 0/1 feature."""

    column: str
    levels: tuple[str, ...]
    features: tuple[str, ...]


@dataclass(frozen=True)
class FeatureSpec:
    """Everything the transform learned on training data; JSON round-trips via to_dict."""

    numeric_columns: tuple[str, ...]
    one_hot: tuple[OneHotColumn, ...]
    dropped_columns: dict[str, str]
    clip_limits: dict[str, tuple[float, float]]
    max_missing_rate: float = DEFAULT_MAX_MISSING_RATE
    clip_quantiles: tuple[float, float] = DEFAULT_CLIP_QUANTILES
    #: Domain features computed from raw values, in model order (after the anomaly flag).
    derived_features: tuple[str, ...] = field(default_factory=domain_features)
    _level_index: dict[str, dict[str, int]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _clip_bounds: list[FloatArray] = field(
        default_factory=list, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        unknown = [
            name
            for name in self.derived_features
            if name not in RATIO_FEATURES and name not in EXT_SOURCE_FEATURES
        ]
        if unknown:
            raise ValueError(f"derived feature(s) {unknown} are not computed by this code")
        # Lookups built once, so that transforming one record is a few vector operations.
        for encoded in self.one_hot:
            self._level_index[encoded.column] = {lvl: i for i, lvl in enumerate(encoded.levels)}
        limits = [self.clip_limits.get(f, (-math.inf, math.inf)) for f in self.numeric_features]
        self._clip_bounds.extend(np.array(limits, dtype=np.float64).reshape(-1, 2).T)

    @property
    def numeric_features(self) -> tuple[str, ...]:
        """Numeric features in model order: raw kept columns, the anomaly flag, domain ones."""
        return (*self.numeric_columns, EMPLOYMENT_ANOMALY_FEATURE, *self.derived_features)

    @property
    def features(self) -> tuple[str, ...]:
        """All feature names, in the order of the model's input vector."""
        one_hot = tuple(f for encoded in self.one_hot for f in encoded.features)
        return (*self.numeric_features, *one_hot)

    @property
    def input_columns(self) -> tuple[str, ...]:
        """Raw columns the transform reads (dropped ones excluded, domain inputs included)."""
        needed = set(self.numeric_columns) | {c.column for c in self.one_hot}
        for name in self.derived_features:
            needed |= set(RATIO_FEATURES.get(name, EXT_SOURCES))
        needed.add("DAYS_EMPLOYED")
        return tuple(c for c in load_schema().application_names if c in needed)

    def feature_origin(self) -> dict[str, dict[str, str]]:
        """For each feature, the raw column it comes from and its kind (for labels)."""
        origin: dict[str, dict[str, str]] = {}
        for name in self.numeric_columns:
            origin[name] = {"column": name, "kind": "raw"}
        origin[EMPLOYMENT_ANOMALY_FEATURE] = {"column": "DAYS_EMPLOYED", "kind": "flag"}
        for name in self.derived_features:
            origin[name] = {"column": name, "kind": "domain"}
        for encoded in self.one_hot:
            for level, feature in zip(encoded.levels, encoded.features, strict=True):
                origin[feature] = {"column": encoded.column, "kind": "level", "level": level}
        return origin

    def monotone_constraints(self) -> list[int]:
        """LightGBM's ``monotone_constraints``, one per feature in model order (0: free)."""
        return [MONOTONE_DIRECTIONS.get(name, 0) for name in self.features]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (stored in metadata.json)."""
        return {
            "features": list(self.features),
            "numeric_columns": list(self.numeric_columns),
            "derived_features": list(self.derived_features),
            "one_hot": [
                {"column": c.column, "levels": list(c.levels), "features": list(c.features)}
                for c in self.one_hot
            ],
            "dropped_columns": dict(self.dropped_columns),
            "clip_limits": {k: [lo, hi] for k, (lo, hi) in self.clip_limits.items()},
            "max_missing_rate": self.max_missing_rate,
            "clip_quantiles": list(self.clip_quantiles),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> FeatureSpec:
        """Rebuild a spec from :meth:`to_dict` output; checks the recorded feature order.

        A spec without ``derived_features`` (fitted before it was recorded) gets
        :data:`LEGACY_DERIVED_FEATURES`, the list the code computed then.
        """
        spec = cls(
            numeric_columns=tuple(raw["numeric_columns"]),
            one_hot=tuple(
                OneHotColumn(c["column"], tuple(c["levels"]), tuple(c["features"]))
                for c in raw["one_hot"]
            ),
            dropped_columns=dict(raw["dropped_columns"]),
            clip_limits={k: (float(v[0]), float(v[1])) for k, v in raw["clip_limits"].items()},
            max_missing_rate=float(raw["max_missing_rate"]),
            clip_quantiles=(float(raw["clip_quantiles"][0]), float(raw["clip_quantiles"][1])),
            derived_features=tuple(raw.get("derived_features", LEGACY_DERIVED_FEATURES)),
        )
        recorded = raw.get("features")
        if recorded is not None and list(recorded) != list(spec.features):
            raise ValueError("feature spec is inconsistent: recorded feature order differs")
        return spec


# --------------------------------------------------------------------------- helpers


def as_float(values: Any, n_rows: int) -> FloatArray:
    """Numbers as float64 with NaN for missing (None, NaN or an absent column)."""
    if values is None:
        return np.full(n_rows, np.nan)
    array = np.asarray(values)
    if array.dtype.kind in "OUS":
        array = np.array([_number_or_nan(v) for v in array.ravel()], dtype=np.float64)
    return np.asarray(array, dtype=np.float64).reshape(n_rows)


def _number_or_nan(value: Any) -> float:
    """A number as float; anything else (None, text, a list...) counts as missing."""
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return float(value)
    return math.nan


def _one_value(value: Any) -> npt.NDArray[Any]:
    """A length-1 object array holding ``value`` as is (a list stays one element)."""
    array = np.empty(1, dtype=object)
    array[0] = value
    return array


def safe_ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    """Numerator / denominator, missing where the denominator is zero or missing."""
    out = np.full(numerator.shape, np.nan)
    ok = np.isfinite(denominator) & (denominator != 0)
    np.divide(numerator, denominator, out=out, where=ok)
    return out


def _slug(level: str) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "_", level).strip("_") or "blank"


def _level_features(column: str, levels: Sequence[str]) -> tuple[str, ...]:
    """Feature names for one-hot levels: safe for LightGBM and unique within the column."""
    names: list[str] = []
    for level in levels:
        base = f"{column}{_LEVEL_SEPARATOR}{_slug(level)}"
        name, suffix = base, 2
        while name in names:
            name, suffix = f"{base}_{suffix}", suffix + 1
        names.append(name)
    return tuple(names)


def count_rows(columns: RawColumns) -> int:
    """Number of rows of raw columns (the length of the first one; 0 for none)."""
    for values in columns.values():
        return int(np.size(values))
    return 0


# --------------------------------------------------------------------------- the transform


def _numeric_block(spec: FeatureSpec, columns: RawColumns, n_rows: int) -> FloatArray:
    """Raw numeric, anomaly flag and domain features, before clipping, in model order."""

    def raw(name: str) -> FloatArray:
        return as_float(columns.get(name), n_rows)

    days_employed = raw("DAYS_EMPLOYED")
    anomaly = days_employed == DAYS_EMPLOYED_ANOMALY
    days_employed = np.where(anomaly, np.nan, days_employed)
    cleaned = {"DAYS_EMPLOYED": days_employed}

    def value(name: str) -> FloatArray:
        return cleaned[name] if name in cleaned else raw(name)

    out = np.empty((n_rows, len(spec.numeric_features)), dtype=np.float64)
    col = 0
    for name in spec.numeric_columns:
        out[:, col] = value(name)
        col += 1
    out[:, col] = anomaly.astype(np.float64)
    col += 1
    ext: dict[str, FloatArray] = {}
    for name in spec.derived_features:
        if name in RATIO_FEATURES:
            numerator, denominator = RATIO_FEATURES[name]
            out[:, col] = safe_ratio(value(numerator), value(denominator))
        else:
            ext = ext or _ext_source_features(raw)
            out[:, col] = ext[name]
        col += 1
    return out


def _ext_source_features(raw: Callable[[str], FloatArray]) -> dict[str, FloatArray]:
    """The EXT_SOURCE aggregates (:data:`EXT_SOURCE_FEATURES`) of raw columns."""
    ext = np.column_stack([raw(name) for name in EXT_SOURCES])
    known = np.isfinite(ext)
    n_known = known.sum(axis=1)
    has_any = n_known > 0
    filled_sum = np.where(known, ext, 0.0).sum(axis=1)
    return {
        "EXT_SOURCE_MEAN": safe_ratio(filled_sum, n_known.astype(np.float64)),
        "EXT_SOURCE_MIN": np.where(has_any, np.where(known, ext, np.inf).min(axis=1), np.nan),
        "EXT_SOURCE_MAX": np.where(has_any, np.where(known, ext, -np.inf).max(axis=1), np.nan),
        "EXT_SOURCE_PRODUCT": np.where(has_any, np.where(known, ext, 1.0).prod(axis=1), np.nan),
        "EXT_SOURCE_MISSING_COUNT": (len(EXT_SOURCES) - n_known).astype(np.float64),
    }


def _one_hot_block(spec: FeatureSpec, columns: RawColumns, n_rows: int) -> FloatArray:
    width = sum(len(c.levels) for c in spec.one_hot)
    out = np.zeros((n_rows, width), dtype=np.float64)
    offset = 0
    for encoded in spec.one_hot:
        index = spec._level_index[encoded.column]
        values = columns.get(encoded.column)
        if values is not None:
            flat = np.asarray(values, dtype=object).reshape(n_rows)
            # Unhashable or non-text values never match a level: they count as unseen.
            codes = np.fromiter(
                (index.get(v, -1) if isinstance(v, str) else -1 for v in flat),
                dtype=np.int64,
                count=n_rows,
            )
            rows = np.nonzero(codes >= 0)[0]
            out[rows, offset + codes[rows]] = 1.0
        offset += len(encoded.levels)
    return out


def transform_batch(
    spec: FeatureSpec, columns: RawColumns, n_rows: int | None = None
) -> npt.NDArray[np.float32]:
    """Turn raw columns (name -> array of one value per client) into the model's matrix.

    Returns float32, the precision the ONNX model reads, so that training, batch
    prediction and the functions all see the very same numbers.
    """
    if n_rows is None:
        n_rows = count_rows(columns)
    numeric = _numeric_block(spec, columns, n_rows)
    return _model_matrix(spec, numeric, columns, n_rows)


def _model_matrix(
    spec: FeatureSpec, numeric: FloatArray, columns: RawColumns, n_rows: int
) -> npt.NDArray[np.float32]:
    """Clip the numeric block (in place) and append the one-hot block: the model's input."""
    lower, upper = spec._clip_bounds
    np.clip(numeric, lower, upper, out=numeric)  # NaN stays NaN: missing is not an outlier
    matrix = np.hstack([numeric, _one_hot_block(spec, columns, n_rows)])
    return matrix.astype(np.float32)


def _record_columns(record: Mapping[str, Any]) -> dict[str, npt.NDArray[Any]]:
    """One-row columns of a record: numbers as float64 at once, anything else as is.

    Same values as the object arrays :func:`as_float` would convert (a bool, text or list
    stays an object, so it still counts as missing), without converting ~100 object arrays
    a request: the transform of one record costs a fraction of what it did.
    """
    columns: dict[str, npt.NDArray[Any]] = {}
    for name, value in record.items():
        if isinstance(value, float | int | np.integer | np.floating) and not isinstance(
            value, bool | np.bool_
        ):
            try:
                columns[name] = np.array([float(value)])
                continue
            except OverflowError:  # an int beyond float: left to the general path
                pass
        columns[name] = _one_value(value)
    return columns


def transform_record(spec: FeatureSpec, record: Mapping[str, Any]) -> npt.NDArray[np.float32]:
    """Transform one raw application (field -> value, any may be absent): shape (1, n)."""
    return transform_batch(spec, _record_columns(record), n_rows=1)


class RecordFeatures(NamedTuple):
    """One application transformed once: what the model reads, and the values before clipping."""

    #: The model's input row, shape (1, n_features): :func:`transform_record`'s answer.
    row: npt.NDArray[np.float32]
    #: The numeric features (raw, flag, domain) as computed from the raw values, before
    #: clipping, in :attr:`FeatureSpec.numeric_features` order (float32, as the row).
    unclipped: npt.NDArray[np.float32]

    def numeric_values(self, spec: FeatureSpec) -> dict[str, float]:
        """Numeric feature -> its unclipped value (what an advisor reads)."""
        return dict(zip(spec.numeric_features, self.unclipped.tolist(), strict=True))


def transform_record_features(spec: FeatureSpec, record: Mapping[str, Any]) -> RecordFeatures:
    """:func:`transform_record`, keeping the numeric features before clipping too."""
    columns = _record_columns(record)
    numeric = _numeric_block(spec, columns, 1)
    unclipped = numeric[0].astype(np.float32)
    return RecordFeatures(_model_matrix(spec, numeric, columns, 1), unclipped)


# --------------------------------------------------------------------------- fitting


def _missing_share(values: Any, categorical: bool) -> float:
    array = np.asarray(values, dtype=object if categorical else np.float64)
    if array.size == 0:
        return 1.0
    if categorical:
        return float(np.mean([not isinstance(v, str) for v in array]))
    return float(np.mean(~np.isfinite(array)))


def _quantile_limits(values: FloatArray, quantiles: tuple[float, float]) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return (-math.inf, math.inf)
    lo, hi = np.quantile(finite, quantiles)
    return (float(lo), float(hi))


def _distinct_levels(values: Iterable[Any], min_count: int) -> tuple[str, ...]:
    counts: dict[str, int] = {}
    for v in values:
        if isinstance(v, str):
            counts[v] = counts.get(v, 0) + 1
    # Most frequent first: a stable, readable order for the one-hot features.
    kept = [lvl for lvl, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return tuple(lvl for lvl in kept if counts[lvl] >= min_count)


def fit_feature_spec(
    columns: RawColumns,
    max_missing_rate: float = DEFAULT_MAX_MISSING_RATE,
    clip_quantiles: tuple[float, float] = DEFAULT_CLIP_QUANTILES,
    min_level_count: int = DEFAULT_MIN_LEVEL_COUNT,
    protected: Sequence[str] = PROTECTED_COLUMNS,
) -> FeatureSpec:
    """Learn the transform on the reference (training) clients only.

    Drops the ``protected`` columns (gender: never a model input; an empty tuple only for
    measuring what leaving them out costs), columns missing for more than
    ``max_missing_rate`` of clients or holding a single value, keeps category levels seen at
    least ``min_level_count`` times, and records the ``clip_quantiles`` of every numeric
    feature as its clipping limits.
    """
    schema = load_schema()
    dropped: dict[str, str] = {}
    numeric_columns: list[str] = []
    one_hot: list[OneHotColumn] = []
    for name in schema.application_names:
        spec_col = schema[name]
        values = columns.get(name)
        if name in protected:
            dropped[name] = PROTECTED_REASON
            continue
        if values is None:
            dropped[name] = "absent from the training data"
            continue
        missing = _missing_share(values, spec_col.is_categorical)
        if missing > max_missing_rate:
            dropped[name] = f"missing for {missing:.1%} of reference clients"
            continue
        if spec_col.is_categorical:
            levels = _distinct_levels(np.asarray(values, dtype=object), min_level_count)
            if len(levels) < 2 and missing == 0:
                dropped[name] = "a single level in the reference clients"
                continue
            one_hot.append(OneHotColumn(name, levels, _level_features(name, levels)))
        else:
            finite = np.asarray(values, dtype=np.float64)
            finite = finite[np.isfinite(finite)]
            if finite.size and finite.min() == finite.max() and missing == 0:
                dropped[name] = "a single value in the reference clients"
                continue
            numeric_columns.append(name)

    derived = domain_features()
    unclipped = FeatureSpec(
        tuple(numeric_columns), tuple(one_hot), dropped, {}, derived_features=derived
    )
    n_rows = count_rows(columns)
    numeric = _numeric_block(unclipped, columns, n_rows)
    clip_limits: dict[str, tuple[float, float]] = {}
    for j, name in enumerate(unclipped.numeric_features):
        column = numeric[:, j]
        finite = column[np.isfinite(column)]
        # Flags and small counts have nothing to flatten; clipping them would only lose levels.
        if np.unique(finite).size > 2:
            clip_limits[name] = _quantile_limits(column, clip_quantiles)
    return FeatureSpec(
        numeric_columns=tuple(numeric_columns),
        one_hot=tuple(one_hot),
        dropped_columns=dropped,
        clip_limits=clip_limits,
        max_missing_rate=max_missing_rate,
        clip_quantiles=clip_quantiles,
        derived_features=derived,
    )
