"""Application forms: the "what if" edit of a client's file and a new applicant's file.

Both are built from ``GET /inputs`` (labels, kinds, allowed levels, bounds, which fields are
required), so the dashboard holds no list of levels, bounds or required fields of its own.
Ages and employment are asked in years and sent in the API's own unit (days before the
application, negative). An application that lacks the API's minimum is not sent: the advisor
is told, in words, which fields to fill in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from dashboard import api
from dashboard.i18n import Lang, money, number, parse_number, t
from dashboard.widgets import KEPT, lang_key

AGE = "DAYS_BIRTH"
EMPLOYED = "DAYS_EMPLOYED"
#: What an advisor edits on a client's file ("what if").
WHATIF_FIELDS = (
    "AMT_INCOME_TOTAL",
    "AMT_CREDIT",
    "AMT_ANNUITY",
    "AMT_GOODS_PRICE",
    EMPLOYED,
    "NAME_FAMILY_STATUS",
    "CNT_CHILDREN",
    "CNT_FAM_MEMBERS",
)
#: A new applicant's main fields, in the order of a paper form.
NEW_FIELDS = (
    "NAME_CONTRACT_TYPE",
    "CODE_GENDER",
    AGE,
    "NAME_EDUCATION_TYPE",
    "NAME_FAMILY_STATUS",
    "CNT_CHILDREN",
    "CNT_FAM_MEMBERS",
    "NAME_INCOME_TYPE",
    "OCCUPATION_TYPE",
    EMPLOYED,
    "AMT_INCOME_TOTAL",
    "AMT_CREDIT",
    "AMT_ANNUITY",
    "AMT_GOODS_PRICE",
    "NAME_HOUSING_TYPE",
    "FLAG_OWN_REALTY",
    "FLAG_OWN_CAR",
    "REGION_RATING_CLIENT",
    "EXT_SOURCE_1",
    "EXT_SOURCE_2",
    "EXT_SOURCE_3",
)
#: Optional fields of a new applicant, behind an expander.
NEW_OPTIONAL_FIELDS = (
    "OWN_CAR_AGE",
    "AMT_REQ_CREDIT_BUREAU_YEAR",
    "DAYS_ID_PUBLISH",
    "DAYS_REGISTRATION",
    "DAYS_LAST_PHONE_CHANGE",
)
_WHOLE = ("CNT_", "REGION_RATING", "AMT_REQ_", "OWN_CAR_AGE", "HOUR_")
_STEPS = {"AMT_": 1000.0, "EXT_SOURCE": 0.01}


def field_specs(lang: Lang) -> dict[str, dict[str, Any]]:
    """Name -> description of every application field (GET /inputs)."""
    answer = api.inputs(lang)
    return {field["name"]: field for field in answer["fields"]}


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def required_label(spec: Mapping[str, Any], label: str, lang: Lang) -> str:
    """A field's label, marked in words when the API requires it (or one of its group)."""
    group = spec.get("required_group")
    if group:
        return t("required_group", lang, label=label, n=len(str(group).split("|")))
    if spec.get("required"):
        return t("required", lang, label=label)
    return label


def missing_required(
    application: Mapping[str, Any], specs: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """The required fields ``application`` lacks, named as the API names them.

    A group of which one field is enough (the external scores) is missing when all its
    fields are, and is named ``A|B|C``, like the API's 422 answer.
    """
    missing: list[str] = []
    for name, spec in specs.items():
        group = spec.get("required_group")
        if group:
            members = str(group).split("|")
            if group not in missing and not any(_present(application.get(m)) for m in members):
                missing.append(str(group))
        elif spec.get("required") and not _present(application.get(name)):
            missing.append(name)
    return missing


def missing_text(names: Sequence[str], lang: Lang) -> str:
    """The missing fields in the advisor's words: "Annuité, Score externe 1, 2 ou 3".

    ``names`` as the API gives them (``A|B|C`` for a group of which one is enough); a name
    the dashboard cannot label is kept as it is.
    """
    try:
        specs = field_specs(lang)
    except api.ApiError:  # the message must still show: with the API's own names
        specs = {}

    def label(name: str) -> str:
        return str(specs[name]["label"]) if name in specs else name

    parts = []
    for name in names:
        members = [label(member) for member in name.split("|")]
        if len(members) > 1:
            parts.append(f"{', '.join(members[:-1])} {t('or', lang)} {members[-1]}")
        else:
            parts.append(members[0])
    return ", ".join(parts)


def _years(days: Any, days_per_year: float) -> float | None:
    return round(-float(days) / days_per_year, 1) if _present(days) else None


def _category(spec: Mapping[str, Any], current: Any, key: str, label: str, lang: Lang) -> Any:
    levels = {level["value"]: level["text"] for level in spec["levels"] or []}
    options: list[str | None] = [None, *levels]
    if current is not None and current not in levels:
        options.append(current)  # a level the reference table never had: keep it
    widget_key, carried = lang_key(key, lang)
    return st.selectbox(
        label,
        options,
        index=0 if carried else options.index(current) if current in options else 0,
        format_func=lambda v: t("empty", lang) if v is None else levels.get(v, str(v)),
        key=widget_key,
        help=spec["description"] or None,
        placeholder=t("choose", lang),
        persist_state=KEPT,
    )


class NumberField:
    """How one number is written in a form: amounts in euros, whole numbers, decimals."""

    def __init__(self, kind: str, decimals: int) -> None:
        #: ``amount`` (euros), ``whole`` or ``decimal``.
        self.kind = kind
        self.decimals = decimals

    def text(self, value: float | None, lang: Lang) -> str:
        """``value`` as the form shows it: "1 204 669 €", "12,3", "0,55"."""
        if value is None:
            return ""
        if self.kind == "amount":
            return money(value, lang)
        return number(value, lang, self.decimals)

    def convert(self, text: Any, from_lang: Lang, to_lang: Lang) -> str:
        """A typed text re-written in another language (kept as typed if it does not parse)."""
        try:
            return self.text(parse_number(str(text), from_lang), to_lang)
        except ValueError:
            return str(text)


def number_field(name: str) -> NumberField:
    """How the field ``name`` is written: amounts in euros, counts whole, scores to 0.01."""
    if name.startswith("AMT_") and not name.startswith("AMT_REQ_"):
        return NumberField("amount", 0)
    if name.startswith(_WHOLE):
        return NumberField("whole", 0)
    step = next((s for prefix, s in _STEPS.items() if name.startswith(prefix)), 1.0)
    return NumberField("decimal", 2 if step < 1 else 1)


def number_input(
    label: str,
    current: float | None,
    key: str,
    lang: Lang,
    field: NumberField,
    bounds: tuple[float | None, float | None] = (None, None),
    help_text: str | None = None,
    problems: list[str] | None = None,
) -> float | None:
    """A number typed as the dashboard writes numbers ("1 204 669 €", "12,3"); None if blank.

    Streamlit's own number box can only write "1204669" and "12.3": a text box instead, read
    back with :func:`parse_number`. A text that is not a number, or a number out of
    ``bounds``, is said under the box and its label added to ``problems`` (the value on file,
    ``current``, is kept meanwhile).
    """
    widget_key, carried = lang_key(key, lang, field.convert)
    typed = st.text_input(
        label,
        value="" if carried else field.text(current, lang),
        key=widget_key,
        help=help_text,
        placeholder=field.text(1234567.0 if field.kind == "amount" else 12.5, lang),
        persist_state=KEPT,
    )
    try:
        value = parse_number(typed, lang)
    except ValueError:
        example = field.text(1234567.0 if field.kind == "amount" else 12.5, lang)
        st.error(t("invalid_number", lang, text=typed, example=example), icon=":material/edit:")
        if problems is not None:
            problems.append(label)
        return current
    low, high = bounds
    if value is not None and (
        (low is not None and value < low) or (high is not None and value > high)
    ):
        st.error(
            t(
                "out_of_bounds",
                lang,
                label=label,
                low="—" if low is None else field.text(low, lang),
                high="—" if high is None else field.text(high, lang),
            ),
            icon=":material/edit:",
        )
        if problems is not None:
            problems.append(label)
        return current
    if value is not None and field.kind == "whole":
        return round(value)
    return value


def _number(
    spec: Mapping[str, Any],
    current: Any,
    key: str,
    label: str,
    lang: Lang,
    problems: list[str] | None,
) -> float | int | None:
    field = number_field(str(spec["name"]))
    return number_input(
        label,
        float(current) if _present(current) else None,
        key,
        lang,
        field,
        (spec["minimum"], spec["maximum"]),
        spec["description"] or None,
        problems,
    )


YEARS = NumberField("decimal", 1)


def _days_as_years(
    spec: Mapping[str, Any],
    current: Any,
    key: str,
    label: str,
    days_per_year: float,
    lang: Lang,
    problems: list[str] | None,
) -> float | None:
    shown = _years(current, days_per_year)
    years = number_input(
        label, shown, key, lang, YEARS, (0.0, 120.0), spec["description"] or None, problems
    )
    return _days(years, shown, current, days_per_year)


def _days(
    years: float | None, shown: float | None, current: Any, days_per_year: float
) -> float | None:
    """Days from the years typed, or the value on file when the years shown were left alone.

    A round trip through years rounded to 0.1 must not change the file.
    """
    if years is None:
        return None
    if shown is not None and years == shown:
        return float(current)
    return -round(float(years) * days_per_year)


def _employment(
    spec: Mapping[str, Any],
    current: Any,
    key: str,
    lang: Lang,
    none_value: float,
    days_per_year: float,
    problems: list[str] | None,
) -> float | None:
    no_job = st.checkbox(
        t("no_job", lang), value=current == none_value, key=f"{key}-none", persist_state=KEPT
    )
    shown = None if current == none_value else _years(current, days_per_year)
    years = number_input(
        t("years_employed", lang),
        shown,
        key,
        lang,
        YEARS,
        (0.0, 80.0),
        t("no_job_help", lang),
        None if no_job else problems,
    )
    if no_job:
        return none_value
    return _days(years, shown, None if current == none_value else current, days_per_year)


def application_form(
    names: Sequence[str],
    base: Mapping[str, Any],
    key: str,
    lang: Lang,
    columns: int = 2,
    problems: list[str] | None = None,
) -> dict[str, Any]:
    """Widgets for ``names``, pre-filled from ``base``; returns ``base`` with the edits.

    Call inside an ``st.form``. A field emptied by the advisor is removed (not given). The
    fields the API requires say so in their label. Numbers are typed as the dashboard writes
    them; the labels of fields whose text is not a valid number go to ``problems``.
    """
    answer = api.inputs(lang)
    specs = {field["name"]: field for field in answer["fields"]}
    per_year = float(answer["days_per_year"])
    none_value = float(answer["days_employed_none"])
    edited = dict(base)
    slots = st.columns(columns)
    for position, name in enumerate(names):
        spec = specs[name]
        widget_key = f"{key}-{name}"
        current = base.get(name)
        with slots[position % columns]:
            if name == EMPLOYED:
                value: Any = _employment(
                    spec, current, widget_key, lang, none_value, per_year, problems
                )
            elif name == AGE:
                label = required_label(spec, t("age", lang), lang)
                value = _days_as_years(spec, current, widget_key, label, per_year, lang, problems)
            elif spec["unit"] == "days":
                label = f"{spec['label']} ({'années' if lang == 'fr' else 'years'})"
                label = required_label(spec, label, lang)
                value = _days_as_years(spec, current, widget_key, label, per_year, lang, problems)
            elif spec["kind"] == "category":
                label = required_label(spec, str(spec["label"]), lang)
                value = _category(spec, current, widget_key, label, lang)
            else:
                label = required_label(spec, str(spec["label"]), lang)
                value = _number(spec, current, widget_key, label, lang, problems)
        if value is None:
            edited.pop(name, None)
        else:
            edited[name] = value
    return edited


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any], lang: Lang) -> list[str]:
    """Labels of the fields whose value differs between two applications."""
    specs = field_specs(lang)
    names = sorted(
        set(before) | set(after), key=lambda n: list(specs).index(n) if n in specs else 0
    )
    out = []
    for name in names:
        old, new = before.get(name), after.get(name)
        if isinstance(old, int | float) and isinstance(new, int | float):
            if math.isclose(float(old), float(new), rel_tol=1e-9, abs_tol=1e-9):
                continue
        elif old == new:
            continue
        out.append(specs[name]["label"] if name in specs else name)
    return out
