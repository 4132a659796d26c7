"""`creditscore train`: from application files to a cost-optimal, explainable model version.

Stages: load and validate -> set the held-out clients aside (``training.holdout``: no stage
below sees them; ``creditscore promote`` scores versions on them) -> fit the feature
transform (gender left out) -> cross-validate the candidates (dummy, logistic regression
and LightGBM under monotone constraints, each imbalance strategy) -> bounded search of
LightGBM parameters -> final cross-validation, cost-optimal threshold -> calibration of
the out-of-fold probabilities (an intercept shift in log-odds when their ECE exceeds 1
point) -> ablations (what gender as an input, or dropping the monotone constraints, would
change) -> refit on all fitted clients -> ONNX export with a parity check on every new
client -> the served threshold (exact or bootstrap-averaged, ``evaluate.threshold_rules``)
and the borderline band (bootstrap of the threshold), score bins and fairness by group ->
statistics, explanations and plots -> MLflow run and registry -> ``ARTDIR/<version>`` and
``latest``.
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from creditscore_common import profiles
from creditscore_common.features import FeatureSpec, fit_feature_spec, transform_batch
from creditscore_common.version import (
    IMPORTANCE_FILE,
    METADATA_FILE,
    PROFILES_FILE,
    REFERENCE_STATS_FILE,
    REPORT_DIR,
)
from training import calibration, export, fairness, holdout, plots, stats, tracking
from training.data import (
    TRAIN_FILE,
    ApplicationTable,
    data_quality_metrics,
    data_quality_record,
    file_sha256,
    load_reference_and_new,
)
from training.evaluate import (
    LEAKAGE_AUC,
    CostWeights,
    ScoreBins,
    ThresholdBand,
    ThresholdRules,
    evaluate_probabilities,
    finite_threshold,
    score_bins,
    share_in_band,
    threshold_rules,
)
from training.modelling import (
    BASE_LGBM_PARAMS,
    IMBALANCE_STRATEGIES,
    CandidateResult,
    FoldPlan,
    LightGBMTrainer,
    SearchBudget,
    SearchTrial,
    add_logit_offset,
    cross_validate_dummy,
    cross_validate_logistic,
    float32_thresholds,
    search_lightgbm,
)
from training.progress import StageProgress

log = logging.getLogger(__name__)

#: Share of extra trees for the final fit, which sees all rows instead of 90% of 80% of them.
FINAL_TREES_FACTOR = 1.15
SHAP_SAMPLE = 20_000


@dataclass(frozen=True)
class TrainConfig:
    """What a training run may spend and how it weighs errors."""

    weights: CostWeights = field(default_factory=CostWeights)
    n_folds: int = 5
    seed: int = 0
    n_trials: int = 12
    search_rows: int = 100_000
    search_folds: int = 3
    search_minutes: float = 6.0
    fbeta: float = 2.0
    progress: bool = True
    #: Measure what gender as an input, and the monotone constraints, change (2 more CVs).
    ablations: bool = True

    def search_budget(self, n_rows: int) -> SearchBudget:
        """The parameter search's budget on a table of ``n_rows`` reference clients."""
        return SearchBudget(
            n_trials=self.n_trials,
            max_rows=min(self.search_rows, n_rows),
            n_folds=self.search_folds,
            seconds=self.search_minutes * 60,
            seed=self.seed,
        )

    @classmethod
    def quick(cls, **overrides: Any) -> TrainConfig:
        """A small search budget for tests and smoke runs; nothing else differs."""
        settings: dict[str, Any] = {"n_trials": 2, "search_minutes": 1.0}
        settings.update(overrides)
        return cls(**settings)


@dataclass(frozen=True)
class RunOutcome:
    """What the stages of a run produced and its model version records."""

    spec: FeatureSpec
    monotone: dict[str, int]
    chosen: CandidateResult
    comparison: list[dict[str, Any]]
    trials: list[SearchTrial]
    n_trees: int
    parity_gap: float
    n_new: int
    band: ThresholdBand
    #: The exact and bootstrap-averaged thresholds; ``rules.threshold`` is the served one.
    rules: ThresholdRules
    share_borderline: float
    score_bins: ScoreBins
    #: None when the run skipped them (``TrainConfig.ablations``).
    ablations: dict[str, dict[str, float]] | None
    #: ``metadata.json["calibration"]`` and ``["fairness"]`` (training.calibration, .fairness).
    calibration: dict[str, Any]
    fairness: dict[str, Any]


@dataclass
class TrainingResult:
    """What a run produced: the version folder, the chosen model and the comparison."""

    model_version: str
    version_dir: Path
    chosen: CandidateResult
    comparison: list[dict[str, Any]]
    metadata: dict[str, Any]
    registered_version: str | None
    seconds: float
    stage_seconds: dict[str, float]


def _planned_fits(config: TrainConfig) -> int:
    """Fits the progress bar counts: every candidate's CV, search, tuned, ablations, final."""
    n_fits = 1 + 3 * config.n_folds * 2 + config.n_trials * config.search_folds
    n_fits += config.n_folds + 1
    if config.ablations:
        n_fits += 2 * config.n_folds
    return n_fits


def _version_name(fingerprint: str, now: datetime) -> str:
    return f"{now:%Y%m%d-%H%M%S}-{fingerprint[:8]}"


def _final_trees(result: CandidateResult) -> int:
    return max(10, math.ceil(float(np.mean(result.best_iterations)) * FINAL_TREES_FACTOR))


def _cross_validate_all(
    x: np.ndarray,
    y: np.ndarray,
    trainer: LightGBMTrainer,
    plan: FoldPlan,
    config: TrainConfig,
    tick: Callable[[str], Any],
) -> list[CandidateResult]:
    results = [cross_validate_dummy(x, y, plan, config.weights)]
    for imbalance in IMBALANCE_STRATEGIES:
        results.append(
            cross_validate_logistic(x, y, plan, imbalance, config.weights, config.seed, tick)
        )
    for imbalance in IMBALANCE_STRATEGIES:
        results.append(trainer.cross_validate(plan, {}, imbalance, config.weights, tick))
    return results


def _metadata(
    version: str,
    created_at: datetime,
    config: TrainConfig,
    reference: ApplicationTable,
    fingerprint: str,
    run: RunOutcome,
    split: holdout.HoldoutSplit,
    data_dir: Path,
) -> dict[str, Any]:
    spec, chosen, trials = run.spec, run.chosen, run.trials
    m = chosen.metrics
    return {
        "model_version": version,
        "created_at": created_at.isoformat(timespec="seconds"),
        "model_type": "lightgbm",
        "decision_rule": "refuse when probability >= threshold",
        # A finite threshold even when refusing nobody is cheapest (degenerate data).
        "threshold": run.rules.threshold,
        "threshold_rules": run.rules.as_dict(),
        "borderline": {**run.band.as_dict(), "share_of_new_clients": run.share_borderline},
        "cost_fn": config.weights.cost_fn,
        "cost_fp": config.weights.cost_fp,
        "features": list(spec.features),
        "feature_spec": spec.to_dict(),
        "encodings": {c.column: list(c.levels) for c in spec.one_hot},
        "clip_limits": {k: list(v) for k, v in spec.clip_limits.items()},
        "dropped_columns": spec.dropped_columns,
        "monotone_constraints": run.monotone,
        "metrics": {
            "cv_auc": m.auc,
            "cv_cost_per_client": m.cost_per_client,
            "recall": m.recall,
            "precision": m.precision,
            "fbeta": m.fbeta,
            "beta": m.beta,
            "brier": m.brier,
            "refusal_rate": m.refusal_rate,
            "n_folds": config.n_folds,
        },
        "leakage_alarm": bool(m.auc > LEAKAGE_AUC),
        "comparison": run.comparison,
        "chosen": {
            "name": chosen.name,
            "imbalance": chosen.imbalance,
            "calibration_logit_offset": chosen.logit_offset,
            "lightgbm_params": {**BASE_LGBM_PARAMS, **chosen.params, "seed": config.seed},
            "n_trees": run.n_trees,
        },
        "search": {
            "n_trials": len(trials),
            "rows": config.search_rows,
            "folds": config.search_folds,
            "trials": [
                {"params": t.params, "auc": t.auc, "cost_per_client": t.cost_per_client}
                for t in trials
            ],
        },
        "training_data": {
            "file": TRAIN_FILE,
            "sha256": fingerprint,
            # The clients fitted on: the file's, less the held-out ones.
            "n_clients": reference.n_rows,
            "n_clients_in_file": reference.n_rows + split.holdout.n_rows,
            # Where promote finds the holdout by default (``--data`` overrides it).
            "data_dir": str(data_dir.resolve()),
            "default_rate": float(np.mean(reference.target))
            if reference.target is not None
            else None,
        },
        "onnx_parity": {"max_abs_difference": run.parity_gap, "n_new_clients_checked": run.n_new},
        "score_bins": run.score_bins,
        "calibration": run.calibration,
        "fairness": run.fairness,
        **({"ablations": run.ablations} if run.ablations is not None else {}),
        "holdout": split.record,
        "seed": config.seed,
    }


def _recalibrated(
    chosen: CandidateResult,
    candidates: list[CandidateResult],
    calibrated: calibration.CalibrationOutcome,
    y: np.ndarray,
    weights: CostWeights,
) -> tuple[CandidateResult, list[CandidateResult]]:
    """The chosen model with its log-odds shifted, in its place among the candidates.

    The shift is monotone: AUC and cost stay, the threshold moves with the probabilities.
    """
    shifted = replace(
        chosen,
        oof_probability=calibrated.probability,
        metrics=evaluate_probabilities(y, calibrated.probability, weights),
        logit_offset=chosen.logit_offset + calibrated.logit_shift,
    )
    return shifted, [shifted if c is chosen else c for c in candidates]


def _prefixed(tick: Callable[[str], Any], prefix: str) -> Callable[[str], Any]:
    return lambda label: tick(f"{prefix} {label}")


def _ablations(
    reference: ApplicationTable,
    plan: FoldPlan,
    trainer: LightGBMTrainer,
    chosen: CandidateResult,
    config: TrainConfig,
    tick: Callable[[str], Any],
) -> dict[str, dict[str, float]]:
    """The chosen configuration on the same folds, with gender as an input and unconstrained.

    ``delta_*`` is the ablation's figure minus the served model's: a positive ``delta_auc``
    of ``with_gender`` is the ranking power that leaving gender out gives up.
    """
    with_gender = fit_feature_spec(reference.columns, protected=())
    variants = {
        "with_gender": LightGBMTrainer(
            transform_batch(with_gender, reference.columns),
            trainer.y,
            list(with_gender.features),
            config.seed,
            monotone=with_gender.monotone_constraints(),
        ),
        "without_monotone": trainer.without_monotone(),
    }
    served = {"auc": chosen.metrics.auc, "cost_per_client": chosen.metrics.cost_per_client}
    figures = {"served": served}
    for name, variant in variants.items():
        m = variant.cross_validate(
            plan, chosen.params, chosen.imbalance, config.weights, _prefixed(tick, name)
        ).metrics
        figures[name] = {
            "auc": m.auc,
            "cost_per_client": m.cost_per_client,
            "delta_auc": m.auc - served["auc"],
            "delta_cost_per_client": m.cost_per_client - served["cost_per_client"],
        }
    return figures


def train(data_dir: Path, artifacts_dir: Path, config: TrainConfig) -> TrainingResult:
    """Run the whole pipeline and publish a new model version under ``artifacts_dir``."""
    started = time.perf_counter()
    in_file, new_clients = load_reference_and_new(data_dir)
    split = holdout.split_reference(in_file)
    reference = split.training  # from here on, the held-out clients do not exist
    log.info(
        "%d reference clients held out for validation (%s), %d fitted on",
        split.holdout.n_rows,
        holdout.HOLDOUT_RULE,
        reference.n_rows,
    )
    assert reference.target is not None
    y = reference.target
    stages = StageProgress(_planned_fits(config), "training", "fit", config.progress)

    stages.stage("features")
    spec = fit_feature_spec(reference.columns)
    x = transform_batch(spec, reference.columns)
    x_new = transform_batch(spec, new_clients.columns)
    features = list(spec.features)
    fingerprint = file_sha256(reference.path)

    stages.stage("cross-validation")
    plan = FoldPlan.stratified(y, config.n_folds, config.seed)
    trainer = LightGBMTrainer(x, y, features, config.seed, spec.monotone_constraints())
    candidates = _cross_validate_all(x, y, trainer, plan, config, stages.tick)
    lightgbm_rows = [c for c in candidates if c.model == "lightgbm"]
    best_base = min(lightgbm_rows, key=lambda c: (c.metrics.cost_per_client, -c.metrics.auc))

    stages.stage("search")
    trials = search_lightgbm(
        trainer, best_base.imbalance, config.weights, config.search_budget(y.size), stages.tick
    )
    stages.stage("tuned model")
    chosen = best_base
    if trials and trials[0].params:
        tuned = trainer.cross_validate(
            plan, trials[0].params, best_base.imbalance, config.weights, stages.tick
        )
        tuned.model = "lightgbm-tuned"
        candidates.append(tuned)
        if tuned.metrics.cost_per_client <= best_base.metrics.cost_per_client:
            chosen = tuned

    stages.stage("calibration")
    calibrated = calibration.assess(y, chosen.oof_probability)
    if calibrated.logit_shift:
        chosen, candidates = _recalibrated(chosen, candidates, calibrated, y, config.weights)

    ablations = None
    if config.ablations:
        stages.stage("ablations")
        ablations = _ablations(reference, plan, trainer, chosen, config, stages.tick)

    stages.stage("final fit")
    n_trees = _final_trees(chosen)
    booster, offset = trainer.fit(plan.rows, chosen.params, chosen.imbalance, n_trees=n_trees)
    booster = float32_thresholds(add_logit_offset(booster, offset + calibrated.logit_shift))
    stages.tick("final")

    stages.stage("export")
    onnx_model = export.to_onnx(booster, len(features))
    parity_gap = export.check_parity(booster, onnx_model.SerializeToString(), x_new)

    stages.stage("borderline")
    rules = threshold_rules(y, chosen.oof_probability, config.weights, seed=config.seed)
    band = rules.band.containing(rules.threshold)
    if band.threshold != finite_threshold(chosen.metrics.threshold):
        raise RuntimeError("the bootstrap's threshold differs from the chosen model's")
    new_probability = np.asarray(booster.predict(x_new), dtype=np.float64)
    share_borderline = share_in_band(new_probability, band.lower, band.upper)
    bins = score_bins(y, chosen.oof_probability)
    groups = fairness.fairness_report(reference.columns, y, chosen.oof_probability, rules.threshold)

    stages.stage("explanations")
    rng = np.random.default_rng(config.seed)
    sample = np.sort(rng.choice(y.size, size=min(SHAP_SAMPLE, y.size), replace=False))
    contributions, base_value = stats.shap_values(booster, x[sample])
    importance = stats.global_importance(contributions, base_value, features)
    reference_stats = stats.reference_stats(x, y, features)
    reference_profiles = profiles.build_reference_profiles(reference.columns, y)

    created_at = datetime.now(UTC)
    version = _version_name(fingerprint, created_at)
    comparison = [c.table_row() for c in candidates]
    outcome = RunOutcome(
        spec=spec,
        monotone=trainer.monotone_directions(),
        chosen=chosen,
        comparison=comparison,
        trials=trials,
        n_trees=n_trees,
        parity_gap=parity_gap,
        n_new=new_clients.n_rows,
        band=band,
        rules=rules,
        share_borderline=share_borderline,
        score_bins=bins,
        ablations=ablations,
        calibration=calibrated.record,
        fairness=groups,
    )
    metadata = _metadata(
        version, created_at, config, reference, fingerprint, outcome, split, data_dir
    )
    # Values that broke a plausibility rule, read as missing (training.data): whole files.
    metadata["data_quality"] = data_quality_record(in_file, new_clients)
    if metadata["leakage_alarm"]:
        log.warning(
            "LEAKAGE ALARM: cross-validated AUC %.3f > %.2f; check for a column that "
            "reveals the outcome before trusting this model",
            chosen.metrics.auc,
            LEAKAGE_AUC,
        )

    stages.stage("write + MLflow")
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=artifacts_dir))
    try:
        export.write_model_files(staging, booster, onnx_model)
        export.write_json(staging / REFERENCE_STATS_FILE, reference_stats)
        profiles.write_reference_profiles(staging / PROFILES_FILE, reference_profiles)
        export.write_json(staging / IMPORTANCE_FILE, importance)
        report = staging / REPORT_DIR
        report.mkdir()
        lightgbm_and_baselines = [c for c in candidates if c.model != "dummy"]
        plots.roc_plot(candidates, y, report / "roc.png")
        plots.cost_plot(
            chosen, y, config.weights, report / "cost_vs_threshold.png", (band.lower, band.upper)
        )
        plots.calibration_plot(lightgbm_and_baselines, y, report / "calibration.png")
        plots.shap_summary_plot(contributions, x[sample], features, report / "shap_summary.png")
        metadata["sha256"] = export.file_hashes(staging)
        export.write_json(staging / METADATA_FILE, metadata)
        registered = _track(version, config, chosen, candidates, metadata, staging, onnx_model)
        final = export.publish_version(staging, artifacts_dir, version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    stages.close()
    return TrainingResult(
        model_version=version,
        version_dir=final,
        chosen=chosen,
        comparison=comparison,
        metadata=metadata,
        registered_version=registered,
        seconds=time.perf_counter() - started,
        stage_seconds=stages.seconds,
    )


def _track(
    version: str,
    config: TrainConfig,
    chosen: CandidateResult,
    candidates: list[CandidateResult],
    metadata: dict[str, Any],
    staging: Path,
    onnx_model: Any,
) -> str | None:
    tags = {"model_version": version, "leakage_alarm": str(metadata["leakage_alarm"]).lower()}
    with tracking.training_run(version, tags) as mlflow:
        tracking.log_flat_params(
            mlflow,
            {
                "cost_fn": config.weights.cost_fn,
                "cost_fp": config.weights.cost_fp,
                "n_folds": config.n_folds,
                "seed": config.seed,
                "n_trials": config.n_trials,
                "chosen": metadata["chosen"],
                "n_features": len(metadata["features"]),
                "training_data_sha256": metadata["training_data"]["sha256"],
                "holdout_fingerprint": metadata["holdout"]["fingerprint"],
                "monotone_constraints": metadata["monotone_constraints"],
            },
        )
        mlflow.log_metrics({k: float(v) for k, v in metadata["metrics"].items()})
        rules = metadata["threshold_rules"]
        mlflow.log_metrics(
            {
                "threshold": metadata["threshold"],
                "threshold.exact": rules["exact"]["threshold"],
                "threshold.bootstrap_averaged": rules["bootstrap_averaged"]["threshold"],
            }
        )
        mlflow.log_metrics(
            {
                f"borderline.{k}": float(v)
                for k, v in metadata["borderline"].items()
                if isinstance(v, int | float)
            }
        )
        for name, figures in metadata.get("ablations", {}).items():
            mlflow.log_metrics({f"ablation.{name}.{k}": float(v) for k, v in figures.items()})
        mlflow.log_metrics(tracking.calibration_metrics(metadata["calibration"]))
        mlflow.log_metrics(tracking.fairness_metrics(metadata["fairness"]))
        mlflow.log_metrics(data_quality_metrics(metadata["data_quality"]))
        for c in candidates:
            key = c.name.replace("/", "_")
            mlflow.log_metrics(
                {
                    f"{key}.auc": c.metrics.auc,
                    f"{key}.cost_per_client": c.metrics.cost_per_client,
                    f"{key}.brier": c.metrics.brier,
                    f"{key}.recall": c.metrics.recall,
                    f"{key}.precision": c.metrics.precision,
                }
            )
        mlflow.log_table(
            {k: [row[k] for row in metadata["comparison"]] for k in metadata["comparison"][0]},
            "comparison.json",
        )
        mlflow.log_artifacts(str(staging), artifact_path="model_version")
        return tracking.register_onnx_model(mlflow, onnx_model, version, len(metadata["features"]))
