"""The request and response models the three functions share (application, score, errors).

Each domain module holds its own answer models beside the code that fills them
(``explain.Explanation``, ``compare.ComparisonResponse``, ``clients.ClientDetails``...);
the reference table's schema (column kinds, quantiles, levels) is ``reference_schema``.

The application model is built from the reference schema: the 120 raw Home Credit fields,
every one optional, unknown fields refused, and impossible values (a negative amount, an age
over 120 years, a flag other than 0/1, an employment longer than the client's life, ...)
refused with a 422 that names the field and the plausibility rule (``plausibility``, the same
rules training applies: there such a value is read as missing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from creditscore_common import plausibility
from creditscore_common.errors import InsufficientApplicationError
from creditscore_common.reference_schema import load_schema


def application_bounds(name: str, kind: str) -> tuple[float | None, float | None]:
    """Bounds (ge, le) of a numeric application field (``plausibility.column_bounds``).

    ``kind`` is the column's kind in the reference schema; the rules already know it.
    """
    del kind
    return plausibility.column_bounds(name)


def _rule_error(violation: plausibility.Violation) -> PydanticCustomError:
    # The API's 422 puts the message in details[].problem: "rule: what the value must be".
    return PydanticCustomError(violation.rule, violation.problem)


def _plausible(name: str) -> AfterValidator:
    def check(value: float | None) -> float | None:
        violation = plausibility.check_value(name, value)
        if violation is not None:
            raise _rule_error(violation)
        return value

    return AfterValidator(check)


def _number_field(name: str) -> Any:
    ge, le = plausibility.column_bounds(name)
    rules = sorted({c.rule for c in plausibility.column_checks().get(name, ())})
    extra: dict[str, Any] = {}
    if ge is not None:
        extra["minimum"] = ge
    if le is not None:
        extra["maximum"] = le
    description = "plausibility rules: " + ", ".join(rules) if rules else None
    field = Field(allow_inf_nan=False, description=description, json_schema_extra=extra or None)
    return Annotated[float | None, field, _plausible(name)]


def _application_fields() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in load_schema().application_names:
        spec = load_schema()[name]
        if spec.is_categorical:
            fields[name] = (Annotated[str | None, Field(max_length=100)], None)
        else:
            fields[name] = (_number_field(name), None)
    return fields


def _init_details(error: ValidationError) -> list[InitErrorDetails]:
    """The line errors of a raised ValidationError, ready to be raised again with more."""
    details: list[InitErrorDetails] = []
    for e in error.errors():
        kind: Any = e["type"]
        if kind in plausibility.RULES:
            kind = PydanticCustomError(kind, e["msg"])
        item = InitErrorDetails(type=kind, loc=e["loc"], input=e["input"])
        if "ctx" in e and not isinstance(kind, PydanticCustomError):
            item["ctx"] = e["ctx"]
        details.append(item)
    return details


def _cross_field_details(record: Mapping[str, Any]) -> list[InitErrorDetails]:
    """One error per field a cross-field rule names (both fields of the pair)."""
    return [
        InitErrorDetails(type=_rule_error(violation), loc=(name,), input=record.get(name))
        for violation in plausibility.check_cross_field(record)
        for name in violation.fields
    ]


class ApplicationBase(BaseModel):
    """Shared behaviour of the generated Application model."""

    # strict: a boolean or a numeric string is not an amount (JSON integers still are).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    @model_validator(mode="wrap")
    @classmethod
    def _cross_field_rules(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        """Add the cross-field rules' errors to the fields' own (all reported at once).

        A cross-field rule looks only at fields that passed their own rules, as training does.
        """
        try:
            application = handler(data)
        except ValidationError as error:
            if not isinstance(data, Mapping):
                raise
            refused = {e["loc"][0] for e in error.errors() if e["loc"]}
            valid = {k: v for k, v in data.items() if k not in refused}
            cross = _cross_field_details(valid)
            if not cross:
                raise
            line_errors = [*_init_details(error), *cross]
            raise ValidationError.from_exception_data(error.title, line_errors) from None
        cross = _cross_field_details(application.raw())
        if cross:
            raise ValidationError.from_exception_data(cls.__name__, cross)
        return application

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


#: Why an advisor goes against the model (labels and directions: ``decisions.REASON_CODES``).
ReasonCode = Literal[
    "garanties_supplementaires",
    "co_emprunteur",
    "situation_verifiee",
    "incoherence_declarations",
    "endettement_constate",
    "autre",
]


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
    # Optional fields: absent (None) in records made before they existed.
    overrides_model: bool | None = Field(
        None, description="the decision goes against the model's (accept while it refuses...)"
    )
    reason_code: ReasonCode | None = Field(
        None, description="why the advisor went against the model (decisions.REASON_CODES)"
    )
    supersedes: str | None = Field(
        None, description="decided_at of the earlier record this one replaces (None: none)"
    )
    idempotency_key: str | None = Field(
        None, description="the Idempotency-Key header of the request that recorded it"
    )


class ErrorResponse(BaseModel):
    """Every error answer has this shape (401, 404, 422, 500 and 503 alike)."""

    error: str
    message: str
    details: list[dict[str, Any]] | None = None
