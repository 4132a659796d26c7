"""The Lambda entry points: every sample event of events/ through its function's handler.

The events are API Gateway HTTP API (payload v2) events, as the JWT authorizer forwards
them: verified claims under requestContext.authorizer.jwt.claims. The functions run in
``jwt`` mode on a local store published from the trained model. Also here: publishing twice
through the `creditscore` command changes nothing the second time.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from cloudformation import load_template
from settings_env import clear_settings_env

from creditscore_common.api import reset_caches
from creditscore_common.store.base import ACTIVE_POINTER, MODELS_PREFIX
from creditscore_common.store.local import DATABASE_FILE, LocalStore
from serving.local_server import load_function
from training.cli import main
from training.data import NEW_CLIENTS_FILE, load_applications
from training.train import TrainingResult

pytestmark = pytest.mark.xdist_group("trained_model")

REPO = Path(__file__).resolve().parents[2]
EVENTS = sorted((REPO / "events").glob("*.json"))
SCORE_FIELDS = {
    "probability",
    "threshold",
    "decision",
    "band",
    "borderline",
    "margin",
    "model_version",
}


def template_routes() -> dict[str, tuple[str, bool]]:
    """'METHOD /path' -> (function folder name, whether the route is open) from template.yaml."""
    template = load_template()
    routes: dict[str, tuple[str, bool]] = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        folder = name.removesuffix("Function").lower()
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] != "HttpApi":
                continue
            properties = event["Properties"]
            route = f"{properties['Method'].upper()} {properties['Path']}"
            open_route = properties.get("Auth", {}).get("Authorizer") == "NONE"
            routes[route] = (folder, open_route)
    return routes


def load_event(path: Path, client_id: int | None = None) -> dict[str, Any]:
    """A sample event; ``client_id`` replaces the one in its path (the samples use 100002)."""
    event: dict[str, Any] = json.loads(path.read_text())
    parameters = event.get("pathParameters") or {}
    if client_id is not None and "client_id" in parameters:
        old = parameters["client_id"]
        parameters["client_id"] = str(client_id)
        event["rawPath"] = event["rawPath"].replace(f"/{old}", f"/{client_id}")
        event["requestContext"]["http"]["path"] = event["rawPath"]
        if event.get("body") and not event.get("isBase64Encoded"):
            event["body"] = event["body"].replace(old, str(client_id))
    return event


def lambda_context(function: str) -> SimpleNamespace:
    return SimpleNamespace(
        function_name=f"creditscore-{function}",
        function_version="$LATEST",
        aws_request_id="00000000-0000-0000-0000-000000000000",
        memory_limit_in_mb=1024,
        get_remaining_time_in_millis=lambda: 10_000,
    )


def without_claims(event: dict[str, Any]) -> dict[str, Any]:
    stripped = copy.deepcopy(event)
    stripped["requestContext"].pop("authorizer", None)
    return stripped


def json_body(response: dict[str, Any]) -> Any:
    assert response["headers"]["content-type"].startswith("application/json"), response
    body = response["body"]
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return json.loads(body)


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def published(
    publish_local: Callable[[Path], Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return publish_local(tmp_path_factory.mktemp("handlers") / "store")


@pytest.fixture(scope="module")
def known_client(small_data_dir: Path) -> int:
    return int(load_applications(small_data_dir / NEW_CLIENTS_FILE, with_target=False).ids[1])


@pytest.fixture
def jwt_env(published: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The functions' environment on AWS, but on a copy of the local store (jwt auth)."""
    import shutil

    store = tmp_path / "store"
    shutil.copytree(published, store)  # the client function may write decisions
    clear_settings_env(monkeypatch)
    monkeypatch.setenv("STORE_BACKEND", "local")
    monkeypatch.setenv("LOCAL_STORE_PATH", str(store))
    monkeypatch.setenv("AUTH_MODE", "jwt")
    reset_caches()
    yield store
    reset_caches()


def function_module(name: str) -> ModuleType:
    """functions/<name>/app.py, imported after the environment is set (fails if absent)."""
    module = load_function(name)
    if module is None:
        pytest.fail(f"functions/{name}/app.py does not exist")
    return module


# ---------------------------------------------------------------------------- events


def test_every_event_is_a_template_route() -> None:
    routes = template_routes()
    assert EVENTS, "no sample event in events/"
    for path in EVENTS:
        event = json.loads(path.read_text())
        assert event["version"] == "2.0", path.name
        assert event["routeKey"] in routes, f"{path.name}: {event['routeKey']} is not routed"
        method, _ = event["routeKey"].split(" ", 1)
        assert event["requestContext"]["http"]["method"] == method
        _, open_route = routes[event["routeKey"]]
        has_claims = "authorizer" in event["requestContext"]
        assert has_claims != open_route, f"{path.name}: claims only on authorized routes"


def test_the_score_events_exist() -> None:
    names = {path.name for path in EVENTS}
    assert {"health.json", "score_client.json", "score_application.json"} <= names


@pytest.mark.parametrize("event_file", EVENTS, ids=[p.stem for p in EVENTS])
def test_event_through_its_handler(
    event_file: Path,
    jwt_env: Path,
    known_client: int,
    trained_model: TrainingResult,
    request: pytest.FixtureRequest,
) -> None:
    if event_file.stem == "monitoring_drift":  # served once a summary is published
        store = LocalStore(jwt_env)
        store.put_drift_summary(request.getfixturevalue("drift_run").summary)
        store.close()
    event = load_event(event_file, known_client)
    function, _ = template_routes()[event["routeKey"]]
    module = function_module(function)
    response = module.handler(event, lambda_context(function))
    body = json_body(response)
    if function == "score":
        assert response["statusCode"] == 200, body
    else:
        assert 200 <= response["statusCode"] < 300, body
    if event_file.stem == "health":
        assert body["status"] == "ok" and body["model_version"] == trained_model.model_version
    elif event_file.stem == "score_client":
        assert set(body) == SCORE_FIELDS | {"client_id"}
        assert body["client_id"] == known_client
    elif event_file.stem == "score_application":
        assert set(body) == SCORE_FIELDS
        assert 0.0 <= body["probability"] <= 1.0
        assert body["threshold"] == trained_model.metadata["threshold"]
    elif event_file.stem == "monitoring_drift":
        assert body["model_version"] == trained_model.model_version
        assert body["verdict"] in ("drift", "no drift", "insufficient data")


@pytest.mark.parametrize("function", ["score", "explain", "client"])
def test_openapi_documents_the_error_body_of_every_route(function: str, jwt_env: Path) -> None:
    """Every error answer is `ErrorResponse`; each route's OpenAPI entry says so."""
    schema = function_module(function).app.openapi()
    assert "ErrorResponse" in schema["components"]["schemas"]
    operations = [op for path in schema["paths"].values() for op in path.values()]
    assert operations
    for operation in operations:
        errors = {code: answer for code, answer in operation["responses"].items() if code >= "4"}
        assert {"401", "503"} <= set(errors), operation["operationId"]
        for code, answer in errors.items():
            reference = answer["content"]["application/json"]["schema"]["$ref"]
            assert reference.endswith("/ErrorResponse"), (operation["operationId"], code)


@pytest.mark.parametrize(
    "event_file",
    [p for p in EVENTS if "authorizer" in json.loads(p.read_text())["requestContext"]],
    ids=lambda p: p.stem,
)
def test_event_without_claims_is_401(event_file: Path, jwt_env: Path, known_client: int) -> None:
    """In jwt mode a bearer header alone proves nothing: API Gateway's claims are needed."""
    event = without_claims(load_event(event_file, known_client))
    assert event["headers"].get("authorization", "").startswith("Bearer ")
    function, _ = template_routes()[event["routeKey"]]
    response = function_module(function).handler(event, lambda_context(function))
    assert response["statusCode"] == 401
    assert json_body(response)["error"] == "unauthorized"


def test_empty_claims_are_401(jwt_env: Path, known_client: int) -> None:
    event = load_event(REPO / "events" / "score_client.json", known_client)
    event["requestContext"]["authorizer"]["jwt"]["claims"] = {}
    response = function_module("score").handler(event, lambda_context("score"))
    assert response["statusCode"] == 401


def test_health_needs_no_claims(jwt_env: Path, trained_model: TrainingResult) -> None:
    event = json.loads((REPO / "events" / "health.json").read_text())
    assert "authorizer" not in event["requestContext"]
    event["headers"].pop("authorization", None)
    response = function_module("score").handler(event, lambda_context("score"))
    assert response["statusCode"] == 200
    assert json_body(response)["model_version"] == trained_model.model_version


def test_base64_body_is_accepted(jwt_env: Path) -> None:
    """API Gateway may base64-encode a body; the function must decode it."""
    event = load_event(REPO / "events" / "score_application.json")
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    response = function_module("score").handler(event, lambda_context("score"))
    assert response["statusCode"] == 200
    assert set(json_body(response)) == SCORE_FIELDS


def test_unknown_client_through_the_handler_is_404(jwt_env: Path) -> None:
    event = load_event(REPO / "events" / "score_client.json", 1)
    response = function_module("score").handler(event, lambda_context("score"))
    assert response["statusCode"] == 404
    assert json_body(response)["error"] == "client_not_found"


def test_invalid_application_through_the_handler_is_422(jwt_env: Path) -> None:
    event = load_event(REPO / "events" / "score_application.json")
    body = json.loads(event["body"])
    body["application"]["AMT_INCOME_TOTAL"] = -1
    event["body"] = json.dumps(body)
    response = function_module("score").handler(event, lambda_context("score"))
    assert response["statusCode"] == 422
    assert "AMT_INCOME_TOTAL" in json_body(response)["message"]


# ---------------------------------------------------------------------------- publish twice


def tree_listing(folder: Path) -> list[tuple[str, int, int, str]]:
    """(path, size, mtime_ns, sha256) of every file: any rewrite shows."""
    return [
        (
            p.relative_to(folder).as_posix(),
            p.stat().st_size,
            p.stat().st_mtime_ns,
            hashlib.sha256(p.read_bytes()).hexdigest(),
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    ]


def database_snapshot(root: Path) -> tuple[int, str]:
    """(row count, sha256 of every row in id order) of the clients table."""
    with sqlite3.connect(root / DATABASE_FILE) as db:
        rows = db.execute("SELECT client_id, application FROM clients ORDER BY client_id")
        digest = hashlib.sha256()
        count = 0
        for client_id, application in rows:
            digest.update(f"{client_id}\t{application}\n".encode())
            count += 1
    return count, digest.hexdigest()


def test_publish_twice_through_the_cli_changes_nothing(
    trained_model: TrainingResult,
    small_data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = tmp_path / "store"
    n_new = load_applications(small_data_dir / NEW_CLIENTS_FILE, with_target=False).n_rows
    argv = [
        "publish",
        "--model",
        str(trained_model.version_dir),
        "--data",
        str(small_data_dir),
        "--store",
        f"local:{store}",
    ]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert f"model {trained_model.model_version}: copied, now active" in first
    assert f"{n_new} new clients, {n_new} written" in first
    models_before = tree_listing(store / MODELS_PREFIX)
    rows_before = database_snapshot(store)
    assert rows_before[0] == n_new
    assert (store / MODELS_PREFIX / ACTIVE_POINTER).read_text().strip() == (
        trained_model.model_version
    )

    assert main(argv) == 0
    second = capsys.readouterr().out
    assert "already in the store" in second and "already active" in second
    assert f"{n_new} new clients, 0 written" in second
    assert tree_listing(store / MODELS_PREFIX) == models_before
    assert database_snapshot(store) == rows_before


def test_publish_refuses_an_altered_model(
    trained_model: TrainingResult,
    small_data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import shutil

    version = tmp_path / trained_model.model_version
    shutil.copytree(trained_model.version_dir, version)
    onnx = version / "model.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-1])
    store = tmp_path / "store"
    code = main(
        [
            "publish",
            "--model",
            str(version),
            "--data",
            str(small_data_dir),
            "--store",
            f"local:{store}",
        ]
    )
    assert code == 2
    assert "model.onnx" in capsys.readouterr().err
    assert not (store / MODELS_PREFIX / ACTIVE_POINTER).exists()
