"""Factors: the model's engineered features grouped under what the client declared.

An advisor cannot say "the product of the external scores lowers your risk while their mean
raises it": the model works on ~200 engineered features, the client filled in a form. Every
application field (its one-hot levels included) and every derived feature belongs to exactly
one factor named after declared fields; a factor's effect is the sum of its members' exact
TreeSHAP values, so an explanation by factors stays additive.

This table is the one place that grouping lives (a test checks that every application field
and derived feature has one factor). Protected attributes have no factor: they are never a
model input, so they can never be a reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Final

from creditscore_common.features import (
    DOMAIN_FEATURES,
    EMPLOYMENT_ANOMALY_FEATURE,
    PROTECTED_COLUMNS,
    FeatureSpec,
)
from creditscore_common.labels import Lang
from creditscore_common.reference_schema import load_schema


@dataclass(frozen=True)
class Factor:
    """A group of features an advisor can name in front of the client."""

    key: str
    fr: str
    en: str
    #: The fields whose values the advisor quotes, in order (declared fields first).
    quoted: tuple[str, ...]
    #: Whether the name is a plural in French / in English (the verb agrees with it).
    plural_fr: bool = False
    plural_en: bool = False
    #: Whether a field left empty is worth saying (a missing external score is a reason).
    quote_missing: bool = False

    def label(self, lang: Lang) -> str:
        """The factor's name in ``lang``."""
        return self.fr if lang == "fr" else self.en

    def plural(self, lang: Lang) -> bool:
        """Whether the factor's name is a plural in ``lang``."""
        return self.plural_fr if lang == "fr" else self.plural_en


_DOCUMENTS = tuple(f"FLAG_DOCUMENT_{n}" for n in range(2, 22))
_BUREAU = tuple(f"AMT_REQ_CREDIT_BUREAU_{p}" for p in ("HOUR", "DAY", "WEEK", "MON", "QRT", "YEAR"))
_BUILDING_SUFFIXES: Final = ("_AVG", "_MODE", "_MEDI")
_BUILDING_CATEGORIES: Final = (
    "FONDKAPREMONT_MODE",
    "HOUSETYPE_MODE",
    "WALLSMATERIAL_MODE",
    "EMERGENCYSTATE_MODE",
)

#: factor -> (French name, English name, members). Members are application fields (raw
#: columns, one-hot columns) and derived features; the building columns are added below.
_FACTORS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "external_scores": (
        "Scores externes",
        "External scores",
        (
            "EXT_SOURCE_1",
            "EXT_SOURCE_2",
            "EXT_SOURCE_3",
            "EXT_SOURCE_MEAN",
            "EXT_SOURCE_MIN",
            "EXT_SOURCE_MAX",
            "EXT_SOURCE_PRODUCT",
            "EXT_SOURCE_MISSING_COUNT",
        ),
    ),
    "loan": (
        "Montant et durée du crédit",
        "Loan amount and term",
        (
            "AMT_CREDIT",
            "AMT_ANNUITY",
            "AMT_GOODS_PRICE",
            "ANNUITY_CREDIT_RATIO",
            "CREDIT_GOODS_RATIO",
            "NAME_CONTRACT_TYPE",
        ),
    ),
    "affordability": (
        "Poids du crédit sur le revenu",
        "Loan relative to income",
        ("CREDIT_INCOME_RATIO", "ANNUITY_INCOME_RATIO"),
    ),
    "income": (
        "Revenus",
        "Income",
        ("AMT_INCOME_TOTAL", "INCOME_PER_FAMILY_MEMBER", "NAME_INCOME_TYPE"),
    ),
    "employment": (
        "Emploi",
        "Employment",
        ("DAYS_EMPLOYED", "EMPLOYED_AGE_RATIO", "OCCUPATION_TYPE", "ORGANIZATION_TYPE"),
    ),
    "age": ("Âge", "Age", ("DAYS_BIRTH",)),
    "family": (
        "Situation familiale",
        "Family situation",
        ("NAME_FAMILY_STATUS", "CNT_CHILDREN", "CNT_FAM_MEMBERS"),
    ),
    "education": ("Niveau d'études", "Education", ("NAME_EDUCATION_TYPE",)),
    "housing": (
        "Logement et biens",
        "Home and assets",
        ("NAME_HOUSING_TYPE", "FLAG_OWN_REALTY", "FLAG_OWN_CAR", "OWN_CAR_AGE"),
    ),
    "region": (
        "Région et adresses",
        "Region and addresses",
        (
            "REGION_RATING_CLIENT_W_CITY",
            "REGION_RATING_CLIENT",
            "REGION_POPULATION_RELATIVE",
            "REG_REGION_NOT_LIVE_REGION",
            "REG_REGION_NOT_WORK_REGION",
            "LIVE_REGION_NOT_WORK_REGION",
            "REG_CITY_NOT_LIVE_CITY",
            "REG_CITY_NOT_WORK_CITY",
            "LIVE_CITY_NOT_WORK_CITY",
        ),
    ),
    "building": ("Caractéristiques de l'immeuble", "Building characteristics", ()),
    "contact": (
        "Coordonnées fournies",
        "Contact details provided",
        (
            "FLAG_MOBIL",
            "FLAG_EMP_PHONE",
            "FLAG_WORK_PHONE",
            "FLAG_CONT_MOBILE",
            "FLAG_PHONE",
            "FLAG_EMAIL",
        ),
    ),
    "records": (
        "Ancienneté des pièces, de l'adresse et du téléphone",
        "Age of identity document, address and phone",
        ("DAYS_ID_PUBLISH", "DAYS_REGISTRATION", "DAYS_LAST_PHONE_CHANGE"),
    ),
    "documents": ("Documents fournis", "Documents provided", _DOCUMENTS),
    "social_circle": (
        "Défauts de paiement dans l'entourage",
        "Defaults in the social circle",
        (
            "DEF_30_CNT_SOCIAL_CIRCLE",
            "DEF_60_CNT_SOCIAL_CIRCLE",
            "OBS_30_CNT_SOCIAL_CIRCLE",
            "OBS_60_CNT_SOCIAL_CIRCLE",
        ),
    ),
    "bureau": ("Demandes au bureau de crédit", "Credit bureau enquiries", _BUREAU),
    "application": (
        "Circonstances de la demande",
        "Circumstances of the application",
        ("NAME_TYPE_SUITE", "WEEKDAY_APPR_PROCESS_START", "HOUR_APPR_PROCESS_START"),
    ),
}

#: Derived features quoted through the fields they come from (the client declared those).
_QUOTED_INSTEAD: dict[str, tuple[str, ...]] = {
    "external_scores": ("EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"),
    "loan": ("AMT_CREDIT", "AMT_ANNUITY", "AMT_GOODS_PRICE", "NAME_CONTRACT_TYPE"),
    "affordability": ("AMT_CREDIT", "AMT_ANNUITY", "AMT_INCOME_TOTAL"),
    "income": ("AMT_INCOME_TOTAL", "NAME_INCOME_TYPE", "CNT_FAM_MEMBERS"),
    "employment": ("DAYS_EMPLOYED", "OCCUPATION_TYPE", "ORGANIZATION_TYPE"),
}


_PLURAL_EN: Final = frozenset(
    {"external_scores", "housing", "region", "building", "contact", "documents",
     "social_circle", "bureau", "application"}
)  # fmt: skip
_PLURAL_FR: Final = _PLURAL_EN | {"income"}
_QUOTE_MISSING: Final = frozenset({"external_scores"})


def _members(key: str) -> tuple[str, ...]:
    """A factor's members; the building factor holds every building column of the schema."""
    if key != "building":
        return _FACTORS[key][2]
    names = load_schema().application_names
    return tuple(n for n in names if n.endswith(_BUILDING_SUFFIXES) or n in _BUILDING_CATEGORIES)


@cache
def factors() -> dict[str, Factor]:
    """Every factor by key, in the table's order."""
    out: dict[str, Factor] = {}
    for key, (fr, en, _) in _FACTORS.items():
        members = _members(key)
        quoted = _QUOTED_INSTEAD.get(key, tuple(m for m in members if m not in DOMAIN_FEATURES))
        out[key] = Factor(
            key,
            fr,
            en,
            quoted,
            plural_fr=key in _PLURAL_FR,
            plural_en=key in _PLURAL_EN,
            quote_missing=key in _QUOTE_MISSING,
        )
    return out


@cache
def factor_members() -> dict[str, str]:
    """Application field or derived feature -> its factor key (protected fields excluded)."""
    out: dict[str, str] = {}
    for key in _FACTORS:
        for member in _members(key):
            if member in out:
                raise ValueError(f"{member} belongs to two factors: {out[member]} and {key}")
            out[member] = key
    return out


def member_of(feature: str, origin: Mapping[str, str]) -> str:
    """The field or derived feature a model feature stands for (its key in the table)."""
    if origin["kind"] == "domain":
        return feature
    return origin["column"]


def feature_factors(spec: FeatureSpec) -> dict[str, str]:
    """Model feature -> factor key, for every feature of ``spec``.

    Raises ValueError if a feature has no factor or stands for a protected attribute: such a
    model must not be explained (nor served) at all.
    """
    members = factor_members()
    origin = spec.feature_origin()
    out: dict[str, str] = {}
    for feature in spec.features:
        member = member_of(feature, origin[feature])
        if member in PROTECTED_COLUMNS:
            raise ValueError(f"{feature} stands for the protected attribute {member}")
        if feature == EMPLOYMENT_ANOMALY_FEATURE:
            member = "DAYS_EMPLOYED"
        if member not in members:
            raise ValueError(f"{feature} ({member}) belongs to no factor")
        out[feature] = members[member]
    return out
