"""The documented drift: how the new clients differ from the reference clients.

:data:`DRIFTS` is written to ``drift_manifest.json``; :func:`apply_drift` applies it to the
new clients after they are drawn like the reference ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from creditscore_common.reference_schema import DAYS_EMPLOYED_ANOMALY, ReferenceSchema
from training.generation.sampler import (
    FLOAT_STEP,
    MIN_ID_AGE_DAYS,
    MIN_WORK_AGE_DAYS,
    FloatArray,
    _Table,
)


@dataclass(frozen=True)
class DriftSpec:
    """One documented difference between the new clients and the reference clients."""

    column: str
    kind: str
    parameters: dict[str, float | str]
    description: str

    def as_json(self) -> dict[str, Any]:
        """The manifest entry."""
        return {
            "column": self.column,
            "kind": self.kind,
            "parameters": self.parameters,
            "description": self.description,
        }


DRIFTS = (
    DriftSpec(
        "AMT_CREDIT",
        "scale",
        {"factor": 1.10},
        "New clients borrow about 10% more: AMT_CREDIT multiplied by 1.10 "
        "(goods price and annuity unchanged, so credit/goods and credit/annuity rise).",
    ),
    DriftSpec(
        "DAYS_BIRTH",
        "scale",
        {"factor": 0.92},
        "New clients are younger: DAYS_BIRTH multiplied by 0.92 (a 50-year-old becomes 46), "
        "but never so young that their registration, employment or ID dates become impossible.",
    ),
    DriftSpec(
        "NAME_CONTRACT_TYPE",
        "category_share",
        {"level": "Revolving loans", "reference_share": 0.0972, "new_share": 0.20},
        "Twice as many revolving loans: cash loans picked at random relabelled "
        "'Revolving loans' until their share is about 20%.",
    ),
    DriftSpec(
        "EXT_SOURCE_3",
        "missing_rate",
        {"reference_rate": 0.1983, "new_rate": 0.35},
        "The third external score is missing more often: values blanked at random until "
        "about 35% are missing.",
    ),
)


def _latest_birth(t: _Table) -> FloatArray:
    """The latest DAYS_BIRTH the client's other dates allow (registered, employed, ID)."""
    employed = t.num["DAYS_EMPLOYED"] < DAYS_EMPLOYED_ANOMALY
    limit = np.minimum(t.num["DAYS_REGISTRATION"], t.num["DAYS_ID_PUBLISH"] - MIN_ID_AGE_DAYS)
    limit = np.where(employed, np.minimum(limit, t.num["DAYS_EMPLOYED"] - MIN_WORK_AGE_DAYS), limit)
    # Whole days, rounded towards the past so the limit itself stays valid.
    return np.asarray(np.floor(limit), dtype=np.float64)


def apply_drift(t: _Table, schema: ReferenceSchema, rng: np.random.Generator) -> None:
    """Shift the new clients' columns as documented in :data:`DRIFTS`."""
    for drift in DRIFTS:
        name = drift.column
        if drift.kind == "scale":
            values = t.num[name] * float(drift.parameters["factor"])
            if name == "DAYS_BIRTH":
                values = np.minimum(values, _latest_birth(t))
            step = FLOAT_STEP.get(name, 1.0)
            t.num[name] = np.round(values / step) * step
        elif drift.kind == "category_share":
            level = str(drift.parameters["level"])
            code = list(schema[name].levels).index(level)
            old, new = (
                float(drift.parameters["reference_share"]),
                float(drift.parameters["new_share"]),
            )
            convert = (t.cat[name] != code) & (t.cat[name] >= 0)
            convert &= rng.random(t.n) < (new - old) / (1 - old)
            t.cat[name] = np.where(convert, code, t.cat[name]).astype(np.int16)
        elif drift.kind == "missing_rate":
            old, new = (
                float(drift.parameters["reference_rate"]),
                float(drift.parameters["new_rate"]),
            )
            blank = rng.random(t.n) < (new - old) / (1 - old)
            t.num[name] = np.where(blank, np.nan, t.num[name])
        else:  # pragma: no cover - the table above holds only these kinds
            raise ValueError(f"unknown drift kind {drift.kind}")
