"""The sampler every block of columns draws with: one random generator, one table of columns.

A :class:`Sampler` holds the columns under construction (a :class:`_Table`) and the small
operations every block uses: standard normal factors mixed with their own noise, a column
drawn through the reference quantile function (the Gaussian copula), levels chosen by rank or
by a logit model whose shares match the reference, missing values. The rank helpers below it
turn any score into uniform scores, bins or a top share.

Every draw comes from the one generator, in a fixed order: changing the order of the calls
changes the generated files (the same seed gives byte-identical files only for the same code).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri

from creditscore_common.features import DAYS_PER_YEAR
from creditscore_common.reference_schema import ColumnSpec, ReferenceSchema

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
CodeArray = npt.NDArray[np.int16]

#: Nobody holds a job before 16 or an identity document before 14.
MIN_WORK_AGE_DAYS = 16 * DAYS_PER_YEAR
MIN_ID_AGE_DAYS = 14 * DAYS_PER_YEAR
#: Decimals kept per float column (the real file's precision); other floats keep 6.
FLOAT_STEP = {
    "AMT_INCOME_TOTAL": 2250.0,
    "AMT_CREDIT": 0.5,
    "AMT_ANNUITY": 0.5,
    "AMT_GOODS_PRICE": 4500.0,
}


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


class Sampler:
    """Draws the reference columns for ``n`` clients from one random generator."""

    def __init__(self, schema: ReferenceSchema, rng: np.random.Generator, n: int) -> None:
        self.schema = schema
        self.rng = rng
        self.n = n
        self.t = _Table(n)
        # Set by draw_person(), read by the later blocks of columns.
        self.male = np.zeros(n, dtype=np.bool_)
        self.no_job = np.zeros(n, dtype=np.bool_)
        self.z_school = np.zeros(n)

    # -- small building blocks -------------------------------------------------------------

    def noise(self) -> FloatArray:
        """A fresh standard normal draw per client."""
        return self.rng.standard_normal(self.n)

    def mix(self, *parts: tuple[float, FloatArray]) -> FloatArray:
        """A standard normal loading on independent standard normal factors, plus own noise."""
        out = self.noise() * np.sqrt(max(0.0, 1.0 - sum(w * w for w, _ in parts)))
        for w, z in parts:
            out += w * z
        return np.asarray(out, dtype=np.float64)

    def levels(self, name: str) -> list[str]:
        """The levels of a category column, in schema order (a code is an index)."""
        return list(self.schema[name].levels)

    def code(self, name: str, level: str) -> int:
        """The code of one level of a category column."""
        return self.levels(name).index(level)

    def is_level(self, name: str, *levels: str) -> BoolArray:
        """Which clients have one of ``levels`` in a category column already drawn."""
        codes = self.t.cat[name]
        wanted = [self.code(name, lv) for lv in levels if lv in self.schema[name].levels]
        return np.isin(codes, wanted)

    def shares(self, name: str, exclude: Iterable[str] = ()) -> FloatArray:
        """Level shares in schema order, the excluded levels set to 0, renormalised."""
        skip = set(exclude)
        s = np.array([0.0 if k in skip else v for k, v in self.schema[name].levels.items()])
        return np.asarray(s / s.sum(), dtype=np.float64)

    def quantile(self, name: str, u: FloatArray) -> FloatArray:
        """The reference quantile function of a column at the uniform scores ``u``."""
        probs, values = knots(self.schema[name])
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
            values = np.round(values, 4 if is_building(name) else 6)
        self.t.num[name] = values
        return values

    def flag(self, name: str, on: BoolArray) -> None:
        """Store a 0/1 flag column."""
        self.t.num[name] = on.astype(np.float64)

    def missing(self, name: str, mask: BoolArray) -> None:
        """Blank a column for the clients of ``mask``."""
        if name in self.t.num:
            self.t.num[name][mask] = np.nan
        else:
            self.t.cat[name][mask] = -1

    def random_missing(self, name: str, rate: float | None = None) -> None:
        """Blank a column at random, at its reference missing rate unless ``rate`` is given."""
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

    def binned(
        self, name: str, score: FloatArray, order: Sequence[str], rows: BoolArray | None = None
    ) -> None:
        """Levels by rank of ``score``: the first level of ``order`` for the lowest scores."""
        levels = self.levels(name)
        order = [lv for lv in order if lv in levels] + [lv for lv in levels if lv not in order]
        share = dict(zip(levels, self.shares(name), strict=True))
        bins = rank_bins(score, np.array([share[lv] for lv in order]), rows)
        codes = np.full(self.n, -1, dtype=np.int16)
        for k, lv in enumerate(order):
            codes[bins == k] = levels.index(lv)
        self.t.cat[name] = codes


# -- quantile functions and rank helpers ------------------------------------------------------


def knots(spec: ColumnSpec) -> tuple[FloatArray, FloatArray]:
    """Probabilities and values of the reference quantile function (monotone)."""
    probs = np.array(sorted(spec.quantiles), dtype=np.float64)
    values = np.maximum.accumulate(np.array([spec.quantiles[p] for p in probs]))
    return probs, values


def is_building(name: str) -> bool:
    """Whether a column belongs to the building block (its measures keep 4 decimals)."""
    return name.endswith(("_AVG", "_MODE", "_MEDI"))


def rank_u(score: FloatArray, rows: BoolArray | None = None) -> FloatArray:
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


def gauss_rank(score: FloatArray) -> FloatArray:
    """Standard normal scores with the ranks of ``score``."""
    return np.asarray(ndtri(rank_u(score)), dtype=np.float64)


def standardised(x: FloatArray | BoolArray) -> FloatArray:
    """Mean 0, standard deviation 1 (a constant stays 0)."""
    x = np.asarray(x, dtype=np.float64)
    sd = float(x.std())
    return np.asarray((x - x.mean()) / (sd if sd > 0 else 1.0), dtype=np.float64)


def rank_bins(
    score: FloatArray, shares: FloatArray, rows: BoolArray | None = None
) -> npt.NDArray[np.int64]:
    """Bin index by rank of ``score`` so that bin k holds shares[k] of ``rows`` (-1 elsewhere)."""
    out = np.full(len(score), -1, dtype=np.int64)
    idx = np.arange(len(score)) if rows is None else np.flatnonzero(rows)
    if len(idx) == 0:
        return out
    cum = np.cumsum(shares / shares.sum())[:-1]
    u = rank_u(score[idx])
    out[idx] = np.searchsorted(cum, u, side="right")
    return out


def top(score: FloatArray, share: float, rows: BoolArray | None = None) -> BoolArray:
    """The ``share`` of ``rows`` with the highest score."""
    share = min(max(share, 0.0), 1.0)
    return np.asarray(rank_bins(score, np.array([1.0 - share, share]), rows) == 1, dtype=np.bool_)
