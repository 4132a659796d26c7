"""The drift report on generated data: it finds the documented drift and nothing else.

Also: the verdict and its threshold, too few rows, traffic logs written by the served API
read back into the same report, the route on a local store, and the command's exit codes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from creditscore_common import traffic
from creditscore_common.api import reset_caches
from creditscore_common.model import ScoringModel
from creditscore_common.monitoring import DriftSummary
from creditscore_common.store.local import LocalStore
from creditscore_common.traffic import OTHER_LEVEL, SCORE_EVENT, traffic_record
from monitoring.compare import REPORT_FILE, SUMMARY_FILE, DriftConfig, compare
from monitoring.drift import DriftRun, run_drift
from monitoring.inputs import Sample, file_sample, input_kinds
from serving.local_server import build_app, configure_local
from training.cli import EXIT_DRIFT, main
from training.data import NEW_CLIENTS_FILE, TRAIN_FILE, load_applications
from training.generate import MANIFEST_FILE
from training.train import TrainingResult

pytestmark = pytest.mark.xdist_group("trained_model")

TOKEN = "drift-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SUMMARY_KEYS = {
    "generated_at",
    "model_version",
    "reference",
    "current",
    "verdict",
    "message",
    "drift_share",
    "share_threshold",
    "importance_drift_share",
    "n_features",
    "n_drifted",
    "min_rows",
    "thresholds",
    "features",
    "prediction",
    "report_file",
}
FEATURE_KEYS = {
    "name",
    "kind",
    "label",
    "label_en",
    "test",
    "statistics",
    "p_value",
    "p_adjusted",
    "psi",
    "missing_reference",
    "missing_current",
    "drifted",
    "importance",
    "importance_rank",
}
PREDICTION_KEYS = {
    "psi",
    "ks_statistic",
    "p_value",
    "wasserstein_normed",
    "reference_mean",
    "current_mean",
    "drifted",
    "source",
}


def manifest_columns(data_dir: Path) -> set[str]:
    manifest = json.loads((data_dir / MANIFEST_FILE).read_text())
    return {entry["column"] for entry in manifest["drift"]}


def flagged(summary: dict[str, Any]) -> set[str]:
    return {f["name"] for f in summary["features"] if f["drifted"]}


@pytest.fixture(scope="module")
def model(trained_model: TrainingResult) -> ScoringModel:
    return ScoringModel.load(trained_model.version_dir)


@pytest.fixture(scope="module")
def reference(small_data_dir: Path, model: ScoringModel) -> Sample:
    return file_sample(small_data_dir / TRAIN_FILE, input_kinds(model.spec), with_target=True)


def local_server(
    monkeypatch: pytest.MonkeyPatch, store: Path, traffic_log: Path | None = None
) -> TestClient:
    """The local server's app on ``store`` (environment restored by monkeypatch after)."""
    # Set through monkeypatch first, so that teardown restores what configure_local changes.
    for name, value in {
        "STORE_BACKEND": "local",
        "LOCAL_STORE_PATH": str(store),
        "AUTH_MODE": "token",
        "API_TOKEN": TOKEN,
        "TRAFFIC_LOG": "",
    }.items():
        monkeypatch.setenv(name, value)
    configure_local(store, traffic_log=traffic_log)
    return TestClient(build_app(), raise_server_exceptions=False)


def traffic_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ---------------------------------------------------------------------------- it finds it


def test_every_manifest_column_is_flagged_and_few_others(
    drift_run: DriftRun, small_data_dir: Path
) -> None:
    """The issue's test: on a small generated set, all documented drift, <= 5% of the rest."""
    summary = drift_run.summary
    names = {f["name"] for f in summary["features"]}
    expected = manifest_columns(small_data_dir)
    assert expected <= names, "every drifted column of the manifest is a model input"
    assert expected <= flagged(summary)
    untouched = names - expected
    false_alarms = flagged(summary) - expected
    assert len(false_alarms) <= 0.05 * len(untouched), false_alarms
    assert summary["n_drifted"] == len(flagged(summary))
    assert summary["drift_share"] == pytest.approx(summary["n_drifted"] / summary["n_features"])


def test_reference_against_itself_is_quiet(reference: Sample, model: ScoringModel) -> None:
    """Two halves of the reference clients: nothing flagged, verdict no drift."""
    half = reference.rows // 2
    first = Sample({k: v[:half] for k, v in reference.columns.items()}, half, "first half")
    second = Sample(
        {k: v[half:] for k, v in reference.columns.items()}, reference.rows - half, "second"
    )
    result = compare(first, second, model)
    assert result.summary["verdict"] == "no drift"
    assert result.summary["n_drifted"] <= 0.05 * result.summary["n_features"]
    assert result.summary["prediction"]["drifted"] is False


def test_summary_file_keys_and_order(drift_run: DriftRun) -> None:
    summary = json.loads(drift_run.summary_path.read_text())
    assert drift_run.summary_path.name == SUMMARY_FILE
    assert set(summary) == SUMMARY_KEYS
    DriftSummary.model_validate(summary)
    assert summary["reference"]["rows"] == 6000 and summary["current"]["rows"] == 1500
    assert set(summary["prediction"]) == PREDICTION_KEYS
    assert summary["prediction"]["source"] == "rescored"
    for feature in summary["features"]:
        assert set(feature) == FEATURE_KEYS
        assert feature["kind"] in ("numeric", "categorical")
        assert feature["label"], feature["name"]
    drifted = [f["drifted"] for f in summary["features"]]
    assert drifted == sorted(drifted, reverse=True), "drifted inputs come first"
    ranks = [f["importance_rank"] for f in summary["features"] if not f["drifted"]]
    assert ranks == sorted(ranks), "then by the model's importance"
    assert sum(f["importance"] for f in summary["features"]) == pytest.approx(1.0, abs=1e-3)


def test_html_report_is_self_contained_and_accessible(drift_run: DriftRun) -> None:
    text = drift_run.report_path.read_text()
    assert drift_run.report_path.name == REPORT_FILE
    assert "<html lang=" in text and "<caption>" in text and "scope='col'" in text
    assert "src='http" not in text and "<script" not in text, "nothing fetched from outside"
    images = text.count("<img ")
    assert images >= 1 + len(flagged(drift_run.summary))
    assert text.count(" alt='") == images, "every image has a text alternative"
    for name in flagged(drift_run.summary):
        assert f"of {name} (" in text, f"no plot of drifted column {name}"
    assert drift_run.summary["verdict"].upper() in text


# ---------------------------------------------------------------------------- the verdict


def test_verdict_follows_the_share_threshold(
    reference: Sample, small_data_dir: Path, model: ScoringModel, drift_run: DriftRun
) -> None:
    current = file_sample(
        small_data_dir / NEW_CLIENTS_FILE, input_kinds(model.spec), with_target=False
    )
    share = drift_run.summary["drift_share"]
    assert share > 0
    low = compare(reference, current, model, DriftConfig(share_threshold=share))
    assert low.summary["verdict"] == "drift"
    high = compare(reference, current, model, DriftConfig(share_threshold=share + 0.01))
    assert high.summary["verdict"] == "no drift"
    assert flagged(low.summary) == flagged(high.summary) == flagged(drift_run.summary)


def test_too_few_rows_is_insufficient_data(reference: Sample, model: ScoringModel) -> None:
    few = Sample({k: v[:150] for k, v in reference.columns.items()}, 150, "150 rows")
    summary = compare(reference, few, model).summary
    assert summary["verdict"] == "insufficient data"
    assert "200" in summary["message"] and "150" in summary["message"]
    assert summary["n_drifted"] == 0 and not flagged(summary)
    assert summary["prediction"]["drifted"] is False
    judged = compare(reference, few, model, DriftConfig(min_rows=100)).summary
    assert judged["verdict"] in ("drift", "no drift")


# ---------------------------------------------------------------------------- traffic logs


def write_traffic(
    path: Path, model: ScoringModel, applications: list[dict[str, Any]], prefix: str = ""
) -> None:
    with path.open("w") as handle:
        handle.write("START RequestId: 1 Version: $LATEST\n")
        for i, application in enumerate(applications):
            probability = model.score_record(application)
            record = traffic_record(
                model.spec,
                application,
                client_id=i,
                model_version=model.version,
                probability=probability,
                threshold=model.threshold,
                decision=model.decide(probability),
            )
            handle.write(prefix + json.dumps(record) + "\n")
        handle.write('{"level": "INFO", "message": "not traffic"}\n')


def test_too_few_logged_scores_is_insufficient_data(
    tmp_path: Path, small_data_dir: Path, model: ScoringModel, trained_model: TrainingResult
) -> None:
    table = load_applications(small_data_dir / NEW_CLIENTS_FILE, with_target=False)
    log = tmp_path / "traffic.log"
    write_traffic(log, model, [table.record(i) for i in range(120)], "2026-11-28T10:00:00Z ")
    run = run_drift(small_data_dir, trained_model.version_dir, tmp_path / "report", [log])
    assert run.summary["current"]["rows"] == 120
    assert run.summary["verdict"] == "insufficient data"
    assert run.summary["prediction"]["source"] == "logged"
    assert run.report_path.is_file()


@pytest.fixture
def served_traffic(
    publish_local: Callable[[Path], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[TestClient, Path, Path]]:
    """The local server (all functions) on a fresh store, logging traffic to a file."""
    store = publish_local(tmp_path / "store")
    log = tmp_path / "logs" / "traffic.jsonl"
    try:
        yield local_server(monkeypatch, store, log), store, log
    finally:
        traffic.configure_traffic_log("")
        reset_caches()


def test_report_from_the_logs_of_the_served_api(
    served_traffic: tuple[TestClient, Path, Path],
    small_data_dir: Path,
    trained_model: TrainingResult,
    drift_run: DriftRun,
    tmp_path: Path,
) -> None:
    """Score every new client through the API; the report from its log equals the file's."""
    http, _, log = served_traffic
    table = load_applications(small_data_dir / NEW_CLIENTS_FILE, with_target=False)
    served: dict[int, float] = {}
    for client_id in table.ids:
        response = http.get(f"/clients/{int(client_id)}/score", headers=AUTH)
        assert response.status_code == 200, response.text
        served[int(client_id)] = response.json()["probability"]
    # A new applicant with a text no reference client has: its words must not be logged.
    odd = {
        "AMT_INCOME_TOTAL": 150000.0,
        "AMT_CREDIT": 500000.0,
        "AMT_ANNUITY": 25000.0,
        "DAYS_BIRTH": -14000.0,
        "EXT_SOURCE_2": 0.5,
        "NAME_TYPE_SUITE": "Jean Dupont, my neighbour",
    }
    response = http.post("/score", headers=AUTH, json={"application": odd})
    assert response.status_code == 200, response.text
    assert http.get("/clients/1/score", headers=AUTH).status_code == 404  # not logged

    lines = traffic_lines(log)
    assert len(lines) == table.n_rows + 1
    inputs = set(ScoringModel.load(trained_model.version_dir).spec.input_columns)
    for line in lines:
        assert set(line) == {
            "event",
            "logged_at",
            "route",
            "client_id",
            "model_version",
            "probability",
            "threshold",
            "decision",
            "inputs",
        }
        assert line["event"] == SCORE_EVENT
        assert line["model_version"] == trained_model.model_version
        assert set(line["inputs"]) == inputs
        assert all(v is None or isinstance(v, int | float | str) for v in line["inputs"].values())
    by_client = {line["client_id"]: line for line in lines}
    assert {k: by_client[k]["probability"] for k in served} == served
    new_applicant = by_client[None]
    assert new_applicant["route"] == "application"
    assert new_applicant["inputs"]["NAME_TYPE_SUITE"] == OTHER_LEVEL
    assert "Dupont" not in log.read_text()

    # The served clients are application_test.csv: same inputs, same verdict, same flags.
    run = run_drift(small_data_dir, trained_model.version_dir, tmp_path / "report", [log])
    summary = run.summary
    assert summary["current"]["rows"] == table.n_rows + 1
    assert summary["current"]["model_versions"] == {trained_model.model_version: len(lines)}
    assert summary["prediction"]["source"] == "logged"
    assert summary["verdict"] == drift_run.summary["verdict"]
    assert flagged(summary) == flagged(drift_run.summary)
    file_psi = {f["name"]: f["psi"] for f in drift_run.summary["features"]}
    for feature in summary["features"]:
        assert feature["psi"] == pytest.approx(file_psi[feature["name"]], abs=0.02)
    assert summary["prediction"]["current_mean"] == pytest.approx(
        drift_run.summary["prediction"]["current_mean"], abs=1e-3
    )


def test_traffic_is_off_by_default(
    publish_local: Callable[[Path], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = publish_local(tmp_path / "store")
    try:
        http = local_server(monkeypatch, store)
        client_id = int(load_applications_ids(store)[0])
        assert http.get(f"/clients/{client_id}/score", headers=AUTH).status_code == 200
        assert not traffic.traffic_enabled()
    finally:
        reset_caches()


def load_applications_ids(store: Path) -> list[int]:
    local = LocalStore(store)
    try:
        page, _ = local.list_clients(limit=3)
    finally:
        local.close()
    return [client_id for client_id, _ in page]


# ---------------------------------------------------------------------------- route and CLI


def test_route_404_before_publish_then_the_published_summary(
    publish_local: Callable[[Path], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    small_data_dir: Path,
    trained_model: TrainingResult,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = publish_local(tmp_path / "store")
    try:
        http = local_server(monkeypatch, store)
        assert http.get("/monitoring/drift").status_code == 401
        missing = http.get("/monitoring/drift", headers=AUTH)
        assert missing.status_code == 404
        assert missing.json()["error"] == "drift_summary_not_found"
        assert "creditscore drift" in missing.json()["message"]

        out = tmp_path / "report"
        code = main(
            [
                "drift",
                "--data",
                str(small_data_dir),
                "--model",
                str(trained_model.version_dir),
                "--out",
                str(out),
                "--publish",
                f"local:{store}",
            ]
        )
        assert code == 0
        assert "published to local:" in capsys.readouterr().out
        answer = http.get("/monitoring/drift", headers=AUTH)
        assert answer.status_code == 200, answer.text
        assert answer.json() == json.loads((out / SUMMARY_FILE).read_text())
    finally:
        reset_caches()


def _drift_args(data: Path, model: Path, out: Path, *extra: str) -> list[str]:
    return ["drift", "--data", str(data), "--model", str(model), "--out", str(out), *extra]


def test_fail_on_drift_exit_code(
    small_data_dir: Path,
    trained_model: TrainingResult,
    drift_run: DriftRun,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = _drift_args(small_data_dir, trained_model.version_dir, tmp_path / "r")
    share = drift_run.summary["drift_share"]
    assert main([*args, "--fail-on-drift"]) == 0, "4% drifted is below the default 30%"
    assert main([*args, "--fail-on-drift", "--share-threshold", str(share)]) == EXIT_DRIFT
    verdicts = [line.split(":")[0] for line in capsys.readouterr().out.splitlines()]
    assert [v for v in verdicts if v.endswith("DRIFT")] == ["NO DRIFT", "DRIFT"]
    assert main([*args, "--share-threshold", str(share)]) == 0, "no alert without the flag"


def test_drift_command_refuses_bad_input(
    small_data_dir: Path, trained_model: TrainingResult, tmp_path: Path
) -> None:
    args = _drift_args(small_data_dir, trained_model.version_dir, tmp_path / "r")
    with pytest.raises(SystemExit) as bad_share:
        main([*args, "--share-threshold", "1.5"])
    assert bad_share.value.code == 2
    with pytest.raises(SystemExit, match="unknown store"):
        main([*args, "--publish", "s3://somewhere"])
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(_drift_args(empty, trained_model.version_dir, tmp_path / "r")) == 2
