"""New clients as an advisor sees them: the list, and one client described in human units.

* :func:`client_page`: the new clients of the store, a page at a time, optionally searched.
* :func:`client_details`: one client described in human units (ages and employment in
  years, amounts, family, housing...), labelled from the column dictionary.

The labels of comparison features and raw fields (:func:`label_of`, :func:`value_text`)
live here too: the comparisons (``compare.py``) name their features the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from creditscore_common import labels, profiles
from creditscore_common.features import DAYS_PER_YEAR
from creditscore_common.labels import DEFAULT_LANG, Lang
from creditscore_common.profiles import FEATURES_BY_NAME

if TYPE_CHECKING:
    from creditscore_common.store import Store


# --------------------------------------------------------------------------- labels


def label_of(name: str, lang: Lang) -> str:
    """Label of a comparison feature or raw field in ``lang``, from labels.py.

    A comparison feature computed from one raw column takes that column's label (AGE_YEARS
    is "Age", from DAYS_BIRTH); one computed from several is a derived feature of labels.py.
    """
    feature = FEATURES_BY_NAME.get(name)
    if feature is not None and len(feature.source) > 1:
        return labels.feature_label(name, {"kind": "domain"}).text(lang)
    column = feature.source[0] if feature is not None else name
    return labels.column_label(column).text(lang)


def value_text(name: str, record: Mapping[str, Any], value: Any, lang: Lang) -> str:
    """A field's value as labels.py writes it ("45 ans", "202 500", "15,2 %", "oui")."""
    feature = FEATURES_BY_NAME.get(name)
    if feature is not None and len(feature.source) > 1:
        return labels.format_derived_value(name, value, lang)
    column = feature.source[0] if feature is not None else name
    return labels.format_value(column, record.get(column), lang)


def lang_field() -> Any:
    """The ``lang`` query parameter of every route that writes labels."""
    return Field(DEFAULT_LANG, description="language of the labels")


# --------------------------------------------------------------------------- new clients

Section = Literal["identity", "family", "employment", "housing", "loan", "income", "scores"]

#: What an advisor reads about a client: (field, section, unit, decimals), in display order.
#: Fields named like a comparison feature come from :func:`profiles.client_profile` (human
#: units); the others are raw application fields (texts, Y/N flags as booleans, numbers).
DETAIL_FIELDS: tuple[tuple[str, Section, str | None, int | None], ...] = (
    ("AGE_YEARS", "identity", "years", 1),
    ("CODE_GENDER", "identity", None, None),
    ("NAME_EDUCATION_TYPE", "identity", None, None),
    ("NAME_FAMILY_STATUS", "family", None, None),
    ("CNT_CHILDREN", "family", "count", 0),
    ("CNT_FAM_MEMBERS", "family", "count", 0),
    ("NAME_INCOME_TYPE", "employment", None, None),
    ("OCCUPATION_TYPE", "employment", None, None),
    ("ORGANIZATION_TYPE", "employment", None, None),
    ("YEARS_EMPLOYED", "employment", "years", 1),
    ("NAME_HOUSING_TYPE", "housing", None, None),
    ("FLAG_OWN_REALTY", "housing", None, None),
    ("FLAG_OWN_CAR", "housing", None, None),
    ("OWN_CAR_AGE", "housing", "years", 0),
    ("REGION_RATING_CLIENT", "housing", "rating", 0),
    ("NAME_CONTRACT_TYPE", "loan", None, None),
    ("AMT_CREDIT", "loan", "amount", 2),
    ("AMT_ANNUITY", "loan", "amount", 2),
    ("AMT_GOODS_PRICE", "loan", "amount", 2),
    ("ANNUITY_CREDIT_RATIO", "loan", "ratio", 4),
    ("NAME_TYPE_SUITE", "loan", None, None),
    ("AMT_INCOME_TOTAL", "income", "amount", 2),
    ("CREDIT_INCOME_RATIO", "income", "ratio", 3),
    ("ANNUITY_INCOME_RATIO", "income", "ratio", 3),
    ("INCOME_PER_FAMILY_MEMBER", "income", "amount", 2),
    ("EXT_SOURCE_1", "scores", "score", 3),
    ("EXT_SOURCE_2", "scores", "score", 3),
    ("EXT_SOURCE_3", "scores", "score", 3),
)
_YES_NO = {"Y": True, "N": False}


class ClientField(BaseModel):
    """One labelled fact about a client, in human units."""

    name: str = Field(description="field or comparison feature name")
    label: str
    section: Section
    value: bool | int | float | str | None = Field(
        description="in the unit given (years, amount, ratio...); raw text for categories"
    )
    unit: str | None = Field(description="years, amount, ratio, ...; null for texts")
    text: str = Field(description="the value written for people, in the requested language")


class ClientDetails(BaseModel):
    """What an advisor needs to know about a new client (not the 120 raw fields)."""

    client_id: int
    lang: Lang
    groups: dict[str, str | None] = Field(
        description="the client's level on each comparison group dimension"
    )
    fields: list[ClientField]


class ClientQuery(BaseModel):
    """Query of GET /clients/{client_id}."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lang: Lang = lang_field()


class ClientListQuery(BaseModel):
    """Query of GET /clients."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(20, ge=1, le=100, description="clients per page")
    cursor: int | None = Field(
        None,
        ge=0,
        le=2**63 - 1,  # a client id is a signed 64-bit integer in every store
        description="`next_cursor` of the previous page (omit for the first)",
    )
    q: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="search: every word must match; a word of digits matches the start of "
        "the client id, any other word a part (case-insensitive) of the contract type, income "
        "type, education or occupation. E.g. `10001`, `pensioner`, `revolving 1002`",
    )


# Named apart from store.base.ClientSummary, the stored dict each line is built from.
class ClientListItem(BaseModel):
    """A line of the client list."""

    client_id: int
    contract_type: str | None
    income_type: str | None
    gender: str | None
    age_years: float | None
    income: float | None
    credit: float | None


class ClientPage(BaseModel):
    """A page of new clients; follow ``next_cursor`` until it is null."""

    clients: list[ClientListItem]
    next_cursor: int | None
    limit: int
    q: str | None


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def client_page(store: Store, query: ClientListQuery) -> ClientPage:
    """A page of new clients of the store (GET /clients)."""
    rows, next_cursor = store.list_clients(query.limit, query.cursor, query.q)
    clients = []
    for client_id, summary in rows:
        days_birth = _number(summary.get("DAYS_BIRTH"))
        clients.append(
            ClientListItem(
                client_id=client_id,
                contract_type=_text(summary.get("NAME_CONTRACT_TYPE")),
                income_type=_text(summary.get("NAME_INCOME_TYPE")),
                gender=_text(summary.get("CODE_GENDER")),
                age_years=None if days_birth is None else round(-days_birth / DAYS_PER_YEAR, 1),
                income=_number(summary.get("AMT_INCOME_TOTAL")),
                credit=_number(summary.get("AMT_CREDIT")),
            )
        )
    return ClientPage(clients=clients, next_cursor=next_cursor, limit=query.limit, q=query.q)


def describe_client(
    client_id: int, record: Mapping[str, Any], lang: Lang = DEFAULT_LANG
) -> ClientDetails:
    """The labelled, human-unit description of one raw application."""
    profile = dict(
        zip(profiles.FEATURE_NAMES, profiles.client_profile(record).tolist(), strict=True)
    )
    fields = []
    for name, section, unit, decimals in DETAIL_FIELDS:
        value: bool | int | float | str | None
        # Raw fields as given (exact amounts); derived ones from the profile (human units).
        raw = record.get(name) if name in record or name not in profile else profile[name]
        if name.startswith("FLAG_OWN_"):
            value = _YES_NO.get(raw) if isinstance(raw, str) else None
        elif unit is None:
            value = _text(raw)
        else:
            number = _number(raw)
            if number is None or decimals is None:
                value = number
            elif decimals == 0:
                value = round(number)
            else:
                value = round(number, decimals)
        fields.append(
            ClientField(
                name=name,
                label=label_of(name, lang),
                section=section,
                value=value,
                unit=unit,
                text=value_text(name, record, raw, lang),
            )
        )
    return ClientDetails(
        client_id=client_id, lang=lang, groups=profiles.client_groups(record), fields=fields
    )


def client_details(store: Store, client_id: int, query: ClientQuery) -> ClientDetails:
    """GET /clients/{client_id}."""
    return describe_client(client_id, store.get_client(client_id), query.lang)
