"""The request and response models the three functions share (application, score, errors).

Each domain module holds its own answer models beside the code that fills them
(``explain.Explanation``, ``compare.ComparisonResponse``, ``clients.ClientDetails``...);
the reference table's schema (column kinds, quantiles, levels) is ``reference_schema``.

The application model is built from the reference schema: the 120 raw Home Credit fields,
every one optional, unknown fields refused, and impossible values (a negative amount, an age
over 120 years, a flag other than 0/1, ...) refused with a 422 that names the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from creditscore_common.errors import InsufficientApplicationError
from creditscore_common.features import DAYS_PER_YEAR
from creditscore_common.reference_schema import DAYS_EMPLOYED_ANOMALY, load_schema

MAX_AGE_YEARS = 120

#: Bounds of numeric fields that no real application can cross: (ge, le).
_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "DAYS_BIRTH": (-MAX_AGE_YEARS * DAYS_PER_YEAR, 0.0),
    "HOUR_APPR_PROCESS_START": (0.0, 23.0),
    "REGION_RATING_CLIENT": (1.0, 3.0),
    "REGION_RATING_CLIENT_W_CITY": (1.0, 3.0),
    "REGION_POPULATION_RELATIVE": (0.0, 1.0),
    "EXT_SOURCE_1": (0.0, 1.0),
    "EXT_SOURCE_2": (0.0, 1.0),
    "EXT_SOURCE_3": (0.0, 1.0),
}


def application_bounds(name: str, kind: str) -> tuple[float | None, float | None]:
    """Bounds (ge, le) of a numeric application field that no real application crosses."""
    if name in _BOUNDS:
        return _BOUNDS[name]
    if kind == "flag":
        return (0.0, 1.0)
    if name.startswith(("AMT_", "CNT_", "OWN_CAR_AGE", "OBS_", "DEF_")):
        return (0.0, None)
    if name.startswith("DAYS_") and name != "DAYS_EMPLOYED":
        return (None, 0.0)
    if name.endswith(("_AVG", "_MODE", "_MEDI")):
        return (0.0, 1.0)
    return (None, None)


def _application_fields() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in load_schema().application_names:
        spec = load_schema()[name]
        if spec.is_categorical:
            fields[name] = (Annotated[str | None, Field(max_length=100)], None)
        else:
            ge, le = application_bounds(name, spec.kind)
            number = float | None
            fields[name] = (Annotated[number, Field(ge=ge, le=le, allow_inf_nan=False)], None)
    return fields


class ApplicationBase(BaseModel):
    """Shared behaviour of the generated Application model."""

    # strict: a boolean or a numeric string is not an amount (JSON integers still are).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    @field_validator("DAYS_EMPLOYED", check_fields=False)
    @classmethod
    def _days_employed(cls, value: float | None) -> float | None:
        if value is not None and value > 0 and value != DAYS_EMPLOYED_ANOMALY:
            raise ValueError(
                f"must be <= 0 (days before the application) or {DAYS_EMPLOYED_ANOMALY} "
                "(no employment)"
            )
        return value

    def raw(self) -> dict[str, Any]:
        """The fields that were given, as the feature transform reads them."""
        return self.model_dump(exclude_none=True)


if TYPE_CHECKING:
    Application = ApplicationBase
else:
    Application = create_model(
        "Application",
        __base__=ApplicationBase,
        __doc__="Raw Home Credit application fields; any may be missing.",
        **_application_fields(),
    )


#: What a POSTed application must give before it is scored: the fields the model leans on
#: most (README, "Insufficient information"). An empty form is not a client.
MINIMUM_FIELDS: tuple[str, ...] = ("AMT_INCOME_TOTAL", "AMT_CREDIT", "AMT_ANNUITY", "DAYS_BIRTH")
#: ... and at least one of these (external scores; many clients have only one or two).
MINIMUM_ONE_OF: tuple[str, ...] = ("EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3")


def missing_minimum(application: Mapping[str, Any]) -> list[str]:
    """The minimum fields an application lacks (one-of groups named as ``A|B|C``)."""
    missing = [name for name in MINIMUM_FIELDS if application.get(name) is None]
    if all(application.get(name) is None for name in MINIMUM_ONE_OF):
        missing.append("|".join(MINIMUM_ONE_OF))
    return missing


class ScoreRequest(BaseModel):
    """Body of POST /score: a raw application."""

    model_config = ConfigDict(extra="forbid")

    application: Application

    def scorable(self) -> dict[str, Any]:
        """The given fields, once the minimum set is there (InsufficientApplicationError)."""
        raw = self.application.raw()
        missing = missing_minimum(raw)
        if missing:
            raise InsufficientApplicationError(missing)
        return raw


class BorderlineInterval(BaseModel):
    """Where the decision is uncertain: [lower, upper) around the threshold."""

    lower: float = Field(description="from this probability on, the file is borderline")
    upper: float = Field(description="from this probability on, the file is clearly refused")


class ScoreResponse(BaseModel):
    """Default probability and the decision it implies against the active threshold."""

    client_id: int | None = Field(None, description="the client scored (GET only)")
    probability: float = Field(description="P(default), from 0 to 1")
    threshold: float = Field(description="refuse when probability >= threshold")
    decision: Literal["accept", "refuse"]
    band: Literal["clear", "borderline"] = Field(
        description="borderline: the probability lies in the model version's uncertainty "
        "interval around the threshold; the file is to be examined, not decided on the score"
    )
    borderline: BorderlineInterval
    margin: float = Field(description="probability - threshold (< 0: accepted)")
    model_version: str


class HealthResponse(BaseModel):
    """Liveness and the model version in use."""

    status: Literal["ok", "degraded"]
    model_version: str | None
    detail: str | None = None


class DecisionRecord(BaseModel):
    """One recorded decision, with the score it was made against.

    Its fields are the columns of the append-only audit log in every store backend
    (``store.base.DECISION_FIELDS`` is derived from them).
    """

    model_config = ConfigDict(frozen=True)

    client_id: int
    decided_at: str = Field(description="ISO 8601 UTC with microseconds, then #uuid (unique)")
    decision: Literal["accept", "refuse"]
    comment: str
    advisor: str = Field(description="authenticated identity of the advisor")
    probability: float = Field(description="P(default) when the decision was recorded")
    threshold: float = Field(description="decision threshold of that model version")
    model_version: str


class ErrorResponse(BaseModel):
    """Every error answer has this shape (401, 404, 422, 500 and 503 alike)."""

    error: str
    message: str
    details: list[dict[str, Any]] | None = None
