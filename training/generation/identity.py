"""Who the client is: gender, age, income type, education, family, region and contacts.

Hidden factors shared with the other blocks: ``z_old`` (age), ``z_wealth`` and ``z_region``.
:func:`draw_person` also sets what later blocks read (gender, no job, schooling score).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from creditscore_common.features import DAYS_PER_YEAR
from training.generation.sampler import (
    MIN_ID_AGE_DAYS,
    FloatArray,
    Sampler,
    rank_bins,
    rank_u,
    standardised,
    top,
)

PENSIONER_LEVELS = ("Pensioner", "Unemployed")


def draw_person(s: Sampler, z_old: FloatArray, z_wealth: FloatArray) -> None:
    """Gender, age, income type (pensioners are the older clients) and education."""
    s.draw_levels("CODE_GENDER", s.shares("CODE_GENDER"))
    male = s.is_level("CODE_GENDER", "M")
    s.male = male
    s.numeric("DAYS_BIRTH", s.quantile("DAYS_BIRTH", ndtr(-z_old)))

    levels = s.levels("NAME_INCOME_TYPE")
    shares = s.shares("NAME_INCOME_TYPE")
    share = dict(zip(levels, shares, strict=True))
    # Women retire earlier, so they weigh in the pensioner score.
    pension_score = 0.9 * z_old + 0.35 * (~male) + 0.3 * s.noise()
    pensioner = top(pension_score, share.get("Pensioner", 0.0))
    unemployed = ~pensioner & (
        s.rng.random(s.n) < share.get("Unemployed", 0.0) / (1 - share["Pensioner"])
    )
    codes = np.full(s.n, -1, dtype=np.int16)
    codes[pensioner] = levels.index("Pensioner")
    if "Unemployed" in share:
        codes[unemployed] = levels.index("Unemployed")
    workers = ~(pensioner | unemployed)
    # Commercial associates and businessmen earn more than employees.
    work_order = [
        lv
        for lv in ("Working", "State servant", "Commercial associate", "Businessman")
        if lv in share
    ]
    others = [lv for lv in levels if lv not in work_order and lv not in PENSIONER_LEVELS]
    order = work_order + others
    bins = rank_bins(0.45 * z_wealth + s.noise(), np.array([share[lv] for lv in order]), workers)
    for k, lv in enumerate(order):
        codes[workers & (bins == k)] = levels.index(lv)
    s.t.cat["NAME_INCOME_TYPE"] = codes
    s.no_job = pensioner | unemployed

    edu_levels = (
        "Lower secondary",
        "Secondary / secondary special",
        "Incomplete higher",
        "Higher education",
        "Academic degree",
    )
    s.z_school = s.mix((0.55, z_wealth), (-0.15, z_old))
    s.binned("NAME_EDUCATION_TYPE", s.z_school, edu_levels)


def draw_family(s: Sampler, z_old: FloatArray) -> None:
    """Family status, children, family size, housing and who came along."""
    female = (~s.male).astype(np.float64)
    status_age = {
        "Single / not married": -1.0,
        "Civil marriage": -0.4,
        "Separated": 0.1,
        "Widow": 1.5,
    }
    s.choose(
        "NAME_FAMILY_STATUS",
        lambda lv: status_age.get(lv, 0.0) * z_old + (lv == "Widow") * female,
        np.ones(s.n, dtype=bool),
        s.shares("NAME_FAMILY_STATUS"),
    )
    partner = s.is_level("NAME_FAMILY_STATUS", "Married", "Civil marriage")
    age = -s.t.num["DAYS_BIRTH"] / DAYS_PER_YEAR
    # Children at home peak in the thirties and with a partner.
    child_score = 0.5 * partner - ((age - 37) / 12) ** 2 + s.noise()
    children = s.numeric("CNT_CHILDREN", s.quantile("CNT_CHILDREN", rank_u(child_score)))
    extra = s.rng.random(s.n) < 0.01
    s.numeric("CNT_FAM_MEMBERS", children + 1 + partner + extra)

    housing_age = {"With parents": -1.2, "Rented apartment": -0.5}
    s.choose(
        "NAME_HOUSING_TYPE",
        lambda lv: housing_age.get(lv, 0.0) * z_old,
        np.ones(s.n, dtype=bool),
        s.shares("NAME_HOUSING_TYPE"),
    )
    partner_f = partner.astype(np.float64)
    suite = {
        "Spouse, partner": 1.5 * partner_f - 2.0 * (1 - partner_f),
        "Family": 0.4 * partner_f,
        "Children": 0.8 * z_old,
    }
    s.choose(
        "NAME_TYPE_SUITE",
        lambda lv: suite.get(lv, 0.0),
        np.ones(s.n, dtype=bool),
        s.shares("NAME_TYPE_SUITE"),
    )
    s.random_missing("NAME_TYPE_SUITE")


def draw_region_and_contacts(s: Sampler, z_old: FloatArray, z_region: FloatArray) -> None:
    """Region, its rating, application time, dates of documents and contact flags."""
    # Clients live in 100 regions of 1% each; every reference percentile is one of them.
    u = np.floor(ndtr(z_region) * 100) / 100
    s.numeric("REGION_POPULATION_RELATIVE", s.quantile("REGION_POPULATION_RELATIVE", u))
    # Populous regions are rated better (1 is best); the city rating nearly agrees.
    z_rating = s.mix((-0.75, z_region))
    s.numeric("REGION_RATING_CLIENT", s.quantile("REGION_RATING_CLIENT", ndtr(z_rating)))
    z_city = 0.98 * z_rating + np.sqrt(1 - 0.98**2) * s.noise()
    s.numeric(
        "REGION_RATING_CLIENT_W_CITY",
        s.quantile("REGION_RATING_CLIENT_W_CITY", ndtr(z_city)),
    )
    s.draw_levels("WEEKDAY_APPR_PROCESS_START", s.shares("WEEKDAY_APPR_PROCESS_START"))
    s.numeric(
        "HOUR_APPR_PROCESS_START",
        s.quantile("HOUR_APPR_PROCESS_START", ndtr(s.mix((0.3, z_region)))),
    )

    birth = s.t.num["DAYS_BIRTH"]
    registration = s.quantile("DAYS_REGISTRATION", ndtr(-s.mix((0.35, z_old))))
    s.numeric("DAYS_REGISTRATION", np.maximum(registration, birth))
    id_publish = s.quantile("DAYS_ID_PUBLISH", ndtr(-s.mix((0.3, z_old))))
    s.numeric("DAYS_ID_PUBLISH", np.maximum(id_publish, birth + MIN_ID_AGE_DAYS))
    s.numeric(
        "DAYS_LAST_PHONE_CHANGE",
        s.quantile("DAYS_LAST_PHONE_CHANGE", ndtr(-s.mix((0.2, z_old)))),
    )

    s.flag("FLAG_MOBIL", s.rng.random(s.n) < (s.schema["FLAG_MOBIL"].share_of_ones or 0.0))
    s.flag(
        "FLAG_CONT_MOBILE",
        s.rng.random(s.n) < (s.schema["FLAG_CONT_MOBILE"].share_of_ones or 0.0),
    )
    s.flag(
        "FLAG_PHONE",
        top(s.mix((0.35, z_old)), s.schema["FLAG_PHONE"].share_of_ones or 0.0),
    )
    s.flag(
        "FLAG_EMAIL",
        top(
            s.mix((0.3, standardised(s.z_school)), (-0.3, z_old)),
            s.schema["FLAG_EMAIL"].share_of_ones or 0.0,
        ),
    )
    z_moved = s.noise()
    s.flag(
        "REG_REGION_NOT_LIVE_REGION",
        top(z_moved, s.schema["REG_REGION_NOT_LIVE_REGION"].share_of_ones or 0.0),
    )
    s.flag(
        "REG_CITY_NOT_LIVE_CITY",
        top(
            s.mix((0.8, z_moved), (-0.2, z_old)),
            s.schema["REG_CITY_NOT_LIVE_CITY"].share_of_ones or 0.0,
        ),
    )
