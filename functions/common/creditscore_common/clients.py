"""New clients as an advisor sees them: the list, and one client described in human units.

* :func:`client_page`: the new clients of the store, a page at a time, optionally searched in
  the advisor's words: a French word ("salarié") is turned into the raw level it names
  ("Working") before the store's search, so that every backend finds it (:func:`search_queries`).
* :func:`client_page` with ``with_score``, ``pending`` or ``verdict``: the advisors' worklist,
  each client with the score of the active model version (probability, decision, band) and
  whether a decision was recorded; filtered on them (:func:`worklist_page`).
* :func:`client_details`: one client described in human units (ages and employment in
  years, amounts, family, housing...), labelled from the column dictionary.

The labels of comparison features and raw fields (:func:`label_of`, :func:`value_text`)
live here too: the comparisons (``compare.py``) name their features the same way.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from creditscore_common import labels, profiles, service
from creditscore_common.errors import ClientNotFoundError, InsufficientApplicationError
from creditscore_common.features import DAYS_PER_YEAR
from creditscore_common.labels import DEFAULT_LANG, Lang
from creditscore_common.profiles import FEATURES_BY_NAME
from creditscore_common.store.base import SEARCH_FIELDS, ClientSummary, is_id_prefix

if TYPE_CHECKING:
    from creditscore_common.provider import ModelProvider
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


#: What a worklist filter asks of a score: a clear accept, the uncertainty zone, a clear refusal.
Verdict = Literal["accept", "borderline", "refuse"]
#: Clients a filtered list page looks at, at most, in one request (each one is scored and its
#: decisions read): a page may then hold fewer than ``limit`` clients, never take long.
MAX_SCANNED = 200


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
        "the client id, any other word a part (case- and accent-insensitive) of the contract "
        "type, income type, education or occupation, as the data or the French and English "
        "labels write it. E.g. `10001`, `pensioner`, `retraité`, `renouvelable 1002`",
    )
    with_score: bool = Field(
        False,
        description="add each client's score by the active model version (`probability`, "
        "`decision`, `band`) and whether a decision was recorded (`decided`)",
    )
    pending: bool = Field(False, description="only clients with no decision recorded yet")
    verdict: Verdict | None = Field(
        None,
        description="only clients whose score says this: `accept` or `refuse` outside the "
        "uncertainty zone, `borderline` inside it (implies `with_score`). A filtered page "
        f"looks at {MAX_SCANNED} clients at most and may hold fewer than `limit`: follow "
        "`next_cursor` until it is null",
    )

    @property
    def scored(self) -> bool:
        """Whether each listed client is scored (asked for, or needed by the filter)."""
        return self.with_score or self.verdict is not None

    @property
    def filtered(self) -> bool:
        """Whether clients are left out of the store's page (the worklist's filters)."""
        return self.pending or self.verdict is not None


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
    probability: float | None = Field(
        None, description="default probability (only with `with_score` or `verdict`)"
    )
    decision: Literal["accept", "refuse"] | None = Field(
        None, description="the decision the score implies (only when scored)"
    )
    band: Literal["clear", "borderline"] | None = Field(
        None, description="borderline: in the model's uncertainty zone (only when scored)"
    )
    decided: bool | None = Field(
        None,
        description="whether an advisor recorded a decision (with `with_score`, `pending` or "
        "`verdict`)",
    )


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


#: Store searches one query may be expanded into (a word naming levels no single piece of
#: text finds alone); beyond it, the words are searched as typed.
MAX_SEARCH_QUERIES = 16
#: Shorter words are searched as typed: "à" or "de" would name nearly every level.
MIN_TRANSLATED_WORD = 3


@lru_cache(maxsize=1)
def _searched_levels() -> tuple[str, ...]:
    """The raw levels of the searched fields (what the store's search compares words with)."""
    found = {level for field in SEARCH_FIELDS for level in labels.level_labels().get(field, {})}
    return tuple(sorted(found))


def _found_by(piece: str) -> set[str]:
    """The searched levels the store's rule (a case-insensitive part) finds with ``piece``."""
    return {level for level in _searched_levels() if piece in level.lower()}


def _pieces(level: str) -> list[str]:
    """Space-free parts of a level's text, longest first (the store splits words on spaces)."""
    text = level.lower()
    found = {
        text[start:end]
        for start in range(len(text))
        for end in range(start + 1, len(text) + 1)
        if not any(c.isspace() for c in text[start:end])
    }
    return sorted(found, key=lambda piece: (-len(piece), piece))


def store_words(word: str) -> list[str]:
    """What the store must search for ``word`` to find the levels it names; any one will do.

    A word of digits, a short word ("de", "à": it names nearly every level), a word the
    data's own text already answers exactly and a word naming no level stay as typed. A word
    that names levels only in French or English ("salarié", "supérieur") becomes one piece of
    the raw text that finds exactly those levels ("working", "higher"); when no single piece
    does ("personnel": a cash loan, core staff and medicine staff), one piece a level, each
    finding no level the word does not name.
    """
    if is_id_prefix(word) or len(labels.fold(word)) < MIN_TRANSLATED_WORD:
        return [word]
    wanted = labels.levels_matching(word, SEARCH_FIELDS)
    if not wanted or _found_by(word.lower()) == wanted:
        return [word]
    for piece in _pieces(min(wanted, key=len)):
        if _found_by(piece) == wanted:
            return [piece]
    alternatives: list[str] = []
    for level in sorted(wanted):
        if any(level in _found_by(piece) for piece in alternatives):
            continue
        piece = next((p for p in _pieces(level) if _found_by(p) <= wanted), level.lower())
        alternatives.append(piece)
    return alternatives


def search_queries(q: str | None) -> list[str | None]:
    """The store searches whose union answers the advisor's ``q`` (see :func:`store_words`)."""
    words = (q or "").split()
    if not words:
        return [None]
    options = [store_words(word) for word in words]
    if math.prod(len(option) for option in options) > MAX_SEARCH_QUERIES:
        return [q]
    return [" ".join(combination) for combination in itertools.product(*options)]


def _search_store(
    store: Store, limit: int, cursor: int | None, q: str | None
) -> tuple[list[tuple[int, ClientSummary]], int | None]:
    """A page of the store's clients that match ``q`` in the advisor's words.

    One query: the store's own page. Several (a word naming levels that no single piece of
    text finds): the union of their pages from ``cursor``, by increasing id, cut at
    ``limit``. That is the store's own paging for a store that lists by id (local); a store
    that lists in another order (aws, DynamoDB's scan order) gets complete pages too, but a
    following page may then repeat or skip a client of the other queries.
    """
    queries = search_queries(q)
    if len(queries) == 1:
        return store.list_clients(limit, cursor, queries[0])
    found: dict[int, ClientSummary] = {}
    more = False
    for query in queries:
        rows, next_cursor = store.list_clients(limit, cursor, query)
        found.update(rows)
        more = more or next_cursor is not None
    page = sorted(found.items())[:limit]
    more = more or len(found) > limit
    return page, page[-1][0] if more and page else None


def _list_item(client_id: int, summary: ClientSummary) -> ClientListItem:
    """A line of the list from the store's summary of a client."""
    days_birth = _number(summary.get("DAYS_BIRTH"))
    return ClientListItem(
        client_id=client_id,
        contract_type=_text(summary.get("NAME_CONTRACT_TYPE")),
        income_type=_text(summary.get("NAME_INCOME_TYPE")),
        gender=_text(summary.get("CODE_GENDER")),
        age_years=None if days_birth is None else round(-days_birth / DAYS_PER_YEAR, 1),
        income=_number(summary.get("AMT_INCOME_TOTAL")),
        credit=_number(summary.get("AMT_CREDIT")),
    )


def score_verdict(band: str, decision: str) -> Verdict:
    """What a score says, as the worklist filters it: the band first, then the decision."""
    if band == "borderline":
        return "borderline"
    return "refuse" if decision == "refuse" else "accept"


def _worklist_item(
    store: Store, models: ModelProvider | None, query: ClientListQuery, item: ClientListItem
) -> ClientListItem | None:
    """The line with its score and decision state, or None when a filter leaves it out."""
    decided = bool(store.list_decisions(item.client_id))
    if query.pending and decided:
        return None
    extra: dict[str, Any] = {"decided": decided}
    if query.scored and models is not None:
        try:
            score = service.score_client(store, models, item.client_id)
        except (InsufficientApplicationError, ClientNotFoundError):
            # A file that cannot be scored (or was just removed) stays on the plain list
            # without a score: it matches no verdict, and never fails the whole page.
            return None if query.verdict is not None else item.model_copy(update=extra)
        if query.verdict is not None and score_verdict(score.band, score.decision) != query.verdict:
            return None
        extra |= {"probability": score.probability, "decision": score.decision, "band": score.band}
    return item.model_copy(update=extra)


def worklist_page(
    store: Store, models: ModelProvider | None, query: ClientListQuery
) -> tuple[list[ClientListItem], int | None]:
    """The clients of a page of the worklist and the cursor of the next one.

    Without a filter, the store's page, each line completed. With one (``pending``,
    ``verdict``), store pages are read from ``query.cursor`` until ``limit`` clients pass
    or :data:`MAX_SCANNED` clients were looked at; the next cursor is then the last client
    looked at, so that no client is skipped or listed twice.
    """
    if not query.filtered:
        rows, next_cursor = _search_store(store, query.limit, query.cursor, query.q)
        items = [_worklist_item(store, models, query, _list_item(*row)) for row in rows]
        return [item for item in items if item is not None], next_cursor
    kept: list[ClientListItem] = []
    cursor, scanned = query.cursor, 0
    while True:
        wanted = min(max(query.limit, 20), MAX_SCANNED - scanned)
        rows, next_cursor = _search_store(store, wanted, cursor, query.q)
        for index, (client_id, summary) in enumerate(rows):
            scanned, cursor = scanned + 1, client_id
            item = _worklist_item(store, models, query, _list_item(client_id, summary))
            if item is not None:
                kept.append(item)
            if len(kept) == query.limit or scanned == MAX_SCANNED:
                last = index == len(rows) - 1 and next_cursor is None
                return kept, None if last else cursor
        if next_cursor is None:
            return kept, None
        cursor = next_cursor


def client_page(
    store: Store, query: ClientListQuery, models: ModelProvider | None = None
) -> ClientPage:
    """A page of new clients of the store (GET /clients), searched in the advisor's words.

    With ``with_score``, ``pending`` or ``verdict`` (the worklist, :func:`worklist_page`),
    ``models`` scores each client.
    """
    if query.scored or query.filtered:
        clients, next_cursor = worklist_page(store, models, query)
    else:
        rows, next_cursor = _search_store(store, query.limit, query.cursor, query.q)
        clients = [_list_item(client_id, summary) for client_id, summary in rows]
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
