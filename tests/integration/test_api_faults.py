"""Faults of the HTTP surface: cursor overflow, body size, auth before parsing, broken bodies.

Run on the client function (a published local store, as in test_client_api.py) and on the
local server app (the three functions together).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from test_client_api import AUTH, load_client_function

from creditscore_common.api import MAX_BODY_BYTES, reset_caches
from creditscore_common.store.local import LocalStore
from serving.local_server import build_app

if TYPE_CHECKING:
    pass

JSON = {"content-type": "application/json"}

pytestmark = pytest.mark.xdist_group("trained_model")


@pytest.fixture(scope="module")
def store_dir(
    publish_local: Callable[[Path], Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return publish_local(tmp_path_factory.mktemp("faults_store"))


@pytest.fixture
def client_function(monkeypatch: pytest.MonkeyPatch, store_dir: Path) -> Iterator[ModuleType]:
    yield load_client_function(monkeypatch, store_dir)
    reset_caches()


@pytest.fixture
def api(client_function: ModuleType) -> TestClient:
    return TestClient(client_function.app)


@pytest.fixture
def server(client_function: ModuleType) -> TestClient:
    return TestClient(build_app())


@pytest.fixture
def client_id(api: TestClient) -> int:
    answer = api.get("/clients?limit=1", headers=AUTH)
    assert answer.status_code == 200
    return int(answer.json()["clients"][0]["client_id"])


def assert_error(answer: object, status: int, code: str) -> dict[str, object]:
    from httpx import Response

    assert isinstance(answer, Response)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) <= {"error", "message", "details"}
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]
    return dict(body)


# --------------------------------------------------------------------------- 1. cursor


@pytest.mark.parametrize("cursor", [str(2**63), str(10**30), "-1"])
def test_an_out_of_range_cursor_is_422_naming_cursor(api: TestClient, cursor: str) -> None:
    body = assert_error(api.get(f"/clients?cursor={cursor}", headers=AUTH), 422, "invalid_request")
    assert "cursor" in str(body["message"])


def test_the_largest_cursor_is_an_empty_last_page(api: TestClient) -> None:
    answer = api.get(f"/clients?cursor={2**63 - 1}", headers=AUTH)
    assert answer.status_code == 200
    assert answer.json()["clients"] == [] and answer.json()["next_cursor"] is None


def test_the_local_store_takes_any_cursor(store_dir: Path) -> None:
    store = LocalStore(store_dir)
    try:
        assert store.list_clients(5, 2**63) == ([], None)
        assert store.list_clients(5, 10**40) == ([], None)
        rows, _ = store.list_clients(5, -(10**40))
        assert rows == store.list_clients(5)[0]
    finally:
        store.close()


# --------------------------------------------------------------------------- 2. size, auth


def test_a_large_body_is_413_from_content_length(api: TestClient, client_id: int) -> None:
    big = b'{"decision": "accept", "note": "' + b"x" * (30 * 1024 * 1024) + b'"}'
    answer = api.post(f"/clients/{client_id}/decisions", content=big, headers=AUTH | JSON)
    assert_error(answer, 413, "payload_too_large")


def test_a_large_streamed_body_is_413(api: TestClient, client_id: int) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b" " * 1024

    answer = api.post(f"/clients/{client_id}/decisions", content=chunks(), headers=AUTH | JSON)
    assert "content-length" not in answer.request.headers
    assert_error(answer, 413, "payload_too_large")


def test_a_body_at_the_limit_is_parsed(api: TestClient, client_id: int) -> None:
    body = b'{"decision": "maybe"}'
    body += b" " * (MAX_BODY_BYTES - len(body))
    answer = api.post(f"/clients/{client_id}/decisions", content=body, headers=AUTH | JSON)
    assert_error(answer, 422, "invalid_request")  # parsed: a wrong decision, not 413


@pytest.mark.parametrize("body", [b'{"decision": "acc', b"\xff\xfe", b"x" * 100_000])
def test_anonymous_requests_are_401_before_the_body(
    api: TestClient, client_id: int, body: bytes
) -> None:
    answer = api.post(f"/clients/{client_id}/decisions", content=body, headers=JSON)
    assert_error(answer, 401, "unauthorized")
    assert answer.headers["www-authenticate"] == "Bearer"


def test_a_wrong_token_is_still_judged_by_the_dependency(api: TestClient, client_id: int) -> None:
    answer = api.get(f"/clients/{client_id}", headers={"Authorization": "Bearer wrong"})
    body = assert_error(answer, 401, "unauthorized")
    assert body["message"] == "wrong bearer token"


@pytest.mark.parametrize("path", ["/health", "/docs", "/openapi.json"])
def test_open_routes_need_no_token(server: TestClient, path: str) -> None:
    assert server.get(path).status_code == 200


# --------------------------------------------------------------------------- 3. broken bodies


def test_truncated_json_names_line_and_column(api: TestClient, client_id: int) -> None:
    answer = api.post(
        f"/clients/{client_id}/decisions", content=b'{\n  "decision": "acc', headers=AUTH | JSON
    )
    body = assert_error(answer, 422, "invalid_request")
    message = str(body["message"])
    assert message.startswith("invalid JSON body: ")
    assert "at line 2 column" in message
    assert "invalid fields" not in message
    assert isinstance(body["details"], list)
    assert [d["field"] for d in body["details"]] == ["body"]


def test_a_text_body_must_be_json(api: TestClient, client_id: int) -> None:
    answer = api.post(
        f"/clients/{client_id}/decisions",
        content=b'{"decision": "accept"}',
        headers=AUTH | {"content-type": "text/plain"},
    )
    body = assert_error(answer, 422, "invalid_request")
    assert "application/json" in str(body["message"])


def test_a_non_utf8_body_is_422(api: TestClient, client_id: int) -> None:
    answer = api.post(
        f"/clients/{client_id}/decisions",
        content='{"decision": "accepté"}'.encode("latin-1"),
        headers=AUTH | JSON,
    )
    body = assert_error(answer, 422, "invalid_request")
    assert "UTF-8" in str(body["message"])


def test_every_answered_status_is_documented(server: TestClient) -> None:
    schema = server.get("/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            declared = set(operation["responses"])
            assert {"401", "413", "422", "500", "503"} <= declared, (method, path)


# --------------------------------------------------------------------------- 4. methods


@pytest.mark.parametrize("path", ["/health", "/clients", "/score"])
def test_unsupported_methods_are_405_with_allow(server: TestClient, path: str) -> None:
    answer = server.request("TRACE", path, headers=AUTH)
    assert_error(answer, 405, "http_error")
    allowed = {m.strip() for m in answer.headers["allow"].split(",")}
    assert allowed and "TRACE" not in allowed
