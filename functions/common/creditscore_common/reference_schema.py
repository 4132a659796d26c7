"""The Home Credit application table: its columns, their kinds and reference statistics.

The facts come from ``resources/application_schema.json``, a per-column summary of the real
``application_train.csv`` (kind, missing rate, quantiles, category levels). This module is
the single place that knows the raw column list; validation, generation and the feature
transform all read it from here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Literal

ID_COLUMN = "SK_ID_CURR"
TARGET_COLUMN = "TARGET"
#: DAYS_EMPLOYED takes this value for clients with no employment (pensioners, unemployed).
DAYS_EMPLOYED_ANOMALY = 365243

ColumnKind = Literal["integer", "float", "flag", "categorical"]


@dataclass(frozen=True)
class ColumnSpec:
    """Reference facts about one raw column of the application table."""

    name: str
    kind: ColumnKind
    missing_rate: float
    quantiles: dict[float, float] = field(default_factory=dict)
    levels: dict[str, float] = field(default_factory=dict)
    share_of_ones: float | None = None
    distinct_values: int | None = None

    @property
    def is_categorical(self) -> bool:
        """True for text columns whose values are category levels."""
        return self.kind == "categorical"

    @property
    def is_numeric(self) -> bool:
        """True for integer, float and 0/1 flag columns."""
        return self.kind != "categorical"


@dataclass(frozen=True)
class ReferenceSchema:
    """All columns of ``application_train.csv`` in file order, with the default rate."""

    columns: tuple[ColumnSpec, ...]
    target_rate: float
    source: str

    def __getitem__(self, name: str) -> ColumnSpec:
        return self.by_name[name]

    @property
    def by_name(self) -> dict[str, ColumnSpec]:
        """Columns keyed by name."""
        return {c.name: c for c in self.columns}

    @property
    def names(self) -> tuple[str, ...]:
        """Every column name of the training file, in file order (with TARGET)."""
        return tuple(c.name for c in self.columns)

    @property
    def application_names(self) -> tuple[str, ...]:
        """The columns of an application: every column but the ID and TARGET."""
        return tuple(n for n in self.names if n not in (ID_COLUMN, TARGET_COLUMN))

    @property
    def new_client_names(self) -> tuple[str, ...]:
        """The columns of ``application_test.csv``: all but TARGET."""
        return tuple(n for n in self.names if n != TARGET_COLUMN)

    @property
    def categorical_names(self) -> tuple[str, ...]:
        """Application columns holding category levels."""
        return tuple(n for n in self.application_names if self[n].is_categorical)

    @property
    def numeric_names(self) -> tuple[str, ...]:
        """Application columns holding numbers (integers, floats, 0/1 flags)."""
        return tuple(n for n in self.application_names if self[n].is_numeric)


def _parse_column(raw: dict[str, object]) -> ColumnSpec:
    quantiles = raw.get("quantiles") or {}
    levels = raw.get("levels") or {}
    assert isinstance(quantiles, dict) and isinstance(levels, dict)
    share = raw.get("share_of_ones")
    distinct = raw.get("distinct_values")
    return ColumnSpec(
        name=str(raw["name"]),
        kind=raw["kind"],  # type: ignore[arg-type]
        missing_rate=float(raw["missing_rate"]),  # type: ignore[arg-type]
        quantiles={float(k): float(v) for k, v in quantiles.items()},
        levels={str(k): float(v) for k, v in levels.items()},
        share_of_ones=None if share is None else float(share),  # type: ignore[arg-type]
        distinct_values=None if distinct is None else int(distinct),  # type: ignore[call-overload]
    )


@lru_cache(maxsize=1)
def load_schema() -> ReferenceSchema:
    """Load the reference schema shipped with the package (cached)."""
    text = resources.files(__package__).joinpath("resources/application_schema.json").read_text()
    raw = json.loads(text)
    return ReferenceSchema(
        columns=tuple(_parse_column(c) for c in raw["columns"]),
        target_rate=float(raw["target_rate"]),
        source=str(raw["source"]),
    )
