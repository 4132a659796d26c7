"""Speed and quality benchmarks behind the figures in the README (`make bench`).

Measures, on this machine:

- ``generate`` at a given size (default: the full 307,511 + 48,744 clients);
- ``train`` on that data with the default budget (or ``--quick``);
- the trained model against the oracle (the true probabilities in truth.csv, which training
  never reads): AUC gap and business cost gap, each at its own best threshold;
- ``predict`` of every new client through the ONNX model;
- what the model's choices cost (same folds): with gender as an input, without monotone
  constraints; the borderline interval and the share of new clients in it;
- explanations and counterfactuals on 400 new clients (:mod:`benchmarks.explanations`);
- ``drift``: the full drift report (every model input, prediction drift, HTML and JSON),
  reference vs new clients. ``--drift-only --data DIR --model ARTDIR/latest`` times it alone
  on data and a model that already exist.

Results go to ``OUT/results.json`` and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.csv as pacsv
from sklearn.metrics import roc_auc_score

from benchmarks.explanations import explanation_figures
from creditscore_common.reference_schema import ID_COLUMN, TARGET_COLUMN
from monitoring.drift import run_drift
from training.data import NEW_CLIENTS_FILE, TRAIN_FILE, TRUTH_FILE
from training.evaluate import CostWeights, best_threshold
from training.generate import TRUTH_COLUMN, generate
from training.predict import predict_file
from training.train import TrainConfig, train

log = logging.getLogger(__name__)


def oracle_figures(data_dir: Path, weights: CostWeights) -> dict[str, float]:
    """AUC and best cost per client of the true probabilities on the reference clients."""
    truth = pacsv.read_csv(data_dir / TRUTH_FILE).to_pydict()
    train_table = pacsv.read_csv(
        data_dir / TRAIN_FILE,
        convert_options=pacsv.ConvertOptions(include_columns=[ID_COLUMN, TARGET_COLUMN]),
    ).to_pydict()
    by_id = dict(zip(truth[ID_COLUMN], truth[TRUTH_COLUMN], strict=True))
    y = np.asarray(train_table[TARGET_COLUMN], dtype=np.int8)
    p = np.asarray([by_id[i] for i in train_table[ID_COLUMN]], dtype=np.float64)
    threshold, cost = best_threshold(y, p, weights)
    return {
        "oracle_auc": float(roc_auc_score(y, p)),
        "oracle_cost_per_client": cost,
        "oracle_threshold": threshold,
    }


def run(
    out: Path, n_train: int, n_new: int, seed: int, quick: bool, trials: int | None
) -> dict[str, Any]:
    """Run every benchmark and return the figures."""
    data_dir = out / f"data-{n_train}-{n_new}-{seed}"
    results: dict[str, Any] = {"n_train": n_train, "n_new": n_new, "seed": seed, "quick": quick}

    started = time.perf_counter()
    summary = generate(data_dir, n_train=n_train, n_new=n_new, seed=seed, progress=True)
    results["generate_seconds"] = round(time.perf_counter() - started, 1)
    results["default_rate"] = round(summary.default_rate, 4)

    overrides: dict[str, Any] = {"seed": seed}
    if trials is not None:
        overrides["n_trials"] = trials
    config = TrainConfig.quick(**overrides) if quick else TrainConfig(**overrides)
    started = time.perf_counter()
    result = train(data_dir, out / "artifacts", config)
    results["train_seconds"] = round(time.perf_counter() - started, 1)
    results["train_stage_seconds"] = result.stage_seconds
    metrics = result.metadata["metrics"]
    results["model_version"] = result.model_version
    results["cv_auc"] = round(metrics["cv_auc"], 4)
    results["cv_cost_per_client"] = round(metrics["cv_cost_per_client"], 4)
    results["chosen"] = result.chosen.name
    results["comparison"] = result.comparison
    results["ablations"] = result.metadata.get("ablations")
    results["borderline"] = result.metadata.get("borderline")
    results["threshold"] = result.metadata["threshold"]

    oracle = oracle_figures(data_dir, config.weights)
    results.update({k: round(v, 4) for k, v in oracle.items()})
    results["auc_gap"] = round(oracle["oracle_auc"] - metrics["cv_auc"], 4)
    results["cost_gap_pct"] = round(
        100 * (metrics["cv_cost_per_client"] / oracle["oracle_cost_per_client"] - 1), 2
    )

    started = time.perf_counter()
    predict_file(result.version_dir, data_dir / NEW_CLIENTS_FILE, out / "predictions.csv")
    results["predict_seconds"] = round(time.perf_counter() - started, 2)
    results["explanations"] = explanation_figures(result.version_dir, data_dir)
    results.update(drift_figures(data_dir, result.version_dir, out / "drift"))
    return results


def drift_figures(data_dir: Path, model: Path, out: Path) -> dict[str, Any]:
    """Time the drift report (reference vs new clients) and what it flagged."""
    started = time.perf_counter()
    run = run_drift(data_dir, model, out)
    summary = run.summary
    return {
        "drift_seconds": round(time.perf_counter() - started, 1),
        "drift_stage_seconds": {k: round(v, 2) for k, v in run.seconds.items()},
        "drift_rows": [summary["reference"]["rows"], summary["current"]["rows"]],
        "drift_verdict": summary["verdict"],
        "drift_flagged": [f["name"] for f in summary["features"] if f["drifted"]],
        "drift_n_features": summary["n_features"],
    }


def _choice_rows(results: dict[str, Any]) -> list[tuple[str, str]]:
    """What gender and the monotone constraints change (same folds), and the band."""
    rows: list[tuple[str, str]] = []
    ablations = results.get("ablations") or {}
    served = ablations.get("served")
    if served:
        rows.append(
            (
                "served: no gender, monotone",
                f"AUC {served['auc']:.4f}, cost {served['cost_per_client']:.4f}",
            )
        )
    for key, name in (("with_gender", "with gender"), ("without_monotone", "without monotone")):
        row = ablations.get(key)
        if row:
            rows.append(
                (
                    name,
                    f"AUC {row['auc']:.4f} ({row['delta_auc']:+.4f}), cost "
                    f"{row['cost_per_client']:.4f} ({row['delta_cost_per_client']:+.4f})",
                )
            )
    band = results.get("borderline")
    if band:
        rows.append(
            (
                "threshold, borderline interval",
                f"{results['threshold']:.4f}, [{band['lower']:.4f}, {band['upper']:.4f}) "
                f"({100 * band['share_of_new_clients']:.1f} % of new clients)",
            )
        )
    return rows


def _explanation_rows(figures: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not figures:
        return []
    n, refused = figures["n_clients"], figures["n_refused"]
    return [
        (
            f"explanations, {n} new clients (fr + en)",
            f"{figures['explanations_naming_gender']} name gender, "
            f"{figures['explanations_with_a_factor_twice']} list a factor twice, points gap "
            f"{figures['max_points_gap']:.1e}, "
            f"{figures['refusals_without_4_reasons_in_both_languages']} refusals short of 4 "
            f"reasons; p50 / p99 {figures['explanation_ms_p50']} / "
            f"{figures['explanation_ms_p99']} ms",
        ),
        (
            f"counterfactuals, {refused} refused",
            f"{figures['counterfactual_found']} found (re-scored under the threshold), "
            f"{figures['counterfactual_none_suffices']} no change suffices; p50 / p99 "
            f"{figures['counterfactual_ms_p50']} / {figures['counterfactual_ms_p99']} ms",
        ),
    ]


def markdown(results: dict[str, Any]) -> str:
    """The figures as a README-ready Markdown table."""
    rows = [
        ("clients (reference / new)", f"{results['n_train']:,} / {results['n_new']:,}"),
        ("generate", f"{results['generate_seconds']} s"),
        ("train" + (" --quick" if results["quick"] else ""), f"{results['train_seconds']} s"),
        ("chosen model", results["chosen"]),
        ("CV AUC / oracle AUC", f"{results['cv_auc']} / {results['oracle_auc']}"),
        (
            "cost per client / oracle",
            f"{results['cv_cost_per_client']} / {results['oracle_cost_per_client']} "
            f"({results['cost_gap_pct']:+.2f} %)",
        ),
        ("predict all new clients", f"{results['predict_seconds']} s"),
        *_choice_rows(results),
        *_explanation_rows(results.get("explanations")),
        (
            "drift report (reference vs new)",
            f"{results['drift_seconds']} s, {results['drift_verdict']}, flagged "
            f"{', '.join(results['drift_flagged']) or 'none'} of {results['drift_n_features']}",
        ),
    ]
    lines = ["| benchmark | result |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry of the benchmarks."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipeline")
    parser.add_argument("--out", type=Path, default=Path("build/bench"))
    parser.add_argument("--n-train", type=int, default=307_511)
    parser.add_argument("--n-new", type=int, default=48_744)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--drift-only", action="store_true",
                        help="time the drift report alone on --data and --model")  # fmt: skip
    parser.add_argument("--data", type=Path, default=None, help="with --drift-only")
    parser.add_argument("--model", type=Path, default=None, help="with --drift-only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.drift_only:
        if args.data is None or args.model is None:
            parser.error("--drift-only needs --data and --model")
        figures = drift_figures(args.data, args.model, args.out / "drift")
        (args.out / "drift_results.json").write_text(json.dumps(figures, indent=2) + "\n")
        print(json.dumps(figures, indent=2))  # noqa: T201 - the benchmark's report
        return 0
    results = run(args.out, args.n_train, args.n_new, args.seed, args.quick, args.trials)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))  # noqa: T201 - the benchmark's report
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
