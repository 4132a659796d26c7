"""Work: employment length, occupation, employer and the work-related flags.

Pensioners and the unemployed (set by :func:`~training.generation.identity.draw_person`) have
no job: ``DAYS_EMPLOYED = 365243``, no occupation, employer ``XNA``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from creditscore_common.reference_schema import DAYS_EMPLOYED_ANOMALY, ColumnSpec
from training.generation.sampler import (
    MIN_WORK_AGE_DAYS,
    FloatArray,
    Sampler,
    knots,
    standardised,
    top,
)

ORGANIZATION_NONE = "XNA"
#: Occupations by how much schooling they draw (a skill loading) and how male they are.
OCCUPATION_SKILL = {
    "Low-skill Laborers": -1.0,
    "Cleaning staff": -0.8,
    "Laborers": -0.6,
    "Cooking staff": -0.5,
    "Security staff": -0.5,
    "Waiters/barmen staff": -0.3,
    "Drivers": -0.3,
    "Sales staff": 0.0,
    "Private service staff": 0.0,
    "Medicine staff": 0.3,
    "Secretaries": 0.3,
    "Realty agents": 0.3,
    "Core staff": 0.5,
    "HR staff": 0.5,
    "High skill tech staff": 0.8,
    "Accountants": 0.8,
    "IT staff": 1.0,
    "Managers": 1.0,
}
OCCUPATION_MALE = {
    "Drivers": 2.5,
    "Security staff": 1.5,
    "Laborers": 0.8,
    "IT staff": 0.7,
    "Low-skill Laborers": 0.5,
    "High skill tech staff": 0.5,
    "Managers": 0.3,
    "Waiters/barmen staff": -0.5,
    "Cooking staff": -0.7,
    "Core staff": -0.8,
    "Sales staff": -0.8,
    "Private service staff": -0.8,
    "Cleaning staff": -1.0,
    "Medicine staff": -1.5,
    "HR staff": -1.5,
    "Accountants": -1.8,
    "Secretaries": -2.0,
}
PUBLIC_ORGANIZATIONS = (
    "Government",
    "School",
    "Kindergarten",
    "Medicine",
    "Military",
    "Police",
    "Postal",
    "Security Ministries",
    "University",
    "Emergency",
    "Culture",
    "Electricity",
)
#: Occupations that pull their holders to a matching employer.
OCCUPATION_EMPLOYER = {
    "Medicine staff": ("Medicine",),
    "Drivers": ("Transport: type 4", "Transport: type 2", "Transport: type 3"),
    "Security staff": ("Security",),
    "Cooking staff": ("Restaurant", "Hotel"),
    "Core staff": ("School", "Kindergarten", "University"),
}


def draw_employment(s: Sampler, z_old: FloatArray, z_wealth: FloatArray) -> None:
    """Employment length, occupation, employer and the work-related flags."""
    no_job = s.no_job
    job = ~no_job
    spec = s.schema["DAYS_EMPLOYED"]
    # Older and richer clients have held their job longer (more negative days).
    u = ndtr(-s.mix((0.45, z_old), (0.15, z_wealth)))
    days = np.interp(u, *_employed_knots(spec, float(no_job.mean())))
    birth = s.t.num["DAYS_BIRTH"]
    days = np.maximum(days, birth + MIN_WORK_AGE_DAYS)
    s.numeric("DAYS_EMPLOYED", np.where(no_job, float(DAYS_EMPLOYED_ANOMALY), days))
    s.flag("FLAG_EMP_PHONE", job)

    occ_rate = s.schema["OCCUPATION_TYPE"].missing_rate
    # Almost no pensioner has an occupation; workers miss one at the remaining rate.
    worker_missing = (occ_rate - 0.998 * no_job.mean()) / max(job.mean(), 1e-9)
    has_occ = np.where(
        no_job,
        s.rng.random(s.n) < 0.002,
        s.rng.random(s.n) >= np.clip(worker_missing, 0, 1),
    )
    skill = s.mix((0.8, standardised(s.z_school)))
    male = s.male.astype(np.float64)
    s.choose(
        "OCCUPATION_TYPE",
        lambda lv: OCCUPATION_SKILL.get(lv, 0.0) * skill + OCCUPATION_MALE.get(lv, 0.0) * male,
        has_occ,
        s.shares("OCCUPATION_TYPE"),
    )

    state = s.is_level("NAME_INCOME_TYPE", "State servant").astype(np.float64)
    business = s.is_level("NAME_INCOME_TYPE", "Commercial associate", "Businessman").astype(
        np.float64
    )

    def employer(level: str) -> FloatArray:
        out = np.zeros(s.n)
        if level in PUBLIC_ORGANIZATIONS:
            out += 2.5 * state - 1.0 * business
        elif level.startswith(("Business Entity", "Trade", "Self-employed")):
            out += 0.8 * business - 1.5 * state
        for occ, places in OCCUPATION_EMPLOYER.items():
            if level in places:
                out += 2.0 * s.is_level("OCCUPATION_TYPE", occ)
        return out

    s.choose(
        "ORGANIZATION_TYPE",
        employer,
        job,
        s.shares("ORGANIZATION_TYPE", exclude=[ORGANIZATION_NONE]),
    )
    if ORGANIZATION_NONE in s.schema["ORGANIZATION_TYPE"].levels:
        s.t.cat["ORGANIZATION_TYPE"][no_job] = s.code("ORGANIZATION_TYPE", ORGANIZATION_NONE)

    job_share = max(float(job.mean()), 1e-9)
    work_phone = s.schema["FLAG_WORK_PHONE"].share_of_ones or 0.0
    s.flag("FLAG_WORK_PHONE", top(s.noise(), work_phone / job_share, job))
    # Living or registered away from work: one mobility score per scale (region, city),
    # so the stricter flag is a subset of the looser one, as in the real table.
    z_far = s.noise()
    for name in ("REG_REGION_NOT_WORK_REGION", "LIVE_REGION_NOT_WORK_REGION"):
        share = (s.schema[name].share_of_ones or 0.0) / job_share
        s.flag(name, top(z_far + 0.1 * s.noise(), share, job))
    z_city = s.mix((0.5, z_far))
    for name in ("REG_CITY_NOT_WORK_CITY", "LIVE_CITY_NOT_WORK_CITY"):
        share = (s.schema[name].share_of_ones or 0.0) / job_share
        s.flag(name, top(z_city + 0.1 * s.noise(), share, job))


def _employed_knots(spec: ColumnSpec, anomaly_share: float) -> tuple[FloatArray, FloatArray]:
    """The DAYS_EMPLOYED quantile function of the employed only (the anomaly left out)."""
    probs, values = knots(spec)
    employed = 1.0 - anomaly_share
    keep = values < DAYS_EMPLOYED_ANOMALY
    p = np.minimum(probs[keep] / employed, 1.0)
    v = values[keep]
    if p[-1] < 1.0:
        # The most recent hires started on the day of the application.
        p, v = np.append(p, 1.0), np.append(v, 0.0)
    return p, v
