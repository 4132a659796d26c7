"""Synthetic Home Credit clients, faithful to the real ``application_train.csv``.

The generator lets the whole pipeline run without the Kaggle files. Every column follows the
reference summary in :mod:`creditscore_common.schema` (kind, missing rate, quantiles, levels),
and the columns are tied together the way they are in the real table: hidden Gaussian factors
(age, wealth, region, building size, ...) drive correlated scores, each score is turned into a
column through the reference quantile function (a Gaussian copula), and a few columns are built
from others (family size from children and partner, goods price from the credit, social-circle
defaults from observations, ...).

The default risk is a known function of the values written in the file only (missingness
included), so a model trained on the file can approach the oracle. Its intercept and scale are
solved on the sample itself so that the default rate is the reference 8.08 % and the expected
AUC of the true probability is 0.78. The new clients differ from the reference clients on a few
documented columns (``drift_manifest.json``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv
from scipy.special import expit, ndtr, ndtri
from tqdm import tqdm

from creditscore_common.schema import (
    DAYS_EMPLOYED_ANOMALY,
    ID_COLUMN,
    TARGET_COLUMN,
    ColumnSpec,
    ReferenceSchema,
    load_schema,
)

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
CodeArray = npt.NDArray[np.int16]

TRAIN_FILE = "application_train.csv"
NEW_FILE = "application_test.csv"
TRUTH_FILE = "truth.csv"
MANIFEST_FILE = "drift_manifest.json"
OUTPUT_FILES = (TRAIN_FILE, NEW_FILE, TRUTH_FILE, MANIFEST_FILE)
TRUTH_COLUMN = "TRUE_PROBABILITY"

#: The real IDs: 307,511 + 48,744 clients numbered 100001..456255 across both files.
FIRST_ID = 100_001
REAL_ID_COUNT = 356_255
#: Expected AUC of the true probability; the real application table alone reaches ~0.76-0.78.
TARGET_ORACLE_AUC = 0.78
MIN_TRAIN = 100

DAYS_PER_YEAR = 365.25
#: Nobody holds a job before 16 or an identity document before 14.
MIN_WORK_AGE_DAYS = 16 * DAYS_PER_YEAR
MIN_ID_AGE_DAYS = 14 * DAYS_PER_YEAR
PENSIONER_LEVELS = ("Pensioner", "Unemployed")
ORGANIZATION_NONE = "XNA"
BUILDING_CATEGORIES = (
    "FONDKAPREMONT_MODE",
    "HOUSETYPE_MODE",
    "WALLSMATERIAL_MODE",
    "EMERGENCYSTATE_MODE",
)
BUREAU_COLUMNS = tuple(
    f"AMT_REQ_CREDIT_BUREAU_{p}" for p in ("HOUR", "DAY", "WEEK", "MON", "QRT", "YEAR")
)
SOCIAL_COLUMNS = (
    "OBS_30_CNT_SOCIAL_CIRCLE",
    "DEF_30_CNT_SOCIAL_CIRCLE",
    "OBS_60_CNT_SOCIAL_CIRCLE",
    "DEF_60_CNT_SOCIAL_CIRCLE",
)
#: How strongly each building measure follows the building's size (the rest is its own).
BUILDING_SIZE_LOADING = {
    "APARTMENTS": 0.92,
    "LIVINGAPARTMENTS": 0.9,
    "LIVINGAREA": 0.92,
    "ELEVATORS": 0.7,
    "ENTRANCES": 0.65,
    "FLOORSMAX": 0.6,
    "FLOORSMIN": 0.55,
    "COMMONAREA": 0.5,
    "BASEMENTAREA": 0.5,
    "LANDAREA": 0.45,
    "NONLIVINGAREA": 0.35,
    "NONLIVINGAPARTMENTS": 0.3,
    "YEARS_BUILD": 0.2,
    "YEARS_BEGINEXPLUATATION": 0.15,
}
#: Decimals kept per float column (the real file's precision); other floats keep 6.
FLOAT_STEP = {
    "AMT_INCOME_TOTAL": 2250.0,
    "AMT_CREDIT": 0.5,
    "AMT_ANNUITY": 0.5,
    "AMT_GOODS_PRICE": 4500.0,
}

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


@dataclass(frozen=True)
class GenerationSummary:
    """What :func:`generate` wrote and the headline facts of the generated sample."""

    out_dir: Path
    n_train: int
    n_new: int
    seed: int
    default_rate: float
    oracle_auc: float
    seconds: float
    drifted_columns: tuple[str, ...]


@dataclass(frozen=True)
class DriftSpec:
    """One documented difference between the new clients and the reference clients."""

    column: str
    kind: str
    parameters: dict[str, float | str]
    description: str

    def as_json(self) -> dict[str, Any]:
        """The manifest entry."""
        return {
            "column": self.column,
            "kind": self.kind,
            "parameters": self.parameters,
            "description": self.description,
        }


DRIFTS = (
    DriftSpec(
        "AMT_CREDIT",
        "scale",
        {"factor": 1.10},
        "New clients borrow about 10% more: AMT_CREDIT multiplied by 1.10 "
        "(goods price and annuity unchanged, so credit/goods and credit/annuity rise).",
    ),
    DriftSpec(
        "DAYS_BIRTH",
        "scale",
        {"factor": 0.92},
        "New clients are younger: DAYS_BIRTH multiplied by 0.92 (a 50-year-old becomes 46), "
        "but never so young that their registration, employment or ID dates become impossible.",
    ),
    DriftSpec(
        "NAME_CONTRACT_TYPE",
        "category_share",
        {"level": "Revolving loans", "reference_share": 0.0972, "new_share": 0.20},
        "Twice as many revolving loans: cash loans picked at random relabelled "
        "'Revolving loans' until their share is about 20%.",
    ),
    DriftSpec(
        "EXT_SOURCE_3",
        "missing_rate",
        {"reference_rate": 0.1983, "new_rate": 0.35},
        "The third external score is missing more often: values blanked at random until "
        "about 35% are missing.",
    ),
)


@dataclass
class _Table:
    """Columns under construction: numbers (NaN = missing) and category codes (-1 = missing)."""

    n: int
    num: dict[str, FloatArray] = field(default_factory=dict)
    cat: dict[str, CodeArray] = field(default_factory=dict)

    def take(self, rows: npt.NDArray[np.intp]) -> _Table:
        """The given rows of every column."""
        return _Table(
            n=len(rows),
            num={k: v[rows] for k, v in self.num.items()},
            cat={k: v[rows] for k, v in self.cat.items()},
        )


class _Sampler:
    """Draws the reference columns for ``n`` clients from one random generator."""

    def __init__(self, schema: ReferenceSchema, rng: np.random.Generator, n: int) -> None:
        self.schema = schema
        self.rng = rng
        self.n = n
        self.t = _Table(n)
        # Set by person(), read by the later groups of columns.
        self.male = np.zeros(n, dtype=np.bool_)
        self.no_job = np.zeros(n, dtype=np.bool_)
        self.z_school = np.zeros(n)

    # -- small building blocks -------------------------------------------------------------

    def noise(self) -> FloatArray:
        return self.rng.standard_normal(self.n)

    def mix(self, *parts: tuple[float, FloatArray]) -> FloatArray:
        """A standard normal loading on independent standard normal factors, plus own noise."""
        out = self.noise() * np.sqrt(max(0.0, 1.0 - sum(w * w for w, _ in parts)))
        for w, z in parts:
            out += w * z
        return np.asarray(out, dtype=np.float64)

    def levels(self, name: str) -> list[str]:
        return list(self.schema[name].levels)

    def code(self, name: str, level: str) -> int:
        return self.levels(name).index(level)

    def is_level(self, name: str, *levels: str) -> BoolArray:
        codes = self.t.cat[name]
        wanted = [self.code(name, lv) for lv in levels if lv in self.schema[name].levels]
        return np.isin(codes, wanted)

    def shares(self, name: str, exclude: Iterable[str] = ()) -> FloatArray:
        """Level shares in schema order, the excluded levels set to 0, renormalised."""
        skip = set(exclude)
        s = np.array([0.0 if k in skip else v for k, v in self.schema[name].levels.items()])
        return np.asarray(s / s.sum(), dtype=np.float64)

    def quantile(self, name: str, u: FloatArray) -> FloatArray:
        probs, values = _knots(self.schema[name])
        return np.interp(u, probs, values)

    def numeric(self, name: str, values: FloatArray) -> FloatArray:
        """Round as the real file does, store and return."""
        spec = self.schema[name]
        if spec.kind in ("integer", "flag"):
            values = np.round(values)
        elif name in FLOAT_STEP:
            step = FLOAT_STEP[name]
            values = np.round(values / step) * step
        else:
            values = np.round(values, 4 if _is_building(name) else 6)
        self.t.num[name] = values
        return values

    def flag(self, name: str, on: BoolArray) -> None:
        self.t.num[name] = on.astype(np.float64)

    def missing(self, name: str, mask: BoolArray) -> None:
        if name in self.t.num:
            self.t.num[name][mask] = np.nan
        else:
            self.t.cat[name][mask] = -1

    def random_missing(self, name: str, rate: float | None = None) -> None:
        rate = self.schema[name].missing_rate if rate is None else rate
        if rate > 0:
            self.missing(name, self.rng.random(self.n) < rate)

    def draw_levels(self, name: str, shares: FloatArray, rows: BoolArray | None = None) -> None:
        """Independent draws by share, only for ``rows`` (others unchanged or missing)."""
        drawn = np.searchsorted(np.cumsum(shares)[:-1], self.rng.random(self.n), side="right")
        codes = np.minimum(drawn, len(shares) - 1).astype(np.int16)
        if rows is None:
            self.t.cat[name] = codes
        else:
            current = self.t.cat.get(name, np.full(self.n, -1, dtype=np.int16))
            self.t.cat[name] = np.where(rows, codes, current).astype(np.int16)

    def choose(
        self,
        name: str,
        utility: Callable[[str], FloatArray | float],
        rows: BoolArray,
        shares: FloatArray,
    ) -> None:
        """Levels for ``rows`` from a logit model whose intercepts hit the shares exactly.

        Each level's utility depends on the client; Gumbel noise drawn once turns utilities
        into choices, and the intercepts are adjusted until the sample shares match.
        """
        idx = np.flatnonzero(rows)
        names = self.levels(name)
        u = np.zeros((len(idx), len(names)), dtype=np.float32)
        for j, level in enumerate(names):
            val = utility(level)
            u[:, j] = val[idx] if isinstance(val, np.ndarray) else val
        exponential = self.rng.standard_exponential(u.shape, dtype=np.float32)
        u -= np.log(np.maximum(exponential, np.float32(1e-30)))
        active = shares > 0
        intercept = np.where(active, np.log(np.maximum(shares, 1e-12)), -1e9).astype(np.float32)
        choice = np.zeros(len(idx), dtype=np.int64)
        for _ in range(12):
            choice = np.argmax(u + intercept, axis=1)
            got = np.bincount(choice, minlength=len(names)) / max(len(idx), 1)
            if np.abs(got - shares).max() < 2e-4:
                break
            ratio = np.where(active, shares / np.maximum(got, 0.5 / max(len(idx), 1)), 1.0)
            intercept += np.log(ratio).astype(np.float32)
        codes = self.t.cat.get(name, np.full(self.n, -1, dtype=np.int16))
        codes[idx] = choice.astype(np.int16)
        self.t.cat[name] = codes

    # -- the columns, grouped by what ties them together ------------------------------------

    def run(self) -> _Table:
        z_old, z_wealth, z_region = self.noise(), self.noise(), self.noise()
        self.person(z_old, z_wealth)
        self.money(z_old, z_wealth)
        self.employment(z_old, z_wealth)
        self.family(z_old)
        self.region_and_contacts(z_old, z_region)
        self.external_scores(z_old, z_wealth)
        self.building(z_region)
        self.bureau_and_social()
        self.documents()
        return self.t

    def person(self, z_old: FloatArray, z_wealth: FloatArray) -> None:
        """Gender, age, income type (pensioners are the older clients) and education."""
        self.draw_levels("CODE_GENDER", self.shares("CODE_GENDER"))
        male = self.is_level("CODE_GENDER", "M")
        self.male = male
        self.numeric("DAYS_BIRTH", self.quantile("DAYS_BIRTH", ndtr(-z_old)))

        levels = self.levels("NAME_INCOME_TYPE")
        shares = self.shares("NAME_INCOME_TYPE")
        share = dict(zip(levels, shares, strict=True))
        # Women retire earlier, so they weigh in the pensioner score.
        pension_score = 0.9 * z_old + 0.35 * (~male) + 0.3 * self.noise()
        pensioner = _top(pension_score, share.get("Pensioner", 0.0))
        unemployed = ~pensioner & (
            self.rng.random(self.n) < share.get("Unemployed", 0.0) / (1 - share["Pensioner"])
        )
        codes = np.full(self.n, -1, dtype=np.int16)
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
        bins = _bins(0.45 * z_wealth + self.noise(), np.array([share[lv] for lv in order]), workers)
        for k, lv in enumerate(order):
            codes[workers & (bins == k)] = levels.index(lv)
        self.t.cat["NAME_INCOME_TYPE"] = codes
        self.no_job = pensioner | unemployed

        edu_levels = (
            "Lower secondary",
            "Secondary / secondary special",
            "Incomplete higher",
            "Higher education",
            "Academic degree",
        )
        self.z_school = self.mix((0.55, z_wealth), (-0.15, z_old))
        self.binned("NAME_EDUCATION_TYPE", self.z_school, edu_levels)

    def binned(
        self, name: str, score: FloatArray, order: Sequence[str], rows: BoolArray | None = None
    ) -> None:
        """Levels by rank of ``score``: the first level of ``order`` for the lowest scores."""
        levels = self.levels(name)
        order = [lv for lv in order if lv in levels] + [lv for lv in levels if lv not in order]
        share = dict(zip(levels, self.shares(name), strict=True))
        bins = _bins(score, np.array([share[lv] for lv in order]), rows)
        codes = np.full(self.n, -1, dtype=np.int16)
        for k, lv in enumerate(order):
            codes[bins == k] = levels.index(lv)
        self.t.cat[name] = codes

    def money(self, z_old: FloatArray, z_wealth: FloatArray) -> None:
        """Income, contract type, credit, annuity and goods price."""
        pensioner = self.is_level("NAME_INCOME_TYPE", "Pensioner", "Unemployed")
        income_score = (
            0.7 * z_wealth
            + 0.3 * _std(self.z_school)
            + 0.35 * self.male
            - 0.45 * pensioner
            + 0.55 * self.noise()
        )
        z_income = _gauss_rank(income_score)
        income = self.numeric("AMT_INCOME_TOTAL", self.quantile("AMT_INCOME_TOTAL", ndtr(z_income)))
        self.t.num["AMT_INCOME_TOTAL"] = np.maximum(
            income, self.schema["AMT_INCOME_TOTAL"].quantiles[0.0]
        )

        # Younger clients take revolving (card) loans more often.
        self.binned(
            "NAME_CONTRACT_TYPE", self.mix((0.25, z_old)), ("Revolving loans", "Cash loans")
        )
        revolving = self.is_level("NAME_CONTRACT_TYPE", "Revolving loans")

        credit_score = 0.5 * z_income + 0.15 * z_old - 0.9 * revolving + 0.8 * self.noise()
        z_credit = _gauss_rank(credit_score)
        self.numeric("AMT_CREDIT", self.quantile("AMT_CREDIT", ndtr(z_credit)))

        # Annuity follows the credit (the term varies less than the amount) and the income.
        e = np.clip(self.noise(), -2.0, 2.0)
        z_annuity = 0.86 * z_credit + 0.2 * z_income + np.sqrt(1 - 0.86**2 - 0.2**2) * e
        annuity = self.quantile("AMT_ANNUITY", ndtr(_gauss_rank(z_annuity)))
        # Real loans run between 8 and 45 annuities (credit / annuity); about 1% is clipped.
        credit = self.t.num["AMT_CREDIT"]
        self.numeric("AMT_ANNUITY", np.clip(annuity, credit / 45.0, credit / 8.0))

        # The goods price is nearly the credit, usually a little below (the credit also
        # finances insurance and fees).
        z_goods = 0.995 * z_credit + np.sqrt(1 - 0.995**2) * self.noise()
        goods = self.quantile("AMT_GOODS_PRICE", ndtr(z_goods))
        self.numeric(
            "AMT_GOODS_PRICE", np.maximum(goods, self.schema["AMT_GOODS_PRICE"].quantiles[0.0])
        )
        # The few loans without a goods price are revolving ones.
        rate = self.schema["AMT_GOODS_PRICE"].missing_rate / max(revolving.mean(), 1e-9)
        self.missing("AMT_GOODS_PRICE", revolving & (self.rng.random(self.n) < rate))

        owner = _top(
            0.45 * z_wealth + 0.9 * self.male + self.noise(),
            self.schema["FLAG_OWN_CAR"].levels.get("Y", 0.0),
        )
        self.t.cat["FLAG_OWN_CAR"] = np.where(
            owner, self.code("FLAG_OWN_CAR", "Y"), self.code("FLAG_OWN_CAR", "N")
        ).astype(np.int16)
        # The richer, the newer the car; the age exists only for car owners.
        car_u = _rank_u(-0.35 * z_wealth + self.noise(), owner)
        self.numeric("OWN_CAR_AGE", self.quantile("OWN_CAR_AGE", car_u))
        self.missing("OWN_CAR_AGE", ~owner)
        realty = _top(
            0.35 * z_old + 0.15 * z_wealth + self.noise(),
            self.schema["FLAG_OWN_REALTY"].levels.get("Y", 0.0),
        )
        self.t.cat["FLAG_OWN_REALTY"] = np.where(
            realty, self.code("FLAG_OWN_REALTY", "Y"), self.code("FLAG_OWN_REALTY", "N")
        ).astype(np.int16)

    def employment(self, z_old: FloatArray, z_wealth: FloatArray) -> None:
        """Employment length, occupation, employer and the work-related flags."""
        no_job = self.no_job
        job = ~no_job
        spec = self.schema["DAYS_EMPLOYED"]
        # Older and richer clients have held their job longer (more negative days).
        u = ndtr(-self.mix((0.45, z_old), (0.15, z_wealth)))
        days = np.interp(u, *_employed_knots(spec, float(no_job.mean())))
        birth = self.t.num["DAYS_BIRTH"]
        days = np.maximum(days, birth + MIN_WORK_AGE_DAYS)
        self.numeric("DAYS_EMPLOYED", np.where(no_job, float(DAYS_EMPLOYED_ANOMALY), days))
        self.flag("FLAG_EMP_PHONE", job)

        occ_rate = self.schema["OCCUPATION_TYPE"].missing_rate
        # Almost no pensioner has an occupation; workers miss one at the remaining rate.
        worker_missing = (occ_rate - 0.998 * no_job.mean()) / max(job.mean(), 1e-9)
        has_occ = np.where(
            no_job,
            self.rng.random(self.n) < 0.002,
            self.rng.random(self.n) >= np.clip(worker_missing, 0, 1),
        )
        skill = self.mix((0.8, _std(self.z_school)))
        male = self.male.astype(np.float64)
        self.choose(
            "OCCUPATION_TYPE",
            lambda lv: OCCUPATION_SKILL.get(lv, 0.0) * skill + OCCUPATION_MALE.get(lv, 0.0) * male,
            has_occ,
            self.shares("OCCUPATION_TYPE"),
        )

        state = self.is_level("NAME_INCOME_TYPE", "State servant").astype(np.float64)
        business = self.is_level("NAME_INCOME_TYPE", "Commercial associate", "Businessman").astype(
            np.float64
        )

        def employer(level: str) -> FloatArray:
            out = np.zeros(self.n)
            if level in PUBLIC_ORGANIZATIONS:
                out += 2.5 * state - 1.0 * business
            elif level.startswith(("Business Entity", "Trade", "Self-employed")):
                out += 0.8 * business - 1.5 * state
            for occ, places in OCCUPATION_EMPLOYER.items():
                if level in places:
                    out += 2.0 * self.is_level("OCCUPATION_TYPE", occ)
            return out

        self.choose(
            "ORGANIZATION_TYPE",
            employer,
            job,
            self.shares("ORGANIZATION_TYPE", exclude=[ORGANIZATION_NONE]),
        )
        if ORGANIZATION_NONE in self.schema["ORGANIZATION_TYPE"].levels:
            self.t.cat["ORGANIZATION_TYPE"][no_job] = self.code(
                "ORGANIZATION_TYPE", ORGANIZATION_NONE
            )

        job_share = max(float(job.mean()), 1e-9)
        work_phone = self.schema["FLAG_WORK_PHONE"].share_of_ones or 0.0
        self.flag("FLAG_WORK_PHONE", _top(self.noise(), work_phone / job_share, job))
        # Living or registered away from work: one mobility score per scale (region, city),
        # so the stricter flag is a subset of the looser one, as in the real table.
        z_far = self.noise()
        for name in ("REG_REGION_NOT_WORK_REGION", "LIVE_REGION_NOT_WORK_REGION"):
            share = (self.schema[name].share_of_ones or 0.0) / job_share
            self.flag(name, _top(z_far + 0.1 * self.noise(), share, job))
        z_city = self.mix((0.5, z_far))
        for name in ("REG_CITY_NOT_WORK_CITY", "LIVE_CITY_NOT_WORK_CITY"):
            share = (self.schema[name].share_of_ones or 0.0) / job_share
            self.flag(name, _top(z_city + 0.1 * self.noise(), share, job))

    def family(self, z_old: FloatArray) -> None:
        """Family status, children, family size, housing and who came along."""
        female = (~self.male).astype(np.float64)
        status_age = {
            "Single / not married": -1.0,
            "Civil marriage": -0.4,
            "Separated": 0.1,
            "Widow": 1.5,
        }
        self.choose(
            "NAME_FAMILY_STATUS",
            lambda lv: status_age.get(lv, 0.0) * z_old + (lv == "Widow") * female,
            np.ones(self.n, dtype=bool),
            self.shares("NAME_FAMILY_STATUS"),
        )
        partner = self.is_level("NAME_FAMILY_STATUS", "Married", "Civil marriage")
        age = -self.t.num["DAYS_BIRTH"] / DAYS_PER_YEAR
        # Children at home peak in the thirties and with a partner.
        child_score = 0.5 * partner - ((age - 37) / 12) ** 2 + self.noise()
        children = self.numeric("CNT_CHILDREN", self.quantile("CNT_CHILDREN", _rank_u(child_score)))
        extra = self.rng.random(self.n) < 0.01
        self.numeric("CNT_FAM_MEMBERS", children + 1 + partner + extra)

        housing_age = {"With parents": -1.2, "Rented apartment": -0.5}
        self.choose(
            "NAME_HOUSING_TYPE",
            lambda lv: housing_age.get(lv, 0.0) * z_old,
            np.ones(self.n, dtype=bool),
            self.shares("NAME_HOUSING_TYPE"),
        )
        partner_f = partner.astype(np.float64)
        suite = {
            "Spouse, partner": 1.5 * partner_f - 2.0 * (1 - partner_f),
            "Family": 0.4 * partner_f,
            "Children": 0.8 * z_old,
        }
        self.choose(
            "NAME_TYPE_SUITE",
            lambda lv: suite.get(lv, 0.0),
            np.ones(self.n, dtype=bool),
            self.shares("NAME_TYPE_SUITE"),
        )
        self.random_missing("NAME_TYPE_SUITE")

    def region_and_contacts(self, z_old: FloatArray, z_region: FloatArray) -> None:
        """Region, its rating, application time, dates of documents and contact flags."""
        # Clients live in 100 regions of 1% each; every reference percentile is one of them.
        u = np.floor(ndtr(z_region) * 100) / 100
        self.numeric("REGION_POPULATION_RELATIVE", self.quantile("REGION_POPULATION_RELATIVE", u))
        # Populous regions are rated better (1 is best); the city rating nearly agrees.
        z_rating = self.mix((-0.75, z_region))
        self.numeric("REGION_RATING_CLIENT", self.quantile("REGION_RATING_CLIENT", ndtr(z_rating)))
        z_city = 0.98 * z_rating + np.sqrt(1 - 0.98**2) * self.noise()
        self.numeric(
            "REGION_RATING_CLIENT_W_CITY",
            self.quantile("REGION_RATING_CLIENT_W_CITY", ndtr(z_city)),
        )
        self.draw_levels("WEEKDAY_APPR_PROCESS_START", self.shares("WEEKDAY_APPR_PROCESS_START"))
        self.numeric(
            "HOUR_APPR_PROCESS_START",
            self.quantile("HOUR_APPR_PROCESS_START", ndtr(self.mix((0.3, z_region)))),
        )

        birth = self.t.num["DAYS_BIRTH"]
        registration = self.quantile("DAYS_REGISTRATION", ndtr(-self.mix((0.35, z_old))))
        self.numeric("DAYS_REGISTRATION", np.maximum(registration, birth))
        id_publish = self.quantile("DAYS_ID_PUBLISH", ndtr(-self.mix((0.3, z_old))))
        self.numeric("DAYS_ID_PUBLISH", np.maximum(id_publish, birth + MIN_ID_AGE_DAYS))
        self.numeric(
            "DAYS_LAST_PHONE_CHANGE",
            self.quantile("DAYS_LAST_PHONE_CHANGE", ndtr(-self.mix((0.2, z_old)))),
        )

        self.flag(
            "FLAG_MOBIL", self.rng.random(self.n) < (self.schema["FLAG_MOBIL"].share_of_ones or 0.0)
        )
        self.flag(
            "FLAG_CONT_MOBILE",
            self.rng.random(self.n) < (self.schema["FLAG_CONT_MOBILE"].share_of_ones or 0.0),
        )
        self.flag(
            "FLAG_PHONE",
            _top(self.mix((0.35, z_old)), self.schema["FLAG_PHONE"].share_of_ones or 0.0),
        )
        self.flag(
            "FLAG_EMAIL",
            _top(
                self.mix((0.3, _std(self.z_school)), (-0.3, z_old)),
                self.schema["FLAG_EMAIL"].share_of_ones or 0.0,
            ),
        )
        z_moved = self.noise()
        self.flag(
            "REG_REGION_NOT_LIVE_REGION",
            _top(z_moved, self.schema["REG_REGION_NOT_LIVE_REGION"].share_of_ones or 0.0),
        )
        self.flag(
            "REG_CITY_NOT_LIVE_CITY",
            _top(
                self.mix((0.8, z_moved), (-0.2, z_old)),
                self.schema["REG_CITY_NOT_LIVE_CITY"].share_of_ones or 0.0,
            ),
        )

    def external_scores(self, z_old: FloatArray, z_wealth: FloatArray) -> None:
        """EXT_SOURCE_1/2/3: correlated with one another, with age, wealth and region."""
        z_ext = self.noise()
        rating = _std(
            self.t.num["REGION_RATING_CLIENT"] + self.t.num["REGION_RATING_CLIENT_W_CITY"]
        )
        scores = {
            "EXT_SOURCE_1": self.mix((0.55, z_old), (0.15, z_wealth), (0.3, z_ext)),
            "EXT_SOURCE_2": self.mix((0.1, z_old), (0.2, z_wealth), (0.3, z_ext)) - 0.25 * rating,
            "EXT_SOURCE_3": self.mix((0.25, z_old), (0.1, z_wealth), (0.3, z_ext)),
        }
        for name, score in scores.items():
            self.numeric(name, self.quantile(name, _rank_u(score)))
            self.random_missing(name)

    def building(self, z_region: FloatArray) -> None:
        """The building block: nested missingness and AVG/MODE/MEDI of one measure alike."""
        block = [c.name for c in self.schema.columns if _is_building(c.name)]
        z_size = self.mix((0.3, z_region))
        z_new = self.noise()
        measures: dict[str, FloatArray] = {}
        for name in block:
            measure = name.rsplit("_", 1)[0]
            if name in BUILDING_CATEGORIES or measure in measures:
                continue
            loading = BUILDING_SIZE_LOADING.get(measure, 0.9)
            parts: list[tuple[float, FloatArray]] = [(loading, z_size)]
            if measure.startswith("YEARS"):
                parts.append((0.7, z_new))
            measures[measure] = self.mix(*parts)
        for name in block:
            if name in BUILDING_CATEGORIES:
                continue
            z = 0.995 * measures[name.rsplit("_", 1)[0]] + np.sqrt(1 - 0.995**2) * self.noise()
            self.numeric(name, self.quantile(name, ndtr(z)))
        self.binned(
            "HOUSETYPE_MODE",
            z_size + self.noise(),
            ("terraced house", "specific housing", "block of flats"),
        )
        self.binned(
            "WALLSMATERIAL_MODE",
            z_new + self.noise(),
            ("Wooden", "Others", "Mixed", "Stone, brick", "Block", "Panel", "Monolithic"),
        )
        self.draw_levels("FONDKAPREMONT_MODE", self.shares("FONDKAPREMONT_MODE"))
        self.binned("EMERGENCYSTATE_MODE", z_new + self.noise(), ("Yes", "No"))
        # One uniform per client: a column is missing when it falls below its own rate,
        # so whoever misses the least-missing column misses them all.
        u = self.rng.random(self.n)
        for name in block:
            self.missing(name, u < self.schema[name].missing_rate)

    def bureau_and_social(self) -> None:
        """Credit-bureau enquiries and social-circle counts, each group missing together."""
        z_bureau = self.noise()
        missing = self.rng.random(self.n) < self.schema[BUREAU_COLUMNS[0]].missing_rate
        for name in BUREAU_COLUMNS:
            self.numeric(name, self.quantile(name, ndtr(self.mix((0.6, z_bureau)))))
            self.missing(name, missing)

        obs30 = self.numeric(
            SOCIAL_COLUMNS[0], self.quantile(SOCIAL_COLUMNS[0], ndtr(self.noise()))
        )
        # Defaults are a share of the observed acquaintances; the 60-day counts are the
        # 30-day ones less a few, and the 60-day defaults a subset of the 30-day ones.
        def30 = self.rng.binomial(obs30.astype(np.int64), 0.1).astype(np.float64)
        obs60 = obs30 - self.rng.binomial(obs30.astype(np.int64), 0.03)
        def60 = np.minimum(self.rng.binomial(def30.astype(np.int64), 0.7), obs60)
        self.numeric("DEF_30_CNT_SOCIAL_CIRCLE", def30)
        self.numeric("OBS_60_CNT_SOCIAL_CIRCLE", obs60.astype(np.float64))
        self.numeric("DEF_60_CNT_SOCIAL_CIRCLE", def60.astype(np.float64))
        missing = self.rng.random(self.n) < self.schema[SOCIAL_COLUMNS[0]].missing_rate
        for name in SOCIAL_COLUMNS:
            self.missing(name, missing)

    def documents(self) -> None:
        """FLAG_DOCUMENT_*: a client hands in (at most) one main document."""
        names = [c.name for c in self.schema.columns if c.name.startswith("FLAG_DOCUMENT_")]
        shares = np.array([self.schema[n].share_of_ones or 0.0 for n in names])
        shares = shares / max(1.0, shares.sum())
        pick = np.searchsorted(np.cumsum(shares), self.rng.random(self.n), side="right")
        for k, name in enumerate(names):
            self.flag(name, pick == k)


# -- quantile functions and rank helpers ------------------------------------------------------


def _knots(spec: ColumnSpec) -> tuple[FloatArray, FloatArray]:
    """Probabilities and values of the reference quantile function (monotone)."""
    probs = np.array(sorted(spec.quantiles), dtype=np.float64)
    values = np.maximum.accumulate(np.array([spec.quantiles[p] for p in probs]))
    return probs, values


def _employed_knots(spec: ColumnSpec, anomaly_share: float) -> tuple[FloatArray, FloatArray]:
    """The DAYS_EMPLOYED quantile function of the employed only (the anomaly left out)."""
    probs, values = _knots(spec)
    employed = 1.0 - anomaly_share
    keep = values < DAYS_EMPLOYED_ANOMALY
    p = np.minimum(probs[keep] / employed, 1.0)
    v = values[keep]
    if p[-1] < 1.0:
        # The most recent hires started on the day of the application.
        p, v = np.append(p, 1.0), np.append(v, 0.0)
    return p, v


def _is_building(name: str) -> bool:
    return name.endswith(("_AVG", "_MODE", "_MEDI"))


def _rank_u(score: FloatArray, rows: BoolArray | None = None) -> FloatArray:
    """Uniform scores (rank + 1/2) / n, within ``rows`` when given (NaN elsewhere)."""
    out = np.full(len(score), np.nan)
    idx = np.arange(len(score)) if rows is None else np.flatnonzero(rows)
    if len(idx) == 0:
        return out
    order = np.argsort(score[idx], kind="stable")
    ranks = np.empty(len(idx))
    ranks[order] = np.arange(len(idx))
    out[idx] = (ranks + 0.5) / len(idx)
    return out


def _gauss_rank(score: FloatArray) -> FloatArray:
    """Standard normal scores with the ranks of ``score``."""
    return np.asarray(ndtri(_rank_u(score)), dtype=np.float64)


def _std(x: FloatArray | BoolArray) -> FloatArray:
    x = np.asarray(x, dtype=np.float64)
    sd = float(x.std())
    return np.asarray((x - x.mean()) / (sd if sd > 0 else 1.0), dtype=np.float64)


def _bins(
    score: FloatArray, shares: FloatArray, rows: BoolArray | None = None
) -> npt.NDArray[np.int64]:
    """Bin index by rank of ``score`` so that bin k holds shares[k] of ``rows`` (-1 elsewhere)."""
    out = np.full(len(score), -1, dtype=np.int64)
    idx = np.arange(len(score)) if rows is None else np.flatnonzero(rows)
    if len(idx) == 0:
        return out
    cum = np.cumsum(shares / shares.sum())[:-1]
    u = _rank_u(score[idx])
    out[idx] = np.searchsorted(cum, u, side="right")
    return out


def _top(score: FloatArray, share: float, rows: BoolArray | None = None) -> BoolArray:
    """The ``share`` of ``rows`` with the highest score."""
    share = min(max(share, 0.0), 1.0)
    return np.asarray(_bins(score, np.array([1.0 - share, share]), rows) == 1, dtype=np.bool_)


# -- the default risk -------------------------------------------------------------------------


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


def _auc(y: npt.NDArray[np.int8], score: FloatArray) -> float:
    """Area under the ROC curve (ties count half), by the rank-sum formula."""
    from scipy.stats import rankdata

    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


# -- drift ------------------------------------------------------------------------------------


def _latest_birth(t: _Table) -> FloatArray:
    """The latest DAYS_BIRTH the client's other dates allow (registered, employed, ID)."""
    employed = t.num["DAYS_EMPLOYED"] < DAYS_EMPLOYED_ANOMALY
    limit = np.minimum(t.num["DAYS_REGISTRATION"], t.num["DAYS_ID_PUBLISH"] - MIN_ID_AGE_DAYS)
    limit = np.where(employed, np.minimum(limit, t.num["DAYS_EMPLOYED"] - MIN_WORK_AGE_DAYS), limit)
    # Whole days, rounded towards the past so the limit itself stays valid.
    return np.asarray(np.floor(limit), dtype=np.float64)


def _apply_drift(t: _Table, schema: ReferenceSchema, rng: np.random.Generator) -> None:
    """Shift the new clients' columns as documented in :data:`DRIFTS`."""
    for drift in DRIFTS:
        name = drift.column
        if drift.kind == "scale":
            values = t.num[name] * float(drift.parameters["factor"])
            if name == "DAYS_BIRTH":
                values = np.minimum(values, _latest_birth(t))
            step = FLOAT_STEP.get(name, 1.0)
            t.num[name] = np.round(values / step) * step
        elif drift.kind == "category_share":
            level = str(drift.parameters["level"])
            code = list(schema[name].levels).index(level)
            old, new = (
                float(drift.parameters["reference_share"]),
                float(drift.parameters["new_share"]),
            )
            convert = (t.cat[name] != code) & (t.cat[name] >= 0)
            convert &= rng.random(t.n) < (new - old) / (1 - old)
            t.cat[name] = np.where(convert, code, t.cat[name]).astype(np.int16)
        elif drift.kind == "missing_rate":
            old, new = (
                float(drift.parameters["reference_rate"]),
                float(drift.parameters["new_rate"]),
            )
            blank = rng.random(t.n) < (new - old) / (1 - old)
            t.num[name] = np.where(blank, np.nan, t.num[name])
        else:  # pragma: no cover - the table above holds only these kinds
            raise ValueError(f"unknown drift kind {drift.kind}")


# -- writing ----------------------------------------------------------------------------------


def _arrow_column(t: _Table, spec: ColumnSpec) -> pa.Array:
    if spec.is_categorical:
        codes = t.cat[spec.name]
        missing = codes < 0
        indices = pa.array(np.where(missing, 0, codes).astype(np.int16), mask=missing)
        dictionary = pa.array(list(spec.levels), type=pa.string())
        return pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.string())
    values = t.num[spec.name]
    missing = np.isnan(values)
    if spec.kind == "float":
        return pa.array(values, mask=missing, type=pa.float64())
    whole = np.where(missing, 0, values).astype(np.int64)
    return pa.array(whole, mask=missing, type=pa.int8() if spec.kind == "flag" else pa.int64())


def _arrow_table(
    t: _Table,
    schema: ReferenceSchema,
    ids: FloatArray | npt.NDArray[np.int64],
    target: npt.NDArray[np.int8] | None,
) -> pa.Table:
    columns: dict[str, pa.Array] = {ID_COLUMN: pa.array(np.asarray(ids, dtype=np.int64))}
    if target is not None:
        columns[TARGET_COLUMN] = pa.array(target, type=pa.int8())
    for name in schema.application_names:
        columns[name] = _arrow_column(t, schema[name])
    return pa.table(columns)


def _write_csv(table: pa.Table, path: Path) -> None:
    """CSV with a bare header line like the Kaggle files (Arrow would quote the names)."""
    with path.open("wb") as sink:
        sink.write((",".join(table.column_names) + "\n").encode())
        pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False))


def _write_json(content: Mapping[str, Any], path: Path) -> None:
    path.write_text(json.dumps(content, indent=2) + "\n")


def _write_all(
    out_dir: Path,
    writers: Sequence[tuple[str, Callable[[Path], None]]],
    written: Callable[[str], None],
) -> None:
    """Write every file into a fresh folder beside ``out_dir``, then move them in place.

    A failure part-way leaves ``out_dir`` as it was: the half-written folder is removed.
    """
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        # Arrow formats CSV mostly without the GIL, so two files are written at once; leaving
        # the pool waits for every writer, so nothing writes into the folder once it is removed.
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(write, tmp / filename) for filename, write in writers]
            for (filename, _), future in zip(writers, futures, strict=True):
                future.result()
                written(filename)
        out_dir.mkdir(parents=True, exist_ok=True)
        for filename, _ in writers:
            os.replace(tmp / filename, out_dir / filename)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- the entry point --------------------------------------------------------------------------


def generate(
    out_dir: Path,
    n_train: int = 307_511,
    n_new: int = 48_744,
    seed: int = 0,
    progress: bool = False,
) -> GenerationSummary:
    """Generate synthetic reference and new clients and write them into ``out_dir``.

    Writes ``application_train.csv`` (with TARGET), ``application_test.csv`` (new clients,
    drifted), ``truth.csv`` (the true default probability of every client) and
    ``drift_manifest.json``. The same seed gives byte-identical files.
    """
    if n_train < MIN_TRAIN:
        raise ValueError(f"n_train must be at least {MIN_TRAIN}, got {n_train}")
    if n_new < 0:
        raise ValueError(f"n_new must be >= 0, got {n_new}")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    schema = load_schema()
    rng = np.random.default_rng(seed)
    n = n_train + n_new
    with tqdm(total=2 + len(OUTPUT_FILES), desc="generate", disable=not progress) as bar:
        bar.set_postfix_str("clients")
        pool = _Sampler(schema, rng, n).run()
        train = pool.take(np.arange(n_train))
        new = pool.take(np.arange(n_train, n))
        _apply_drift(new, schema, rng)
        bar.update()

        bar.set_postfix_str("risk")
        x_train = risk_score(train, schema)
        scale, intercept = calibrate(x_train, schema.target_rate)
        p_train = np.round(expit(intercept + scale * x_train), 8)
        p_new = np.round(expit(intercept + scale * risk_score(new, schema)), 8)
        target = draw_defaults(p_train, rng)
        # Real IDs interleave the two files; both files are sorted by ID.
        id_pool = max(n, REAL_ID_COUNT)
        ids = FIRST_ID + rng.choice(id_pool, size=n, replace=False).astype(np.int64)
        train_ids, new_ids = np.sort(ids[:n_train]), np.sort(ids[n_train:])
        bar.update()

        manifest = {
            "seed": seed,
            "n_train": n_train,
            "n_new": n_new,
            "drift": [d.as_json() for d in DRIFTS],
        }
        truth = pa.table(
            {
                ID_COLUMN: pa.array(np.concatenate([train_ids, new_ids])),
                TRUTH_COLUMN: pa.array(np.concatenate([p_train, p_new])),
            }
        )

        def written(filename: str) -> None:
            bar.update()
            bar.set_postfix_str(filename)

        writers: list[tuple[str, Callable[[Path], None]]] = [
            (TRAIN_FILE, lambda p: _write_csv(_arrow_table(train, schema, train_ids, target), p)),
            (NEW_FILE, lambda p: _write_csv(_arrow_table(new, schema, new_ids, None), p)),
            (TRUTH_FILE, lambda p: _write_csv(truth, p)),
            (MANIFEST_FILE, lambda p: _write_json(manifest, p)),
        ]
        bar.set_postfix_str("writing")
        _write_all(out_dir, writers, written)

    summary = GenerationSummary(
        out_dir=out_dir,
        n_train=n_train,
        n_new=n_new,
        seed=seed,
        default_rate=float(target.mean()),
        oracle_auc=_auc(target, p_train),
        seconds=time.perf_counter() - started,
        drifted_columns=tuple(d.column for d in DRIFTS),
    )
    logger.info(
        "generated %d reference and %d new clients in %s (default rate %.4f, oracle AUC %.4f, "
        "scale %.3f) in %.1f s",
        n_train,
        n_new,
        out_dir,
        summary.default_rate,
        summary.oracle_auc,
        scale,
        summary.seconds,
    )
    return summary
