"""A stubbed credit-scoring API for the dashboard's tests: canned answers, faults on demand.

It listens on 127.0.0.1 only, answers every route the dashboard calls with answers of the
real API's shape (test_stub_contract.py validates them against the real response models),
records every request, and can be told to fail: a status for some paths, a delay, or a number
of 503 answers before it recovers.

Clients: 100001 (low risk, accepted), 100002 (high risk, refused) and 100004 (just above the
threshold, inside the model's uncertainty zone: refused on the score, band "borderline");
100003 has no score (404). POST /score gives a high risk when the income is under 95,000 (or
not given), a borderline one from 95,000 to 100,000, a low one above, so that a "what if" on
the income changes the decision. POST /score, /explain and /counterfactual answer 422
``insufficient_information`` without the API's minimum fields, as the real API does.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

# The real API's words and search rule: the level labels (labels.py, the one place they live)
# and the French search (clients.py) over the store's matching rule (store/base.py).
from srp_server import SrpServer

from creditscore_common import clients as api_clients
from creditscore_common import labels as api_labels
from creditscore_common.reference_schema import load_schema
from creditscore_common.store.base import matches_search, search_terms

TOKEN = "stub-token"
VERSION = "stub-model-1"
THRESHOLD = 0.1
#: The model version's uncertainty interval [lower, upper) around the threshold.
BORDERLINE = (0.085, 0.12)
LOW, MID, HIGH = 0.04, 0.102, 0.31
BASE_VALUE = -2.5
#: The API's minimum: these fields, and one of the external scores (schemas.py).
MINIMUM_FIELDS = ("AMT_INCOME_TOTAL", "AMT_CREDIT", "AMT_ANNUITY", "DAYS_BIRTH")
MINIMUM_ONE_OF = ("EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3")
CLIENTS: dict[int, dict[str, Any]] = {
    100001: {
        "NAME_CONTRACT_TYPE": "Cash loans",
        "CODE_GENDER": "F",
        "DAYS_BIRTH": -12000.0,
        "NAME_EDUCATION_TYPE": "Higher education",
        "NAME_FAMILY_STATUS": "Married",
        "CNT_CHILDREN": 1,
        "CNT_FAM_MEMBERS": 3.0,
        "NAME_INCOME_TYPE": "Working",
        "DAYS_EMPLOYED": -2000.0,
        "AMT_INCOME_TOTAL": 180000.0,
        "AMT_CREDIT": 500000.0,
        "AMT_ANNUITY": 25000.0,
        "AMT_GOODS_PRICE": 450000.0,
        "EXT_SOURCE_2": 0.7,
    },
    100002: {
        "NAME_CONTRACT_TYPE": "Cash loans",
        "CODE_GENDER": "M",
        "DAYS_BIRTH": -9000.0,
        "NAME_EDUCATION_TYPE": "Secondary / secondary special",
        "NAME_FAMILY_STATUS": "Single / not married",
        "CNT_CHILDREN": 0,
        "CNT_FAM_MEMBERS": 1.0,
        "NAME_INCOME_TYPE": "Working",
        "DAYS_EMPLOYED": -300.0,
        "AMT_INCOME_TOTAL": 90000.0,
        "AMT_CREDIT": 900000.0,
        "AMT_ANNUITY": 45000.0,
        "AMT_GOODS_PRICE": 800000.0,
        "EXT_SOURCE_2": 0.2,
    },
    100003: {"NAME_CONTRACT_TYPE": "Revolving loans", "AMT_INCOME_TOTAL": 50000.0},
    100004: {
        "NAME_CONTRACT_TYPE": "Cash loans",
        "CODE_GENDER": "F",
        "DAYS_BIRTH": -14000.0,
        "NAME_EDUCATION_TYPE": "Secondary / secondary special",
        "NAME_FAMILY_STATUS": "Married",
        "CNT_CHILDREN": 2,
        "CNT_FAM_MEMBERS": 4.0,
        "NAME_INCOME_TYPE": "Working",
        "DAYS_EMPLOYED": -1500.0,
        "AMT_INCOME_TOTAL": 97000.0,
        "AMT_CREDIT": 600000.0,
        "AMT_ANNUITY": 30000.0,
        "AMT_GOODS_PRICE": 540000.0,
        "EXT_SOURCE_2": 0.45,
    },
}
SCORED = (100001, 100002, 100004)
FEATURES = (
    ("EXT_SOURCE_MEAN", "Moyenne des scores externes", "Mean of the external scores", "score"),
    ("AGE_YEARS", "Âge", "Age", "years"),
    ("CREDIT_INCOME_RATIO", "Crédit rapporté au revenu", "Credit to income", "ratio"),
    ("AMT_CREDIT", "Montant du crédit", "Credit amount", "amount"),
    ("AMT_INCOME_TOTAL", "Revenu annuel", "Annual income", "amount"),
)
#: Every category column of the reference schema and its levels, as GET /inputs gives them.
LEVELS = {column.name: list(column.levels) for column in load_schema().columns if column.levels}
NUMBERS = {
    "DAYS_BIRTH": (-43830.0, 0.0, -15750.0),
    "DAYS_EMPLOYED": (None, None, -1213.0),
    "CNT_CHILDREN": (0.0, None, 0.0),
    "CNT_FAM_MEMBERS": (0.0, None, 2.0),
    "AMT_INCOME_TOTAL": (0.0, None, 147150.0),
    "AMT_CREDIT": (0.0, None, 513531.0),
    "AMT_ANNUITY": (0.0, None, 24903.0),
    "AMT_GOODS_PRICE": (0.0, None, 450000.0),
    "REGION_RATING_CLIENT": (1.0, 3.0, 2.0),
    "EXT_SOURCE_1": (0.0, 1.0, 0.5),
    "EXT_SOURCE_2": (0.0, 1.0, 0.57),
    "EXT_SOURCE_3": (0.0, 1.0, 0.54),
    "OWN_CAR_AGE": (0.0, None, 9.0),
    "AMT_REQ_CREDIT_BUREAU_YEAR": (0.0, None, 1.0),
    "DAYS_ID_PUBLISH": (None, 0.0, -3254.0),
    "DAYS_REGISTRATION": (None, 0.0, -4504.0),
    "DAYS_LAST_PHONE_CHANGE": (None, 0.0, -757.0),
}


def _lang(params: dict[str, str]) -> str:
    return "en" if params.get("lang") == "en" else "fr"


def _words_lang(lang: str) -> api_labels.Lang:
    return "en" if lang == "en" else "fr"


def probability_of(application: dict[str, Any]) -> float:
    """The stub's model: by income only (none given counts as a low income)."""
    income = application.get("AMT_INCOME_TOTAL")
    if income is None or income < 95_000:
        return HIGH
    return MID if income < 100_000 else LOW


def client_probability(client_id: int) -> float:
    """A scored client's probability (the one POST /score gives for their file)."""
    return probability_of(CLIENTS[client_id])


def missing_minimum(application: dict[str, Any]) -> list[str]:
    """The minimum fields an application lacks, named as the API names them."""
    missing = [name for name in MINIMUM_FIELDS if application.get(name) is None]
    if all(application.get(name) is None for name in MINIMUM_ONE_OF):
        missing.append("|".join(MINIMUM_ONE_OF))
    return missing


def insufficient(missing: list[str]) -> dict[str, Any]:
    """The API's 422 answer for an application without its minimum fields."""
    return {
        "error": "insufficient_information",
        "message": "too little information to score this application; missing: "
        + ", ".join(missing),
        "details": [
            {"field": name, "location": f"body.application.{name}", "problem": "required"}
            for name in missing
        ],
    }


def band(probability: float) -> str:
    """``borderline`` inside the uncertainty interval, else ``clear``."""
    lower, upper = BORDERLINE
    return "borderline" if lower <= probability < upper else "clear"


def decision(probability: float) -> str:
    """The API's decision: refuse from the threshold on."""
    return "refuse" if probability >= THRESHOLD else "accept"


def score(probability: float, client_id: int | None = None) -> dict[str, Any]:
    """A ScoreResponse."""
    answer: dict[str, Any] = {
        "probability": probability,
        "threshold": THRESHOLD,
        "decision": decision(probability),
        "band": band(probability),
        "borderline": {"lower": BORDERLINE[0], "upper": BORDERLINE[1]},
        "margin": probability - THRESHOLD,
        "model_version": VERSION,
    }
    if client_id is not None:
        answer["client_id"] = client_id
    return answer


def _number(value: float, decimals: int, lang: str) -> str:
    text = f"{value:,.{decimals}f}"
    return text if lang == "en" else text.replace(",", "\u00a0").replace(".", ",")


def _points(value: float, lang: str) -> str:
    size = round(abs(value), 1)
    if lang == "fr":
        return f"{_number(size, 1, lang)}\u00a0{'point' if size < 2 else 'points'}"
    return f"{_number(size, 1, lang)} {'point' if size == 1 else 'points'}"


def _percent(share: float, lang: str) -> str:
    return f"{_number(100 * share, 1, lang)}\u00a0%" if lang == "fr" else f"{100 * share:.1f}%"


def _amount(value: float, lang: str) -> str:
    return f"{_number(value, 0, lang)}\u00a0€" if lang == "fr" else f"€{_number(value, 0, lang)}"


def _direction(amount: float) -> str:
    return "raises" if amount > 0 else "lowers" if amount < 0 else "neutral"


def _sentence(subject: str, value: str | None, amount: float, points: float, lang: str) -> str:
    verbs = {
        ("fr", "raises"): "augmente le risque de défaut",
        ("fr", "lowers"): "diminue le risque de défaut",
        ("fr", "neutral"): "est sans effet sur le risque de défaut",
        ("en", "raises"): "raises the risk of default",
        ("en", "lowers"): "lowers the risk of default",
        ("en", "neutral"): "has no effect on the risk of default",
    }
    direction = _direction(amount)
    shown = f" ({value})" if value else ""
    by = ""
    if direction != "neutral":
        by = f" {'de' if lang == 'fr' else 'by'} {_points(points, lang)}"
    return f"{subject}{shown} {verbs[(lang, direction)]}{by}."


#: The real model's factors (factors.py): key, French and English names, the model feature
#: standing for it here (name, kind, column), the values quoted (French, English), and its
#: weight in the log-odds for a refused and an accepted client (scaled to add up exactly).
FACTORS: tuple[tuple[str, str, str, tuple[str, str, str | None], str, str, float, float], ...] = (
    (
        "external_scores",
        "Scores externes",
        "External scores",
        ("EXT_SOURCE_2", "raw", "EXT_SOURCE_2"),
        "Score externe 2\u00a0: 0,20",
        "External score 2: 0.20",
        0.6,
        -0.5,
    ),
    (
        "affordability",
        "Poids du crédit sur le revenu",
        "Loan relative to income",
        ("CREDIT_INCOME_RATIO", "domain", None),
        "Montant du crédit\u00a0: 900\u00a0000\u00a0€ ; Revenu annuel\u00a0: 90\u00a0000\u00a0€",
        "Credit amount: €900,000; Annual income: €90,000",
        0.35,
        -0.08,
    ),
    (
        "income",
        "Revenus",
        "Income",
        ("AMT_INCOME_TOTAL", "raw", "AMT_INCOME_TOTAL"),
        "Revenu annuel\u00a0: 90\u00a0000\u00a0€",
        "Annual income: €90,000",
        0.3,
        -0.2,
    ),
    (
        "loan",
        "Montant et durée du crédit",
        "Loan amount and term",
        ("AMT_CREDIT", "raw", "AMT_CREDIT"),
        "Montant du crédit\u00a0: 900\u00a0000\u00a0€",
        "Credit amount: €900,000",
        0.25,
        0.06,
    ),
    (
        "employment",
        "Emploi",
        "Employment",
        ("DAYS_EMPLOYED", "raw", "DAYS_EMPLOYED"),
        "Ancienneté dans l'emploi\u00a0: 1 an",
        "Time in employment: 1 year",
        0.12,
        -0.06,
    ),
    (
        "age",
        "Âge",
        "Age",
        ("DAYS_BIRTH", "raw", "DAYS_BIRTH"),
        "Âge\u00a0: 33 ans",
        "Age: 33 years",
        -0.1,
        -0.1,
    ),
    (
        "family",
        "Situation familiale",
        "Family situation",
        ("CNT_FAM_MEMBERS", "raw", "CNT_FAM_MEMBERS"),
        "Personnes au foyer\u00a0: 1",
        "Family members: 1",
        0.05,
        -0.04,
    ),
    (
        "education",
        "Niveau d'études",
        "Education",
        (
            "NAME_EDUCATION_TYPE_Secondary / secondary special",
            "level",
            "NAME_EDUCATION_TYPE",
        ),
        "Niveau d'études\u00a0: secondaire",
        "Education: secondary",
        0.04,
        -0.03,
    ),
    (
        "housing",
        "Logement et biens",
        "Home and assets",
        ("FLAG_OWN_REALTY", "flag", "FLAG_OWN_REALTY"),
        "Propriétaire\u00a0: oui",
        "Owns a home: yes",
        -0.03,
        -0.02,
    ),
    (
        "region",
        "Région et adresses",
        "Region and addresses",
        ("REGION_RATING_CLIENT", "raw", "REGION_RATING_CLIENT"),
        "Note de la région\u00a0: 2",
        "Region rating: 2",
        0.03,
        0.01,
    ),
    (
        "building",
        "Caractéristiques de l'immeuble",
        "Building characteristics",
        ("APARTMENTS_AVG", "raw", "APARTMENTS_AVG"),
        "Appartements (moyenne)\u00a0: non renseigné",
        "Apartments (average): not given",
        0.01,
        0.005,
    ),
    (
        "contact",
        "Coordonnées fournies",
        "Contact details provided",
        ("FLAG_PHONE", "flag", "FLAG_PHONE"),
        "Téléphone fixe\u00a0: non",
        "Home phone: no",
        0.006,
        -0.004,
    ),
    (
        "records",
        "Ancienneté des pièces, de l'adresse et du téléphone",
        "Age of identity document, address and phone",
        ("DAYS_ID_PUBLISH", "raw", "DAYS_ID_PUBLISH"),
        "Pièce d'identité\u00a0: 8,9 ans",
        "Identity document: 8.9 years",
        -0.02,
        -0.01,
    ),
    (
        "documents",
        "Documents fournis",
        "Documents provided",
        ("FLAG_DOCUMENT_3", "flag", "FLAG_DOCUMENT_3"),
        "Document 3\u00a0: oui",
        "Document 3: yes",
        0.0,
        0.0,
    ),
    (
        "social_circle",
        "Défauts de paiement dans l'entourage",
        "Defaults in the social circle",
        ("DEF_30_CNT_SOCIAL_CIRCLE", "raw", "DEF_30_CNT_SOCIAL_CIRCLE"),
        "Défauts à 30 jours dans l'entourage\u00a0: 0",
        "Defaults at 30 days in the social circle: 0",
        0.01,
        0.003,
    ),
    (
        "bureau",
        "Demandes au bureau de crédit",
        "Credit bureau enquiries",
        ("AMT_REQ_CREDIT_BUREAU_YEAR", "raw", "AMT_REQ_CREDIT_BUREAU_YEAR"),
        "Demandes sur un an\u00a0: 1",
        "Enquiries in a year: 1",
        -0.005,
        -0.002,
    ),
    (
        "application",
        "Circonstances de la demande",
        "Circumstances of the application",
        ("HOUR_APPR_PROCESS_START", "raw", "HOUR_APPR_PROCESS_START"),
        "Heure de la demande\u00a0: 10",
        "Hour of the application: 10",
        0.002,
        0.001,
    ),
)


def _sigmoid(log_odds: float) -> float:
    return 1 / (1 + math.exp(-log_odds))


def explanation(probability: float, lang: str, top: int | None, client_id: int | None) -> Any:
    """An Explanation: every factor once, in points that add up to probability - base.

    Its one feature a factor's contributions add up to the probability's log-odds; the
    points are the contributions on the API's scale (points_scale in explain.py).
    """
    log_odds = math.log(probability / (1 - probability))
    total = log_odds - BASE_VALUE
    refused = probability >= THRESHOLD
    weights = [(f[6] if refused else f[7]) for f in FACTORS]
    factor = total / math.fsum(weights)
    base_probability = _sigmoid(BASE_VALUE)
    scale = 100 * (probability - base_probability) / total
    fr = lang == "fr"
    factors = []
    features = []
    for (key, label_fr, label_en, (name, kind, column), v_fr, v_en, _, _), weight in zip(
        FACTORS, weights, strict=True
    ):
        amount = weight * factor
        label, value = (label_fr, v_fr) if fr else (label_en, v_en)
        points = amount * scale
        factors.append(
            {
                "factor": key,
                "label": label,
                "contribution": amount,
                "points": points,
                "direction": _direction(amount),
                "values": [{"field": column or name, "label": label, "value": value}],
                "value": value,
                "sentence": _sentence(label, value, amount, points, lang),
                "features": [name],
            }
        )
        features.append(
            {
                "feature": name,
                "kind": kind,
                "column": column,
                "label": label,
                "value": value,
                "raw_value": None,
                "contribution": amount,
                "points": points,
                "factor": key,
                "direction": _direction(amount),
                "sentence": _sentence(label, value, amount, points, lang),
            }
        )
    factors.sort(key=lambda f: -abs(f["contribution"]))
    features.sort(key=lambda f: -abs(f["contribution"]))
    listed = features if top is None or top >= len(features) else features[:top]
    if len(listed) < len(features):
        rest = features[len(listed) :]
        amount = math.fsum(f["contribution"] for f in rest)
        listed.append(
            {
                "feature": "OTHER_FEATURES",
                "kind": "other",
                "column": None,
                "label": f"Autres caractéristiques ({len(rest)})"
                if fr
                else f"Other features ({len(rest)})",
                "value": None,
                "raw_value": None,
                "contribution": amount,
                "points": amount * scale,
                "factor": None,
                "direction": _direction(amount),
                "sentence": "…",
            }
        )
    wanted = "raises" if refused else "lowers"
    listed_sum = math.fsum(f["contribution"] for f in listed)
    return {
        "client_id": client_id,
        "model_version": VERSION,
        "lang": lang,
        "probability": probability,
        "threshold": THRESHOLD,
        "decision": decision(probability),
        "band": band(probability),
        "borderline": {"lower": BORDERLINE[0], "upper": BORDERLINE[1]},
        "summary": f"p = {probability}",
        "log_odds": log_odds,
        "base_value": BASE_VALUE,
        "base_probability": base_probability,
        "contributions_sum": listed_sum,
        "additivity_gap": abs(BASE_VALUE + listed_sum - log_odds),
        "probability_from_log_odds": probability,
        "conversion": "probability = 1 / (1 + exp(-(base_value + sum(contributions))))",
        "points_method": "points = 100 * contribution * (probability - base_probability) / "
        "sum(contributions)",
        "points_total": 100 * (probability - base_probability),
        "n_features": len(features),
        "top": top,
        "contributions": listed,
        "factors": factors,
        "reasons": [f for f in factors if f["direction"] == wanted][:4],
    }


def counterfactual(
    application: dict[str, Any], lang: str, client_id: int | None = None
) -> dict[str, Any]:
    """A Counterfactual: for a refusal, a smaller loan and a longer term the model accepts."""
    probability = probability_of(application)
    fr = lang == "fr"
    answer: dict[str, Any] = {
        "client_id": client_id,
        "model_version": VERSION,
        "lang": lang,
        "probability": probability,
        "threshold": THRESHOLD,
        "decision": decision(probability),
        "band": band(probability),
        "fields_changed": ["AMT_CREDIT", "AMT_ANNUITY", "AMT_GOODS_PRICE"],
        "method": "grid and bisection on the levers the client controls, verified by re-scoring",
    }
    if probability < THRESHOLD:
        summary = (
            "Le crédit est accordé : aucune modification n'est nécessaire."
            if fr
            else "The loan is granted: no change is needed."
        )
        return answer | {"needed": False, "found": False, "summary": summary, "options": []}
    credit, annuity = float(application["AMT_CREDIT"]), float(application["AMT_ANNUITY"])
    goods = application.get("AMT_GOODS_PRICE")
    term = credit / annuity
    smaller = round(0.8 * credit, -4)

    def change(field: str, label: str, current: float, proposed: float) -> dict[str, Any]:
        return {
            "field": field,
            "label": label,
            "current": current,
            "proposed": proposed,
            "current_text": _amount(current, lang),
            "proposed_text": _amount(proposed, lang),
        }

    credit_label = "Montant du crédit" if fr else "Credit amount"
    annuity_label = "Annuité" if fr else "Annuity"
    years = _number(term, 0, lang)
    longer = term + 5
    down_payment = None if goods is None else float(goods) - smaller
    options = [
        {
            "lever": "down_payment",
            "changes": [
                change("AMT_CREDIT", credit_label, credit, smaller),
                change("AMT_ANNUITY", annuity_label, annuity, smaller / term),
            ],
            "term_years": term,
            "down_payment": down_payment,
            "probability": 0.095,
            "decision": "accept",
            "band": band(0.095),
            "points_change": 100 * (0.095 - probability),
            "sentence": f"Accordable jusqu'à {_amount(smaller, lang)} sur {years} ans."
            if fr
            else f"Could be granted up to {_amount(smaller, lang)} over {years} years.",
        },
        {
            "lever": "longer_term",
            "changes": [change("AMT_ANNUITY", annuity_label, annuity, credit / longer)],
            "term_years": longer,
            "down_payment": None if goods is None else float(goods) - credit,
            "probability": 0.09,
            "decision": "accept",
            "band": band(0.09),
            "points_change": 100 * (0.09 - probability),
            "sentence": f"Accordable sur {_number(longer, 0, lang)} ans au lieu de {years}, "
            f"avec une annuité de {_amount(credit / longer, lang)}."
            if fr
            else f"Could be granted over {_number(longer, 0, lang)} years instead of {years}, "
            f"with an annuity of {_amount(credit / longer, lang)}.",
        },
    ]
    summary = (
        f"{len(options)} modifications permettraient un accord ; la plus petite d'abord."
        if fr
        else f"{len(options)} changes would get the loan granted; the smallest first."
    )
    return answer | {"needed": True, "found": True, "summary": summary, "options": options}


def details(client_id: int, lang: str) -> dict[str, Any]:
    """A ClientDetails: a few fields of each section, sections in the real API's order."""
    raw = CLIENTS[client_id]
    fields = [
        ("AGE_YEARS", "Âge", "identity", 32.9, "years", "32 ans"),
        ("CODE_GENDER", "Genre", "identity", raw.get("CODE_GENDER"), None, "femme"),
        (
            "NAME_FAMILY_STATUS",
            "Situation familiale",
            "family",
            raw.get("NAME_FAMILY_STATUS"),
            None,
            str(raw.get("NAME_FAMILY_STATUS")),
        ),
        ("NAME_INCOME_TYPE", "Type de revenu", "employment", "Working", None, "Working"),
        (
            "NAME_HOUSING_TYPE",
            "Type de logement",
            "housing",
            raw.get("NAME_HOUSING_TYPE"),
            None,
            str(raw.get("NAME_HOUSING_TYPE") or "non renseigné"),
        ),
        (
            "AMT_CREDIT",
            "Montant du crédit",
            "loan",
            raw.get("AMT_CREDIT"),
            "amount",
            str(raw.get("AMT_CREDIT")),
        ),
        (
            "AMT_INCOME_TOTAL",
            "Revenu annuel",
            "income",
            raw.get("AMT_INCOME_TOTAL"),
            "amount",
            str(raw.get("AMT_INCOME_TOTAL")),
        ),
        ("EXT_SOURCE_2", "Score externe 2", "scores", raw.get("EXT_SOURCE_2"), "score", "0,7"),
    ]
    return {
        "client_id": client_id,
        "lang": lang,
        "groups": {
            "age_band": "25_35",
            "gender": "female" if raw.get("CODE_GENDER") == "F" else "male",
            "contract_type": "cash",
            "income_type": "working",
            "education": "higher",
        },
        "fields": [
            {"name": n, "label": label, "section": s, "value": v, "unit": u, "text": text}
            for n, label, s, v, u, text in fields
        ],
    }


def _group(filters: dict[str, str]) -> dict[str, Any]:
    size = 1000 if not filters else 400
    defaulted = size // 10
    return {
        "filters": filters,
        "size": size,
        "by_class": {"repaid": size - defaulted, "defaulted": defaulted},
        "default_rate": defaulted / size,
    }


def comparison(client_id: int, params: dict[str, str]) -> dict[str, Any]:
    """A ComparisonResponse on FEATURES (or the asked ones)."""
    asked = [f for f in params.get("features", "").split(",") if f]
    filters = {g["name"]: params[g["name"]] for g in inputs("fr")["groups"] if g["name"] in params}
    lang = _lang(params)
    features = []
    for name, fr, en, unit in FEATURES:
        if asked and name not in asked:
            continue
        features.append(
            {
                "feature": name,
                "label": fr if lang == "fr" else en,
                "unit": unit,
                "client_value": 0.5,
                "client_bin": 2,
                "percentile": 55.0,
                "bin_edges": [0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
                "counts": {
                    "repaid": [100, 200, 300, 200, 100],
                    "defaulted": [30, 30, 20, None, 10],
                },
                "missing": {"repaid": 12, "defaulted": None},
            }
        )
    return {
        "client_id": client_id,
        "model_version": VERSION,
        "lang": lang,
        "group": _group(filters),
        "min_cell_count": 5,
        "features": features,
    }


def bivariate(client_id: int, params: dict[str, str]) -> dict[str, Any]:
    """A BivariateResponse: a 3 x 4 grid, one cell hidden."""
    lang = _lang(params)
    labels = {name: (fr if lang == "fr" else en, unit) for name, fr, en, unit in FEATURES}

    def axis(name: str, n: int) -> dict[str, Any]:
        label, unit = labels.get(name, (name, "score"))
        return {
            "feature": name,
            "label": label,
            "unit": unit,
            "client_value": 0.3,
            "bin_edges": [i / n for i in range(n + 1)],
        }

    return {
        "client_id": client_id,
        "model_version": VERSION,
        "lang": lang,
        "group": _group({}),
        "min_cell_count": 5,
        "x": axis(params["x"], 3),
        "y": axis(params["y"], 4),
        "counts": {
            "repaid": [[50, 60, 70, 80], [40, 50, None, 70], [30, 40, 50, 60]],
            "defaulted": [[5, 6, 7, 8], [9, 10, None, 12], [13, 14, 15, 16]],
        },
        "missing": {"repaid": 20, "defaulted": 6},
    }


#: Reference clients whose score fell near each stub probability: (lower, upper, n, rate).
SCORE_BINS = {
    LOW: (0.03, 0.05, 1500, 0.041),
    MID: (0.09, 0.11, 800, 0.098),
    HIGH: (0.25, 0.4, 412, 0.291),
}


def similar(client_id: int, k: int, lang: str) -> dict[str, Any]:
    """A SimilarResponse."""
    probability = client_probability(client_id)
    lower, upper, n, rate = SCORE_BINS[probability]
    neighbours = 7 / k
    if lang == "fr":
        explanation = (
            f"Parmi les {k} clients de référence les plus proches (âge, montant du crédit), "
            f"{_percent(neighbours, lang)} ont fait défaut. Parmi les {n} clients de référence "
            f"dont le score était voisin ({_percent(lower, lang)} à {_percent(upper, lang)}), "
            f"{_percent(rate, lang)} ont fait défaut : c'est ce que mesure le score de "
            f"{_percent(probability, lang)}."
        )
    else:
        explanation = (
            f"Among the {k} most similar reference clients (age, credit amount), "
            f"{_percent(neighbours, lang)} defaulted. Among the {n} reference clients with a "
            f"similar score ({_percent(lower, lang)} to {_percent(upper, lang)}), "
            f"{_percent(rate, lang)} defaulted: that is what the score of "
            f"{_percent(probability, lang)} measures."
        )
    raw = CLIENTS[client_id]
    return {
        "client_id": client_id,
        "model_version": VERSION,
        "lang": lang,
        "k": k,
        "n_defaulted": 7,
        "n_repaid": k - 7,
        "default_rate": neighbours,
        "reference_default_rate": 0.0808,
        "features_used": ["AGE_YEARS", "AMT_CREDIT"],
        "probability": probability,
        "score_bin": {
            "lower": lower,
            "upper": upper,
            "n_clients": n,
            "default_rate": rate,
            "mean_probability": probability,
        },
        "explanation": explanation,
        "medians": {
            "AGE_YEARS": 33.1,
            "AMT_INCOME_TOTAL": 150000.0,
            "AMT_CREDIT": 510000.0,
            "EXT_SOURCE_MEAN": None,
        },
        "client_values": {
            "AGE_YEARS": round(-float(raw["DAYS_BIRTH"]) / 365.25, 1),
            "AMT_INCOME_TOTAL": raw["AMT_INCOME_TOTAL"],
            "AMT_CREDIT": raw["AMT_CREDIT"],
            "EXT_SOURCE_MEAN": raw.get("EXT_SOURCE_2"),
        },
        "factors": {
            "AGE_YEARS": "age",
            "AMT_INCOME_TOTAL": "income",
            "AMT_CREDIT": "loan",
            "EXT_SOURCE_MEAN": "external_scores",
        },
        "shares": {"gender": {"female": 0.6, "male": 0.4}},
    }


def inputs(lang: str) -> dict[str, Any]:
    """An InputsResponse for the fields the dashboard's forms use."""
    fields = []
    for name, levels in LEVELS.items():
        fields.append(
            {
                "name": name,
                "label": f"{name} ({lang})",
                "description": f"dictionary text of {name}",
                "kind": "category",
                "unit": None,
                "minimum": None,
                "maximum": None,
                "median": None,
                "missing_rate": 0.0,
                "levels": [
                    {
                        "value": v,
                        "text": api_labels.level_text(v, _words_lang(lang), name),
                        "share": round(1 / len(levels), 4),
                    }
                    for v in levels
                ],
                "required": False,
                "required_group": None,
            }
        )
    for name, (low, high, median) in NUMBERS.items():
        fields.append(
            {
                "name": name,
                "label": f"{name} ({lang})",
                "description": "",
                "kind": "number",
                "unit": "days" if name.startswith("DAYS_") else None,
                "minimum": low,
                "maximum": high,
                "median": median,
                "missing_rate": 0.1,
                "levels": None,
                "required": name in MINIMUM_FIELDS,
                "required_group": "|".join(MINIMUM_ONE_OF) if name in MINIMUM_ONE_OF else None,
            }
        )
    groups = [
        {
            "name": "age_band",
            "label": "Âge",
            "levels": [
                {"value": "under_25", "text": "< 25 ans"},
                {"value": "25_35", "text": "25-35 ans"},
            ],
        },
        {
            "name": "gender",
            "label": "Genre",
            "levels": [{"value": "female", "text": "femme"}, {"value": "male", "text": "homme"}],
        },
        {
            "name": "contract_type",
            "label": "Type de contrat",
            "levels": [
                {"value": "cash", "text": api_labels.level_text("Cash loans", _words_lang(lang))}
            ],
        },
        {
            "name": "income_type",
            "label": "Type de revenu",
            "levels": [
                {"value": "working", "text": api_labels.level_text("Working", _words_lang(lang))}
            ],
        },
        {
            "name": "education",
            "label": "Niveau d'études",
            "levels": [
                {
                    "value": "higher",
                    "text": api_labels.level_text("Higher education", _words_lang(lang)),
                }
            ],
        },
    ]
    return {
        "lang": lang,
        "days_per_year": 365.25,
        "days_employed_none": 365243.0,
        "fields": fields,
        "minimum_rule": (
            "Pour être évaluée, une demande doit donner le revenu, le montant du crédit, "
            "l'annuité, la date de naissance et au moins un score externe."
            if lang == "fr"
            else "To be scored, an application must give the income, the credit amount, the "
            "annuity, the birth date and at least one external score."
        ),
        "groups": groups,
    }


#: Fairness groups of the stub's model card: (dimension, group, French, English, clients,
#: approved, defaulters, defaulters approved). The words are those of the real API's card.
FAIRNESS_GROUPS = (
    ("gender", "F", "femmes", "women", 4000, 3120, 300, 120),
    ("gender", "M", "hommes", "men", 1996, 1417, 180, 63),
    ("gender", "other", "autre ou non renseigné", "other or not given", 4, 0, 0, 0),
    ("age_band", "< 30", "moins de 30 ans", "under 30", 900, 540, 120, 30),
    ("age_band", "30–45", "30 à 45 ans", "30 to 45", 2300, 1725, 200, 80),
    ("age_band", "45–60", "45 à 60 ans", "45 to 60", 2000, 1600, 130, 60),
    ("age_band", "≥ 60", "60 ans et plus", "60 and over", 800, 720, 30, 18),
    ("family_status", "Married", "marié(e)", "Married", 3800, 2900, 280, 110),
    ("family_status", "Single / not married", "célibataire", "Single / not married", 1200, 860,
     120, 50),
    ("family_status", "Civil marriage", "union civile", "Civil marriage", 600, 450, 50, 20),
    ("family_status", "Widow", "veuf ou veuve", "Widow", 398, 350, 30, 15),
    ("family_status", "unknown", "non renseigné", "not provided", 2, 0, 0, 0),
)  # fmt: skip
FAIRNESS_DIMENSIONS = {
    "gender": ("CODE_GENDER", "Genre", "Gender"),
    "age_band": ("DAYS_BIRTH", "Âge", "Age"),
    "family_status": ("NAME_FAMILY_STATUS", "Situation familiale", "Family status"),
}
MIN_GROUP_SIZE = 50


def _fairness_group(
    group: str, label: str, n: int, approved: int, defaulted: int, defaulted_approved: int
) -> dict[str, Any]:
    if n < MIN_GROUP_SIZE:
        rates = (
            "n_approved",
            "n_defaulted",
            "approval_rate",
            "default_rate_approved",
            "false_positive_rate",
            "false_negative_rate",
            "true_positive_rate",
        )
        return {"group": group, "label": label, "n": n, **dict.fromkeys(rates)}
    good, good_refused = n - defaulted, (n - approved) - (defaulted - defaulted_approved)
    return {
        "group": group,
        "label": label,
        "n": n,
        "n_approved": approved,
        "n_defaulted": defaulted,
        "approval_rate": approved / n,
        "default_rate_approved": defaulted_approved / approved,
        "false_positive_rate": good_refused / good,
        "false_negative_rate": defaulted_approved / defaulted,
        "true_positive_rate": 1 - defaulted_approved / defaulted,
    }


def fairness(lang: str) -> dict[str, Any]:
    """A Fairness record: approval 78.0% (F) and 71.0% (M), ratio 0.91; age below 4/5."""
    dimensions: dict[str, Any] = {}
    for name, (column, fr, en) in FAIRNESS_DIMENSIONS.items():
        groups = [
            _fairness_group(group, g_fr if lang == "fr" else g_en, *counts)
            for dimension, group, g_fr, g_en, *counts in FAIRNESS_GROUPS
            if dimension == name
        ]
        rated = [g for g in groups if g["approval_rate"] is not None]
        low = min(rated, key=lambda g: g["approval_rate"])
        high = max(rated, key=lambda g: g["approval_rate"])
        ratio = low["approval_rate"] / high["approval_rate"]
        tpr = [g["true_positive_rate"] for g in rated]
        dimensions[name] = {
            "column": column,
            "label": fr if lang == "fr" else en,
            "groups": groups,
            "parity_ratio": ratio,
            "lowest_approval": low["group"],
            "highest_approval": high["group"],
            "below_four_fifths": ratio < 0.8,
            "equal_opportunity_gap": max(tpr) - min(tpr),
        }
    return {
        "predictions": "out-of-fold probabilities of the chosen model",
        "threshold": THRESHOLD,
        "decision_rule": "approved when probability < threshold",
        "min_group_size": MIN_GROUP_SIZE,
        "four_fifths": 0.8,
        "small_groups": "groups of fewer than 50 clients: size shown, rates null",
        "n_clients": 6000,
        "dimensions": dimensions,
    }


def calibration() -> dict[str, Any]:
    """A Calibration record: ECE 0.1 point (two bins off by half a point), no correction."""
    predicted = [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.15, 0.26]
    defaulted = [9, 12, 18, 24, 30, 36, 48, 60, 90, 153]
    figures = {
        "ece": 0.001,
        "brier": 0.066,
        "mean_probability": 0.08,
        "reliability": {
            "edges": [0.0, 0.015, 0.025, 0.035, 0.045, 0.055, 0.07, 0.09, 0.12, 0.2, 1.0],
            "n_clients": [600] * 10,
            "n_defaulted": defaulted,
            "mean_probability": predicted,
            "observed_rate": [d / 600 for d in defaulted],
        },
    }
    return {
        "predictions": "out-of-fold probabilities of the chosen model",
        "n_bins": 10,
        "binning": "quantile bins of the probabilities (as score_bins)",
        "tolerance": 0.01,
        "ece": 0.001,
        "brier": 0.066,
        "calibrated": False,
        "reason": "ECE <= 0.01",
        "method": None,
        "logit_shift": 0.0,
        "before": figures,
        "after": None,
    }


def model_card(lang: str) -> dict[str, Any]:
    """A ModelCard."""
    return {
        "model_version": VERSION,
        "created_at": "2026-11-27T23:27:21+00:00",
        "model_type": "lightgbm",
        "lang": lang,
        "decision_rule": "refuse when probability >= threshold",
        "threshold": THRESHOLD,
        "cost_fn": 10.0,
        "cost_fp": 1.0,
        "training_data": {
            "file": "application_train.csv",
            "sha256": "0" * 64,
            "n_clients": 6000,
            "default_rate": 0.08,
        },
        "metrics": {
            "cv_auc": 0.77,
            "cv_cost_per_client": 0.5,
            "recall": 0.63,
            "refusal_rate": 0.25,
        },
        "comparison": [
            {
                "model": "dummy",
                "imbalance": "none",
                "auc": 0.5,
                "cost_per_client": 0.8,
                "threshold": None,
            },
            {
                "model": "lightgbm",
                "imbalance": "none",
                "auc": 0.77,
                "cost_per_client": 0.5,
                "threshold": THRESHOLD,
            },
        ],
        "chosen": {"model": "lightgbm"},
        "n_features": 4,
        "leakage_alarm": False,
        "onnx_parity": {"max_abs_diff": 3e-7},
        "calibration": calibration(),
        "fairness": fairness(lang),
        "explanation_method": "TreeSHAP",
        "intended_use": ["help advisors"],
        "known_limits": ["synthetic data"],
    }


def importance(lang: str, top: int) -> dict[str, Any]:
    """A GlobalImportance."""
    features = [
        {
            "rank": i + 1,
            "feature": name,
            "label": fr if lang == "fr" else en,
            "mean_abs_shap": 0.4 / (i + 1),
            "mean_shap": 0.0,
        }
        for i, (name, fr, en, _) in enumerate(FEATURES)
    ][:top]
    return {
        "model_version": VERSION,
        "lang": lang,
        "method": "mean |TreeSHAP|",
        "n_clients_sampled": 6000,
        "base_value": -2.5,
        "n_features": 4,
        "top": top,
        "features": features,
    }


def drift_summary() -> dict[str, Any]:
    """A DriftSummary: two of three inputs drifted."""

    def feature(name: str, fr: str, en: str, psi: float, drifted: bool, rank: int) -> Any:
        return {
            "name": name,
            "kind": "numeric",
            "label": fr,
            "label_en": en,
            "test": "ks",
            "statistics": {"ks": 0.1, "wasserstein": 1.0, "wasserstein_normed": 0.2},
            "p_value": 0.001,
            "p_adjusted": 0.003,
            "psi": psi,
            "missing_reference": 0.0,
            "missing_current": 0.0,
            "drifted": drifted,
            "importance": 0.1,
            "importance_rank": rank,
        }

    return {
        "generated_at": "2026-11-27T23:30:00+00:00",
        "model_version": VERSION,
        "reference": {"rows": 6000, "source": "application_train.csv"},
        "current": {"rows": 1500, "source": "application_test.csv"},
        "verdict": "drift",
        "message": "2 of 3 model inputs drifted.",
        "drift_share": 2 / 3,
        "share_threshold": 0.3,
        "importance_drift_share": 0.5,
        "n_features": 3,
        "n_drifted": 2,
        "min_rows": 200,
        "thresholds": {
            "alpha": 0.05,
            "correction": "benjamini-hochberg",
            "psi": 0.1,
            "wasserstein_normed": 0.1,
            "jensen_shannon": 0.1,
            "missing_share": 0.05,
        },
        "features": [
            feature("AMT_CREDIT", "Montant du crédit", "Credit amount", 0.4, True, 3),
            feature("DAYS_BIRTH", "Âge", "Age", 0.25, True, 2),
            feature("EXT_SOURCE_2", "Score externe 2", "External score 2", 0.01, False, 1),
        ],
        "prediction": {
            "psi": 0.08,
            "ks_statistic": 0.05,
            "p_value": 0.01,
            "wasserstein_normed": 0.05,
            "reference_mean": 0.08,
            "current_mean": 0.09,
            "drifted": False,
            "source": "rescored",
        },
    }


@dataclass
class Fault:
    """Make matching requests fail: ``status`` (or a hang of ``delay`` s), ``times`` times."""

    path_prefix: str
    status: int = 503
    delay: float = 0.0
    times: int | None = None  # None: every time
    method: str | None = None  # None: any method
    body: dict[str, Any] | None = None  # the answer's body (else a stub_fault one)


@dataclass
class Rendezvous:
    """Hold the first request to each of ``paths`` until all of them have arrived.

    A page that asks for them one after the other never gets the first answer: its request
    waits ``patience`` seconds for the others, then gets a 504 (the page shows an error).
    """

    paths: frozenset[str]
    patience: float = 1.5
    waiting: set[str] = field(default_factory=set)
    barrier: threading.Barrier = field(init=False)

    def __post_init__(self) -> None:
        self.waiting = set(self.paths)
        self.barrier = threading.Barrier(len(self.paths), timeout=self.patience)

    def meet(self, path: str, lock: threading.Lock) -> bool:
        """Wait for the others if ``path`` is one of the first requests held (False: alone)."""
        with lock:
            if path not in self.waiting:
                return True
            self.waiting.discard(path)
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            return False
        return True


#: The user pool the stub's Cognito stands for (SRP signs with its name).
STUB_POOL_ID = "eu-west-3_StubPool"


@dataclass
class StubApi:
    """The stub server's state: requests seen, faults, decisions recorded."""

    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    rendezvous: Rendezvous | None = None
    decisions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    #: The Idempotency-Key header of every POST of a decision, in order (None: none sent).
    decision_keys: list[str | None] = field(default_factory=list)
    drift_published: bool = True
    group_too_small: bool = False  # what a 422 fault says
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Cognito's side: e-mail -> [password, must change it at first sign-in, TOTP code or
    #: None (no authenticator app)].
    users: dict[str, list[Any]] = field(
        default_factory=lambda: {
            "advisor@example.com": ["Correct-horse-42", False, None],
            "new@example.com": ["Temporary-pass-1", True, None],
            "totp@example.com": ["Correct-horse-43", False, "246810"],
        }
    )
    #: SRP exchanges under way: e-mail -> (the server's side, the client's SRP_A).
    srp_pending: dict[str, tuple[SrpServer, str]] = field(default_factory=dict)
    issued: set[str] = field(default_factory=set)
    token_lifetime: int = 3600

    def valid_token(self, header: str | None) -> bool:
        """The static token, or an ID token this stub's Cognito issued."""
        token = (header or "").removeprefix("Bearer ")
        return token == TOKEN or token in self.issued

    def _tokens(self, email: str) -> dict[str, Any]:
        token = f"id-token-{email}-{len(self.issued)}"
        self.issued.add(token)
        return {
            "AuthenticationResult": {
                "IdToken": token,
                "AccessToken": "unused",
                "RefreshToken": f"refresh-{email}",
                "ExpiresIn": self.token_lifetime,
                "TokenType": "Bearer",
            }
        }

    def cognito(self, target: str, body: dict[str, Any]) -> tuple[int, Any]:
        """Cognito's USER_SRP_AUTH, its challenges and REFRESH_TOKEN_AUTH, as the dashboard
        calls them (the SRP proof is checked with the server's equations: srp_server.py)."""
        refused = (
            400,
            {"__type": "NotAuthorizedException", "message": "Incorrect username or password."},
        )
        action = target.rsplit(".", 1)[-1]
        if body.get("ClientId") != "stub-client":
            return 400, {"__type": "ResourceNotFoundException", "message": "no such client"}
        if action == "InitiateAuth" and body["AuthFlow"] == "USER_SRP_AUTH":
            email = body["AuthParameters"]["USERNAME"]
            user = self.users.get(email)
            if user is None:
                return refused
            server = SrpServer(STUB_POOL_ID, email, user[0])
            self.srp_pending[email] = (server, body["AuthParameters"]["SRP_A"])
            return 200, {
                "ChallengeName": "PASSWORD_VERIFIER",
                "ChallengeParameters": server.challenge(),
            }
        if action == "InitiateAuth" and body["AuthFlow"] == "REFRESH_TOKEN_AUTH":
            email = body["AuthParameters"]["REFRESH_TOKEN"].removeprefix("refresh-")
            answer = self._tokens(email)
            del answer["AuthenticationResult"]["RefreshToken"]  # as Cognito does
            return 200, answer
        if action == "InitiateAuth":  # the app client allows SRP and refresh only
            return 400, {"__type": "InvalidParameterException", "message": "flow not enabled"}
        if action != "RespondToAuthChallenge":
            return 400, {"__type": "InvalidParameterException", "message": action}
        name, responses = body["ChallengeName"], body["ChallengeResponses"]
        email = responses["USERNAME"]
        user = self.users.get(email)
        if user is None:
            return refused
        if name == "PASSWORD_VERIFIER":
            server, srp_a = self.srp_pending.pop(email, (None, ""))
            if server is None or not server.verify(srp_a, responses):
                return refused
            if user[1]:
                return 200, self._challenge("NEW_PASSWORD_REQUIRED", f"s-{email}", email)
        elif name == "NEW_PASSWORD_REQUIRED":
            if body.get("Session") != f"s-{email}":
                return refused
            user[0], user[1] = responses["NEW_PASSWORD"], False
        elif name == "SOFTWARE_TOKEN_MFA":
            if body.get("Session") != f"t-{email}":
                return refused
            if responses.get("SOFTWARE_TOKEN_MFA_CODE") != user[2]:
                return 400, {"__type": "CodeMismatchException", "message": "Invalid code."}
            return 200, self._tokens(email)
        else:
            return 400, {"__type": "InvalidParameterException", "message": name}
        if user[2] is not None:  # an authenticator app: its code comes last
            return 200, self._challenge("SOFTWARE_TOKEN_MFA", f"t-{email}", email)
        return 200, self._tokens(email)

    @staticmethod
    def _challenge(name: str, session: str, email: str) -> dict[str, Any]:
        return {
            "ChallengeName": name,
            "Session": session,
            "ChallengeParameters": {"USER_ID_FOR_SRP": email},
        }

    def seen(self, method: str, path: str) -> list[tuple[dict[str, str], Any]]:
        """(query, body) of every request to ``method path``."""
        with self.lock:
            return [(q, b) for m, p, q, b in self.requests if m == method and p == path]

    def fault_for(self, method: str, path: str) -> Fault | None:
        """The fault that applies to ``method path`` now, if any (and count it)."""
        with self.lock:
            for fault in self.faults:
                if fault.method not in (None, method):
                    continue
                if path.startswith(fault.path_prefix) and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    # ------------------------------------------------------------------ routing

    def answer(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        body: Any,
        idempotency_key: str | None = None,
    ) -> tuple[int, Any]:
        """(status, JSON body) of a request (``idempotency_key``: its header, if sent)."""
        lang = _lang(params)
        parts = [p for p in path.split("/") if p]
        if path == "/health":
            return 200, {"status": "ok", "model_version": VERSION, "detail": None}
        if path == "/clients":
            return 200, self.client_list(params)
        if path in ("/score", "/explain", "/counterfactual") and method == "POST":
            application = body["application"]
            missing = missing_minimum(application)
            if missing:
                return 422, insufficient(missing)
            if path == "/score":
                return 200, score(probability_of(application))
            if path == "/counterfactual":
                return 200, counterfactual(application, lang)
            top = int(params["top"]) if "top" in params else None
            return 200, explanation(probability_of(application), lang, top, None)
        if path == "/inputs":
            return 200, inputs(lang)
        if path == "/model":
            return 200, model_card(lang)
        if path == "/model/importance":
            return 200, importance(lang, int(params.get("top", 20)))
        if path == "/monitoring/drift":
            if not self.drift_published:
                return 404, {"error": "drift_summary_not_found", "message": "none published"}
            return 200, drift_summary()
        if len(parts) >= 2 and parts[0] == "clients":
            if method == "POST" and parts[2:] == ["decisions"]:
                return self.record_decision(int(parts[1]), body, idempotency_key)
            return self._client_route(method, parts, params, body)
        return 404, {"error": "not_found", "message": f"no route {method} {path}"}

    def record_decision(self, client_id: int, body: Any, key: str | None) -> tuple[int, Any]:
        """POST /clients/{id}/decisions: once per Idempotency-Key, replaced on purpose only."""
        if client_id not in CLIENTS or client_id not in SCORED:
            return 404, {"error": "client_not_found", "message": f"no client with id {client_id}"}
        with self.lock:
            self.decision_keys.append(key)
            return _record_decision(self, client_id, body, key)

    def client_list(self, params: dict[str, str]) -> dict[str, Any]:
        """GET /clients: searched as the real API does; scored and filtered for the worklist.

        Unscored clients (100003) carry no score and match no ``verdict``.
        """
        q = params.get("q", "")
        ids = [  # the real API's rule: French words become the raw levels they name
            i
            for i in sorted(CLIENTS)
            if any(
                matches_search(i, CLIENTS[i], search_terms(query))
                for query in api_clients.search_queries(q or None)
            )
        ]
        cursor = int(params["cursor"]) if "cursor" in params else 0
        ids = [i for i in ids if i > cursor]
        verdict = params.get("verdict")
        scored = params.get("with_score") == "true" or verdict is not None
        worklist = scored or params.get("pending") == "true"

        def item(i: int) -> dict[str, Any]:
            line: dict[str, Any] = {
                "client_id": i,
                "contract_type": CLIENTS[i].get("NAME_CONTRACT_TYPE"),
                "income_type": CLIENTS[i].get("NAME_INCOME_TYPE"),
                "gender": CLIENTS[i].get("CODE_GENDER"),
                "age_years": 32.9,
                "income": CLIENTS[i].get("AMT_INCOME_TOTAL"),
                "credit": CLIENTS[i].get("AMT_CREDIT"),
                "probability": None,
                "decision": None,
                "band": None,
                "decided": bool(self.decisions.get(i)) if worklist else None,
            }
            if scored and i in SCORED:
                answer = score(client_probability(i))
                line |= {k: answer[k] for k in ("probability", "decision", "band")}
            return line

        def kept(line: dict[str, Any]) -> bool:
            if params.get("pending") == "true" and line["decided"]:
                return False
            if verdict is None:
                return True
            if line["band"] is None:
                return False
            shown = "borderline" if line["band"] == "borderline" else line["decision"]
            return bool(shown == verdict)

        lines = [line for line in (item(i) for i in ids) if kept(line)]
        limit = int(params.get("limit", 20))
        page = lines[:limit]
        return {
            "clients": page,
            "next_cursor": page[-1]["client_id"] if len(lines) > limit else None,
            "limit": limit,
            "q": q or None,
        }

    def _client_route(
        self, method: str, parts: list[str], params: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        client_id = int(parts[1])
        lang = _lang(params)
        if client_id not in CLIENTS:
            return 404, {"error": "client_not_found", "message": f"no client with id {client_id}"}
        route = parts[2] if len(parts) > 2 else ""
        probability = client_probability(client_id)
        if route == "":
            return 200, details(client_id, lang)
        if route == "application":
            return 200, {"client_id": client_id, "application": CLIENTS[client_id]}
        if client_id not in SCORED:
            return 404, {"error": "client_not_found", "message": f"no score for {client_id}"}
        if route == "score":
            return 200, score(probability, client_id)
        if route == "explanation":
            top = int(params["top"]) if "top" in params else None
            return 200, explanation(probability, lang, top, client_id)
        if route == "comparison":
            return 200, comparison(client_id, params)
        if route == "bivariate":
            return 200, bivariate(client_id, params)
        if route == "counterfactual":
            return 200, counterfactual(CLIENTS[client_id], lang, client_id)
        if route == "similar":
            return 200, similar(client_id, int(params.get("k", 50)), lang)
        if route == "decisions":
            with self.lock:
                recorded = list(self.decisions.get(client_id, []))
            return 200, {"client_id": client_id, "decisions": recorded, "final": final(recorded)}
        return 404, {"error": "not_found", "message": "no such route"}


#: Reason codes for a decision against the model's, by the model's decision (the API's
#: ``decisions.REASON_CODES``, which the contract test compares).
REASON_CODES = {
    "refuse": ("garanties_supplementaires", "co_emprunteur", "situation_verifiee", "autre"),
    "accept": ("incoherence_declarations", "endettement_constate", "autre"),
}


def final(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The latest record no other supersedes (the API's final decision)."""
    superseded = {r.get("supersedes") for r in records}
    current = [r for r in records if r["decided_at"] not in superseded]
    return current[-1] if current else None


def _conflict(message: str) -> tuple[int, Any]:
    return 409, {"error": "decision_conflict", "message": message}


def _record_decision(
    state: StubApi, client_id: int, body: dict[str, Any], key: str | None
) -> tuple[int, Any]:
    """POST /clients/{id}/decisions as the API answers it (the caller holds the lock)."""
    recorded = state.decisions.setdefault(client_id, [])
    asked = [body.get(k) for k in ("decision", "comment", "reason_code", "supersedes")]
    for earlier in recorded:
        if key is not None and earlier["idempotency_key"] == key:
            same = [earlier[k] for k in ("decision", "comment", "reason_code", "supersedes")]
            if [asked[0], asked[1] or "", *asked[2:]] != same:
                return _conflict(f"Idempotency-Key {key} was already used for another decision")
            return 200, earlier
    current = final(recorded)
    if body.get("supersedes") != (current or {}).get("decided_at"):
        if current is None:
            return _conflict("nothing to supersede: the client has no recorded decision")
        return _conflict(
            f"a decision is already recorded ({current['decision']}): send "
            f"supersedes={current['decided_at']} to replace it"
        )
    probability = client_probability(client_id)
    model = decision(probability)
    overrides = body["decision"] != model
    if overrides and body.get("reason_code") not in REASON_CODES[model]:
        message = f"reason_code must be one of {', '.join(REASON_CODES[model])}"
        return 422, {
            "error": "invalid_decision",
            "message": message,
            "details": [{"field": "reason_code", "location": "body", "problem": message}],
        }
    record = {
        "client_id": client_id,
        "decided_at": f"2026-11-28T09:{len(recorded):02d}:00."
        "000000Z#0123456789abcdef0123456789abcdef",
        "decision": body["decision"],
        "comment": body.get("comment", ""),
        "advisor": "advisor@example",
        "probability": probability,
        "threshold": THRESHOLD,
        "model_version": VERSION,
        "overrides_model": overrides,
        "reason_code": body.get("reason_code"),
        "supersedes": body.get("supersedes"),
        "idempotency_key": key,
    }
    recorded.append(record)
    return 201, record


def _handler(state: StubApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _serve(self, method: str) -> None:
            url = urlparse(self.path)
            params = {k: v[-1] for k, v in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            with state.lock:
                state.requests.append((method, url.path, params, body))
            fault = state.fault_for(method, url.path)
            if fault is not None and fault.delay:
                time.sleep(fault.delay)
            meeting = state.rendezvous
            if meeting is not None and not meeting.meet(url.path, state.lock):
                fault = Fault(url.path, status=504, body={"error": "alone", "message": "alone"})
            if url.path == "/cognito":
                status, answer = state.cognito(self.headers.get("X-Amz-Target", ""), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            open_route = url.path == "/health"  # as on the real API
            if not open_route and not state.valid_token(self.headers.get("Authorization")):
                status, answer = 401, {"error": "unauthorized", "message": "bad token"}
            elif fault is not None and not fault.delay:
                status = fault.status
                answer = {"error": "stub_fault", "message": f"stub answered {fault.status}"}
                if fault.body is not None:
                    answer = fault.body
                elif status == 422 and state.group_too_small:
                    answer = {"error": "group_too_small", "message": "fewer than 100 clients"}
                elif status == 422:
                    answer = {"error": "invalid_request", "message": "AMT_CREDIT: must be >= 0"}
            else:
                key = self.headers.get("Idempotency-Key")
                status, answer = state.answer(method, url.path, params, body, key)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler


class StubServer:
    """The stub API on 127.0.0.1, in a background thread."""

    def __init__(self) -> None:
        self.state = StubApi()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop answering (the port is closed)."""
        self.server.shutdown()
        self.server.server_close()
