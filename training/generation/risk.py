"""The default risk: a known function of the written values, calibrated on the sample.

:func:`risk_components` gives the unscaled log-odds of default by driver, from the values
written in the file only (missingness included), so a model trained on the file can approach
the oracle. :func:`calibrate` solves the scale and intercept on the sample itself so that the
default rate is the reference one and the expected AUC of the true probability is
:data:`TARGET_ORACLE_AUC`; :func:`draw_defaults` then draws TARGET.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
from scipy.special import expit

from creditscore_common.features import DAYS_PER_YEAR
from creditscore_common.reference_schema import DAYS_EMPLOYED_ANOMALY, ReferenceSchema
from training.generation.sampler import CodeArray, FloatArray, _Table

#: Expected AUC of the true probability; the real application table alone reaches ~0.76-0.78.
TARGET_ORACLE_AUC = 0.78
# Risk effects, in logit units before the global scale. The signs and rough sizes follow
# what is known of the real table; the global scale then sets the overall strength.
EDUCATION_EFFECT = {
    "Lower secondary": 0.35,
    "Secondary / secondary special": 0.05,
    "Incomplete higher": -0.05,
    "Higher education": -0.35,
    "Academic degree": -0.6,
}
INCOME_TYPE_EFFECT = {
    "Working": 0.1,
    "Commercial associate": 0.0,
    "State servant": -0.15,
    "Pensioner": -0.05,
    "Unemployed": 1.0,
    "Businessman": -0.5,
}
#: Slope multiplier of the annuity/income burden by income type (an interaction).
BURDEN_SLOPE = {"Working": 1.0, "Commercial associate": 0.8, "State servant": 0.6, "Pensioner": 1.6}
OCCUPATION_EFFECT = {
    "Low-skill Laborers": 0.45,
    "Drivers": 0.25,
    "Waiters/barmen staff": 0.2,
    "Laborers": 0.15,
    "Security staff": 0.15,
    "Cooking staff": 0.1,
    "Sales staff": 0.1,
    "Cleaning staff": 0.05,
    "Medicine staff": -0.05,
    "Core staff": -0.1,
    "HR staff": -0.1,
    "High skill tech staff": -0.15,
    "IT staff": -0.2,
    "Managers": -0.2,
    "Accountants": -0.3,
}
REGION_RATING_EFFECT = {1.0: -0.25, 2.0: 0.0, 3.0: 0.3}


def _softplus(x: FloatArray) -> FloatArray:
    return np.logaddexp(0.0, x)


def _ext_effect(x: FloatArray) -> FloatArray:
    """Lower external score, higher risk; steeper at the bottom."""
    return -(x - 0.5) + 0.15 * _softplus((0.3 - x) / 0.1)


def _lookup(codes: CodeArray, levels: Sequence[str], effects: Mapping[str, float]) -> FloatArray:
    table = np.array([effects.get(lv, 0.0) for lv in levels] + [0.0])
    return table[codes]  # code -1 picks the trailing 0


def risk_components(t: _Table, schema: ReferenceSchema) -> dict[str, FloatArray]:
    """The unscaled log-odds of default by driver, computed from the written values only.

    Missing values enter through explicit effects, so nothing hidden drives the risk.
    """
    num, cat = t.num, t.cat

    def lev(name: str, effects: Mapping[str, float]) -> FloatArray:
        return _lookup(cat[name], list(schema[name].levels), effects)

    def has(name: str, *levels: str) -> FloatArray:
        return lev(name, dict.fromkeys(levels, 1.0))

    out: dict[str, FloatArray] = {}
    age = -num["DAYS_BIRTH"] / DAYS_PER_YEAR
    # External scores: strongest drivers, and they tell more about younger clients.
    ext_weight = 1.0 + 0.2 * np.tanh((40.0 - age) / 12.0)
    for name, weight, if_missing in (
        ("EXT_SOURCE_1", 1.5, 0.0),
        ("EXT_SOURCE_2", 2.0, 0.3),
        ("EXT_SOURCE_3", 2.2, 0.15),
    ):
        value = num[name]
        effect = np.where(np.isnan(value), if_missing, weight * _ext_effect(np.nan_to_num(value)))
        out[name] = ext_weight * effect

    out["age"] = -0.006 * (age - 43.0) + 0.1 * _softplus((30.0 - age) / 4.0)
    employed = num["DAYS_EMPLOYED"] < DAYS_EMPLOYED_ANOMALY
    years = np.where(employed, -num["DAYS_EMPLOYED"], 0.0) / DAYS_PER_YEAR
    out["employment"] = np.where(
        employed, 0.45 * np.exp(-years / 2.5) - 0.012 * np.minimum(years, 20.0), -0.1
    )

    credit, annuity = num["AMT_CREDIT"], num["AMT_ANNUITY"]
    term = credit / annuity
    out["term"] = 0.25 * np.exp(-0.5 * ((term - 19.0) / 4.0) ** 2) - 0.05
    goods = num["AMT_GOODS_PRICE"]
    no_goods = np.isnan(goods)
    over_goods = credit / np.where(no_goods, credit, goods)
    out["credit_goods"] = np.where(no_goods, 0.1, 0.15 * np.tanh((over_goods - 1.15) / 0.1))
    burden = np.minimum(annuity / num["AMT_INCOME_TOTAL"], 0.8)
    out["burden"] = lev("NAME_INCOME_TYPE", BURDEN_SLOPE) * 0.8 * (burden - 0.18)

    out["education"] = lev("NAME_EDUCATION_TYPE", EDUCATION_EFFECT)
    out["gender"] = 0.3 * has("CODE_GENDER", "M")
    ratings = np.array(sorted(REGION_RATING_EFFECT))
    rating_effect = np.array([REGION_RATING_EFFECT[r] for r in ratings])
    out["region"] = np.interp(num["REGION_RATING_CLIENT_W_CITY"], ratings, rating_effect)
    out["income_type"] = lev("NAME_INCOME_TYPE", INCOME_TYPE_EFFECT)
    out["id_publish"] = 0.3 * np.exp(num["DAYS_ID_PUBLISH"] / (3 * DAYS_PER_YEAR)) - 0.1
    out["phone"] = 0.25 * np.exp(num["DAYS_LAST_PHONE_CHANGE"] / DAYS_PER_YEAR) - 0.05
    car_age = num["OWN_CAR_AGE"]
    out["car"] = np.where(
        np.isnan(car_age), 0.0, -0.2 + 0.012 * np.minimum(np.nan_to_num(car_age), 40)
    )
    out["contract"] = -0.3 * has("NAME_CONTRACT_TYPE", "Revolving loans")
    out["occupation"] = lev("OCCUPATION_TYPE", OCCUPATION_EFFECT) + 0.05 * (
        (cat["OCCUPATION_TYPE"] < 0) & employed
    )
    out["social"] = 0.2 * np.minimum(np.nan_to_num(num["DEF_30_CNT_SOCIAL_CIRCLE"]), 4.0)
    out["flags"] = 0.12 * num["FLAG_DOCUMENT_3"] + 0.12 * num["REG_CITY_NOT_WORK_CITY"]
    return out


def risk_score(t: _Table, schema: ReferenceSchema) -> FloatArray:
    """The unscaled log-odds of default: the sum of :func:`risk_components`."""
    x = np.zeros(t.n)
    for part in risk_components(t, schema).values():
        x += part
    return x


def _intercept_for(x: FloatArray, scale: float, rate: float, start: float | None = None) -> float:
    """Intercept b with mean(sigmoid(b + scale * x)) = rate (Newton, then bisection guard)."""
    lo, hi = -40.0, 40.0
    b = float(np.log(rate / (1 - rate)) - scale * np.median(x)) if start is None else start
    for _ in range(60):
        p = expit(b + scale * x)
        gap = float(p.mean()) - rate
        if abs(gap) < 1e-10:
            break
        if gap > 0:
            hi = b
        else:
            lo = b
        slope = float((p * (1 - p)).mean())
        step = b - gap / slope if slope > 0 else (lo + hi) / 2
        b = step if lo < step < hi else (lo + hi) / 2
    return b


def _expected_auc(p_sorted: FloatArray) -> float:
    """AUC expected when each client defaults with its own probability (p sorted ascending)."""
    negatives_below = np.cumsum(1 - p_sorted) - (1 - p_sorted)
    pairs = p_sorted.sum() * (1 - p_sorted).sum() - float((p_sorted * (1 - p_sorted)).sum())
    return float((p_sorted * negatives_below).sum() / pairs)


def calibrate(x: FloatArray, rate: float, auc: float = TARGET_ORACLE_AUC) -> tuple[float, float]:
    """Scale and intercept so that the mean probability is ``rate`` and the expected AUC ``auc``.

    Solved on the sample itself, so the result is exact for it and deterministic.
    """
    x_sorted = np.sort(x)
    lo, hi = 0.01, 10.0
    b: float | None = None
    # 30 halvings leave the scale within 1e-8: far below what the AUC can feel.
    for _ in range(30):
        scale = (lo + hi) / 2
        b = _intercept_for(x_sorted, scale, rate, b)
        if _expected_auc(expit(b + scale * x_sorted)) < auc:
            lo = scale
        else:
            hi = scale
    scale = (lo + hi) / 2
    return scale, _intercept_for(x, scale, rate, b)


def draw_defaults(p: FloatArray, rng: np.random.Generator) -> npt.NDArray[np.int8]:
    """TARGET with P(TARGET_i = 1) = p_i for every client, and a count of sum(p) give or take 1.

    Systematic sampling: clients in a random order, one uniform start, a default wherever the
    running sum of p crosses an integer. Each client still defaults with exactly its own
    probability, but the default rate no longer wanders by sampling noise (about 0.2 points
    at 20,000 clients with independent draws), and pairs of clients stay nearly independent
    because the order is random.
    """
    order = rng.permutation(len(p))
    crossings = np.floor(rng.random() + np.cumsum(p[order]))
    target = np.empty(len(p), dtype=np.int8)
    target[order] = np.diff(crossings, prepend=0.0).astype(np.int8)
    return target


def roc_auc(y: npt.NDArray[np.int8], score: FloatArray) -> float:
    """Area under the ROC curve (ties count half), by the rank-sum formula."""
    from scipy.stats import rankdata

    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))
