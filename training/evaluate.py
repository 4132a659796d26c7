"""Business cost, the cost-optimal threshold and the metrics reported for every model.

A client whose default probability is at or above the threshold is refused. A refused good
client costs ``cost_fp`` (a false positive: lost business); an accepted client who defaults
costs ``cost_fn`` (a false negative: the loss on the loan). By default a default costs ten
times a refusal. The business cost per client is ``(cost_fn * FN + cost_fp * FP) / n``.

How sure is that threshold? :func:`bootstrap_threshold_band` redraws the clients with
replacement and finds the cost-optimal threshold again each time: where those thresholds
spread, the data cannot tell whether refusing or accepting is cheaper, and a file whose
probability falls there is to be examined rather than decided on the score alone.
:func:`threshold_rules` sets the exact rule beside the minimiser of the bootstrap-averaged
cost and says which one is served (and why).
:func:`score_bins` summarises the out-of-fold probabilities in quantile bins (counts and
default rates), the aggregates against which a new client's score is compared.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, TypedDict

import numpy as np
import numpy.typing as npt
from sklearn.metrics import brier_score_loss, roc_auc_score

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.integer]

#: The alarm rings above this cross-validated AUC: on this table alone, the best known models
#: reach about 0.76-0.79, so a higher figure almost always means a leak of the target.
LEAKAGE_AUC = 0.82
#: The finite threshold recorded when refusing nobody is cheapest (JSON has no infinity).
NOBODY_REFUSED = 1.0


@dataclass(frozen=True)
class CostWeights:
    """What each kind of error costs the lender (relative units)."""

    cost_fn: float = 10.0
    cost_fp: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.cost_fn) and math.isfinite(self.cost_fp)):
            raise ValueError("cost_fn and cost_fp must be finite positive numbers")
        if self.cost_fn <= 0 or self.cost_fp <= 0:
            raise ValueError("cost_fn and cost_fp must both be positive")

    def per_client(self, fn: Any, fp: Any, n: Any) -> Any:
        """The business cost per client, ``(cost_fn * FN + cost_fp * FP) / n``.

        The one place the formula is written; counts may be numbers or numpy arrays.
        """
        return (self.cost_fn * fn + self.cost_fp * fp) / n

    def calibrated_threshold(self) -> float:
        """``cost_fp / (cost_fp + cost_fn)``, the cost-optimal threshold of calibrated scores.

        Refusing a client of true default probability p saves ``cost_fn * p`` and costs
        ``cost_fp * (1 - p)``; the two are equal at this p (1/11 by default).
        """
        return self.cost_fp / (self.cost_fp + self.cost_fn)


@dataclass(frozen=True)
class ThresholdMetrics:
    """Everything reported about one set of probabilities at one decision threshold."""

    threshold: float
    auc: float
    cost_per_client: float
    recall: float
    precision: float
    fbeta: float
    beta: float
    brier: float
    refusal_rate: float
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int

    def as_dict(self) -> dict[str, float]:
        """Plain dict of the figures (for JSON and MLflow)."""
        return {k: float(v) for k, v in asdict(self).items()}


def confusion_at(
    y_true: IntArray, probability: FloatArray, threshold: float
) -> tuple[int, int, int, int]:
    """(TP, FP, FN, TN) when clients with probability >= threshold are refused."""
    refused = probability >= threshold
    positive = y_true == 1
    tp = int(np.sum(refused & positive))
    fp = int(np.sum(refused & ~positive))
    fn = int(np.sum(~refused & positive))
    tn = int(np.sum(~refused & ~positive))
    return tp, fp, fn, tn


def business_cost(
    y_true: IntArray, probability: FloatArray, threshold: float, weights: CostWeights
) -> float:
    """Cost per client of refusing every client with probability >= threshold."""
    _, fp, fn, _ = confusion_at(y_true, probability, threshold)
    return float(weights.per_client(fn, fp, len(y_true)))


def _sorted_runs(
    y_true: IntArray, probability: FloatArray
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Distinct probabilities in decreasing order, and a code for each client.

    Returns ``(values, codes)``: ``values[k]`` is the k-th highest distinct probability and
    ``codes[i] = 2 * k + y[i]`` where k is the run of client i's probability, so that one
    ``bincount`` of codes counts the defaults and good clients of every run.
    """
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(probability, dtype=np.float64)
    order = np.argsort(-p, kind="stable")
    p_sorted = p[order]
    first_of_run = np.r_[True, p_sorted[1:] != p_sorted[:-1]]
    runs = np.empty(p.size, dtype=np.int64)
    runs[order] = np.cumsum(first_of_run) - 1
    return p_sorted[first_of_run], 2 * runs + y


def _run_counts(
    codes: npt.NDArray[np.int64], n_runs: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Defaults and good clients at each run, from the codes of :func:`_sorted_runs`."""
    counts = np.bincount(codes, minlength=2 * n_runs).reshape(n_runs, 2)
    return counts[:, 1], counts[:, 0]


def _costs_by_run(
    run_positives: npt.NDArray[np.int64],
    run_negatives: npt.NDArray[np.int64],
    weights: CostWeights,
) -> tuple[FloatArray, float]:
    """The business cost formula, once for every threshold.

    Runs are the distinct probabilities in decreasing order, with the number of defaults
    and of good clients at each. Refusing every client at or above run k refuses runs 0..k.
    Returns the cost per client at each run's probability, and that of refusing nobody.
    """
    refused_pos = np.cumsum(run_positives)
    refused_neg = np.cumsum(run_negatives)
    n = refused_pos[-1] + refused_neg[-1]
    fn = refused_pos[-1] - refused_pos
    fp = refused_neg
    costs = weights.per_client(fn, fp, n)
    nobody = weights.per_client(refused_pos[-1], 0, n)
    return costs, float(nobody)


def _increasing_curve(
    values: FloatArray, costs: FloatArray, nobody: float
) -> tuple[FloatArray, FloatArray]:
    """Thresholds (decreasing run values, then +inf) put in increasing order with costs."""
    return np.r_[np.inf, values][::-1], np.r_[nobody, costs][::-1]


def _lowest_cost(thresholds: FloatArray, costs: FloatArray) -> tuple[float, float]:
    """The cheapest threshold of an increasing curve; ties go to the highest threshold."""
    best = np.flatnonzero(costs == costs.min())[-1]
    return float(thresholds[best]), float(costs[best])


def cost_curve(
    y_true: IntArray, probability: FloatArray, weights: CostWeights
) -> tuple[FloatArray, FloatArray]:
    """Exact cost per client for every distinct threshold, in increasing threshold order.

    Candidate thresholds are the distinct probabilities themselves plus +inf (refuse nobody):
    between two neighbouring probabilities the decisions, hence the cost, cannot change.
    """
    values, codes = _sorted_runs(y_true, probability)
    costs, nobody = _costs_by_run(*_run_counts(codes, values.size), weights)
    return _increasing_curve(values, costs, nobody)


def best_threshold(
    y_true: IntArray, probability: FloatArray, weights: CostWeights
) -> tuple[float, float]:
    """The threshold with the lowest business cost, and that cost per client.

    Ties go to the highest threshold (fewest refusals for the same cost).
    """
    return _lowest_cost(*cost_curve(y_true, probability, weights))


def finite_threshold(threshold: float) -> float:
    """A threshold fit for JSON: "refuse nobody" (+inf) becomes :data:`NOBODY_REFUSED`."""
    return threshold if math.isfinite(threshold) else NOBODY_REFUSED


def fbeta_score(precision: float, recall: float, beta: float) -> float:
    """F-beta from precision and recall (0 when both are 0)."""
    denominator = beta**2 * precision + recall
    return 0.0 if denominator == 0 else (1 + beta**2) * precision * recall / denominator


def metrics_at(
    y_true: IntArray,
    probability: FloatArray,
    threshold: float,
    weights: CostWeights,
    beta: float = 2.0,
) -> ThresholdMetrics:
    """AUC, business cost, recall, precision, F-beta and Brier at a given threshold."""
    tp, fp, fn, tn = confusion_at(y_true, probability, threshold)
    n = tp + fp + fn + tn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    single_class = len(np.unique(y_true)) < 2
    return ThresholdMetrics(
        threshold=float(threshold),
        auc=float("nan") if single_class else float(roc_auc_score(y_true, probability)),
        cost_per_client=float(weights.per_client(fn, fp, n)),
        recall=recall,
        precision=precision,
        fbeta=fbeta_score(precision, recall, beta),
        beta=beta,
        brier=float(brier_score_loss(y_true, np.clip(probability, 0.0, 1.0))),
        refusal_rate=(tp + fp) / n,
        true_positives=tp,
        false_positives=fp,
        false_negatives=fn,
        true_negatives=tn,
    )


def evaluate_probabilities(
    y_true: IntArray, probability: FloatArray, weights: CostWeights, beta: float = 2.0
) -> ThresholdMetrics:
    """Choose the cost-optimal threshold on these probabilities and report the metrics there."""
    threshold, _ = best_threshold(y_true, probability, weights)
    return metrics_at(y_true, probability, threshold, weights, beta)


# ----------------------------------------------------------------------------- uncertainty

#: Defaults of the borderline band: 200 resamples, the central 90% of their thresholds.
BOOTSTRAP_RESAMPLES = 200
BAND_COVERAGE = 0.90
SCORE_BINS = 20


@dataclass(frozen=True)
class ThresholdBand:
    """Spread of the cost-optimal threshold over bootstrap resamples of the clients.

    ``lower`` and ``upper`` bound the central ``coverage`` interval of the resampled
    thresholds, widened if need be so that ``lower <= threshold <= upper``; ``threshold``
    and ``cost_per_client`` are those of the full sample. The figures of each resample are
    kept in ``thresholds`` and ``costs`` ("refuse nobody" recorded as :data:`NOBODY_REFUSED`).
    """

    threshold: float
    cost_per_client: float
    lower: float
    upper: float
    coverage: float
    thresholds: FloatArray
    costs: FloatArray

    @property
    def n_resamples(self) -> int:
        """Number of bootstrap resamples."""
        return int(self.thresholds.size)

    def containing(self, threshold: float) -> ThresholdBand:
        """The band widened if need be so that ``lower <= threshold <= upper``."""
        return replace(self, lower=min(self.lower, threshold), upper=max(self.upper, threshold))

    @property
    def percentiles(self) -> tuple[float, float]:
        """The percentiles (0-100) that bound the central ``coverage`` interval."""
        tail = round(50.0 * (1.0 - self.coverage), 10)
        return tail, 100.0 - tail

    def method(self) -> str:
        """One sentence saying how the band was obtained and what it is for."""
        lo, hi = (_ordinal(q) for q in self.percentiles)
        return (
            f"the {lo}–{hi} percentile of the cost-optimal threshold over "
            f"{self.n_resamples} bootstrap resamples of the out-of-fold predictions; "
            "files in [lower, upper) are to be examined"
        )

    def as_dict(self) -> dict[str, float | int | str]:
        """The JSON-ready record of a model version's metadata (``borderline``).

        Cost percentiles are named after the band's: ``cost_per_client_p5`` and
        ``cost_per_client_p95`` for the default 90% coverage.
        """
        q_lo, q_hi = self.percentiles
        cost_lo, cost_hi = np.percentile(self.costs, [q_lo, q_hi])
        spread = float(np.std(self.thresholds, ddof=1)) if self.n_resamples > 1 else 0.0
        return {
            "lower": self.lower,
            "upper": self.upper,
            "coverage": self.coverage,
            "n_resamples": self.n_resamples,
            "method": self.method(),
            "threshold_std": spread,
            f"cost_per_client_p{q_lo:g}": float(cost_lo),
            f"cost_per_client_p{q_hi:g}": float(cost_hi),
        }


def _ordinal(value: float) -> str:
    """5 -> 5th, 1 -> 1st, 2.5 -> 2.5th."""
    text = f"{value:g}"
    if value != int(value) or 10 <= int(value) % 100 <= 20:
        return f"{text}th"
    return text + {1: "st", 2: "nd", 3: "rd"}.get(int(value) % 10, "th")


@dataclass(frozen=True)
class _Bootstrap:
    """One pass over the resamples: the band, and the cost curve averaged over the resamples."""

    band: ThresholdBand
    #: Increasing candidate thresholds (every distinct probability, then +inf) and costs.
    thresholds: FloatArray
    oof_costs: FloatArray
    mean_costs: FloatArray
    #: Cost of each resample at the full sample's cost-optimal threshold.
    costs_at_exact: FloatArray
    #: The central ``coverage`` interval of the resampled thresholds, not widened.
    interval: tuple[float, float]


def _bootstrap(
    y_true: IntArray,
    probability: FloatArray,
    weights: CostWeights,
    n_resamples: int,
    coverage: float,
    seed: int,
) -> _Bootstrap:
    """The resamples of :func:`bootstrap_threshold_band`, also averaged into one cost curve."""
    if not 0.0 < coverage < 1.0:
        raise ValueError("coverage must lie strictly between 0 and 1")
    if n_resamples < 1:
        raise ValueError("n_resamples must be at least 1")
    if np.size(probability) == 0:
        raise ValueError("no clients to resample")
    values, codes = _sorted_runs(y_true, probability)
    n_runs, n = values.size, codes.size
    grid, oof_costs = _increasing_curve(
        values, *_costs_by_run(*_run_counts(codes, n_runs), weights)
    )
    threshold, cost = _lowest_cost(grid, oof_costs)
    exact_index = int(np.flatnonzero(oof_costs == cost)[-1])
    rng = np.random.default_rng(seed)
    thresholds = np.empty(n_resamples)
    costs = np.empty(n_resamples)
    at_exact = np.empty(n_resamples)
    total = np.zeros(grid.size)
    for b in range(n_resamples):
        drawn = codes[rng.integers(0, n, n)]
        _, resampled = _increasing_curve(
            values, *_costs_by_run(*_run_counts(drawn, n_runs), weights)
        )
        thresholds[b], costs[b] = _lowest_cost(grid, resampled)
        at_exact[b] = resampled[exact_index]
        total += resampled
    thresholds = np.where(np.isfinite(thresholds), thresholds, NOBODY_REFUSED)
    threshold = finite_threshold(threshold)
    tail = 0.5 * (1.0 - coverage)
    lower, upper = (float(q) for q in np.quantile(thresholds, [tail, 1.0 - tail]))
    band = ThresholdBand(
        threshold=threshold,
        cost_per_client=cost,
        lower=lower,
        upper=upper,
        coverage=coverage,
        thresholds=thresholds,
        costs=costs,
    ).containing(threshold)
    return _Bootstrap(band, grid, oof_costs, total / n_resamples, at_exact, (lower, upper))


def bootstrap_threshold_band(
    y_true: IntArray,
    probability: FloatArray,
    weights: CostWeights,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    coverage: float = BAND_COVERAGE,
    seed: int = 0,
) -> ThresholdBand:
    """The cost-optimal threshold (same rule as :func:`best_threshold`) on bootstrap resamples.

    Resample b draws ``n`` clients with replacement (``rng.integers(0, n, n)`` of a
    ``numpy.random.default_rng(seed)``, in order), and its threshold is exactly
    ``best_threshold(y[rows], p[rows])``. The clients are sorted once; a resample then costs
    one ``bincount`` of how often each (probability, outcome) pair was drawn and the
    cumulative sums of :func:`_costs_by_run` (a probability drawn zero times ties with the
    next one up and so is never chosen). 200 resamples of 307,511 clients take seconds.
    """
    return _bootstrap(y_true, probability, weights, n_resamples, coverage, seed).band


@dataclass(frozen=True)
class ThresholdRules:
    """The exact cost-optimal threshold beside the minimiser of the bootstrap-averaged cost.

    ``band`` holds the exact rule (``band.threshold``, ``band.cost_per_client``: the
    minimiser of the out-of-fold cost) and the per-resample minimisers. The averaged rule
    minimises, over the same candidates, the mean over the same resamples of the cost at a
    fixed threshold. Mind what that mean is: the cost at a fixed threshold is linear in how
    often each client is drawn, and each client is drawn once on average, so the averaged
    curve is the out-of-fold curve plus Monte Carlo noise of order ``1/sqrt(n_resamples)``
    of the resamples' spread. It smooths nothing; it tells whether the exact minimum is a
    dip the resamples do not share.

    The exact threshold is served when it is *as good*: (a) it lies within the central
    ``coverage`` interval of the per-resample minimisers (``interval``, not widened), (b) its
    bootstrap-mean cost exceeds the averaged minimum by at most one Monte Carlo standard
    error of that mean (``exact_cost_mean_se``), and (c) its out-of-fold cost is not higher
    than the averaged threshold's (true by construction of the exact rule; kept so that
    the rule reads whole). Otherwise the averaged threshold is served.
    """

    band: ThresholdBand
    averaged_threshold: float
    averaged_cost_mean: float
    averaged_cost_on_oof: float
    exact_cost_mean: float
    exact_cost_mean_se: float
    interval: tuple[float, float]
    calibrated_threshold: float

    @property
    def exact_threshold(self) -> float:
        """The minimiser of the out-of-fold cost (:func:`best_threshold`, made finite)."""
        return self.band.threshold

    @property
    def exact_cost(self) -> float:
        """The out-of-fold cost per client at the exact threshold."""
        return self.band.cost_per_client

    def _clauses(self) -> tuple[bool, bool, bool]:
        lo, hi = self.interval
        return (
            lo <= self.exact_threshold <= hi,
            self.exact_cost_mean - self.averaged_cost_mean <= self.exact_cost_mean_se,
            self.exact_cost <= self.averaged_cost_on_oof,
        )

    @property
    def served(self) -> str:
        """``"exact"`` when the exact threshold is as good (see the class), else the average."""
        return "exact" if all(self._clauses()) else "bootstrap_averaged"

    @property
    def threshold(self) -> float:
        """The served threshold."""
        return self.exact_threshold if self.served == "exact" else self.averaged_threshold

    def why(self) -> str:
        """The rule, in one paragraph, with this run's figures."""
        lo, hi = self.interval
        q_lo, q_hi = (_ordinal(q) for q in self.band.percentiles)
        inside, close, cheaper = ("yes" if ok else "no" for ok in self._clauses())
        excess = self.exact_cost_mean - self.averaged_cost_mean
        figures = (
            f"(a) {self.exact_threshold:.5f} in [{lo:.5f}, {hi:.5f}]: {inside}; "
            f"(b) excess {excess:.6f} <= {self.exact_cost_mean_se:.6f}: {close}; "
            f"(c) {self.exact_cost:.6f} <= {self.averaged_cost_on_oof:.6f}: {cheaper}"
        )
        return (
            "The exact threshold is served when it is as good as the bootstrap-averaged one: "
            f"(a) it lies within the {q_lo}-{q_hi} percentile of the cost-optimal thresholds "
            f"of the {self.band.n_resamples} bootstrap resamples, (b) its bootstrap-mean cost "
            "exceeds the averaged minimum by at most one Monte Carlo standard error of that "
            "mean, and (c) its out-of-fold cost is not higher; otherwise the averaged "
            f"threshold is served. Here {figures}; served: {self.served}."
        )

    def as_dict(self) -> dict[str, Any]:
        """The JSON-ready record of a model version's metadata (``threshold_rules``)."""
        return {
            "exact": {
                "threshold": self.exact_threshold,
                "cost_per_client": self.exact_cost,
                "cost_per_client_mean": self.exact_cost_mean,
            },
            "bootstrap_averaged": {
                "threshold": self.averaged_threshold,
                "cost_per_client_mean": self.averaged_cost_mean,
                "cost_per_client_on_oof": self.averaged_cost_on_oof,
            },
            "n_resamples": self.band.n_resamples,
            "resampled_threshold_interval": list(self.interval),
            "monte_carlo_se": self.exact_cost_mean_se,
            "calibrated_rule": self.calibrated_threshold,
            "served": self.served,
            "why": self.why(),
        }


def threshold_rules(
    y_true: IntArray,
    probability: FloatArray,
    weights: CostWeights,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    coverage: float = BAND_COVERAGE,
    seed: int = 0,
) -> ThresholdRules:
    """The exact and the bootstrap-averaged cost-optimal thresholds, and which one to serve.

    The resamples are those of :func:`bootstrap_threshold_band` with the same arguments
    (whose band is ``.band``), drawn once. Candidates are every distinct probability (and
    "refuse nobody"), not a quantile grid: each resample already yields the cost at every
    candidate in one cumulative sum, so averaging adds one vector addition of that length
    per resample, less than the ``bincount`` that precedes it. Ties go to the highest
    threshold, as in :func:`best_threshold`. See :class:`ThresholdRules` for the rule.
    """
    boot = _bootstrap(y_true, probability, weights, n_resamples, coverage, seed)
    best = int(np.flatnonzero(boot.mean_costs == boot.mean_costs.min())[-1])
    exact = int(np.flatnonzero(boot.oof_costs == boot.band.cost_per_client)[-1])
    spread = float(np.std(boot.costs_at_exact, ddof=1)) if n_resamples > 1 else 0.0
    return ThresholdRules(
        band=boot.band,
        averaged_threshold=finite_threshold(float(boot.thresholds[best])),
        averaged_cost_mean=float(boot.mean_costs[best]),
        averaged_cost_on_oof=float(boot.oof_costs[best]),
        exact_cost_mean=float(boot.mean_costs[exact]),
        exact_cost_mean_se=spread / math.sqrt(n_resamples),
        interval=boot.interval,
        calibrated_threshold=weights.calibrated_threshold(),
    )


def share_in_band(probability: FloatArray, lower: float, upper: float) -> float:
    """Share of clients whose probability lies in ``[lower, upper)`` (0 for no clients)."""
    p = np.asarray(probability, dtype=np.float64)
    return float(np.mean((p >= lower) & (p < upper))) if p.size else 0.0


class ScoreBins(TypedDict):
    """Quantile bins of probabilities (metadata ``score_bins``), see :func:`score_bins`."""

    edges: list[float]
    n_clients: list[int]
    n_defaulted: list[int]
    mean_probability: list[float]


def score_bins(y_true: IntArray, probability: FloatArray, n_bins: int = SCORE_BINS) -> ScoreBins:
    """Clients, defaults and mean probability in (at most) ``n_bins`` quantile bins.

    Edges are the distinct quantiles of the probabilities (each one a probability that
    occurs, so no bin is empty), with 0.0 first and 1.0 last: bin i is
    ``[edges[i], edges[i + 1])``, the last one closed, and every probability in [0, 1] falls
    in exactly one bin. Aggregates only: with n clients a bin holds about n / n_bins.
    """
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(probability, dtype=np.float64)
    if p.size == 0:
        raise ValueError("no clients to bin")
    if np.any(~np.isfinite(p)) or p.min() < 0.0 or p.max() > 1.0:
        raise ValueError("probabilities must lie in [0, 1]")
    levels = np.arange(1, n_bins) / n_bins
    inner = np.unique(np.quantile(p, levels, method="inverted_cdf"))
    # A first inner edge at the smallest probability would leave [0, edge) empty.
    inner = inner[(inner > p.min()) & (inner < 1.0)]
    edges = np.r_[0.0, inner, 1.0]
    index = bin_index(edges, p)
    width = edges.size - 1
    n_clients = np.bincount(index, minlength=width)
    return {
        "edges": [float(e) for e in edges],
        "n_clients": [int(c) for c in n_clients],
        "n_defaulted": [int(c) for c in np.bincount(index, weights=y, minlength=width)],
        "mean_probability": [
            float(s / c) for s, c in zip(np.bincount(index, p, width), n_clients, strict=True)
        ],
    }


def bin_index(edges: FloatArray | list[float], probability: FloatArray) -> npt.NDArray[np.intp]:
    """The bin of each probability: i where ``edges[i] <= p < edges[i + 1]``, last bin closed."""
    e = np.asarray(edges, dtype=np.float64)
    index = np.searchsorted(e, np.asarray(probability, dtype=np.float64), side="right") - 1
    return np.clip(index, 0, e.size - 2)
