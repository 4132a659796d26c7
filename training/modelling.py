"""Cross-validated candidate models: a dummy baseline, logistic regression and LightGBM.

Every candidate is scored the same way: stratified k-fold out-of-fold probabilities, then the
business cost at the cost-optimal threshold (see :mod:`training.evaluate`). Imbalance is
handled three ways (none, class weights, undersampling of good clients); the last two inflate
the odds of default, so their probabilities are corrected by the known prior shift, a constant
in log-odds, before anything is reported.

LightGBM fits obey the monotone constraints of the feature spec (risk never falls as the
debt grows, never rises as the income grows...; see ``MONOTONE_DIRECTIONS`` in
:mod:`creditscore_common.features`), so that a what-if an advisor runs moves the way a
credit officer expects.
"""

from __future__ import annotations

import copy
import logging
import math
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
from sklearn.dummy import DummyClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from training.evaluate import CostWeights, ThresholdMetrics, evaluate_probabilities

log = logging.getLogger(__name__)

Matrix = npt.NDArray[np.float32]
Labels = npt.NDArray[np.int8]
FloatArray = npt.NDArray[np.float64]
Imbalance = Literal["none", "class_weight", "undersample"]
IMBALANCE_STRATEGIES: tuple[Imbalance, ...] = ("none", "class_weight", "undersample")

#: Defaults of LightGBM before the search; learning rate fixed, trees set by early stopping.
BASE_LGBM_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_child_samples": 100,
    "feature_fraction": 0.7,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "max_bin": 255,
    "verbosity": -1,
    "num_threads": 2,
    # zero_as_missing stays False: True breaks parity with the ONNX export.
    "zero_as_missing": False,
}
MAX_TREES = 3000
EARLY_STOPPING_ROUNDS = 100


def sigmoid(logit: FloatArray) -> FloatArray:
    """Logistic function, numerically safe for large |logit|."""
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * logit)), dtype=np.float64)


def logit(probability: FloatArray) -> FloatArray:
    """Inverse of :func:`sigmoid`, with probabilities kept away from 0 and 1."""
    p = np.clip(probability, 1e-12, 1 - 1e-12)
    return np.asarray(np.log(p / (1 - p)), dtype=np.float64)


@dataclass
class CandidateResult:
    """Out-of-fold evaluation of one model configuration."""

    model: str
    imbalance: Imbalance
    metrics: ThresholdMetrics
    oof_probability: FloatArray = field(repr=False)
    brier_uncalibrated: float
    logit_offset: float
    seconds: float
    params: dict[str, Any] = field(default_factory=dict)
    best_iterations: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        """Model and imbalance handling, e.g. ``lightgbm/class_weight``."""
        return f"{self.model}/{self.imbalance}"

    def table_row(self) -> dict[str, Any]:
        """One row of the comparison table (JSON-ready)."""
        m = self.metrics
        return {
            "model": self.model,
            "imbalance": self.imbalance,
            "calibration": "prior shift" if self.logit_offset else "none",
            "auc": round(m.auc, 5),
            "cost_per_client": round(m.cost_per_client, 5),
            # +inf means "refuse nobody" (JSON has no infinity): written as null.
            "threshold": round(m.threshold, 5) if math.isfinite(m.threshold) else None,
            "recall": round(m.recall, 4),
            "precision": round(m.precision, 4),
            "fbeta": round(m.fbeta, 4),
            "brier": round(m.brier, 5),
            "brier_uncalibrated": round(self.brier_uncalibrated, 5),
            "seconds": round(self.seconds, 1),
        }


@dataclass(frozen=True)
class FoldPlan:
    """Stratified folds over a set of rows (global indices into the training matrix)."""

    rows: npt.NDArray[np.int64]
    folds: tuple[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]], ...]

    @classmethod
    def stratified(
        cls, y: Labels, n_folds: int, seed: int, rows: npt.NDArray[np.int64] | None = None
    ) -> FoldPlan:
        """K stratified folds over ``rows`` (all rows by default)."""
        rows = np.arange(y.size, dtype=np.int64) if rows is None else np.sort(rows)
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        folds = tuple((rows[train], rows[valid]) for train, valid in splitter.split(rows, y[rows]))
        return cls(rows=rows, folds=folds)


def undersample(
    rows: npt.NDArray[np.int64], y: Labels, rng: np.random.Generator
) -> tuple[npt.NDArray[np.int64], float]:
    """All defaults plus as many good clients drawn at random; returns rows and kept share."""
    positives = rows[y[rows] == 1]
    negatives = rows[y[rows] == 0]
    n_keep = min(negatives.size, max(positives.size, 1))
    kept = rng.choice(negatives, size=n_keep, replace=False)
    return np.sort(np.r_[positives, kept]), n_keep / max(negatives.size, 1)


def class_weight_ratio(y: Labels) -> float:
    """Weight of a default relative to a good client that balances the classes."""
    positives = int(y.sum())
    return (y.size - positives) / max(positives, 1)


def _progress_folds(
    plan: FoldPlan, label: str, progress: Callable[[str], Any] | None
) -> Iterator[tuple[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]]:
    for k, fold in enumerate(plan.folds):
        if progress is not None:
            progress(f"{label} fold {k + 1}/{len(plan.folds)}")
        yield k, fold


# ----------------------------------------------------------------------------- LightGBM


class LightGBMTrainer:
    """Fits boosters on row subsets of one binned dataset (binning is done once).

    ``monotone`` gives LightGBM's ``monotone_constraints``, one per feature (+1: the log-odds
    of default never fall when the feature grows, -1: never rise, 0: free); every fit of this
    trainer, cross-validation, search and final fit alike, obeys them.
    """

    def __init__(
        self,
        x: Matrix,
        y: Labels,
        feature_names: list[str],
        seed: int,
        monotone: list[int] | None = None,
    ) -> None:
        if monotone is not None:
            if len(monotone) != len(feature_names):
                raise ValueError(
                    f"{len(monotone)} monotone constraints for {len(feature_names)} features"
                )
            if any(direction not in (-1, 0, 1) for direction in monotone):
                raise ValueError("monotone constraints must be -1, 0 or +1")
        self.x = x
        self.y = y
        self.seed = seed
        self.feature_names = list(feature_names)
        self.monotone = list(monotone) if monotone is not None and any(monotone) else None
        self.dataset = lgb.Dataset(
            x,
            label=y,
            feature_name=feature_names,
            free_raw_data=False,
            params={"max_bin": BASE_LGBM_PARAMS["max_bin"], "verbosity": -1},
        )
        self.dataset.construct()

    def without_monotone(self) -> LightGBMTrainer:
        """The same binned data and seed, with no monotone constraint (for an ablation)."""
        free = copy.copy(self)
        free.monotone = None
        return free

    def monotone_directions(self) -> dict[str, int]:
        """The constrained features and their direction (+1 or -1)."""
        if self.monotone is None:
            return {}
        pairs = zip(self.feature_names, self.monotone, strict=True)
        return {name: direction for name, direction in pairs if direction}

    def fit(
        self,
        train_rows: npt.NDArray[np.int64],
        params: dict[str, Any],
        imbalance: Imbalance,
        n_trees: int | None = None,
    ) -> tuple[lgb.Booster, float]:
        """Fit on ``train_rows``; returns the booster and its log-odds prior correction.

        Without ``n_trees``, 10% of the rows are held out for early stopping.
        """
        rng = np.random.default_rng(self.seed)
        rows = np.sort(train_rows)
        full_params = {**BASE_LGBM_PARAMS, **params, "seed": self.seed}
        if self.monotone is not None:
            full_params["monotone_constraints"] = self.monotone
        offset = 0.0
        if imbalance == "undersample":
            rows, kept_share = undersample(rows, self.y, rng)
            offset = math.log(kept_share)
        elif imbalance == "class_weight":
            ratio = class_weight_ratio(self.y[rows])
            full_params["scale_pos_weight"] = ratio
            offset = -math.log(ratio)
        # Row subsets share the parent's bins; LightGBM warns that training parameters differ
        # from the parent's, which is the intent here.
        warnings.filterwarnings("ignore", message="Overriding the parameters from Reference")
        if n_trees is not None:
            booster = lgb.train(
                full_params, self.dataset.subset(rows.tolist()), num_boost_round=n_trees
            )
            return booster, offset
        fit_rows, stop_rows = train_test_split(
            rows, test_size=0.1, stratify=self.y[rows], random_state=self.seed
        )
        booster = lgb.train(
            full_params,
            self.dataset.subset(np.sort(fit_rows).tolist()),
            num_boost_round=MAX_TREES,
            valid_sets=[self.dataset.subset(np.sort(stop_rows).tolist())],
            callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
        )
        return booster, offset

    def cross_validate(
        self,
        plan: FoldPlan,
        params: dict[str, Any],
        imbalance: Imbalance,
        weights: CostWeights,
        progress: Callable[[str], Any] | None = None,
    ) -> CandidateResult:
        """Out-of-fold probabilities (prior-corrected) and metrics of one configuration."""
        started = time.perf_counter()
        raw_oof = np.full(self.y.size, np.nan)
        iterations: list[int] = []
        offset = 0.0
        for _, (train_rows, valid_rows) in _progress_folds(plan, f"lightgbm/{imbalance}", progress):
            booster, offset = self.fit(train_rows, params, imbalance)
            iterations.append(int(booster.best_iteration or booster.current_iteration()))
            raw_oof[valid_rows] = booster.predict(self.x[valid_rows], raw_score=True)
        return _result(
            "lightgbm", imbalance, plan, self.y, raw_oof, offset, weights, started,
            params=dict(params), best_iterations=iterations,
        )  # fmt: skip


def _result(
    model: str,
    imbalance: Imbalance,
    plan: FoldPlan,
    y: Labels,
    raw_logit: FloatArray,
    offset: float,
    weights: CostWeights,
    started: float,
    **extra: Any,
) -> CandidateResult:
    rows = plan.rows
    uncalibrated = sigmoid(raw_logit[rows])
    calibrated = sigmoid(raw_logit[rows] + offset)
    metrics = evaluate_probabilities(y[rows], calibrated, weights)
    brier_raw = float(np.mean((uncalibrated - y[rows]) ** 2))
    return CandidateResult(
        model=model,
        imbalance=imbalance,
        metrics=metrics,
        oof_probability=calibrated,
        brier_uncalibrated=brier_raw,
        logit_offset=offset,
        seconds=time.perf_counter() - started,
        **extra,
    )


# ----------------------------------------------------------------------------- baselines


def cross_validate_dummy(
    x: Matrix, y: Labels, plan: FoldPlan, weights: CostWeights
) -> CandidateResult:
    """The prior-only baseline: every client gets the training default rate."""
    started = time.perf_counter()
    raw = np.full(y.size, np.nan)
    for train_rows, valid_rows in plan.folds:
        dummy = DummyClassifier(strategy="prior").fit(x[train_rows], y[train_rows])
        raw[valid_rows] = logit(dummy.predict_proba(x[valid_rows])[:, 1])
    return _result("dummy", "none", plan, y, raw, 0.0, weights, started)


def cross_validate_logistic(
    x: Matrix,
    y: Labels,
    plan: FoldPlan,
    imbalance: Imbalance,
    weights: CostWeights,
    seed: int,
    progress: Callable[[str], Any] | None = None,
) -> CandidateResult:
    """Median imputation, standardisation and L2 logistic regression."""
    started = time.perf_counter()
    raw = np.full(y.size, np.nan)
    rng = np.random.default_rng(seed)
    offset = 0.0
    for _, (train_rows, valid_rows) in _progress_folds(plan, f"logistic/{imbalance}", progress):
        rows = train_rows
        class_weight: str | None = None
        if imbalance == "undersample":
            rows, kept_share = undersample(train_rows, y, rng)
            offset = math.log(kept_share)
        elif imbalance == "class_weight":
            class_weight = "balanced"
            offset = -math.log(class_weight_ratio(y[train_rows]))
        model = make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=0.1, max_iter=300, class_weight=class_weight),
        )
        model.fit(x[rows], y[rows])
        raw[valid_rows] = model.decision_function(x[valid_rows])
    return _result("logistic", imbalance, plan, y, raw, offset, weights, started)


# ----------------------------------------------------------------------------- search


@dataclass(frozen=True)
class SearchSpace:
    """Bounded random search over the LightGBM parameters that matter most here."""

    num_leaves: tuple[int, int] = (8, 96)
    min_child_samples: tuple[int, int] = (20, 600)
    feature_fraction: tuple[float, float] = (0.3, 0.9)
    bagging_fraction: tuple[float, float] = (0.6, 1.0)
    lambda_l2: tuple[float, float] = (0.01, 30.0)
    min_gain_to_split: tuple[float, float] = (0.0, 0.5)

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """One random configuration (log-uniform for the L2 penalty)."""
        lo, hi = self.lambda_l2
        return {
            "num_leaves": int(rng.integers(self.num_leaves[0], self.num_leaves[1] + 1)),
            "min_child_samples": int(
                rng.integers(self.min_child_samples[0], self.min_child_samples[1] + 1)
            ),
            "feature_fraction": round(float(rng.uniform(*self.feature_fraction)), 3),
            "bagging_fraction": round(float(rng.uniform(*self.bagging_fraction)), 3),
            "lambda_l2": round(float(math.exp(rng.uniform(math.log(lo), math.log(hi)))), 4),
            "min_gain_to_split": round(float(rng.uniform(*self.min_gain_to_split)), 3),
        }


@dataclass
class SearchTrial:
    """One configuration tried by the search and its cross-validated figures."""

    params: dict[str, Any]
    auc: float
    cost_per_client: float
    seconds: float


@dataclass(frozen=True)
class SearchBudget:
    """What the parameter search may spend: trials, rows, folds and seconds."""

    n_trials: int
    max_rows: int
    n_folds: int
    seconds: float
    seed: int


def search_lightgbm(
    trainer: LightGBMTrainer,
    imbalance: Imbalance,
    weights: CostWeights,
    budget: SearchBudget,
    progress: Callable[[str], Any] | None = None,
) -> list[SearchTrial]:
    """Random search on a stratified sample; the base configuration is always trial 0.

    Stops after ``budget.n_trials`` or once ``budget.seconds`` have elapsed, whichever
    comes first. Trials are ranked by cross-validated business cost (AUC breaks ties).
    """
    rng = np.random.default_rng(budget.seed)
    y = trainer.y
    rows = np.arange(y.size, dtype=np.int64)
    if rows.size > budget.max_rows:
        rows, _ = train_test_split(
            rows, train_size=budget.max_rows, stratify=y, random_state=budget.seed
        )
    plan = FoldPlan.stratified(y, budget.n_folds, budget.seed, rows=rows)
    space = SearchSpace()
    trials: list[SearchTrial] = []
    started = time.perf_counter()
    for k in range(budget.n_trials):
        if k > 0 and time.perf_counter() - started > budget.seconds:
            log.info("search stopped by its time budget after %d trials", k)
            break
        params: dict[str, Any] = {} if k == 0 else space.sample(rng)
        if progress is not None:
            progress(f"search trial {k + 1}/{budget.n_trials}")
        result = trainer.cross_validate(plan, params, imbalance, weights)
        trials.append(
            SearchTrial(params, result.metrics.auc, result.metrics.cost_per_client, result.seconds)
        )
    trials.sort(key=lambda t: (t.cost_per_client, -t.auc))
    return trials


def add_logit_offset(booster: lgb.Booster, offset: float) -> lgb.Booster:
    """Shift every leaf of the first tree by ``offset``: raw scores move by that constant.

    This bakes the prior-shift calibration into the booster itself, so the native model,
    its ONNX export and its exact TreeSHAP values all agree on calibrated log-odds.
    """
    if offset == 0.0:
        return booster
    n_leaves = booster.dump_model(num_iteration=1)["tree_info"][0]["num_leaves"]
    for leaf in range(n_leaves):
        booster.set_leaf_output(0, leaf, booster.get_leaf_output(0, leaf) + offset)
    # Reload from text so that every later reader (predict, contrib, ONNX) sees the change.
    return lgb.Booster(model_str=booster.model_to_string())


def float32_thresholds(booster: lgb.Booster) -> lgb.Booster:
    """Lower every split threshold to the largest float32 not above it.

    The model reads float32 features. LightGBM compares them with float64 thresholds while
    the ONNX export stores float32 ones; a threshold just below a float32 value would round
    up to it and send a client sitting on that value down the other branch. With thresholds
    that are float32 already, ``x <= t`` gives the same answer in both, for every float32 x,
    and the native booster's predictions on float32 input do not change.
    """
    lines = booster.model_to_string().splitlines()
    out: list[str] = []
    for line in lines:
        if line.startswith("tree_sizes="):
            continue  # sizes change with the text; LightGBM recomputes them when absent
        if line.startswith("threshold="):
            values = np.array(line.removeprefix("threshold=").split(), dtype=np.float64)
            lowered = values.astype(np.float32)
            above = lowered.astype(np.float64) > values
            lowered[above] = np.nextafter(lowered[above], np.float32(-np.inf))
            line = "threshold=" + " ".join(repr(float(v)) for v in lowered)
        out.append(line)
    return lgb.Booster(model_str="\n".join(out) + "\n")
