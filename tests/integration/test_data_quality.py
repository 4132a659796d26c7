"""Implausible values: training and `predict` read them as missing, the API refuses them.

One quick training run on a copy of the small generated data set with impossible values
injected (a negative income, a birth date in the future, an external score of 7.5, amounts
and a count of 1e308, an employment longer than the client's life): the run still trains,
and its metadata, MLflow run and printed summary count the values per rule and column. Batch
prediction scores them as missing, and the API answers 422 naming the field and the rule for
each of the same values. Both sides read one set of rules (creditscore_common.plausibility):
a value read as missing in training is exactly one the API refuses.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from settings_env import clear_settings_env

from creditscore_common.api import reset_caches
from creditscore_common.plausibility import CROSS_FIELD_RULE, RULES
from creditscore_common.reference_schema import ID_COLUMN, TARGET_COLUMN, load_schema
from creditscore_common.schemas import ScoreRequest
from creditscore_common.version import METADATA_FILE
from serving.local_server import build_app
from training.data import NEW_CLIENTS_FILE, TRAIN_FILE, ApplicationTable, load_applications
from training.predict import predict_file
from training.report import print_training_summary
from training.train import TrainConfig, TrainingResult, train

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("data_quality")]

TOKEN = "data-quality-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MINIMAL = {
    "AMT_INCOME_TOTAL": 150_000.0,
    "AMT_CREDIT": 500_000.0,
    "AMT_ANNUITY": 25_000.0,
    "DAYS_BIRTH": -14_000.0,
    "EXT_SOURCE_2": 0.5,
}

#: Rows kept from the small data set: enough for a quick run, and quicker.
N_TRAIN = 2500
N_NEW = 600
#: (file line, column, value written, rule it breaks), in application_train.csv.
INJECTED = [
    (3, "AMT_INCOME_TOTAL", "-1", "amount_range"),
    (4, "DAYS_BIRTH", "400", "days_in_past"),
    (5, "EXT_SOURCE_2", "7.5", "score_range"),
    (6, "AMT_CREDIT", "1e308", "amount_range"),
    (7, "CNT_CHILDREN", "1e308", "count_range"),
    (8, "DAYS_EMPLOYED", "-1e308", "days_within_120_years"),
]
#: An employment longer than the client's life (line, DAYS_BIRTH, DAYS_EMPLOYED).
LONGER_THAN_LIFE = (9, "-10000", "-12000")
#: ... and in application_test.csv.
INJECTED_NEW = [
    (2, "EXT_SOURCE_3", "-0.5", "score_range"),
    (3, "AMT_ANNUITY", "1e308", "amount_range"),
]


@dataclass(frozen=True)
class InjectedRun:
    data: Path
    result: TrainingResult
    tracking_uri: str


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def write_rows(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def set_cells(path: Path, cells: list[tuple[int, str, str]]) -> None:
    rows = read_rows(path)
    for line, column, value in cells:
        rows[line - 1][rows[0].index(column)] = value
    write_rows(path, rows)


def inject(data: Path) -> None:
    line, birth, employed = LONGER_THAN_LIFE
    cells = [(ln, column, value) for ln, column, value, _ in INJECTED]
    cells += [(line, "DAYS_BIRTH", birth), (line, "DAYS_EMPLOYED", employed)]
    set_cells(data / TRAIN_FILE, cells)
    set_cells(data / NEW_CLIENTS_FILE, [(ln, c, v) for ln, c, v, _ in INJECTED_NEW])


@pytest.fixture(scope="module")
def injected(
    small_data_dir: Path, shared_build: Callable[[str, Callable[[Path], InjectedRun]], InjectedRun]
) -> InjectedRun:
    """One quick training run on the small data set with implausible values injected."""

    def run(root: Path) -> InjectedRun:
        data = root / "data"
        data.mkdir()
        for name, n_rows in ((TRAIN_FILE, N_TRAIN), (NEW_CLIENTS_FILE, N_NEW)):
            write_rows(data / name, read_rows(small_data_dir / name)[: n_rows + 1])
        inject(data)
        (root / "mlflow").mkdir()
        uri = f"sqlite:///{root}/mlflow/mlflow.db"
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MLFLOW_TRACKING_URI", uri)
            config = TrainConfig.quick(progress=False, ablations=False)
            result = train(data, root / "artifacts", config)
        return InjectedRun(data, result, uri)

    return shared_build("data_quality_run", run)


EXPECTED_REFERENCE = {
    "amount_range": {"AMT_CREDIT": 1, "AMT_INCOME_TOTAL": 1},
    "count_range": {"CNT_CHILDREN": 1},
    "days_in_past": {"DAYS_BIRTH": 1},
    "days_within_120_years": {"DAYS_EMPLOYED": 1},
    "employment_longer_than_life": {"DAYS_EMPLOYED": 1},
    "score_range": {"EXT_SOURCE_2": 1},
}
EXPECTED_NEW = {"amount_range": {"AMT_ANNUITY": 1}, "score_range": {"EXT_SOURCE_3": 1}}


def assert_counts(block: dict[str, Any], expected: dict[str, dict[str, int]]) -> None:
    assert set(block["rules"]) == set(RULES)
    for rule, figures in block["rules"].items():
        columns = expected.get(rule, {})
        assert figures == {"values": sum(columns.values()), "columns": columns}, rule


# ---------------------------------------------------------------------------- training


def test_training_reads_them_as_missing_and_records_them(injected: InjectedRun) -> None:
    metadata = json.loads((injected.result.version_dir / METADATA_FILE).read_text())
    assert metadata["data_quality"] == injected.result.metadata["data_quality"]
    quality = metadata["data_quality"]
    reference, new_clients = quality["reference"], quality["new_clients"]
    assert reference["file"] == TRAIN_FILE and new_clients["file"] == NEW_CLIENTS_FILE
    assert reference["rows_affected"] == 7 and reference["values_treated_as_missing"] == 7
    assert new_clients["rows_affected"] == 2 and new_clients["values_treated_as_missing"] == 2
    assert_counts(reference, EXPECTED_REFERENCE)
    assert_counts(new_clients, EXPECTED_NEW)
    # It still trained: a model version with the usual figures.
    assert 0.5 < metadata["metrics"]["cv_auc"] < 1.0
    # Every row of the file was read; the held-out clients (training.holdout) were set aside.
    training_data = metadata["training_data"]
    assert training_data["n_clients_in_file"] == reference["n_rows"]
    assert training_data["n_clients"] + metadata["holdout"]["n_clients"] == reference["n_rows"]


def test_mlflow_run_logs_the_counts(injected: InjectedRun) -> None:
    from mlflow import MlflowClient

    from training.tracking import EXPERIMENT_NAME

    client = MlflowClient(tracking_uri=injected.tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
    assert experiment is not None
    (run,) = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.model_version = '{injected.result.model_version}'",
    )
    metrics = run.data.metrics
    for rule in RULES:
        expected = sum(EXPECTED_REFERENCE.get(rule, {}).values())
        assert metrics[f"data_quality.{rule}"] == expected, rule
        expected_new = sum(EXPECTED_NEW.get(rule, {}).values())
        assert metrics[f"data_quality.new_clients.{rule}"] == expected_new, rule
    assert metrics["data_quality.rows_affected"] == 7
    assert metrics["data_quality.new_clients.rows_affected"] == 2


def test_the_summary_prints_the_counts(
    injected: InjectedRun, capsys: pytest.CaptureFixture[str]
) -> None:
    print_training_summary(injected.result)
    out = capsys.readouterr().out
    n_rows = injected.result.metadata["data_quality"]["reference"]["n_rows"]
    assert f"{TRAIN_FILE}: 7 implausible values in 7 of {n_rows:,} rows" in out
    assert "amount_range 2 (AMT_CREDIT 1, AMT_INCOME_TOTAL 1)" in out
    assert "employment_longer_than_life 1 (DAYS_EMPLOYED 1)" in out
    assert f"{NEW_CLIENTS_FILE}: 2 implausible values" in out


def test_predict_scores_them_as_missing(
    injected: InjectedRun, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Batch prediction gives the same probabilities as a file with those cells left empty."""
    blank = tmp_path / "blank.csv"
    shutil.copyfile(injected.data / NEW_CLIENTS_FILE, blank)
    set_cells(blank, [(line, column, "") for line, column, _, _ in INJECTED_NEW])
    model = injected.result.version_dir
    with caplog.at_level("WARNING", logger="training.data"):
        summary = predict_file(model, injected.data / NEW_CLIENTS_FILE, tmp_path / "a.csv")
    assert summary.data_quality.counts == EXPECTED_NEW
    assert summary.data_quality.rows_affected == 2
    assert any("score_range EXT_SOURCE_3 on lines 2" in r.getMessage() for r in caplog.records)
    clean = predict_file(model, blank, tmp_path / "b.csv")
    assert clean.data_quality.n_values == 0
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


# ------------------------------------------------------------- training <-> the API


def raw_records(path: Path) -> list[dict[str, Any]]:
    """Each row of a file as an application would send it (empty cells left out)."""
    schema = load_schema()
    records = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            record: dict[str, Any] = {}
            for name, cell in row.items():
                if name in (ID_COLUMN, TARGET_COLUMN) or cell == "":
                    continue
                record[name] = cell if schema[name].is_categorical else float(cell)
            records.append(record)
    return records


def refused_fields(record: dict[str, Any]) -> set[str]:
    """The fields the API names for a record, less the birth date of a cross-field error."""
    try:
        ScoreRequest.model_validate({"application": record})
    except ValidationError as error:
        return {
            str(e["loc"][-1])
            for e in error.errors()
            if not (e["loc"][-1] == "DAYS_BIRTH" and e["msg"].startswith(CROSS_FIELD_RULE))
        }
    return set()


def missing_fields(table: ApplicationTable, record: dict[str, Any], row: int) -> set[str]:
    """The fields a row gave that the loader read as missing."""
    loaded = table.record(row)
    return {name for name in record if loaded[name] is None}


@pytest.mark.parametrize("file", [TRAIN_FILE, NEW_CLIENTS_FILE])
def test_read_as_missing_exactly_when_the_api_refuses(injected: InjectedRun, file: str) -> None:
    path = injected.data / file
    table = load_applications(path, with_target=file == TRAIN_FILE)
    records = raw_records(path)
    assert len(records) == table.n_rows
    affected = 0
    for row, record in enumerate(records):
        missing = missing_fields(table, record, row)
        assert refused_fields(record) == missing, (row + 2, missing)
        affected += bool(missing)
    assert affected == table.quality.rows_affected > 0


# ---------------------------------------------------------------------------- the API


@pytest.fixture
def api(
    publish_local: Callable[[Path], Path],
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[TestClient]:
    """The local server (score and explain routes) on a store with the shared model."""
    store = publish_local(tmp_path_factory.mktemp("data_quality_api") / "store")
    clear_settings_env(monkeypatch)
    monkeypatch.setenv("STORE_BACKEND", "local")
    monkeypatch.setenv("LOCAL_STORE_PATH", str(store))
    monkeypatch.setenv("API_TOKEN", TOKEN)
    monkeypatch.setenv("AUTH_MODE", "token")
    reset_caches()
    yield TestClient(build_app(), raise_server_exceptions=False)
    reset_caches()


def test_the_api_refuses_the_same_values_naming_field_and_rule(api: TestClient) -> None:
    assert api.post("/score", json={"application": MINIMAL}, headers=AUTH).status_code == 200
    for _, column, value, rule in INJECTED + INJECTED_NEW:
        application = {**MINIMAL, column: float(value)}
        for route in ("/score", "/explain"):
            response = api.post(route, json={"application": application}, headers=AUTH)
            assert response.status_code == 422, (route, column, response.text)
            body = response.json()
            assert body["error"] == "invalid_request" and column in body["message"]
            (detail,) = body["details"]
            assert detail["field"] == column and detail["problem"].startswith(f"{rule}: ")
    _, birth, employed = LONGER_THAN_LIFE
    application = {**MINIMAL, "DAYS_BIRTH": float(birth), "DAYS_EMPLOYED": float(employed)}
    response = api.post("/score", json={"application": application}, headers=AUTH)
    assert response.status_code == 422
    details = response.json()["details"]
    assert sorted(d["field"] for d in details) == ["DAYS_BIRTH", "DAYS_EMPLOYED"]
    assert all(d["problem"].startswith(f"{CROSS_FIELD_RULE}: ") for d in details)


def test_no_value_the_api_accepts_is_read_as_missing(small_data_dir: Path) -> None:
    """The generated files hold only plausible values: nothing read as missing, none refused."""
    for file in (TRAIN_FILE, NEW_CLIENTS_FILE):
        table = load_applications(small_data_dir / file, with_target=file == TRAIN_FILE)
        assert table.quality.n_values == 0
        sample = raw_records(small_data_dir / file)[:: max(1, table.n_rows // 300)]
        assert all(refused_fields(record) == set() for record in sample)
        assert not np.isnan(table.columns["DAYS_BIRTH"]).any()
