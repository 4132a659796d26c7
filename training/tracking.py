"""MLflow, configured in exactly one place.

Every training run is an MLflow run. Without ``MLFLOW_TRACKING_URI`` the store is local: a
SQLite database ``mlruns/mlflow.db`` (runs and the model registry) with artifacts beside it
in ``mlruns/mlflow-artifacts``, under the current directory. Open the UI with ``make mlflow-ui``.
In production ``MLFLOW_TRACKING_URI`` names a tracking server (an MLflow server whose
artifacts live in S3, or a managed MLflow); the training workflow keeps the SQLite store as
an artifact when none is configured.

Registry aliases of ``creditscore-lightgbm``: ``candidate`` on the newest trained version,
``challenger`` on the version ``creditscore promote`` last compared, ``champion`` on the
version active in the store (moved by promote, activate and rollback). The store is the
source of truth: an alias that cannot be set (no such registered version in this tracking
store, a server that does not answer) is a warning, never a failed command.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

EXPERIMENT_NAME = "creditscore"
REGISTERED_MODEL_NAME = "creditscore-lightgbm"
CHAMPION_ALIAS = "champion"
CHALLENGER_ALIAS = "challenger"
DEFAULT_STORE_DIR = Path("mlruns")


def tracking_uri() -> str:
    """The tracking URI in force: MLFLOW_TRACKING_URI, else the local SQLite store."""
    configured = os.environ.get("MLFLOW_TRACKING_URI")
    if configured:
        return configured
    store = DEFAULT_STORE_DIR.resolve()
    store.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{store / 'mlflow.db'}"


def _experiment_id(mlflow: Any, uri: str) -> str:
    experiment = mlflow.get_experiment_by_name(EXPERIMENT_NAME)
    if experiment is not None:
        return str(experiment.experiment_id)
    location = None
    if uri.startswith("sqlite:///"):
        # Keep artifacts next to the database rather than in the working directory.
        location = (Path(uri.removeprefix("sqlite:///")).parent / "mlflow-artifacts").as_uri()
    return str(mlflow.create_experiment(EXPERIMENT_NAME, artifact_location=location))


@contextmanager
def training_run(run_name: str, tags: Mapping[str, str]) -> Iterator[Any]:
    """Open an MLflow run in the project's experiment; yields the ``mlflow`` module."""
    import mlflow

    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    experiment_id = _experiment_id(mlflow, uri)
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=dict(tags)):
        log.info("MLflow run in %s (experiment %s)", uri, EXPERIMENT_NAME)
        yield mlflow


def log_flat_params(mlflow: Any, params: Mapping[str, Any], prefix: str = "") -> None:
    """Log nested parameters as flat ``a.b`` keys (MLflow params are flat strings)."""
    flat: dict[str, Any] = {}

    def walk(node: Mapping[str, Any], path: str) -> None:
        for key, value in node.items():
            name = f"{path}{key}"
            if isinstance(value, Mapping):
                walk(value, f"{name}.")
            else:
                flat[name] = value

    walk(params, prefix)
    mlflow.log_params(flat)


def register_onnx_model(
    mlflow: Any, onnx_model: Any, model_version: str, n_features: int
) -> str | None:
    """Log the ONNX model to the run and register it; returns the registry version."""
    import numpy as np
    from mlflow.models import infer_signature

    example = np.zeros((1, n_features), dtype=np.float32)
    signature = infer_signature(example, np.zeros((1, 2), dtype=np.float32))
    info = mlflow.onnx.log_model(
        onnx_model,
        name="model",
        registered_model_name=REGISTERED_MODEL_NAME,
        signature=signature,
        pip_requirements=["onnxruntime==1.32.0"],
        save_as_external_data=False,
        tags={"model_version": model_version},
    )
    registered = getattr(info, "registered_model_version", None)
    if registered is None:
        return None
    client = mlflow.MlflowClient()
    client.set_model_version_tag(
        REGISTERED_MODEL_NAME, str(registered), "model_version", model_version
    )
    # The newest trained version is the candidate; promotion stays a human decision.
    client.set_registered_model_alias(REGISTERED_MODEL_NAME, "candidate", str(registered))
    return str(registered)


def calibration_metrics(record: Mapping[str, Any]) -> dict[str, float]:
    """``calibration.ece`` and ``.brier`` as served; before and shift too when corrected."""
    metrics = {"calibration.ece": float(record["ece"]), "calibration.brier": float(record["brier"])}
    if record.get("calibrated"):
        metrics["calibration.ece_before"] = float(record["before"]["ece"])
        metrics["calibration.brier_before"] = float(record["before"]["brier"])
        metrics["calibration.logit_shift"] = float(record["logit_shift"])
    return metrics


def fairness_metrics(record: Mapping[str, Any]) -> dict[str, float]:
    """``fairness.<dimension>.parity_ratio`` and ``.equal_opportunity_gap`` (when defined)."""
    metrics: dict[str, float] = {}
    for dimension, figures in record["dimensions"].items():
        for key in ("parity_ratio", "equal_opportunity_gap"):
            if figures.get(key) is not None:
                metrics[f"fairness.{dimension}.{key}"] = float(figures[key])
    return metrics


# ------------------------------------------------------------------------- model life cycle


def _mlflow() -> Any:
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    return mlflow


def registry_version(client: Any, model_version: str) -> str | None:
    """The registry version whose ``model_version`` tag is ``model_version`` (None: none)."""
    found = [
        v
        for v in client.search_model_versions(f"name = '{REGISTERED_MODEL_NAME}'")
        if (v.tags or {}).get("model_version") == model_version
    ]
    if not found:
        return None
    return str(max(found, key=lambda v: int(v.version)).version)


def set_alias(alias: str, model_version: str) -> str | None:
    """Point registry ``alias`` at ``model_version``; its registry version, or None (warned)."""
    try:
        client = _mlflow().MlflowClient()
        registered = registry_version(client, model_version)
        if registered is None:
            log.warning(
                "MLflow (%s) has no registered %s version tagged model_version=%s: alias %r "
                "not set",
                tracking_uri(),
                REGISTERED_MODEL_NAME,
                model_version,
                alias,
            )
            return None
        client.set_registered_model_alias(REGISTERED_MODEL_NAME, alias, registered)
    except Exception as error:  # MLflow is a mirror of the store: never fail the command
        log.warning("MLflow alias %r not set on %s: %s", alias, model_version, error)
        return None
    log.info("MLflow alias %s -> %s v%s (%s)", alias, REGISTERED_MODEL_NAME, registered,
             model_version)  # fmt: skip
    return registered


def follow_champion(model_version: str) -> str | None:
    """Move the ``champion`` alias to the version now active in the store."""
    return set_alias(CHAMPION_ALIAS, model_version)


def log_promotion(comparison: Mapping[str, Any]) -> str | None:
    """Log a promotion's comparison as an MLflow run (``promote <version>``); its run id.

    Metrics ``candidate.*`` and ``active.*`` (holdout AUC, cost per client, threshold,
    refusal rate), the verdict as tags, the whole comparison as ``promotion.json``; the
    candidate gets the ``challenger`` alias. None (warned) if MLflow cannot take it.
    """
    version = str(comparison["candidate"]["version"])
    try:
        mlflow = _mlflow()
        experiment_id = _experiment_id(mlflow, tracking_uri())
        tags = {
            "model_version": version,
            "kind": "promotion",
            "verdict": str(comparison["verdict"]),
            "activated": str(comparison["activated"]).lower(),
            "forced": str(comparison["forced"]).lower(),
        }
        with mlflow.start_run(
            experiment_id=experiment_id, run_name=f"promote {version}", tags=tags
        ) as run:
            for role in ("candidate", "active"):
                figures = comparison.get(role) or {}
                mlflow.log_metrics(
                    {
                        f"{role}.{key}": float(value)
                        for key, value in figures.items()
                        if isinstance(value, int | float) and not isinstance(value, bool)
                    }
                )
            mlflow.log_params(
                {
                    "auc_tolerance": comparison["rule"]["auc_tolerance"],
                    "holdout_fingerprint": comparison["holdout"]["fingerprint"],
                    "active_version": (comparison.get("active") or {}).get("version"),
                }
            )
            mlflow.log_dict(dict(comparison), "promotion.json")
            run_id = str(run.info.run_id)
    except Exception as error:  # MLflow is a mirror of the store: never fail the command
        log.warning("promotion of %s not logged to MLflow: %s", version, error)
        return None
    set_alias(CHALLENGER_ALIAS, version)
    return run_id
