"""A stubbed credit-scoring API for the dashboard's tests: canned answers, faults on demand.

It listens on 127.0.0.1 only, answers every route the dashboard calls with answers of the
real API's shape (test_stub_contract.py validates them against the real response models),
records every request, and can be told to fail: a status for some paths, a delay, or a number
of 503 answers before it recovers.

Clients: 100001 (low risk, accepted) and 100002 (high risk, refused); 100003 has no score
(404). POST /score gives a high risk when the income is under 100,000, so that a "what if" on
the income changes the decision.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

TOKEN = "stub-token"
VERSION = "stub-model-1"
THRESHOLD = 0.1
LOW, HIGH = 0.04, 0.31
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
}
SCORED = (100001, 100002)
FEATURES = (
    ("EXT_SOURCE_MEAN", "Moyenne des scores externes", "Mean of the external scores", "score"),
    ("AGE_YEARS", "Âge", "Age", "years"),
    ("CREDIT_INCOME_RATIO", "Crédit rapporté au revenu", "Credit to income", "ratio"),
    ("AMT_CREDIT", "Montant du crédit", "Credit amount", "amount"),
)
LEVELS = {
    "NAME_CONTRACT_TYPE": ["Cash loans", "Revolving loans"],
    "CODE_GENDER": ["F", "M"],
    "NAME_EDUCATION_TYPE": ["Secondary / secondary special", "Higher education"],
    "NAME_FAMILY_STATUS": ["Married", "Single / not married", "Widow"],
    "NAME_INCOME_TYPE": ["Working", "Pensioner", "Commercial associate"],
    "OCCUPATION_TYPE": ["Laborers", "Core staff"],
    "NAME_HOUSING_TYPE": ["House / apartment", "With parents"],
    "FLAG_OWN_REALTY": ["Y", "N"],
    "FLAG_OWN_CAR": ["N", "Y"],
}
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


def probability_of(application: dict[str, Any]) -> float:
    """The stub's model: high risk under 100,000 of income (or none given)."""
    income = application.get("AMT_INCOME_TOTAL")
    return LOW if income is not None and income >= 100_000 else HIGH


def score(probability: float, client_id: int | None = None) -> dict[str, Any]:
    """A ScoreResponse."""
    answer: dict[str, Any] = {
        "probability": probability,
        "threshold": THRESHOLD,
        "decision": "refuse" if probability >= THRESHOLD else "accept",
        "margin": probability - THRESHOLD,
        "model_version": VERSION,
    }
    if client_id is not None:
        answer["client_id"] = client_id
    return answer


def _contribution(name: str, label: str, value: str, amount: float, lang: str) -> dict[str, Any]:
    verb = (
        ("augmente" if amount > 0 else "diminue")
        if lang == "fr"
        else ("raises" if amount > 0 else "lowers")
    )
    return {
        "feature": name,
        "kind": "raw",
        "column": name,
        "label": label,
        "value": value,
        "raw_value": value,
        "contribution": amount,
        "direction": "raises" if amount > 0 else "lowers",
        "sentence": f"{label} ({value}) {verb} le risque de défaut."
        if lang == "fr"
        else f"{label} ({value}) {verb} the risk of default.",
    }


def explanation(probability: float, lang: str, top: int | None, client_id: int | None) -> Any:
    """An Explanation whose contributions add up to the probability's log-odds."""
    import math

    log_odds = math.log(probability / (1 - probability))
    base = -2.5
    fr = lang == "fr"
    items = [
        _contribution(
            "EXT_SOURCE_2",
            "Score externe 2" if fr else "External score 2",
            "0,20",
            0.6 if probability >= THRESHOLD else -0.5,
            lang,
        ),
        _contribution(
            "AMT_INCOME_TOTAL",
            "Revenu annuel" if fr else "Annual income",
            "90 000",
            0.3 if probability >= THRESHOLD else -0.2,
            lang,
        ),
        _contribution(
            "DAYS_BIRTH", "Âge" if fr else "Age", "33 ans" if fr else "33 years", -0.1, lang
        ),
    ]
    rest = log_odds - base - sum(i["contribution"] for i in items)
    items.append(
        _contribution(
            "DAYS_EMPLOYED",
            "Ancienneté" if fr else "Years employed",
            "1 an" if fr else "1 year",
            rest,
            lang,
        )
    )
    items.sort(key=lambda i: -abs(i["contribution"]))
    listed = items if top is None else items[:top]
    total = sum(i["contribution"] for i in items)
    decision = "refuse" if probability >= THRESHOLD else "accept"
    return {
        "client_id": client_id,
        "model_version": VERSION,
        "lang": lang,
        "probability": probability,
        "threshold": THRESHOLD,
        "decision": decision,
        "summary": f"p = {probability}",
        "log_odds": log_odds,
        "base_value": base,
        "base_probability": 1 / (1 + math.exp(-base)),
        "contributions_sum": total,
        "additivity_gap": abs(base + total - log_odds),
        "probability_from_log_odds": probability,
        "conversion": "probability = 1 / (1 + exp(-(base_value + sum(contributions))))",
        "n_features": 4,
        "top": top,
        "contributions": listed,
        "reasons": [i for i in items if i["contribution"] > 0][:4] if decision == "refuse" else [],
    }


def details(client_id: int, lang: str) -> dict[str, Any]:
    """A ClientDetails."""
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
    filters = {
        k: params[k]
        for k in ("age_band", "gender", "contract_type", "income_type", "education")
        if k in params
    }
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


def similar(client_id: int, k: int) -> dict[str, Any]:
    """A SimilarResponse."""
    return {
        "client_id": client_id,
        "model_version": VERSION,
        "k": k,
        "n_defaulted": 7,
        "n_repaid": k - 7,
        "default_rate": 7 / k,
        "reference_default_rate": 0.0808,
        "features_used": ["AGE_YEARS", "AMT_CREDIT"],
        "medians": {"AGE_YEARS": 33.1, "AMT_CREDIT": 510000.0, "EXT_SOURCE_MEAN": None},
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
                    {"value": v, "text": v.lower(), "share": round(1 / len(levels), 4)}
                    for v in levels
                ],
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
            "levels": [{"value": "cash", "text": "Cash loans"}],
        },
        {
            "name": "income_type",
            "label": "Type de revenu",
            "levels": [{"value": "working", "text": "Working"}],
        },
        {
            "name": "education",
            "label": "Niveau d'études",
            "levels": [{"value": "higher", "text": "Higher education"}],
        },
    ]
    return {
        "lang": lang,
        "days_per_year": 365.25,
        "days_employed_none": 365243.0,
        "fields": fields,
        "groups": groups,
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


@dataclass
class StubApi:
    """The stub server's state: requests seen, faults, decisions recorded."""

    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    decisions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    drift_published: bool = True
    group_too_small: bool = False  # what a 422 fault says
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Cognito's side: e-mail -> [password, must change it at first sign-in].
    users: dict[str, list[Any]] = field(
        default_factory=lambda: {
            "advisor@example.com": ["Correct-horse-42", False],
            "new@example.com": ["Temporary-pass-1", True],
        }
    )
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
        """Cognito's InitiateAuth and RespondToAuthChallenge, as the dashboard calls them."""
        refused = (
            400,
            {"__type": "NotAuthorizedException", "message": "Incorrect username or password."},
        )
        action = target.rsplit(".", 1)[-1]
        if body.get("ClientId") != "stub-client":
            return 400, {"__type": "ResourceNotFoundException", "message": "no such client"}
        if action == "InitiateAuth" and body["AuthFlow"] == "USER_PASSWORD_AUTH":
            email = body["AuthParameters"]["USERNAME"]
            user = self.users.get(email)
            if user is None or user[0] != body["AuthParameters"]["PASSWORD"]:
                return refused
            if user[1]:
                return 200, {"ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": f"s-{email}"}
            return 200, self._tokens(email)
        if action == "InitiateAuth" and body["AuthFlow"] == "REFRESH_TOKEN_AUTH":
            email = body["AuthParameters"]["REFRESH_TOKEN"].removeprefix("refresh-")
            answer = self._tokens(email)
            del answer["AuthenticationResult"]["RefreshToken"]  # as Cognito does
            return 200, answer
        if action == "RespondToAuthChallenge":
            email = body["ChallengeResponses"]["USERNAME"]
            if body.get("Session") != f"s-{email}":
                return refused
            self.users[email] = [body["ChallengeResponses"]["NEW_PASSWORD"], False]
            return 200, self._tokens(email)
        return 400, {"__type": "InvalidParameterException", "message": action}

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

    def answer(self, method: str, path: str, params: dict[str, str], body: Any) -> tuple[int, Any]:
        """(status, JSON body) of a request."""
        lang = _lang(params)
        parts = [p for p in path.split("/") if p]
        if path == "/health":
            return 200, {"status": "ok", "model_version": VERSION, "detail": None}
        if path == "/clients":
            ids = sorted(CLIENTS)
            q = params.get("q", "")
            if q:
                ids = [i for i in ids if str(i).startswith(q)]
            cursor = int(params["cursor"]) if "cursor" in params else 0
            ids = [i for i in ids if i > cursor]
            limit = int(params.get("limit", 20))
            page = ids[:limit]
            return 200, {
                "clients": [
                    {
                        "client_id": i,
                        "contract_type": "Cash loans",
                        "income_type": "Working",
                        "gender": CLIENTS[i].get("CODE_GENDER"),
                        "age_years": 32.9,
                        "income": CLIENTS[i].get("AMT_INCOME_TOTAL"),
                        "credit": CLIENTS[i].get("AMT_CREDIT"),
                    }
                    for i in page
                ],
                "next_cursor": page[-1] if len(ids) > limit else None,
                "limit": limit,
                "q": q or None,
            }
        if path == "/score" and method == "POST":
            return 200, score(probability_of(body["application"]))
        if path == "/explain" and method == "POST":
            top = int(params["top"]) if "top" in params else None
            return 200, explanation(probability_of(body["application"]), lang, top, None)
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
            return self._client_route(method, parts, params, body)
        return 404, {"error": "not_found", "message": f"no route {method} {path}"}

    def _client_route(
        self, method: str, parts: list[str], params: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        client_id = int(parts[1])
        lang = _lang(params)
        if client_id not in CLIENTS:
            return 404, {"error": "client_not_found", "message": f"no client with id {client_id}"}
        route = parts[2] if len(parts) > 2 else ""
        probability = LOW if client_id == 100001 else HIGH
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
        if route == "similar":
            return 200, similar(client_id, int(params.get("k", 50)))
        if route == "decisions" and method == "POST":
            record = {
                "client_id": client_id,
                "decided_at": f"2026-11-28T09:{len(self.decisions.get(client_id, [])):02d}:00."
                "000000Z#0123456789abcdef0123456789abcdef",
                "decision": body["decision"],
                "comment": body.get("comment", ""),
                "advisor": "advisor@example",
                "probability": probability,
                "threshold": THRESHOLD,
                "model_version": VERSION,
            }
            with self.lock:
                self.decisions.setdefault(client_id, []).append(record)
            return 201, record
        if route == "decisions":
            return 200, {"client_id": client_id, "decisions": self.decisions.get(client_id, [])}
        return 404, {"error": "not_found", "message": "no such route"}


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
                if status == 422 and state.group_too_small:
                    answer = {"error": "group_too_small", "message": "fewer than 100 clients"}
                elif status == 422:
                    answer = {"error": "invalid_request", "message": "AMT_CREDIT: must be >= 0"}
            else:
                status, answer = state.answer(method, url.path, params, body)
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
