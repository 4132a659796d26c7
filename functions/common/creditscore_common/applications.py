"""A new client's own application, and the form that describes every application field.

The dashboard's "what if" page edits a client's application and sends it back to
``POST /score`` and ``POST /explain``; its "new applicant" page fills one in from scratch.
Both need the raw fields, and the form needs to know each field's kind, label, allowed levels
and bounds. These come from the reference schema (public aggregates of the real table) and the
label dictionary, so the dashboard holds none of it.

Only the new client's own application is returned: never a reference client.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import BaseModel, Field

from creditscore_common.features import DAYS_PER_YEAR
from creditscore_common.labels import Lang, column_label, level_text
from creditscore_common.profiles import GROUP_DIMENSIONS
from creditscore_common.reference_schema import DAYS_EMPLOYED_ANOMALY, load_schema
from creditscore_common.schemas import MINIMUM_FIELDS, MINIMUM_ONE_OF, application_bounds
from creditscore_common.store.base import Store

InputKind = Literal["number", "flag", "category"]


class ApplicationResponse(BaseModel):
    """GET /clients/{client_id}/application: the raw fields on file (missing ones omitted)."""

    client_id: int
    application: dict[str, int | float | str] = Field(
        description="raw Home Credit fields, as POST /score and POST /explain take them"
    )


class Level(BaseModel):
    """One allowed value of a categorical field."""

    value: str = Field(description="the value to send")
    text: str = Field(description="the value written for people")
    share: float = Field(description="share of reference clients with this level")


class InputField(BaseModel):
    """How to fill in one raw application field."""

    name: str
    label: str
    description: str = Field(description="the public column dictionary's description")
    kind: InputKind
    unit: str | None = Field(
        description="`days` for DAYS_* fields (days before the application, <= 0), else null"
    )
    minimum: float | None = Field(description="smallest value accepted (null: none)")
    maximum: float | None = Field(description="largest value accepted (null: none)")
    median: float | None = Field(description="median among reference clients (numbers)")
    missing_rate: float = Field(description="share of reference clients without this field")
    levels: list[Level] | None = Field(description="allowed values (categories and flags)")
    required: bool = Field(
        description="POST /score, /explain and /counterfactual answer 422 without it"
    )
    required_group: str | None = Field(
        description="one field of this group is enough (the external scores), else null"
    )


class GroupOption(BaseModel):
    """One level of a comparison group filter."""

    value: str = Field(description="the value of the filter's query parameter")
    text: str = Field(description="the level written for people")


class GroupFilter(BaseModel):
    """A dimension the comparison routes can narrow the reference group on."""

    name: str = Field(description="the query parameter (`age_band`, `gender`, ...)")
    label: str
    levels: list[GroupOption] = Field(description="besides `same`, the client's own level")


class InputsResponse(BaseModel):
    """GET /inputs: every raw application field, in the schema's order."""

    lang: Lang
    days_per_year: float = Field(description="to turn DAYS_* fields into years")
    days_employed_none: float = Field(
        description="DAYS_EMPLOYED value meaning 'no employment' (pensioners, unemployed)"
    )
    fields: list[InputField]
    minimum_rule: str = Field(description="the minimum information rule, in words")
    groups: list[GroupFilter] = Field(
        description="filters of the comparison routes (comparison, bivariate) and their levels"
    )


_MINIMUM_RULE: dict[Lang, str] = {
    "fr": "Pour être évaluée, une demande doit donner le revenu, le montant du crédit, "
    "l'annuité, la date de naissance et au moins un score externe.",
    "en": "To be scored, an application must give the income, the credit amount, the "
    "annuity, the birth date and at least one external score.",
}


def client_application(store: Store, client_id: int) -> ApplicationResponse:
    """GET /clients/{client_id}/application (404 for an unknown client)."""
    return ApplicationResponse(client_id=client_id, application=store.get_client(client_id))


def _median(quantiles: dict[float, float]) -> float | None:
    return quantiles.get(0.5)


def group_filters(lang: Lang) -> list[GroupFilter]:
    """The comparison group filters, each level written for people."""
    years = "ans" if lang == "fr" else "years"
    return [
        GroupFilter(
            name=dimension.name,
            label=column_label(dimension.column).text(lang),
            levels=[
                GroupOption(
                    value=slug,
                    text=f"{raw} {years}" if dimension.edges else level_text(raw, lang),
                )
                for slug, raw in dimension.levels.items()
            ],
        )
        for dimension in GROUP_DIMENSIONS
    ]


@cache
def input_fields(lang: Lang) -> InputsResponse:
    """GET /inputs: the form of an application, built once per language."""
    schema = load_schema()
    fields: list[InputField] = []
    for name in schema.application_names:
        spec = schema[name]
        label = column_label(name)
        levels: list[Level] | None = None
        if spec.is_categorical:
            kind: InputKind = "category"
            levels = [
                Level(value=level, text=level_text(level, lang), share=round(share, 4))
                for level, share in sorted(spec.levels.items(), key=lambda item: -item[1])
            ]
        elif spec.kind == "flag":
            kind = "flag"
        else:
            kind = "number"
        minimum, maximum = application_bounds(name, spec.kind)
        fields.append(
            InputField(
                name=name,
                label=label.text(lang),
                description=label.description,
                kind=kind,
                unit="days" if name.startswith("DAYS_") else None,
                minimum=minimum,
                maximum=maximum,
                median=None if spec.is_categorical else _median(spec.quantiles),
                missing_rate=round(spec.missing_rate, 4),
                levels=levels,
                required=name in MINIMUM_FIELDS,
                required_group="|".join(MINIMUM_ONE_OF) if name in MINIMUM_ONE_OF else None,
            )
        )
    return InputsResponse(
        lang=lang,
        days_per_year=DAYS_PER_YEAR,
        days_employed_none=float(DAYS_EMPLOYED_ANOMALY),
        fields=fields,
        minimum_rule=_MINIMUM_RULE[lang],
        groups=group_filters(lang),
    )
