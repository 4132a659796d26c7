"""The money side: income, the loan, what the client owns, external scores, bureau, social circle.

The loan is tied together as in the real table: the annuity follows the credit and the
income, the goods price is nearly the credit, revolving loans are the ones without a goods
price; the external scores follow age, wealth and the region's rating.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from training.generation.sampler import FloatArray, Sampler, gauss_rank, rank_u, standardised, top

BUREAU_COLUMNS = tuple(
    f"AMT_REQ_CREDIT_BUREAU_{p}" for p in ("HOUR", "DAY", "WEEK", "MON", "QRT", "YEAR")
)
SOCIAL_COLUMNS = (
    "OBS_30_CNT_SOCIAL_CIRCLE",
    "DEF_30_CNT_SOCIAL_CIRCLE",
    "OBS_60_CNT_SOCIAL_CIRCLE",
    "DEF_60_CNT_SOCIAL_CIRCLE",
)


def draw_money(s: Sampler, z_old: FloatArray, z_wealth: FloatArray) -> None:
    """Income, contract type, credit, annuity and goods price."""
    pensioner = s.is_level("NAME_INCOME_TYPE", "Pensioner", "Unemployed")
    income_score = (
        0.7 * z_wealth
        + 0.3 * standardised(s.z_school)
        + 0.35 * s.male
        - 0.45 * pensioner
        + 0.55 * s.noise()
    )
    z_income = gauss_rank(income_score)
    income = s.numeric("AMT_INCOME_TOTAL", s.quantile("AMT_INCOME_TOTAL", ndtr(z_income)))
    s.t.num["AMT_INCOME_TOTAL"] = np.maximum(income, s.schema["AMT_INCOME_TOTAL"].quantiles[0.0])

    # Younger clients take revolving (card) loans more often.
    s.binned("NAME_CONTRACT_TYPE", s.mix((0.25, z_old)), ("Revolving loans", "Cash loans"))
    revolving = s.is_level("NAME_CONTRACT_TYPE", "Revolving loans")

    credit_score = 0.5 * z_income + 0.15 * z_old - 0.9 * revolving + 0.8 * s.noise()
    z_credit = gauss_rank(credit_score)
    s.numeric("AMT_CREDIT", s.quantile("AMT_CREDIT", ndtr(z_credit)))

    # Annuity follows the credit (the term varies less than the amount) and the income.
    e = np.clip(s.noise(), -2.0, 2.0)
    z_annuity = 0.86 * z_credit + 0.2 * z_income + np.sqrt(1 - 0.86**2 - 0.2**2) * e
    annuity = s.quantile("AMT_ANNUITY", ndtr(gauss_rank(z_annuity)))
    # Real loans run between 8 and 45 annuities (credit / annuity); about 1% is clipped.
    credit = s.t.num["AMT_CREDIT"]
    s.numeric("AMT_ANNUITY", np.clip(annuity, credit / 45.0, credit / 8.0))

    # The goods price is nearly the credit, usually a little below (the credit also
    # finances insurance and fees).
    z_goods = 0.995 * z_credit + np.sqrt(1 - 0.995**2) * s.noise()
    goods = s.quantile("AMT_GOODS_PRICE", ndtr(z_goods))
    s.numeric("AMT_GOODS_PRICE", np.maximum(goods, s.schema["AMT_GOODS_PRICE"].quantiles[0.0]))
    # The few loans without a goods price are revolving ones.
    rate = s.schema["AMT_GOODS_PRICE"].missing_rate / max(revolving.mean(), 1e-9)
    s.missing("AMT_GOODS_PRICE", revolving & (s.rng.random(s.n) < rate))

    owner = top(
        0.45 * z_wealth + 0.9 * s.male + s.noise(),
        s.schema["FLAG_OWN_CAR"].levels.get("Y", 0.0),
    )
    s.t.cat["FLAG_OWN_CAR"] = np.where(
        owner, s.code("FLAG_OWN_CAR", "Y"), s.code("FLAG_OWN_CAR", "N")
    ).astype(np.int16)
    # The richer, the newer the car; the age exists only for car owners.
    car_u = rank_u(-0.35 * z_wealth + s.noise(), owner)
    s.numeric("OWN_CAR_AGE", s.quantile("OWN_CAR_AGE", car_u))
    s.missing("OWN_CAR_AGE", ~owner)
    realty = top(
        0.35 * z_old + 0.15 * z_wealth + s.noise(),
        s.schema["FLAG_OWN_REALTY"].levels.get("Y", 0.0),
    )
    s.t.cat["FLAG_OWN_REALTY"] = np.where(
        realty, s.code("FLAG_OWN_REALTY", "Y"), s.code("FLAG_OWN_REALTY", "N")
    ).astype(np.int16)


def draw_external_scores(s: Sampler, z_old: FloatArray, z_wealth: FloatArray) -> None:
    """EXT_SOURCE_1/2/3: correlated with one another, with age, wealth and region."""
    z_ext = s.noise()
    rating = standardised(s.t.num["REGION_RATING_CLIENT"] + s.t.num["REGION_RATING_CLIENT_W_CITY"])
    scores = {
        "EXT_SOURCE_1": s.mix((0.55, z_old), (0.15, z_wealth), (0.3, z_ext)),
        "EXT_SOURCE_2": s.mix((0.1, z_old), (0.2, z_wealth), (0.3, z_ext)) - 0.25 * rating,
        "EXT_SOURCE_3": s.mix((0.25, z_old), (0.1, z_wealth), (0.3, z_ext)),
    }
    for name, score in scores.items():
        s.numeric(name, s.quantile(name, rank_u(score)))
        s.random_missing(name)


def draw_bureau_and_social(s: Sampler) -> None:
    """Credit-bureau enquiries and social-circle counts, each group missing together."""
    z_bureau = s.noise()
    missing = s.rng.random(s.n) < s.schema[BUREAU_COLUMNS[0]].missing_rate
    for name in BUREAU_COLUMNS:
        s.numeric(name, s.quantile(name, ndtr(s.mix((0.6, z_bureau)))))
        s.missing(name, missing)

    obs30 = s.numeric(SOCIAL_COLUMNS[0], s.quantile(SOCIAL_COLUMNS[0], ndtr(s.noise())))
    # Defaults are a share of the observed acquaintances; the 60-day counts are the
    # 30-day ones less a few, and the 60-day defaults a subset of the 30-day ones.
    def30 = s.rng.binomial(obs30.astype(np.int64), 0.1).astype(np.float64)
    obs60 = obs30 - s.rng.binomial(obs30.astype(np.int64), 0.03)
    def60 = np.minimum(s.rng.binomial(def30.astype(np.int64), 0.7), obs60)
    s.numeric("DEF_30_CNT_SOCIAL_CIRCLE", def30)
    s.numeric("OBS_60_CNT_SOCIAL_CIRCLE", obs60.astype(np.float64))
    s.numeric("DEF_60_CNT_SOCIAL_CIRCLE", def60.astype(np.float64))
    missing = s.rng.random(s.n) < s.schema[SOCIAL_COLUMNS[0]].missing_rate
    for name in SOCIAL_COLUMNS:
        s.missing(name, missing)
