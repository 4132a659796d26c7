"""Human labels (French and English) for every model feature, and readable values.

The one place that turns column codes and raw values into words: the explain function and
the client function both read it, so an advisor sees the same wording everywhere.

- Raw columns: a short label of our own in each language, written from the public column
  dictionary (``resources/HomeCredit_columns_description.csv``), whose description stays
  available as :attr:`Label.description`.
- Domain features (ratios, external score aggregates) and the ``DAYS_EMPLOYED_ANOMALY`` flag:
  labels and descriptions written here, next to nothing else that could disagree.
- One-hot level features: "<column label> : <level>" built from :meth:`FeatureSpec.feature_origin`.
- Category levels: ``resources/level_labels.json``, French and English words for every level of
  every category column (the API's answers and the dashboard both read them from here).

Values are shown in units an advisor reads at a glance: ages and durations in years, amounts
with thousands separators (the data does not say which currency), ratios as percentages,
external scores from 0 to 1, flags as yes/no, a missing value as "not provided".
"""

from __future__ import annotations

import csv
import io
import json
import math
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Final, Literal

from creditscore_common.features import (
    DAYS_PER_YEAR,
    EMPLOYMENT_ANOMALY_FEATURE,
    EXT_SOURCE_FEATURES,
    RATIO_FEATURES,
    FeatureSpec,
)
from creditscore_common.reference_schema import DAYS_EMPLOYED_ANOMALY, load_schema

Lang = Literal["fr", "en"]
LANGUAGES: Final[tuple[Lang, ...]] = ("fr", "en")
DEFAULT_LANG: Final[Lang] = "fr"
DICTIONARY_FILE: Final = "resources/HomeCredit_columns_description.csv"
#: French and English words of every category level, by column.
LEVELS_FILE: Final = "resources/level_labels.json"


@dataclass(frozen=True)
class Label:
    """The name of a feature for people: French, English and a longer description."""

    fr: str
    en: str
    description: str

    def text(self, lang: Lang) -> str:
        """The label in ``lang``."""
        return self.fr if lang == "fr" else self.en


# ----------------------------------------------------------------------------- raw columns

#: Column -> (French, English). Building and document columns are composed further down.
_COLUMN_LABELS: dict[str, tuple[str, str]] = {
    "NAME_CONTRACT_TYPE": ("Type de contrat", "Contract type"),
    "CODE_GENDER": ("Genre", "Gender"),
    "FLAG_OWN_CAR": ("Propriétaire d'une voiture", "Owns a car"),
    "FLAG_OWN_REALTY": ("Propriétaire d'un logement", "Owns a home"),
    "CNT_CHILDREN": ("Nombre d'enfants", "Number of children"),
    "AMT_INCOME_TOTAL": ("Revenu annuel", "Annual income"),
    "AMT_CREDIT": ("Montant du crédit", "Credit amount"),
    "AMT_ANNUITY": ("Annuité du prêt", "Loan annuity"),
    "AMT_GOODS_PRICE": ("Prix du bien financé", "Price of the goods financed"),
    "NAME_TYPE_SUITE": ("Accompagnant lors de la demande", "Accompanied by at application"),
    "NAME_INCOME_TYPE": ("Type de revenu", "Income type"),
    "NAME_EDUCATION_TYPE": ("Niveau d'études", "Education level"),
    "NAME_FAMILY_STATUS": ("Situation familiale", "Family status"),
    "NAME_HOUSING_TYPE": ("Type de logement", "Housing situation"),
    "REGION_POPULATION_RELATIVE": ("Densité de population de la région", "Region population"),
    "DAYS_BIRTH": ("Âge", "Age"),
    "DAYS_EMPLOYED": ("Ancienneté dans l'emploi actuel", "Time in current job"),
    "DAYS_REGISTRATION": ("Dernier changement d'adresse officielle", "Last registration change"),
    "DAYS_ID_PUBLISH": ("Dernier changement de pièce d'identité", "Last identity document change"),
    "OWN_CAR_AGE": ("Âge de la voiture", "Age of the car"),
    "FLAG_MOBIL": ("Téléphone mobile fourni", "Mobile phone provided"),
    # The dictionary describes FLAG_WORK_PHONE and FLAG_PHONE alike ("home phone"); the
    # labels follow the column names so that the two never read the same.
    "FLAG_EMP_PHONE": ("Téléphone de l'employeur fourni", "Employer phone provided"),
    "FLAG_WORK_PHONE": ("Téléphone professionnel fourni", "Work phone provided"),
    "FLAG_CONT_MOBILE": ("Téléphone mobile joignable", "Mobile phone reachable"),
    "FLAG_PHONE": ("Téléphone fixe fourni", "Home phone provided"),
    "FLAG_EMAIL": ("E-mail fourni", "Email provided"),
    "OCCUPATION_TYPE": ("Profession", "Occupation"),
    "CNT_FAM_MEMBERS": ("Nombre de personnes au foyer", "Household size"),
    "REGION_RATING_CLIENT": ("Note de la région", "Region rating"),
    "REGION_RATING_CLIENT_W_CITY": ("Note de la région et de la ville", "Region and city rating"),
    "WEEKDAY_APPR_PROCESS_START": ("Jour de la demande", "Day of application"),
    "HOUR_APPR_PROCESS_START": ("Heure de la demande", "Hour of application"),
    "REG_REGION_NOT_LIVE_REGION": (
        "Adresses officielle et de contact dans deux régions",
        "Permanent and contact addresses in different regions",
    ),
    "REG_REGION_NOT_WORK_REGION": (
        "Adresse officielle et travail dans deux régions",
        "Permanent address and work in different regions",
    ),
    "LIVE_REGION_NOT_WORK_REGION": (
        "Adresse de contact et travail dans deux régions",
        "Contact address and work in different regions",
    ),
    "REG_CITY_NOT_LIVE_CITY": (
        "Adresses officielle et de contact dans deux villes",
        "Permanent and contact addresses in different cities",
    ),
    "REG_CITY_NOT_WORK_CITY": (
        "Adresse officielle et travail dans deux villes",
        "Permanent address and work in different cities",
    ),
    "LIVE_CITY_NOT_WORK_CITY": (
        "Adresse de contact et travail dans deux villes",
        "Contact address and work in different cities",
    ),
    "ORGANIZATION_TYPE": ("Secteur de l'employeur", "Employer's sector"),
    "EXT_SOURCE_1": ("Score externe 1", "External score 1"),
    "EXT_SOURCE_2": ("Score externe 2", "External score 2"),
    "EXT_SOURCE_3": ("Score externe 3", "External score 3"),
    "FONDKAPREMONT_MODE": ("Immeuble\u00a0: fonds de travaux", "Building: repair fund"),
    "HOUSETYPE_MODE": ("Immeuble\u00a0: type d'habitat", "Building: type of housing"),
    "TOTALAREA_MODE": ("Immeuble\u00a0: surface totale (mode)", "Building: total area (mode)"),
    "WALLSMATERIAL_MODE": ("Immeuble\u00a0: matériau des murs", "Building: wall material"),
    "EMERGENCYSTATE_MODE": ("Immeuble\u00a0: état d'urgence", "Building: emergency state"),
    "OBS_30_CNT_SOCIAL_CIRCLE": (
        "Entourage suivi (retard de 30 jours)",
        "Social circle observed (30 days past due)",
    ),
    "DEF_30_CNT_SOCIAL_CIRCLE": (
        "Entourage en défaut (retard de 30 jours)",
        "Social circle in default (30 days past due)",
    ),
    "OBS_60_CNT_SOCIAL_CIRCLE": (
        "Entourage suivi (retard de 60 jours)",
        "Social circle observed (60 days past due)",
    ),
    "DEF_60_CNT_SOCIAL_CIRCLE": (
        "Entourage en défaut (retard de 60 jours)",
        "Social circle in default (60 days past due)",
    ),
    "DAYS_LAST_PHONE_CHANGE": ("Dernier changement de téléphone", "Last phone change"),
    "AMT_REQ_CREDIT_BUREAU_HOUR": (
        "Consultations du bureau de crédit (dernière heure)",
        "Credit bureau enquiries (last hour)",
    ),
    "AMT_REQ_CREDIT_BUREAU_DAY": (
        "Consultations du bureau de crédit (dernier jour)",
        "Credit bureau enquiries (last day)",
    ),
    "AMT_REQ_CREDIT_BUREAU_WEEK": (
        "Consultations du bureau de crédit (dernière semaine)",
        "Credit bureau enquiries (last week)",
    ),
    "AMT_REQ_CREDIT_BUREAU_MON": (
        "Consultations du bureau de crédit (dernier mois)",
        "Credit bureau enquiries (last month)",
    ),
    "AMT_REQ_CREDIT_BUREAU_QRT": (
        "Consultations du bureau de crédit (dernier trimestre)",
        "Credit bureau enquiries (last quarter)",
    ),
    "AMT_REQ_CREDIT_BUREAU_YEAR": (
        "Consultations du bureau de crédit (dernière année)",
        "Credit bureau enquiries (last year)",
    ),
}

#: The 14 building measures, each given as an average, a mode and a median (normalised).
_BUILDING_MEASURES: dict[str, tuple[str, str]] = {
    "APARTMENTS": ("surface des appartements", "apartment size"),
    "BASEMENTAREA": ("surface du sous-sol", "basement area"),
    "YEARS_BEGINEXPLUATATION": ("ancienneté d'exploitation", "years in use"),
    "YEARS_BUILD": ("âge du bâtiment", "building age"),
    "COMMONAREA": ("surface des parties communes", "common area"),
    "ELEVATORS": ("nombre d'ascenseurs", "number of elevators"),
    "ENTRANCES": ("nombre d'entrées", "number of entrances"),
    "FLOORSMAX": ("nombre d'étages maximal", "highest floor count"),
    "FLOORSMIN": ("nombre d'étages minimal", "lowest floor count"),
    "LANDAREA": ("surface du terrain", "land area"),
    "LIVINGAPARTMENTS": ("logements habitables", "living apartments"),
    "LIVINGAREA": ("surface habitable", "living area"),
    "NONLIVINGAPARTMENTS": ("locaux non habitables", "non-living apartments"),
    "NONLIVINGAREA": ("surface non habitable", "non-living area"),
}
_BUILDING_STATISTICS: dict[str, tuple[str, str]] = {
    "AVG": ("moyenne", "average"),
    "MODE": ("mode", "mode"),
    "MEDI": ("médiane", "median"),
}
for _measure, (_fr, _en) in _BUILDING_MEASURES.items():
    for _suffix, (_stat_fr, _stat_en) in _BUILDING_STATISTICS.items():
        _COLUMN_LABELS[f"{_measure}_{_suffix}"] = (
            f"Immeuble\u00a0: {_fr} ({_stat_fr})",
            f"Building: {_en} ({_stat_en})",
        )
for _number in range(2, 22):
    _COLUMN_LABELS[f"FLAG_DOCUMENT_{_number}"] = (
        f"Document n° {_number} fourni",
        f"Document {_number} provided",
    )

# ----------------------------------------------------------------------------- derived features

_DERIVED_LABELS: dict[str, tuple[str, str, str]] = {
    "CREDIT_INCOME_RATIO": (
        "Crédit rapporté au revenu annuel",
        "Credit relative to annual income",
        "AMT_CREDIT / AMT_INCOME_TOTAL: the loan as a share of one year's income",
    ),
    "ANNUITY_INCOME_RATIO": (
        "Part du revenu consacrée au remboursement",
        "Share of income spent on repayments",
        "AMT_ANNUITY / AMT_INCOME_TOTAL: the yearly repayment as a share of income",
    ),
    "ANNUITY_CREDIT_RATIO": (
        "Annuité rapportée au crédit",
        "Annuity relative to credit",
        "AMT_ANNUITY / AMT_CREDIT: the higher, the shorter the loan",
    ),
    "EMPLOYED_AGE_RATIO": (
        "Part de la vie passée dans l'emploi actuel",
        "Share of life in current job",
        "DAYS_EMPLOYED / DAYS_BIRTH: time in the current job as a share of age",
    ),
    "INCOME_PER_FAMILY_MEMBER": (
        "Revenu par personne du foyer",
        "Income per household member",
        "AMT_INCOME_TOTAL / CNT_FAM_MEMBERS",
    ),
    "CREDIT_GOODS_RATIO": (
        "Crédit rapporté au prix du bien",
        "Credit relative to goods price",
        "AMT_CREDIT / AMT_GOODS_PRICE: above 100% the loan finances more than the goods",
    ),
    "EXT_SOURCE_MEAN": (
        "Moyenne des scores externes",
        "Average external score",
        "Mean of the known EXT_SOURCE_1..3 (normalised scores from external sources)",
    ),
    "EXT_SOURCE_MIN": (
        "Plus faible score externe",
        "Lowest external score",
        "Lowest of the known EXT_SOURCE_1..3",
    ),
    "EXT_SOURCE_MAX": (
        "Plus haut score externe",
        "Highest external score",
        "Highest of the known EXT_SOURCE_1..3",
    ),
    "EXT_SOURCE_PRODUCT": (
        "Produit des scores externes",
        "Product of external scores",
        "Product of the known EXT_SOURCE_1..3",
    ),
    "EXT_SOURCE_MISSING_COUNT": (
        "Nombre de scores externes manquants",
        "Number of missing external scores",
        "How many of EXT_SOURCE_1..3 are unknown (0 to 3)",
    ),
    EMPLOYMENT_ANOMALY_FEATURE: (
        "Sans emploi déclaré (retraité, sans activité)",
        "No current employment (pensioner, unemployed)",
        f"DAYS_EMPLOYED equals {DAYS_EMPLOYED_ANOMALY}, the code for no current employment",
    ),
}

_WORDS: dict[str, tuple[str, str]] = {
    "missing": ("non renseigné", "not provided"),
    "yes": ("oui", "yes"),
    "no": ("non", "no"),
    "not_employed": ("sans emploi", "not employed"),
    "today": ("le jour de la demande", "on the day of application"),
}


def word(key: str, lang: Lang) -> str:
    """A shared word ("missing", "yes", "no", ...) in ``lang``."""
    fr, en = _WORDS[key]
    return fr if lang == "fr" else en


# ----------------------------------------------------------------------------- dictionary


def _repair(text: str) -> str:
    # The public file holds a double-encoded U+FFFD where an ellipsis was meant.
    return " ".join(text.replace("Ã¯Â¿Â½", "…").split())


@lru_cache(maxsize=1)
def dictionary_descriptions() -> dict[str, str]:
    """Column -> description, from the public dictionary (application table rows only)."""
    raw = resources.files(__package__).joinpath(DICTIONARY_FILE).read_bytes()
    reader = csv.DictReader(io.StringIO(raw.decode("latin-1")))
    return {
        row["Row"].strip(): _repair(row["Description"])
        for row in reader
        if row.get("Table", "").startswith("application_")
    }


# ----------------------------------------------------------------------------- labels


def column_label(column: str) -> Label:
    """Label of a raw application column; KeyError for an unknown column."""
    fr, en = _COLUMN_LABELS[column]
    return Label(fr, en, dictionary_descriptions().get(column, ""))


@lru_cache(maxsize=1)
def level_labels() -> dict[str, dict[str, tuple[str, str]]]:
    """Column -> raw level -> (French, English), from :data:`LEVELS_FILE`.

    Every category level of the reference schema has its words there (a test checks it), and
    so do the few levels the real files hold beyond it.
    """
    raw = json.loads(resources.files(__package__).joinpath(LEVELS_FILE).read_text("utf-8"))
    return {
        column: {level: (words["fr"], words["en"]) for level, words in levels.items()}
        for column, levels in raw["columns"].items()
    }


@lru_cache(maxsize=1)
def _words_by_level() -> dict[str, tuple[str, str]]:
    # A raw level reads the same in every column it appears in (XNA, Y/N): one lookup table.
    return {level: words for levels in level_labels().values() for level, words in levels.items()}


def level_text(level: str, lang: Lang, column: str | None = None) -> str:
    """A category level as shown to people in ``lang``; an unknown level as the data spells it."""
    words = level_labels().get(column or "", {}).get(level) or _words_by_level().get(level)
    if words is None:
        return level
    return words[0] if lang == "fr" else words[1]


def fold(text: str) -> str:
    """``text`` lower-cased, without accents: how searches compare words ("Salarié", "salarie")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def levels_matching(word: str, columns: Iterable[str]) -> set[str]:
    """The raw levels of ``columns`` that ``word`` is part of, in the data or in either language.

    Case and accents are ignored: "salarie" and "Salarié" find ``Working`` ("salarié"),
    "working" finds it too.
    """
    needle = fold(word)
    found: set[str] = set()
    for column in columns:
        for level, (fr, en) in level_labels().get(column, {}).items():
            if any(needle in fold(text) for text in (level, fr, en)):
                found.add(level)
    return found


def _separator(lang: Lang) -> str:
    # French typography puts a space before the colon: a no-break one, so that the colon
    # never starts a line on its own.
    return "\u00a0: " if lang == "fr" else ": "


def feature_label(feature: str, origin: Mapping[str, str]) -> Label:
    """Label of one model feature, given its entry of :meth:`FeatureSpec.feature_origin`."""
    kind = origin.get("kind")
    if kind in ("domain", "flag") or feature in _DERIVED_LABELS:
        fr, en, description = _DERIVED_LABELS[feature]
        return Label(fr, en, description)
    column = column_label(origin["column"])
    if kind == "level":
        level = origin["level"]
        return Label(
            f"{column.fr}{_separator('fr')}{level_text(level, 'fr', origin['column'])}",
            f"{column.en}{_separator('en')}{level_text(level, 'en', origin['column'])}",
            f"{column.description} (1 when the value is {level!r})".strip(),
        )
    return column


def feature_labels(spec: FeatureSpec) -> dict[str, Label]:
    """Labels of every feature of a model, in the model's order."""
    origin = spec.feature_origin()
    return {feature: feature_label(feature, origin[feature]) for feature in spec.features}


def raw_column_labels() -> dict[str, Label]:
    """Labels of every raw column of an application, in the schema's order."""
    return {name: column_label(name) for name in load_schema().application_names}


# ----------------------------------------------------------------------------- numbers


def is_missing(value: Any) -> bool:
    """True for None, NaN, infinities and blank text: what the transform treats as unknown."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return not math.isfinite(float(value))
    except (TypeError, ValueError):
        return True


#: Between groups of thousands in French (U+202F, narrow no-break space).
THOUSANDS_SEPARATOR: Final = "\u202f"


def format_number(value: float, decimals: int, lang: Lang) -> str:
    """A number with thousands separators: "202 500,5" in French, "202,500.5" in English."""
    text = f"{value:,.{decimals}f}"
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]  # no "-0,0"
    if lang == "en":
        return text
    # French typography: a narrow no-break space between thousands (a number never splits
    # over two lines), as the dashboard writes them; a no-break space before a unit.
    return text.replace(",", THOUSANDS_SEPARATOR).replace(".", ",")


def format_percent(share: float, lang: Lang) -> str:
    """A share as a percentage: 0.152 -> "15,2 %" / "15.2%" (no decimal from 100% up)."""
    percent = share * 100
    number = format_number(percent, 0 if abs(percent) >= 100 else 1, lang)
    return f"{number}\u00a0%" if lang == "fr" else f"{number}%"


def format_amount(value: float, lang: Lang) -> str:
    """An amount in euros, to the unit: "1 204 669 €" / "€1,204,669"."""
    number = format_number(value, 0, lang)
    return f"{number}\u00a0€" if lang == "fr" else f"€{number}"


def format_points(points: float, lang: Lang) -> str:
    """Percentage points, unsigned, one decimal: "3,2 points" / "1,5 point" / "3.2 points"."""
    size = abs(points)
    number = format_number(size, 1, lang)
    if lang == "fr":
        return f"{number}\u00a0{'point' if round(size, 1) < 2 else 'points'}"
    return f"{number} {'point' if round(size, 1) == 1 else 'points'}"


def _years(days: float) -> float:
    return abs(days) / DAYS_PER_YEAR


def _duration(days: float, lang: Lang) -> str:
    """A duration given in days: in days under a year, in years (1 decimal) from there."""
    if abs(days) < DAYS_PER_YEAR:
        n = round(abs(days))
        unit = ("jour", "jours") if lang == "fr" else ("day", "days")
        return f"{n} {unit[0] if n == 1 else unit[1]}"
    years = _years(days)
    decimals = 0 if round(years, 1) >= 10 else 1
    number = format_number(years, decimals, lang)
    return f"{number} {_year_unit(round(years, decimals), lang)}"


def _year_unit(years: float, lang: Lang) -> str:
    # French keeps the singular below two ("1,5 an"); English only for exactly one.
    if lang == "fr":
        return "an" if years < 2 else "ans"
    return "year" if years == 1 else "years"


def _ago(days: float, lang: Lang) -> str:
    if round(days) == 0:
        return word("today", lang)
    span = _duration(days, lang)
    return f"il y a {span}" if lang == "fr" else f"{span} ago"


def _count(value: float, lang: Lang) -> str:
    return (
        format_number(value, 0, lang)
        if float(value).is_integer()
        else format_number(value, 1, lang)
    )


def format_value(column: str, value: Any, lang: Lang) -> str:
    """A raw column's value in readable units, in ``lang``."""
    if is_missing(value):
        return word("missing", lang)
    schema = load_schema().by_name
    kind = schema[column].kind if column in schema else None
    if kind == "categorical" or isinstance(value, str):
        return level_text(str(value), lang, column)
    number = float(value)
    if column == "DAYS_BIRTH":
        age = math.floor(_years(number))
        return f"{age} {_year_unit(age, lang)}"
    if column == "DAYS_EMPLOYED":
        if number == DAYS_EMPLOYED_ANOMALY:
            return word("not_employed", lang)
        return _duration(number, lang)
    if column.startswith("DAYS_"):
        return _ago(number, lang)
    if column == "OWN_CAR_AGE":
        return f"{_count(number, lang)} {_year_unit(number, lang)}"
    if column.startswith("AMT_REQ_CREDIT_BUREAU_") or column.startswith(("CNT_", "OBS_", "DEF_")):
        return _count(number, lang)
    if column.startswith("AMT_"):
        return format_amount(number, lang)
    if column.startswith("EXT_SOURCE_"):
        return format_number(number, 2, lang)
    if kind == "flag":
        return word("yes" if number >= 0.5 else "no", lang)
    if column == "HOUR_APPR_PROCESS_START":
        return f"{int(number)} h" if lang == "fr" else f"{int(number):02d}:00"
    if column.startswith("REGION_RATING_CLIENT"):
        return f"{int(number)} sur 3" if lang == "fr" else f"{int(number)} of 3"
    if column == "REGION_POPULATION_RELATIVE" or column.endswith(("_AVG", "_MODE", "_MEDI")):
        # Normalised 0-1 values with most of their mass below 0.1: three decimals.
        return format_number(number, 3, lang)
    if kind == "integer":
        return _count(number, lang)
    return format_number(number, 2, lang)


def format_derived_value(feature: str, value: Any, lang: Lang) -> str:
    """A domain feature's value (or the employment flag) in readable units, in ``lang``."""
    if is_missing(value):
        return word("missing", lang)
    number = float(value)
    if feature == EMPLOYMENT_ANOMALY_FEATURE:
        return word("yes" if number >= 0.5 else "no", lang)
    if feature == "INCOME_PER_FAMILY_MEMBER":
        return format_number(number, 0, lang)
    if feature == "EXT_SOURCE_MISSING_COUNT":
        return _count(number, lang)
    if feature in EXT_SOURCE_FEATURES:
        return format_number(number, 2, lang)
    if feature in TIMES_RATIOS:  # "4,5 fois le revenu annuel", not "446 %"
        fr, en = TIMES_RATIOS[feature]
        return f"{format_number(number, 1, lang)}\u00a0{fr if lang == 'fr' else en}"
    if feature in RATIO_FEATURES:
        return format_percent(number, lang)
    raise KeyError(f"{feature} is not a derived feature")


#: Ratios read as a number of times something (the dashboard writes its axes the same way);
#: the other ratios are shares, in percent.
TIMES_RATIOS: Final[dict[str, tuple[str, str]]] = {
    "CREDIT_INCOME_RATIO": ("fois le revenu annuel", "times the annual income"),
    "CREDIT_GOODS_RATIO": ("fois le prix du bien", "times the price of the goods"),
}
