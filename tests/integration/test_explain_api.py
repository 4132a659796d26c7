"""The explain routes, over HTTP (TestClient) and through the Lambda handler (events/ files).

A local store is published from the trained model and the small data set. Checked: the
contributions add up to the log-odds, equal LightGBM's own pred_contrib, and give the score
route's probability; top=K keeps additivity with a remainder; refusal reasons are ordered
and raise the risk; errors are clean; the model card and global importance are complete.
"""

from __future__ import annotations

import base64
import copy
import json
import math
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from settings_env import clear_settings_env

from creditscore_common import explain
from creditscore_common.api import reset_caches
from creditscore_common.features import FeatureSpec, transform_record
from creditscore_common.store.base import MODELS_PREFIX
from creditscore_common.version import MODEL_FILE, ONNX_FILE, REPORT_DIR
from serving.local_server import build_app, load_function
from training.data import NEW_CLIENTS_FILE, ApplicationTable, load_applications
from training.train import TrainingResult

pytestmark = pytest.mark.xdist_group("trained_model")

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "events"
TOKEN = "explain-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ADDITIVITY = 1e-6
REPORT_FIGURE = f"{REPORT_DIR}/roc.png"
ITEM_FIELDS = {
    "feature",
    "kind",
    "column",
    "label",
    "value",
    "raw_value",
    "contribution",
    "points",
    "factor",
    "direction",
    "sentence",
}


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def published(
    publish_local: Callable[[Path], Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A local store with the trained version (active) and the new clients. Read-only."""
    return publish_local(tmp_path_factory.mktemp("explain_api") / "store")


@pytest.fixture(scope="module")
def new_clients(small_data_dir: Path) -> ApplicationTable:
    return load_applications(small_data_dir / NEW_CLIENTS_FILE, with_target=False)


@pytest.fixture(scope="module")
def sample_ids(new_clients: ApplicationTable) -> list[int]:
    """Thirty clients spread over the file."""
    positions = np.linspace(0, new_clients.n_rows - 1, 30).astype(int)
    return [int(new_clients.ids[i]) for i in positions]


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Point the shared package at a store through the environment, as the apps read it."""

    def apply(store_path: Path, auth_mode: str = "token") -> None:
        clear_settings_env(monkeypatch)
        monkeypatch.setenv("STORE_BACKEND", "local")
        monkeypatch.setenv("LOCAL_STORE_PATH", str(store_path))
        monkeypatch.setenv("API_TOKEN", TOKEN)
        monkeypatch.setenv("AUTH_MODE", auth_mode)
        reset_caches()
        explain.clear_cache()

    yield apply
    reset_caches()
    explain.clear_cache()


def function_app(name: str) -> FastAPI:
    module = load_function(name)
    if module is None:
        pytest.fail(f"functions/{name}/app.py does not exist")
    app: FastAPI = module.app
    return app


def http(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(published: Path, configure: Any) -> TestClient:
    configure(published)
    return http(function_app("explain"))


@pytest.fixture
def score_client(client: TestClient) -> TestClient:
    """The score function on the same store (configured by ``client``)."""
    return http(function_app("score"))


@pytest.fixture(scope="module")
def native_booster(trained_model: TrainingResult) -> lgb.Booster:
    return lgb.Booster(model_file=str(trained_model.version_dir / MODEL_FILE))


@pytest.fixture(scope="module")
def spec(trained_model: TrainingResult) -> FeatureSpec:
    return FeatureSpec.from_dict(trained_model.metadata["feature_spec"])


def application_of(table: ApplicationTable, client_id: int) -> dict[str, Any]:
    (row,) = np.flatnonzero(table.ids == client_id)
    return {k: v for k, v in table.record(int(row)).items() if v is not None}


def get_explanation(client: TestClient, client_id: int, **params: Any) -> dict[str, Any]:
    response = client.get(f"/clients/{client_id}/explanation", headers=AUTH, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_additive(body: dict[str, Any]) -> None:
    total = math.fsum(item["contribution"] for item in body["contributions"])
    assert abs(body["base_value"] + total - body["log_odds"]) <= ADDITIVITY
    assert abs(body["contributions_sum"] - total) <= 1e-12
    assert body["additivity_gap"] <= ADDITIVITY
    assert body["probability_from_log_odds"] == pytest.approx(
        1.0 / (1.0 + math.exp(-(body["base_value"] + total))), abs=1e-9
    )


def assert_clean_error(response: Any, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["error"], str) and isinstance(body["message"], str)
    if code is not None:
        assert body["error"] == code
    assert "Traceback" not in response.text


# ---------------------------------------------------------------------------- local explanation


def test_explanations_add_up_and_match_the_score_route(
    client: TestClient,
    score_client: TestClient,
    sample_ids: list[int],
    trained_model: TrainingResult,
) -> None:
    parity = float(trained_model.metadata["onnx_parity"]["max_abs_difference"])
    for client_id in sample_ids[:12]:
        body = get_explanation(client, client_id)
        assert body["client_id"] == client_id
        assert body["model_version"] == trained_model.model_version
        assert body["n_features"] == len(trained_model.metadata["features"])
        assert len(body["contributions"]) == body["n_features"]
        assert all(set(item) == ITEM_FIELDS for item in body["contributions"])
        assert_additive(body)
        score = score_client.get(f"/clients/{client_id}/score", headers=AUTH).json()
        assert body["probability"] == score["probability"]
        assert body["decision"] == score["decision"]
        assert body["threshold"] == score["threshold"]
        # The ONNX probability and the booster's log-odds agree to the recorded parity.
        assert abs(body["probability_from_log_odds"] - body["probability"]) <= parity + 1e-6
        sizes = [abs(item["contribution"]) for item in body["contributions"]]
        assert sizes == sorted(sizes, reverse=True)
        for item in body["contributions"]:
            expected = "raises" if item["contribution"] > 0 else "lowers"
            if item["contribution"] == 0:
                expected = "neutral"
            assert item["direction"] == expected


def test_contributions_are_lightgbms_own(
    client: TestClient,
    new_clients: ApplicationTable,
    sample_ids: list[int],
    native_booster: lgb.Booster,
    spec: FeatureSpec,
) -> None:
    for client_id in sample_ids[:5]:
        body = get_explanation(client, client_id)
        x = transform_record(spec, application_of(new_clients, client_id))
        expected = native_booster.predict(x, pred_contrib=True)[0]
        by_feature = {item["feature"]: item["contribution"] for item in body["contributions"]}
        for j, feature in enumerate(spec.features):
            assert abs(by_feature[feature] - expected[j]) <= 1e-9, feature
        assert abs(body["base_value"] - expected[-1]) <= 1e-9


def test_values_labels_and_sentences_are_readable(
    client: TestClient, new_clients: ApplicationTable, sample_ids: list[int], spec: FeatureSpec
) -> None:
    client_id = sample_ids[3]
    application = application_of(new_clients, client_id)
    french = {
        i["feature"]: i for i in get_explanation(client, client_id, lang="fr")["contributions"]
    }
    english = {
        i["feature"]: i for i in get_explanation(client, client_id, lang="en")["contributions"]
    }
    origin = spec.feature_origin()
    for feature, item in french.items():
        assert item["label"] and item["label"] != feature
        assert item["sentence"].endswith(".")
        assert "risque de défaut" in item["sentence"]
        assert "risk of default" in english[feature]["sentence"]
        if origin[feature]["kind"] == "level":
            column = origin[feature]["column"]
            assert item["column"] == column
            assert item["raw_value"] == application.get(column)
    if "DAYS_BIRTH" in french:
        assert french["DAYS_BIRTH"]["value"].endswith(" ans")
        assert english["DAYS_BIRTH"]["value"].endswith(" years")
        assert french["DAYS_BIRTH"]["label"] == "Âge" and english["DAYS_BIRTH"]["label"] == "Age"
    if "AMT_CREDIT" in french and "AMT_CREDIT" in application:
        assert french["AMT_CREDIT"]["raw_value"] == application["AMT_CREDIT"]
        assert "\u202f" in french["AMT_CREDIT"]["value"] or application["AMT_CREDIT"] < 1000


def test_top_k_keeps_additivity_with_a_remainder(client: TestClient, sample_ids: list[int]) -> None:
    client_id = sample_ids[5]
    full = get_explanation(client, client_id)
    body = get_explanation(client, client_id, top=5, lang="en")
    assert body["top"] == 5
    items = body["contributions"]
    assert len(items) == 6
    assert [i["feature"] for i in items[:5]] == [i["feature"] for i in full["contributions"][:5]]
    other = items[-1]
    assert other["feature"] == explain.OTHER_FEATURES and other["kind"] == "other"
    rest = math.fsum(i["contribution"] for i in full["contributions"][5:])
    assert other["contribution"] == pytest.approx(rest, abs=1e-12)
    assert other["label"] == f"Other features ({full['n_features'] - 5})"
    assert_additive(body)
    # top beyond the number of features: every feature, no remainder.
    everything = get_explanation(client, client_id, top=1000)
    assert len(everything["contributions"]) == full["n_features"]
    assert all(i["kind"] != "other" for i in everything["contributions"])


def test_reasons_are_the_factors_pushing_towards_the_decision(
    client: TestClient, sample_ids: list[int]
) -> None:
    seen = set()
    for client_id in sample_ids:
        body = get_explanation(client, client_id)
        seen.add(body["decision"])
        refused = body["decision"] == "refuse"
        wanted = "raises" if refused else "lowers"
        reasons = body["reasons"]
        assert 1 <= len(reasons) <= explain.MAX_REASONS
        sizes = [abs(r["contribution"]) for r in reasons]
        assert sizes == sorted(sizes, reverse=True)
        assert all(r["direction"] == wanted for r in reasons)
        pushing = [f for f in body["factors"] if f["direction"] == wanted]
        assert [r["factor"] for r in reasons] == [f["factor"] for f in pushing[: len(reasons)]]
        verb = "augmente" if refused else "diminue"
        assert all(verb in r["sentence"] and "point" in r["sentence"] for r in reasons)
    assert seen == {"accept", "refuse"}, "the sample should hold both decisions"


def test_post_explain_equals_the_client_explanation(
    client: TestClient, new_clients: ApplicationTable, sample_ids: list[int]
) -> None:
    client_id = sample_ids[8]
    by_id = get_explanation(client, client_id, top=10)
    response = client.post(
        "/explain",
        headers=AUTH,
        params={"top": 10},
        json={"application": application_of(new_clients, client_id)},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["client_id"] is None
    assert body["probability"] == by_id["probability"]
    assert body["log_odds"] == pytest.approx(by_id["log_odds"], abs=1e-12)
    assert [i["feature"] for i in body["contributions"]] == [
        i["feature"] for i in by_id["contributions"]
    ]
    assert_additive(body)


def test_a_minimal_application_is_explained(client: TestClient) -> None:
    """The minimum fields only: the explanation adds up, other values read 'not provided'."""
    empty = client.post("/explain", headers=AUTH, json={"application": {}})
    assert_clean_error(empty, 422, "insufficient_information")
    minimal = {
        "AMT_INCOME_TOTAL": 150_000.0,
        "AMT_CREDIT": 500_000.0,
        "AMT_ANNUITY": 25_000.0,
        "DAYS_BIRTH": -14_000.0,
        "EXT_SOURCE_2": 0.5,
    }
    response = client.post(
        "/explain", headers=AUTH, params={"lang": "en"}, json={"application": minimal}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert_additive(body)
    raw_items = [
        i for i in body["contributions"] if i["kind"] == "raw" and i["feature"] not in minimal
    ]
    assert raw_items and all(i["value"] == "not provided" for i in raw_items)


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/clients/{id}/explanation"),
        ("POST", "/explain"),
        ("GET", "/model"),
        ("GET", "/model/importance"),
    ],
)
def test_every_route_needs_the_token(
    client: TestClient, sample_ids: list[int], method: str, path: str
) -> None:
    url = path.replace("{id}", str(sample_ids[0]))
    body: dict[str, Any] | None = {"application": {}} if method == "POST" else None
    assert_clean_error(client.request(method, url, json=body), 401, "unauthorized")
    wrong = {"Authorization": "Bearer nope"}
    assert_clean_error(client.request(method, url, json=body, headers=wrong), 401)


def test_unknown_client_is_404(client: TestClient) -> None:
    assert_clean_error(client.get("/clients/1/explanation", headers=AUTH), 404, "client_not_found")


@pytest.mark.parametrize(
    "params", [{"top": 0}, {"top": -3}, {"top": "ten"}, {"lang": "de"}], ids=str
)
def test_bad_query_is_422(
    client: TestClient, sample_ids: list[int], params: dict[str, Any]
) -> None:
    response = client.get(f"/clients/{sample_ids[0]}/explanation", headers=AUTH, params=params)
    assert_clean_error(response, 422, "invalid_request")


@pytest.mark.parametrize(
    "body",
    [
        {"application": {"EXT_SOURCE_2": 1.7}},
        {"application": {"NOT_A_COLUMN": 1}},
        {"application": {"DAYS_EMPLOYED": 12}},
        {},
    ],
    ids=["out-of-range", "unknown-field", "bad-days-employed", "no-application"],
)
def test_bad_application_is_422(client: TestClient, body: dict[str, Any]) -> None:
    assert_clean_error(client.post("/explain", headers=AUTH, json=body), 422, "invalid_request")


def test_a_model_txt_altered_after_loading_is_refused(
    published: Path, tmp_path: Path, configure: Any, sample_ids: list[int]
) -> None:
    store = tmp_path / "store"
    shutil.copytree(published, store)
    configure(store)
    client = http(function_app("explain"))
    assert client.get(f"/clients/{sample_ids[0]}/explanation", headers=AUTH).status_code == 200
    (model_txt,) = (store / MODELS_PREFIX).glob(f"*/{MODEL_FILE}")
    model_txt.write_text(model_txt.read_text() + "\n")
    explain.clear_cache()  # a cold start with the altered file
    response = client.get(f"/clients/{sample_ids[0]}/explanation", headers=AUTH)
    assert_clean_error(response, 503, "model_unavailable")


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("name", "score_status", "explain_status"),
    [
        pytest.param(REPORT_FIGURE, 200, 200, id="report-figure"),
        pytest.param(MODEL_FILE, 200, 503, id="booster"),
        pytest.param(ONNX_FILE, 503, 503, id="onnx"),
    ],
)
def test_each_function_refuses_only_the_altered_files_it_reads(
    published: Path,
    tmp_path: Path,
    configure: Any,
    sample_ids: list[int],
    name: str,
    score_status: int,
    explain_status: int,
) -> None:
    """A figure of the training report is read by no function: altering it stops nothing.

    The booster is read by the explain function only; the ONNX model by both.
    """
    store = tmp_path / "store"
    shutil.copytree(published, store)
    (version,) = (p for p in (store / MODELS_PREFIX).iterdir() if p.is_dir())
    _flip_a_byte(version / name)
    configure(store)  # a cold start on the altered version
    explain_function = http(function_app("explain"))
    score_function = http(function_app("score"))
    score = score_function.get(f"/clients/{sample_ids[0]}/score", headers=AUTH)
    explanation = explain_function.get(f"/clients/{sample_ids[0]}/explanation", headers=AUTH)
    for response, status in ((score, score_status), (explanation, explain_status)):
        if status == 200:
            assert response.status_code == 200, response.text
        else:
            assert_clean_error(response, status, "model_unavailable")
            assert "integrity" in response.json()["message"]
    if score_status == explain_status == 200:
        assert explanation.json()["probability"] == score.json()["probability"]


# ---------------------------------------------------------------------------- model card


def test_model_card(client: TestClient, trained_model: TrainingResult) -> None:
    meta = trained_model.metadata
    response = client.get("/model", headers=AUTH, params={"lang": "en"})
    assert response.status_code == 200, response.text
    card = response.json()
    assert card["model_version"] == trained_model.model_version
    assert card["created_at"] == meta["created_at"]
    assert card["threshold"] == meta["threshold"]
    assert (card["cost_fn"], card["cost_fp"]) == (meta["cost_fn"], meta["cost_fp"])
    assert card["training_data"] == {
        "file": meta["training_data"]["file"],
        "sha256": meta["training_data"]["sha256"],
        "n_clients": meta["training_data"]["n_clients"],
        "default_rate": meta["training_data"]["default_rate"],
    }
    assert len(card["training_data"]["sha256"]) == 64
    assert card["metrics"] == meta["metrics"]
    assert card["comparison"] == meta["comparison"] and len(card["comparison"]) >= 3
    assert card["chosen"]["name"] == meta["chosen"]["name"]
    assert card["n_features"] == len(meta["features"])
    assert len(card["intended_use"]) >= 2 and len(card["known_limits"]) >= 4
    limits = " ".join(card["known_limits"])
    for topic in ("CODE_GENDER", "Drift", "synthetic", "not validated"):
        assert topic in limits
    assert "human review" in " ".join(card["intended_use"])
    assert f"{meta['cost_fn']:g}" in " ".join(card["intended_use"])
    french = client.get("/model", headers=AUTH).json()
    assert french["lang"] == "fr" and french["known_limits"] != card["known_limits"]


def test_global_importance_is_sorted_and_labelled(
    client: TestClient, trained_model: TrainingResult
) -> None:
    full = client.get("/model/importance", headers=AUTH).json()
    assert full["model_version"] == trained_model.model_version
    values = [f["mean_abs_shap"] for f in full["features"]]
    assert values == sorted(values, reverse=True) and values[0] > 0
    assert [f["rank"] for f in full["features"]] == list(range(1, len(values) + 1))
    assert full["n_features"] == len(values) == len(trained_model.metadata["features"])
    assert all(f["label"] and f["label"] != f["feature"] for f in full["features"])
    top = client.get("/model/importance", headers=AUTH, params={"top": 5, "lang": "en"}).json()
    assert [f["feature"] for f in top["features"]] == [f["feature"] for f in full["features"][:5]]
    assert top["top"] == 5 and top["n_features"] == full["n_features"]
    response = client.get("/model/importance", headers=AUTH, params={"top": 0})
    assert_clean_error(response, 422)


def test_the_local_server_serves_the_explain_routes(
    published: Path, configure: Any, sample_ids: list[int]
) -> None:
    configure(published)
    client = http(build_app())
    assert_additive(get_explanation(client, sample_ids[2], top=3))
    assert client.get("/model", headers=AUTH).status_code == 200


# ---------------------------------------------------------------------------- Lambda handler


def load_event(name: str, client_id: int | None = None) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    if client_id is not None:
        old = event["pathParameters"]["client_id"]
        event["pathParameters"]["client_id"] = str(client_id)
        event["rawPath"] = event["rawPath"].replace(f"/{old}/", f"/{client_id}/")
        event["requestContext"]["http"]["path"] = event["rawPath"]
    return event


def lambda_context() -> SimpleNamespace:
    return SimpleNamespace(
        function_name="creditscore-explain",
        function_version="$LATEST",
        aws_request_id="00000000-0000-0000-0000-000000000000",
        memory_limit_in_mb=1024,
        get_remaining_time_in_millis=lambda: 10_000,
    )


def handler_body(response: dict[str, Any]) -> Any:
    body = response["body"]
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return json.loads(body)


@pytest.fixture
def handler(published: Path, configure: Any) -> Any:
    """The explain function's Lambda handler in jwt mode, as API Gateway calls it."""
    configure(published, auth_mode="jwt")
    module = load_function("explain")
    assert module is not None
    return module.handler


def test_events_exist_for_every_explain_route() -> None:
    names = {p.name for p in EVENTS.glob("*.json")}
    expected = {"explain_client.json", "explain_application.json"}
    assert expected | {"model_card.json", "model_importance.json"} <= names


def test_client_event_through_the_handler(
    handler: Any, sample_ids: list[int], trained_model: TrainingResult
) -> None:
    event = load_event("explain_client.json", sample_ids[4])
    response = handler(event, lambda_context())
    assert response["statusCode"] == 200, response
    body = handler_body(response)
    assert body["client_id"] == sample_ids[4]
    assert body["model_version"] == trained_model.model_version
    top = int(event["queryStringParameters"]["top"])
    assert body["top"] == top and len(body["contributions"]) == top + 1
    assert body["lang"] == event["queryStringParameters"]["lang"]
    assert_additive(body)


def test_application_event_through_the_handler(handler: Any) -> None:
    event = load_event("explain_application.json")
    response = handler(event, lambda_context())
    assert response["statusCode"] == 200, response
    body = handler_body(response)
    assert body["client_id"] is None
    assert_additive(body)
    assert body["lang"] == "en"


@pytest.mark.parametrize("name", ["model_card.json", "model_importance.json"])
def test_model_events_through_the_handler(
    handler: Any, name: str, trained_model: TrainingResult
) -> None:
    response = handler(load_event(name), lambda_context())
    assert response["statusCode"] == 200, response
    assert handler_body(response)["model_version"] == trained_model.model_version


@pytest.mark.parametrize(
    "name",
    ["explain_client.json", "explain_application.json", "model_card.json", "model_importance.json"],
)
def test_events_without_jwt_claims_are_401(handler: Any, name: str, sample_ids: list[int]) -> None:
    event = copy.deepcopy(
        load_event(name, sample_ids[0] if name == "explain_client.json" else None)
    )
    event["requestContext"].pop("authorizer")
    response = handler(event, lambda_context())
    assert response["statusCode"] == 401
    assert handler_body(response)["error"] == "unauthorized"


def test_unknown_client_event_is_404(handler: Any) -> None:
    response = handler(load_event("explain_client.json", 1), lambda_context())
    assert response["statusCode"] == 404
    assert handler_body(response)["error"] == "client_not_found"
