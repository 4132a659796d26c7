"""Threshold rules judged on new clients: exact vs bootstrap-averaged (and two references).

For each training size: generate data (``training.generate``), fit the feature spec on the
reference clients, get out-of-fold probabilities from ONE 5-fold cross-validation of the
base LightGBM configuration under the monotone constraints (no search, no calibration, no
ablation), and derive the thresholds of :func:`training.evaluate.threshold_rules`: the
exact minimiser of the out-of-fold cost, the minimiser of the cost averaged over the 200
bootstrap resamples, and, for comparison, the median of the resamples' own minimisers
(bagging) and the calibrated rule ``cost_fp / (cost_fp + cost_fn)``.

Each threshold is then judged on the **new clients** against the oracle: a booster fitted
on all reference clients (the mean of the folds' best iterations) scores them, and the
expected cost per client follows from their true probabilities (``truth.csv``, which
training never reads)::

    mean(cost_fn * p_true * [p_hat < t] + cost_fp * (1 - p_true) * [p_hat >= t])

beside the oracle's own (the true probabilities at the calibrated threshold, the lowest
expected cost any rule can reach). Should ``truth.csv`` lack the new clients, the reference
clients' out-of-fold probabilities are judged instead (``evaluated_on`` says which).

``python -m benchmarks.threshold_rules --out build/bench-thresholds [--sizes ...] [--seed 0]``
writes ``OUT/results.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow.csv as pacsv

from creditscore_common.features import fit_feature_spec, transform_batch
from creditscore_common.reference_schema import ID_COLUMN
from training.data import TRUTH_FILE, load_reference_and_new
from training.evaluate import CostWeights, threshold_rules
from training.generate import TRUTH_COLUMN, generate
from training.modelling import FoldPlan, LightGBMTrainer

log = logging.getLogger(__name__)

DEFAULT_SIZES = (5_000, 20_000, 307_511)
N_NEW = 48_744
N_FOLDS = 5
RULES = ("exact", "bootstrap_averaged", "bagged_median", "calibrated")


def expected_cost(
    p_true: npt.NDArray[np.float64],
    p_hat: npt.NDArray[np.float64],
    threshold: float,
    weights: CostWeights,
) -> float:
    """Expected cost per client of refusing ``p_hat >= threshold``, given true probabilities.

    :meth:`CostWeights.per_client` with the expected false negatives (accepted clients'
    true probabilities) and false positives (refused clients' complements).
    """
    refused = p_hat >= threshold
    fn = float(np.sum(p_true[~refused]))
    fp = float(np.sum(1.0 - p_true[refused]))
    return float(weights.per_client(fn, fp, p_true.size))


def _truth(data_dir: Path) -> dict[int, float]:
    table = pacsv.read_csv(data_dir / TRUTH_FILE).to_pydict()
    return dict(zip(table[ID_COLUMN], table[TRUTH_COLUMN], strict=True))


def run_size(out: Path, n_train: int, seed: int, weights: CostWeights) -> dict[str, Any]:
    """Generate, cross-validate once, derive the thresholds and judge them on new clients."""
    data_dir = out / f"data-{n_train}-{N_NEW}-{seed}"
    started = time.perf_counter()
    generate(data_dir, n_train=n_train, n_new=N_NEW, seed=seed)
    reference, new_clients = load_reference_and_new(data_dir)
    assert reference.target is not None
    y = reference.target
    spec = fit_feature_spec(reference.columns)
    x = transform_batch(spec, reference.columns)
    trainer = LightGBMTrainer(x, y, list(spec.features), seed, spec.monotone_constraints())
    plan = FoldPlan.stratified(y, N_FOLDS, seed)
    cv = trainer.cross_validate(plan, {}, "none", weights)
    cv_seconds = time.perf_counter() - started

    rules = threshold_rules(y, cv.oof_probability, weights, seed=seed)
    band = rules.band
    thresholds = {
        "exact": rules.exact_threshold,
        "bootstrap_averaged": rules.averaged_threshold,
        "bagged_median": float(np.median(band.thresholds)),
        "calibrated": rules.calibrated_threshold,
    }

    truth = _truth(data_dir)
    if all(int(i) in truth for i in new_clients.ids):
        evaluated_on = "new clients (booster fitted on all reference clients)"
        n_trees = max(1, math.ceil(float(np.mean(cv.best_iterations))))
        booster, _ = trainer.fit(plan.rows, {}, "none", n_trees=n_trees)
        p_hat = np.asarray(booster.predict(transform_batch(spec, new_clients.columns)))
        ids = new_clients.ids
    else:
        evaluated_on = "reference clients (out-of-fold; truth.csv lacks the new clients)"
        p_hat, ids = cv.oof_probability, reference.ids
    p_true = np.asarray([truth[int(i)] for i in ids], dtype=np.float64)
    oracle = expected_cost(p_true, p_true, weights.calibrated_threshold(), weights)
    costs = {name: expected_cost(p_true, p_hat, t, weights) for name, t in thresholds.items()}
    return {
        "n_train": n_train,
        "n_evaluated": int(p_true.size),
        "evaluated_on": evaluated_on,
        "seed": seed,
        "cv_auc": cv.metrics.auc,
        "thresholds": thresholds,
        "exact_threshold_bootstrap_std": float(np.std(band.thresholds, ddof=1)),
        "resampled_threshold_interval": list(rules.interval),
        "served": rules.served,
        "why": rules.why(),
        "expected_cost_per_client": costs,
        "oracle_expected_cost_per_client": oracle,
        "gap_pct": {name: 100 * (c / oracle - 1) for name, c in costs.items()},
        "oof_cost_per_client": {
            "exact": rules.exact_cost,
            "bootstrap_averaged": rules.averaged_cost_on_oof,
        },
        "seconds": round(time.perf_counter() - started, 1),
        "cv_seconds": round(cv_seconds, 1),
    }


def markdown(results: list[dict[str, Any]]) -> str:
    """The figures as a README-ready Markdown table."""
    lines = [
        "| reference clients | exact threshold ± bootstrap std | averaged threshold | "
        "bagged median / 1/11 | expected cost: exact | averaged | bagged | 1/11 | oracle | "
        "gap % (exact / averaged) | served |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        t, c, g = r["thresholds"], r["expected_cost_per_client"], r["gap_pct"]
        lines.append(
            f"| {r['n_train']:,} | {t['exact']:.4f} ± {r['exact_threshold_bootstrap_std']:.4f} "
            f"| {t['bootstrap_averaged']:.4f} | {t['bagged_median']:.4f} / "
            f"{t['calibrated']:.4f} | {c['exact']:.4f} | {c['bootstrap_averaged']:.4f} | "
            f"{c['bagged_median']:.4f} | {c['calibrated']:.4f} | "
            f"{r['oracle_expected_cost_per_client']:.4f} | "
            f"{g['exact']:+.2f} / {g['bootstrap_averaged']:+.2f} | {r['served']} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry of the threshold-rule benchmark."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.threshold_rules")
    parser.add_argument("--out", type=Path, default=Path("build/bench-thresholds"))
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    weights = CostWeights()
    results = []
    for size in args.sizes:
        results.append(run_size(args.out, size, args.seed, weights))
        log.info("%d reference clients done in %s s", size, results[-1]["seconds"])
        (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))  # noqa: T201 - the benchmark's report
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
