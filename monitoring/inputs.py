"""What the drift report compares: the model inputs, how each is compared, what each weighs.

The inputs are the raw application columns the model version's transform reads, compared
as numbers or as categories (:func:`input_kinds`), each weighted by its share of the model's
importance (:func:`column_importance`). A :class:`Sample` holds them for one group of
clients; :func:`file_sample` reads one from an application file (the served traffic is read
by :mod:`monitoring.traffic`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from creditscore_common.features import (
    EMPLOYMENT_ANOMALY_FEATURE,
    EXT_SOURCE_FEATURES,
    EXT_SOURCES,
    RATIO_FEATURES,
    FeatureSpec,
)
from creditscore_common.model import ScoringModel
from creditscore_common.reference_schema import DAYS_EMPLOYED_ANOMALY, load_schema
from creditscore_common.version import IMPORTANCE_FILE
from monitoring.stats import FloatArray
from training.data import load_applications

Columns = dict[str, npt.NDArray[Any]]


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

    def column(self, name: str) -> npt.NDArray[Any]:
        """The values of one input; all missing when the sample lacks it."""
        values = self.columns.get(name)
        if values is None:  # a log written by another model version may lack a column
            return np.full(self.rows, np.nan)
        return values


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
    """Mean |SHAP| per feature from the version's global_importance.json ({} if absent).

    Read through the version's one verified read, like every other file of a version.
    """
    if IMPORTANCE_FILE not in model.metadata.get("sha256", {}):
        return {}
    raw = json.loads(model.read_file(IMPORTANCE_FILE))
    return {f["feature"]: float(f["mean_abs_shap"]) for f in raw.get("features", [])}


def file_sample(path: Path, columns: Iterable[str], with_target: bool) -> Sample:
    """A validated application file (training/data.py) reduced to the given columns."""
    table = load_applications(path, with_target=with_target)
    wanted = set(columns)
    kept = {k: v for k, v in table.columns.items() if k in wanted}
    return Sample(kept, table.n_rows, f"{path.name} ({path.parent})")
