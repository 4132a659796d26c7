"""The whole ``creditscore eda`` run: load, compute, draw, write aside, log, move into place."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from creditscore_common.features import fit_feature_spec
from monitoring.compare import REPORT_FILE as DRIFT_REPORT_FILE
from training import tracking
from training.data import load_reference_and_new
from training.eda import analysis, figures
from training.eda.analysis import DRIVERS, Exploration
from training.eda.figures import Figure
from training.eda.page import (
    LEVEL_PLOTS,
    REPORT_FILE,
    TOP_ASSOCIATIONS,
    PageFacts,
    render_html,
)
from training.progress import StageProgress

log = logging.getLogger(__name__)

#: Features drawn before and after clipping: the most affected ones.
CLIPPING_PLOTS = 5
#: Where the files go in the MLflow run given with ``--run-id``.
MLFLOW_ARTIFACT_PATH = "eda"


class EdaInputError(ValueError):
    """A bad argument that is not a data file: the output folder, the MLflow run."""


@dataclass(frozen=True)
class EdaResult:
    """What :func:`run_eda` wrote and found."""

    exploration: Exploration
    report_path: Path
    figure_paths: list[Path]
    seconds: float
    stage_seconds: dict[str, float]
    mlflow_run_id: str | None


_STAGES = ("load", "features", "missing", "associations", "drivers", "anomaly", "outliers",
           "reference vs new", "figures", "write")  # fmt: skip


def explore(data_dir: Path, progress: StageProgress | None = None) -> Exploration:
    """Every statistic of the report on the folder's two files, loaded as training loads them."""
    step = progress.stage if progress else (lambda name: None)
    step("load")
    reference, new_clients = load_reference_and_new(data_dir)
    assert reference.target is not None
    target = reference.target
    step("features")
    spec = fit_feature_spec(reference.columns)  # the very call training makes
    view = analysis.numeric_view(spec, reference)
    step("missing")
    missing = analysis.missing_columns(reference, new_clients, spec)
    step("associations")
    numeric = analysis.numeric_associations(view, target)
    categorical = analysis.categorical_associations(reference, target)
    step("drivers")
    drivers = analysis.driver_distributions(view, target)
    step("anomaly")
    anomaly = analysis.employment_anomaly(reference, new_clients, view, spec)
    step("outliers")
    clipped = {name: view.column(name) for name in spec.clip_limits if name in view.names}
    outliers = analysis.outlier_shares(clipped, spec.clip_limits)
    step("reference vs new")
    shifts = analysis.column_shifts(reference, new_clients, spec)
    return Exploration(
        data_dir=str(data_dir),
        n_reference=reference.n_rows,
        n_new=new_clients.n_rows,
        default_rate=float(np.mean(target)),
        spec=spec,
        missing=missing,
        numeric=numeric,
        categorical=categorical,
        drivers=drivers,
        anomaly=anomaly,
        outliers=outliers,
        shifts=shifts,
        view=view,
    )


def draw_figures(x: Exploration, progress: StageProgress | None = None) -> dict[str, Figure]:
    """Every figure of the report, keyed by where the page places it."""
    tick = progress.tick if progress else (lambda label: None)
    top_categories = x.categorical[:LEVEL_PLOTS]
    top_outliers = [o for o in x.outliers if o.share > 0][:CLIPPING_PLOTS]
    if progress:
        progress.add(3 + len(top_categories) + len(DRIVERS) + len(top_outliers))
    drawn: dict[str, Figure | None] = {}
    drawn["missing"] = figures.missing_figure(x.missing, x.spec.max_missing_rate)
    tick("missing")
    drawn["numeric"] = figures.numeric_association_figure(x.numeric[:TOP_ASSOCIATIONS])
    tick("numeric")
    drawn["categorical"] = figures.categorical_association_figure(x.categorical[:TOP_ASSOCIATIONS])
    tick("categorical")
    for association in top_categories:
        drawn[f"levels:{association.name}"] = figures.level_rate_figure(association, x.default_rate)
        tick(association.name)
    for driver in x.drivers:
        drawn[f"driver:{driver.name}"] = figures.driver_figure(driver)
        tick(driver.name)
    for outlier in top_outliers:
        values = x.view.column(outlier.name).astype(np.float64)
        drawn[f"clipping:{outlier.name}"] = figures.clipping_figure(outlier, values)
        tick(outlier.name)
    return {key: figure for key, figure in drawn.items() if figure is not None}


def _mlflow_client(run_id: str) -> Any:
    """An MLflow client on the project's tracking store, once the run is known to exist."""
    import mlflow
    from mlflow.exceptions import MlflowException

    uri = tracking.tracking_uri()
    client = mlflow.MlflowClient(tracking_uri=uri)
    try:
        client.get_run(run_id)
    except MlflowException as error:
        raise EdaInputError(f"MLflow run {run_id!r} not found in {uri}: {error.message}") from error
    return client


def _log_to_mlflow(client: Any, run_id: str, folder: Path, x: Exploration) -> None:
    from mlflow.entities import Metric

    client.log_artifacts(run_id, str(folder), artifact_path=MLFLOW_ARTIFACT_PATH)
    now = int(time.time() * 1000)
    figures_of_run = {
        "eda.n_reference_clients": x.n_reference,
        "eda.n_new_clients": x.n_new,
        "eda.default_rate": x.default_rate,
        "eda.n_dropped_columns": len(x.spec.dropped_columns),
        "eda.n_model_features": len(x.spec.features),
        "eda.employment_anomaly_clients": x.anomaly.n_anomaly,
    }
    metrics = [Metric(key, float(value), now, 0) for key, value in figures_of_run.items()]
    client.log_batch(run_id, metrics=metrics)


def _publish(staging: Path, out_dir: Path, names: list[str]) -> None:
    """Move the finished files into ``out_dir``: one rename when it is new, else file by file.

    An existing folder may hold other reports (the drift report beside this one): only this
    run's files are replaced, the page last, each with one rename.
    """
    if not out_dir.exists():
        os.replace(staging, out_dir)
        return
    for name in names:
        os.replace(staging / name, out_dir / name)
    shutil.rmtree(staging, ignore_errors=True)


def run_eda(
    data_dir: Path,
    out_dir: Path,
    run_id: str | None = None,
    progress: bool = True,
    command: str | None = None,
) -> EdaResult:
    """Write ``eda_report.html`` and its figures into ``out_dir`` (and the MLflow run, if any).

    Nothing is written before the data has been validated and every figure drawn: the files
    are assembled in a hidden folder beside ``out_dir`` and moved in with renames.
    """
    started = time.perf_counter()
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(
            f"{data_dir}: no such data folder (it should hold application_train.csv and "
            "application_test.csv)"
        )
    if out_dir.exists() and not out_dir.is_dir():
        raise EdaInputError(f"{out_dir} is a file: --out needs a folder")
    client = _mlflow_client(run_id) if run_id else None  # before the work: a typo costs nothing

    stages = StageProgress(len(_STAGES), "eda", "step", progress, stages_are_steps=True)
    try:
        exploration = explore(data_dir, stages)
        stages.stage("figures")
        drawn = draw_figures(exploration, stages)
        facts = PageFacts(
            generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
            command=command or f"creditscore eda --data {data_dir} --out {out_dir}",
            out_dir=str(out_dir),
            seconds=time.perf_counter() - started,
            drift_report_present=(out_dir / DRIFT_REPORT_FILE).is_file(),
        )
        page = render_html(exploration, drawn, facts, CLIPPING_PLOTS)
        stages.stage("write")
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-eda-", dir=out_dir.parent))
        try:
            os.chmod(staging, 0o755)  # a report to share (mkdtemp makes 0700)
            names = [figure.file_name for figure in drawn.values()]
            for figure in drawn.values():
                (staging / figure.file_name).write_bytes(figure.png)
            (staging / REPORT_FILE).write_text(page, encoding="utf-8")
            if client is not None and run_id is not None:
                _log_to_mlflow(client, run_id, staging, exploration)
            _publish(staging, out_dir, [*names, REPORT_FILE])
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    finally:
        stages.close()
    log.info("wrote %s and %d figures", out_dir / REPORT_FILE, len(names))
    return EdaResult(
        exploration=exploration,
        report_path=out_dir / REPORT_FILE,
        figure_paths=[out_dir / name for name in names],
        seconds=time.perf_counter() - started,
        stage_seconds=stages.seconds,
        mlflow_run_id=run_id,
    )
