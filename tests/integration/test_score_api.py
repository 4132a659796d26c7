"""The score routes over HTTP (FastAPI's TestClient) on a local store published from a model.

Every route test runs twice: on the score function's own app (functions/score/app.py, as on
Lambda) and on the local server's app (serving.local_server.build_app(), every function's
routes together). Token auth, as the local server uses it.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from settings_env import clear_settings_env

from creditscore_common.api import reset_caches
from creditscore_common.store.base import ACTIVE_POINTER, MODELS_PREFIX
from creditscore_common.store.local import LocalStore
from creditscore_common.version import METADATA_FILE, ONNX_FILE
from serving.local_server import build_app, load_function
from training.data import NEW_CLIENTS_FILE, TRAIN_FILE, ApplicationTable, load_applications
from training.predict import predict_file
from training.publish import publish
from training.train import TrainingResult

pytestmark = pytest.mark.xdist_group("trained_model")

TOKEN = "s3cret-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SCORE_FIELDS = {
    "client_id",
    "probability",
    "threshold",
    "decision",
    "band",
    "borderline",
    "margin",
    "model_version",
}
#: The least an application must give to be scored (schemas.MINIMUM_FIELDS + one score).
MINIMAL = {
    "AMT_INCOME_TOTAL": 150_000.0,
    "AMT_CREDIT": 500_000.0,
    "AMT_ANNUITY": 25_000.0,
    "DAYS_BIRTH": -14_000.0,
    "EXT_SOURCE_2": 0.5,
}
PARITY_TOLERANCE = 1e-6


# ---------------------------------------------------------------------------- fixtures


def publish_into(root: Path, version_dir: Path, data_dir: Path) -> None:
    store = LocalStore(root, create=True)
    try:
        publish(version_dir, data_dir, store, progress=False)
    finally:
        store.close()


@pytest.fixture(scope="module")
def published(
    trained_model: TrainingResult, small_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A local store with the trained version (active) and the new clients. Read-only."""
    root = tmp_path_factory.mktemp("score_api") / "store"
    publish_into(root, trained_model.version_dir, small_data_dir)
    return root


@pytest.fixture(scope="module")
def new_clients(small_data_dir: Path) -> ApplicationTable:
    return load_applications(small_data_dir / NEW_CLIENTS_FILE, with_target=False)


@pytest.fixture(scope="module")
def batch_predictions(
    trained_model: TrainingResult, small_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[int, tuple[float, str]]:
    """`creditscore predict` on the new clients: id -> (probability, decision)."""
    out = tmp_path_factory.mktemp("predictions") / "predictions.csv"
    predict_file(trained_model.version_dir, small_data_dir / NEW_CLIENTS_FILE, out)
    with out.open() as handle:
        return {
            int(row["SK_ID_CURR"]): (float(row["probability"]), row["decision"])
            for row in csv.DictReader(handle)
        }


@pytest.fixture
def sample_ids(new_clients: ApplicationTable) -> list[int]:
    """Forty clients spread over the file."""
    positions = np.linspace(0, new_clients.n_rows - 1, 40).astype(int)
    return [int(new_clients.ids[i]) for i in positions]


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Point the shared package at a store through the environment, as the apps read it."""

    def apply(store_path: Path, **extra: str) -> None:
        clear_settings_env(monkeypatch)
        monkeypatch.setenv("STORE_BACKEND", "local")
        monkeypatch.setenv("LOCAL_STORE_PATH", str(store_path))
        monkeypatch.setenv("API_TOKEN", TOKEN)
        monkeypatch.setenv("AUTH_MODE", "token")
        for name, value in extra.items():
            monkeypatch.setenv(name, value)
        reset_caches()

    yield apply
    reset_caches()  # no cached settings, store or model leak into the next test


def make_app(kind: str) -> FastAPI:
    """The app under test, imported after the environment is set."""
    if kind == "score":
        module = load_function("score")
        assert module is not None
        app: FastAPI = module.app
        return app
    return build_app()


def http(app: FastAPI) -> TestClient:
    # Server errors come back as responses (a 500 is a failure to assert on, not a crash).
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture(params=["score", "local_server"])
def app_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def client(app_kind: str, published: Path, configure: Any) -> TestClient:
    configure(published)
    return http(make_app(app_kind))


def raw_application(table: ApplicationTable, client_id: int) -> dict[str, Any]:
    """A client's application as a caller would send it: missing values left out."""
    (row,) = np.flatnonzero(table.ids == client_id)
    return {k: v for k, v in table.record(int(row)).items() if v is not None}


def assert_clean_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert isinstance(body.get("error"), str) and isinstance(body.get("message"), str)
    if code is not None:
        assert body["error"] == code
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body


def copy_store(published: Path, target: Path) -> Path:
    shutil.copytree(published, target)
    return target


# ---------------------------------------------------------------------------- health


def test_health_needs_no_token(client: TestClient, trained_model: TrainingResult) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "model_version": trained_model.model_version,
        "detail": None,
    }


# ---------------------------------------------------------------------------- scoring


def test_score_client_answers_every_field(
    client: TestClient, trained_model: TrainingResult, sample_ids: list[int]
) -> None:
    threshold = trained_model.metadata["threshold"]
    for client_id in sample_ids[:10]:
        response = client.get(f"/clients/{client_id}/score", headers=AUTH)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == SCORE_FIELDS
        assert body["client_id"] == client_id
        assert 0.0 <= body["probability"] <= 1.0
        assert body["threshold"] == threshold
        expected = "refuse" if body["probability"] >= threshold else "accept"
        assert body["decision"] == expected
        assert body["margin"] == body["probability"] - threshold
        assert body["model_version"] == trained_model.model_version


def test_score_application_without_client_id(
    client: TestClient,
    trained_model: TrainingResult,
    new_clients: ApplicationTable,
    sample_ids: list[int],
) -> None:
    client_id = sample_ids[3]
    application = raw_application(new_clients, client_id)
    response = client.post("/score", json={"application": application}, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == SCORE_FIELDS - {"client_id"}
    assert body["model_version"] == trained_model.model_version
    assert body["threshold"] == trained_model.metadata["threshold"]
    by_id = client.get(f"/clients/{client_id}/score", headers=AUTH).json()
    assert body["probability"] == pytest.approx(by_id["probability"], abs=1e-12)
    assert body["decision"] == by_id["decision"]


def test_an_empty_application_is_not_scored(client: TestClient) -> None:
    """A blank form is not a client: 422 naming the minimum fields, not a probability."""
    response = client.post("/score", json={"application": {}}, headers=AUTH)
    assert_clean_error(response, 422, "insufficient_information")
    assert "AMT_INCOME_TOTAL" in response.json()["message"]
    minimal = client.post("/score", json={"application": MINIMAL}, headers=AUTH)
    assert minimal.status_code == 200, minimal.text
    assert 0.0 <= minimal.json()["probability"] <= 1.0


def test_probabilities_match_batch_predict(
    client: TestClient,
    sample_ids: list[int],
    batch_predictions: dict[int, tuple[float, str]],
    trained_model: TrainingResult,
) -> None:
    threshold = trained_model.metadata["threshold"]
    for client_id in sample_ids:
        body = client.get(f"/clients/{client_id}/score", headers=AUTH).json()
        batch_probability, batch_decision = batch_predictions[client_id]
        assert abs(body["probability"] - batch_probability) <= PARITY_TOLERANCE, client_id
        if abs(batch_probability - threshold) > PARITY_TOLERANCE:
            assert body["decision"] == batch_decision, client_id


def test_posted_applications_match_batch_predict(
    client: TestClient,
    new_clients: ApplicationTable,
    sample_ids: list[int],
    batch_predictions: dict[int, tuple[float, str]],
) -> None:
    for client_id in sample_ids[::4]:
        application = raw_application(new_clients, client_id)
        body = client.post("/score", json={"application": application}, headers=AUTH).json()
        assert abs(body["probability"] - batch_predictions[client_id][0]) <= PARITY_TOLERANCE


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"Authorization": "Bearer "},
    ],
    ids=["none", "wrong", "longer", "basic", "no-scheme", "empty"],
)
def test_unauthenticated_calls_are_refused(
    client: TestClient, sample_ids: list[int], headers: dict[str, str]
) -> None:
    for response in (
        client.get(f"/clients/{sample_ids[0]}/score", headers=headers),
        client.post("/score", json={"application": {}}, headers=headers),
    ):
        body = assert_clean_error(response, 401, "unauthorized")
        assert response.headers.get("www-authenticate") == "Bearer"
        assert TOKEN not in json.dumps(body)


def test_no_api_token_on_the_server_refuses_everyone(
    app_kind: str, published: Path, configure: Any
) -> None:
    configure(published, API_TOKEN="")
    client = http(make_app(app_kind))
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer anything"}):
        assert_clean_error(client.post("/score", json={"application": {}}, headers=headers), 401)


def test_unknown_client_is_404(client: TestClient, small_data_dir: Path) -> None:
    reference = load_applications(small_data_dir / TRAIN_FILE, with_target=True)
    for client_id in (int(reference.ids[0]), 1, 0):  # a reference client is not a new one
        response = client.get(f"/clients/{client_id}/score", headers=AUTH)
        body = assert_clean_error(response, 404, "client_not_found")
        assert str(client_id) in body["message"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"AMT_INCOME_TOTAL": -1.0}, "AMT_INCOME_TOTAL", id="negative-income"),
        pytest.param({"AMT_CREDIT": -406597.5}, "AMT_CREDIT", id="negative-credit"),
        pytest.param({"DAYS_BIRTH": -121 * 365.25}, "DAYS_BIRTH", id="older-than-120"),
        pytest.param({"DAYS_BIRTH": 10.0}, "DAYS_BIRTH", id="born-in-the-future"),
        pytest.param({"SALARY_IN_BITCOIN": 3.0}, "SALARY_IN_BITCOIN", id="unknown-column"),
        pytest.param({"AMT_CREDIT": "a lot"}, "AMT_CREDIT", id="string-amount"),
        pytest.param({"AMT_CREDIT": "406597.5"}, "AMT_CREDIT", id="numeric-string-amount"),
        pytest.param({"AMT_CREDIT": True}, "AMT_CREDIT", id="boolean-amount"),
        pytest.param({"AMT_CREDIT": [406597.5]}, "AMT_CREDIT", id="list-amount"),
        pytest.param({"AMT_CREDIT": {"value": 1}}, "AMT_CREDIT", id="object-amount"),
        pytest.param({"CODE_GENDER": 1}, "CODE_GENDER", id="number-category"),
        pytest.param({"EXT_SOURCE_2": 1.5}, "EXT_SOURCE_2", id="score-above-1"),
        pytest.param({"FLAG_MOBIL": 2}, "FLAG_MOBIL", id="flag-2"),
        pytest.param({"DAYS_EMPLOYED": 100.0}, "DAYS_EMPLOYED", id="employed-in-the-future"),
        pytest.param({"NAME_CONTRACT_TYPE": "x" * 1000}, "NAME_CONTRACT_TYPE", id="long-category"),
    ],
)
def test_invalid_application_is_422_naming_the_field(
    client: TestClient, change: dict[str, Any], field: str
) -> None:
    application = {"AMT_INCOME_TOTAL": 202500.0, "AMT_CREDIT": 406597.5, "DAYS_BIRTH": -9461.0}
    application.update(change)
    response = client.post("/score", json={"application": application}, headers=AUTH)
    body = assert_clean_error(response, 422, "invalid_request")
    assert field in body["message"]
    assert field in [detail["field"] for detail in body["details"]]


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        pytest.param({"AMT_INCOME_TOTAL": -1.0}, "AMT_INCOME_TOTAL", "amount_range", id="income"),
        pytest.param({"AMT_INCOME_TOTAL": 1e15}, "AMT_INCOME_TOTAL", "amount_range", id="1e15"),
        pytest.param({"AMT_CREDIT": 1e308}, "AMT_CREDIT", "amount_range", id="credit-1e308"),
        pytest.param({"CNT_CHILDREN": 1e308}, "CNT_CHILDREN", "count_range", id="children-1e308"),
        pytest.param({"CNT_CHILDREN": 31}, "CNT_CHILDREN", "count_range", id="31-children"),
        pytest.param({"DAYS_BIRTH": 400.0}, "DAYS_BIRTH", "days_in_past", id="born-later"),
        pytest.param(
            {"DAYS_EMPLOYED": -1e308}, "DAYS_EMPLOYED", "days_within_120_years", id="employed-1e308"
        ),
        pytest.param(
            {"DAYS_EMPLOYED": 100.0}, "DAYS_EMPLOYED", "days_in_past", id="employed-later"
        ),
        pytest.param({"EXT_SOURCE_2": 7.5}, "EXT_SOURCE_2", "score_range", id="score-7.5"),
        pytest.param({"OWN_CAR_AGE": 500}, "OWN_CAR_AGE", "car_age_range", id="car-age"),
        pytest.param({"HOUR_APPR_PROCESS_START": 24}, "HOUR_APPR_PROCESS_START", "hour_range"),
        pytest.param({"REGION_RATING_CLIENT": 4}, "REGION_RATING_CLIENT", "rating_range"),
        pytest.param({"FLAG_MOBIL": 0.5}, "FLAG_MOBIL", "flag_value", id="flag-0.5"),
        pytest.param({"LIVINGAREA_AVG": 1.5}, "LIVINGAREA_AVG", "normalised_range"),
    ],
)
def test_implausible_values_are_422_naming_field_and_rule(
    client: TestClient, change: dict[str, Any], field: str, rule: str
) -> None:
    """The plausibility rules training reads as missing: the API refuses them by name."""
    response = client.post("/score", json={"application": {**MINIMAL, **change}}, headers=AUTH)
    body = assert_clean_error(response, 422, "invalid_request")
    assert field in body["message"]
    (detail,) = body["details"]
    assert detail["field"] == field and detail["location"] == f"body.application.{field}"
    assert detail["problem"].startswith(f"{rule}: "), detail
    assert "e+308" not in response.text and "1e308" not in body["message"]


def test_employment_longer_than_life_is_422_naming_both_fields(client: TestClient) -> None:
    application = {**MINIMAL, "DAYS_BIRTH": -10_000.0, "DAYS_EMPLOYED": -12_000.0}
    response = client.post("/score", json={"application": application}, headers=AUTH)
    body = assert_clean_error(response, 422, "invalid_request")
    assert "DAYS_BIRTH" in body["message"] and "DAYS_EMPLOYED" in body["message"]
    assert sorted(d["field"] for d in body["details"]) == ["DAYS_BIRTH", "DAYS_EMPLOYED"]
    assert all(d["problem"].startswith("employment_longer_than_life: ") for d in body["details"])
    # An employment as long as the client's life, or none at all, is still scored.
    for employed in (-10_000.0, 365243.0):
        fine = {**application, "DAYS_EMPLOYED": employed}
        assert client.post("/score", json={"application": fine}, headers=AUTH).status_code == 200


def test_missing_application_key_is_422(client: TestClient) -> None:
    for payload in ({}, {"AMT_CREDIT": 1.0}, {"applications": {}}):
        body = assert_clean_error(
            client.post("/score", json=payload, headers=AUTH), 422, "invalid_request"
        )
        assert "application" in body["message"]


def test_invalid_body_is_checked_after_auth(client: TestClient) -> None:
    """An anonymous caller learns nothing about the schema."""
    response = client.post("/score", json={"application": {"AMT_CREDIT": -1}})
    assert_clean_error(response, 401)


FUZZ_BODIES = [
    b"",
    b"null",
    b"[]",
    b"[{}]",
    b'"application"',
    b"42",
    b"{",
    b'{"application": null}',
    b'{"application": []}',
    b'{"application": "AMT_CREDIT=1"}',
    b'{"application": {"AMT_CREDIT": null}, "extra": 1}',
    b'{"application": {"AMT_CREDIT": 1e400}}',
    b'{"application": {"AMT_CREDIT": NaN}}',
    b'{"application": {"AMT_CREDIT": -Infinity}}',
    b'{"application": {"AMT_CREDIT": ' + b"9" * 400 + b"}}",
    b'{"application": {"DAYS_BIRTH": -' + b"9" * 400 + b"}}",
    b'{"application": {"AMT_CREDIT": {"a": {"b": {"c": [1, 2, {"d": null}]}}}}}',
    b'{"application": {"CODE_GENDER": ["F"]}}',
    b'{"application": {"": 1}}',
    b'{"application": {"AMT_CREDIT": 1, "AMT_CREDIT": "x"}}',
    b'{"application": ' + b"[" * 500 + b"]" * 500 + b"}",
    b"\xff\xfe\x00garbage",
]


#: Odd but valid applications: any answer but a server error.
ODD_BODIES = [
    b'{"application": {"CODE_GENDER": "\\u0000"}}',
    b'{"application": {"NAME_CONTRACT_TYPE": "\\ud83d\\ude00 \\"; DROP TABLE clients; --"}}',
    b'{"application": {"AMT_CREDIT": 1e308, "AMT_ANNUITY": 5e-324}}',
    b'{"application": {"AMT_CREDIT": 0, "AMT_INCOME_TOTAL": 0, "AMT_ANNUITY": 0}}',
    b'{"application": {"DAYS_BIRTH": -43830, "DAYS_EMPLOYED": 365243}}',
]


@pytest.mark.parametrize("body", FUZZ_BODIES, ids=range(len(FUZZ_BODIES)))
def test_invalid_bodies_are_4xx(client: TestClient, body: bytes) -> None:
    response = client.post(
        "/score", content=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert_clean_error(response, response.status_code)


@pytest.mark.parametrize("body", ODD_BODIES, ids=range(len(ODD_BODIES)))
def test_odd_bodies_never_cause_a_server_error(client: TestClient, body: bytes) -> None:
    response = client.post(
        "/score", content=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code < 500, (response.status_code, response.text)
    if response.status_code == 200:
        assert 0.0 <= response.json()["probability"] <= 1.0
    else:
        assert_clean_error(response, response.status_code)


@pytest.mark.parametrize(
    "client_id",
    ["abc", "-1", "1.5", "1e3", "%00", "99999999999999999999", "9" * 40, str(2**63)],
)
def test_odd_client_ids_are_4xx(client: TestClient, client_id: str) -> None:
    response = client.get(f"/clients/{client_id}/score", headers=AUTH)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert_clean_error(response, response.status_code)


def test_unknown_categories_and_odd_values_still_score(client: TestClient) -> None:
    application = {
        **MINIMAL,
        "CODE_GENDER": "XNA",
        "NAME_CONTRACT_TYPE": "Crypto loans",
        "ORGANIZATION_TYPE": "",
        "AMT_CREDIT": 0.0,
        "AMT_INCOME_TOTAL": 1e8,  # 100 M: odd, yet under 100 × the reference maximum
        "DAYS_EMPLOYED": 365243.0,
        "CNT_CHILDREN": 19,
    }
    response = client.post("/score", json={"application": application}, headers=AUTH)
    assert response.status_code == 200, response.text
    assert 0.0 <= response.json()["probability"] <= 1.0


# ---------------------------------------------------------------------------- store failures


def test_missing_store_is_503(app_kind: str, tmp_path: Path, configure: Any) -> None:
    missing = tmp_path / "no-store-here"
    configure(missing)
    client = http(make_app(app_kind))
    for response in (
        client.get("/clients/100002/score", headers=AUTH),
        client.post("/score", json={"application": {}}, headers=AUTH),
    ):
        body = assert_clean_error(response, 503, "store_unavailable")
        assert str(missing) in body["message"]
    health = client.get("/health")
    assert health.status_code in (200, 503)
    assert health.json().get("status") != "ok"
    assert not missing.exists(), "a missing store must not be created by the API"


def test_no_active_version_is_503(
    app_kind: str, published: Path, tmp_path: Path, configure: Any, sample_ids: list[int]
) -> None:
    store = copy_store(published, tmp_path / "store")
    (store / MODELS_PREFIX / ACTIVE_POINTER).unlink()
    configure(store)
    client = http(make_app(app_kind))
    body = assert_clean_error(
        client.get(f"/clients/{sample_ids[0]}/score", headers=AUTH), 503, "model_unavailable"
    )
    assert "no model version is active" in body["message"]
    assert_clean_error(
        client.post("/score", json={"application": MINIMAL}, headers=AUTH), 503, "model_unavailable"
    )
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert "no model version is active" in health.json()["detail"]


def test_altered_model_is_refused_with_503(
    app_kind: str,
    published: Path,
    tmp_path: Path,
    configure: Any,
    trained_model: TrainingResult,
) -> None:
    store = copy_store(published, tmp_path / "store")
    onnx = store / MODELS_PREFIX / trained_model.model_version / ONNX_FILE
    onnx.write_bytes(onnx.read_bytes() + b"\x00")
    configure(store)
    client = http(make_app(app_kind))
    body = assert_clean_error(
        client.post("/score", json={"application": MINIMAL}, headers=AUTH), 503, "model_unavailable"
    )
    assert "integrity" in body["message"]


def test_active_version_missing_from_the_store_is_503(
    app_kind: str, published: Path, tmp_path: Path, configure: Any
) -> None:
    store = copy_store(published, tmp_path / "store")
    (store / MODELS_PREFIX / ACTIVE_POINTER).write_text("20990101-000000-deadbeef\n")
    configure(store)
    client = http(make_app(app_kind))
    assert_clean_error(
        client.post("/score", json={"application": MINIMAL}, headers=AUTH), 503, "model_unavailable"
    )


# ---------------------------------------------------------------------------- threshold


def version_with_threshold(
    trained_model: TrainingResult, threshold: float, where: Path, suffix: str
) -> tuple[Path, str]:
    """A copy of the trained version whose metadata.json carries another threshold.

    metadata.json is not among the hashed files, so editing it keeps the version valid; it
    gets its own version name so that the store takes it as a new version.
    """
    version = f"{trained_model.model_version}-{suffix}"
    folder = where / version
    shutil.copytree(trained_model.version_dir, folder)
    metadata = json.loads((folder / METADATA_FILE).read_text())
    assert METADATA_FILE not in metadata["sha256"]
    metadata["threshold"] = threshold
    metadata["model_version"] = version
    (folder / METADATA_FILE).write_text(json.dumps(metadata, indent=2))
    return folder, version


def test_decision_follows_the_metadata_threshold(
    app_kind: str,
    published: Path,
    tmp_path: Path,
    configure: Any,
    trained_model: TrainingResult,
    small_data_dir: Path,
    sample_ids: list[int],
    batch_predictions: dict[int, tuple[float, str]],
) -> None:
    probabilities = sorted(batch_predictions[i][0] for i in sample_ids)
    # Between two sample probabilities, near the middle: both decisions must appear.
    middle = len(probabilities) // 2
    threshold = (probabilities[middle - 1] + probabilities[middle]) / 2
    assert threshold != trained_model.metadata["threshold"]
    folder, version = version_with_threshold(trained_model, threshold, tmp_path, "t")
    store = copy_store(published, tmp_path / "store")
    publish_into(store, folder, small_data_dir)

    configure(store)
    client = http(make_app(app_kind))
    decisions = []
    for client_id in sample_ids:
        body = client.get(f"/clients/{client_id}/score", headers=AUTH).json()
        assert body["model_version"] == version
        assert body["threshold"] == threshold
        assert body["decision"] == ("refuse" if body["probability"] >= threshold else "accept")
        assert body["margin"] == body["probability"] - threshold
        decisions.append(body["decision"])
    assert decisions.count("refuse") == len(sample_ids) - middle
    assert decisions.count("accept") == middle


def test_a_published_version_reaches_a_running_app(
    app_kind: str,
    published: Path,
    tmp_path: Path,
    configure: Any,
    trained_model: TrainingResult,
    small_data_dir: Path,
) -> None:
    """No redeploy: the active pointer is read again after MODEL_REFRESH_SECONDS."""
    store = copy_store(published, tmp_path / "store")
    configure(store, MODEL_REFRESH_SECONDS="0")
    client = http(make_app(app_kind))
    application = {**MINIMAL, "AMT_CREDIT": 406597.5, "AMT_INCOME_TOTAL": 202500.0}
    before = client.post("/score", json={"application": application}, headers=AUTH).json()
    assert before["model_version"] == trained_model.model_version

    folder, version = version_with_threshold(trained_model, 0.0, tmp_path, "always-refuse")
    publish_into(store, folder, small_data_dir)
    after = client.post("/score", json={"application": application}, headers=AUTH).json()
    assert after.get("model_version") == version, after
    assert after["threshold"] == 0.0 and after["decision"] == "refuse"
    assert after["probability"] == before["probability"]
    assert client.get("/health").json()["model_version"] == version
