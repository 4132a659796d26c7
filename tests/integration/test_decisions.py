"""The decision audit log: append-only, every concurrent write kept, on both backends.

The local store is driven through the API (TestClient) and through two store instances on
the same folder (two processes); the aws store under moto, with its tables created from the
Properties of template.yaml, through the API with the store and model swapped in.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from cloudformation import create_table_from_template
from fastapi.testclient import TestClient

from creditscore_common import decisions, reference_index
from creditscore_common.api import get_models, get_store, reset_caches
from creditscore_common.decisions import DecisionRequest, new_decided_at
from creditscore_common.errors import StoreUnavailableError
from creditscore_common.provider import ModelProvider
from creditscore_common.store import Store
from creditscore_common.store.local import DATABASE_FILE, LocalStore
from serving.local_server import load_function
from training.data import NEW_CLIENTS_FILE, load_applications
from training.publish import publish

if TYPE_CHECKING:
    from training.train import TrainingResult

pytestmark = pytest.mark.xdist_group("trained_model")

TOKEN = "test-token-decisions"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parents[2]
N_CONCURRENT = 20
DECIDED_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z#[0-9a-f]{32}$")
REGION = "eu-west-3"


@pytest.fixture(scope="module")
def client_ids(small_data_dir: Path) -> list[int]:
    table = load_applications(small_data_dir / NEW_CLIENTS_FILE, with_target=False)
    return [int(i) for i in table.ids[:50]]


@pytest.fixture(scope="module")
def store_dir(
    trained_model: TrainingResult, small_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    folder = tmp_path_factory.mktemp("decisions_store")
    store = LocalStore(folder, create=True)
    publish(trained_model.version_dir, small_data_dir, store, progress=False)
    store.close()
    return folder


@pytest.fixture
def client_function(monkeypatch: pytest.MonkeyPatch, store_dir: Path) -> Iterator[ModuleType]:
    monkeypatch.setenv("STORE_BACKEND", "local")
    monkeypatch.setenv("LOCAL_STORE_PATH", str(store_dir))
    monkeypatch.setenv("API_TOKEN", TOKEN)
    monkeypatch.setenv("AUTH_MODE", "token")
    reset_caches()
    reference_index.clear_cache()
    module = load_function("client")
    assert module is not None
    yield module
    module.app.dependency_overrides.clear()
    reset_caches()


def post_concurrently(app: Any, client_id: int, n: int = N_CONCURRENT) -> list[dict[str, Any]]:
    """``n`` POSTs released at once from ``n`` threads (one TestClient each)."""
    barrier = threading.Barrier(n)
    answers: list[Any] = [None] * n

    def post(i: int) -> None:
        api = TestClient(app)
        barrier.wait()
        answers[i] = api.post(
            f"/clients/{client_id}/decisions",
            json={"decision": "refuse" if i % 2 else "accept", "comment": f"advisor note {i}"},
            headers=AUTH,
        )

    threads = [threading.Thread(target=post, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [201] * n, [a.text for a in answers]
    return [a.json() for a in answers]


def check_log(listed: list[dict[str, Any]], posted: list[dict[str, Any]], client_id: int) -> None:
    """Exactly the posted records, none changed, oldest first."""
    assert len(listed) == len(posted)
    assert sorted(map(repr, listed)) == sorted(map(repr, posted))
    assert len({r["decided_at"] for r in listed}) == len(listed)
    assert [r["decided_at"] for r in listed] == sorted(r["decided_at"] for r in listed)
    assert {r["comment"] for r in listed} == {f"advisor note {i}" for i in range(len(posted))}
    for record in listed:
        assert record["client_id"] == client_id
        assert DECIDED_AT.match(record["decided_at"])
        assert 0 <= record["probability"] <= 1 and 0 < record["threshold"] < 1


# --------------------------------------------------------------------------- local store


def test_concurrent_posts_are_all_kept_locally(
    client_function: ModuleType, client_ids: list[int]
) -> None:
    client_id = client_ids[0]
    posted = post_concurrently(client_function.app, client_id)
    listed = TestClient(client_function.app).get(f"/clients/{client_id}/decisions", headers=AUTH)
    assert listed.status_code == 200
    check_log(listed.json()["decisions"], posted, client_id)
    assert {r["advisor"] for r in posted} == {"local-advisor"}  # from the token, not the body


def test_two_processes_writing_at_once_keep_every_decision(
    client_function: ModuleType, store_dir: Path, client_ids: list[int]
) -> None:
    # Two store instances = two SQLite connections, as two server processes would hold.
    stores = [LocalStore(store_dir), LocalStore(store_dir)]
    models = [ModelProvider(store) for store in stores]
    client_id = client_ids[1]
    barrier = threading.Barrier(N_CONCURRENT)
    records: list[Any] = [None] * N_CONCURRENT

    def decide(i: int) -> None:
        request = DecisionRequest(decision="accept", comment=f"advisor note {i}")
        barrier.wait()
        records[i] = decisions.record_decision(
            stores[i % 2], models[i % 2], client_id, request, f"advisor-{i}"
        ).model_dump()

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(N_CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    check_log(stores[0].list_decisions(client_id), records, client_id)
    for store in stores:
        store.close()


def test_the_local_log_is_append_only(store_dir: Path, client_ids: list[int]) -> None:
    store = LocalStore(store_dir)
    record = {
        "client_id": client_ids[2],
        "decided_at": new_decided_at(),
        "decision": "accept",
        "comment": "first",
        "advisor": "a",
        "probability": 0.1,
        "threshold": 0.5,
        "model_version": "v",
    }
    store.add_decision(record)
    with pytest.raises(StoreUnavailableError):
        store.add_decision({**record, "comment": "an overwrite attempt"})
    database = sqlite3.connect(store_dir / DATABASE_FILE)
    for statement in ("UPDATE decisions SET comment = 'changed'", "DELETE FROM decisions"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            database.execute(statement)
    database.close()
    assert [r["comment"] for r in store.list_decisions(client_ids[2])] == ["first"]
    store.close()


@pytest.mark.parametrize(
    "body",
    [
        {"decision": "maybe"},
        {"decision": "accept", "comment": "x" * 1001},
        {"decision": "accept", "advisor": "someone-else"},
        {"comment": "no decision"},
    ],
)
def test_invalid_bodies_are_422(
    client_function: ModuleType, client_ids: list[int], body: dict[str, Any]
) -> None:
    answer = TestClient(client_function.app).post(
        f"/clients/{client_ids[3]}/decisions", json=body, headers=AUTH
    )
    assert answer.status_code == 422, answer.text


def test_decisions_of_an_unknown_client_are_404(client_function: ModuleType) -> None:
    api = TestClient(client_function.app)
    assert (
        api.post("/clients/1/decisions", json={"decision": "accept"}, headers=AUTH).status_code
        == 404
    )
    assert api.get("/clients/1/decisions", headers=AUTH).status_code == 404


def test_a_long_comment_is_kept_whole(client_function: ModuleType, client_ids: list[int]) -> None:
    api = TestClient(client_function.app)
    comment = "é" * 1000
    posted = api.post(
        f"/clients/{client_ids[4]}/decisions",
        json={"decision": "refuse", "comment": comment},
        headers=AUTH,
    )
    assert posted.status_code == 201
    listed = api.get(f"/clients/{client_ids[4]}/decisions", headers=AUTH).json()["decisions"]
    assert listed == [posted.json()] and listed[0]["comment"] == comment


def test_decisions_outlive_the_client_row_locally(
    client_function: ModuleType, store_dir: Path, client_ids: list[int]
) -> None:
    """Issue 13 §2.10: deleting a client's row made its recorded decisions unreachable."""
    api = TestClient(client_function.app)
    client_id = client_ids[9]
    posted = [
        api.post(f"/clients/{client_id}/decisions", json={"decision": d}, headers=AUTH)
        for d in ("accept", "refuse")
    ]
    assert [p.status_code for p in posted] == [201, 201]
    database = sqlite3.connect(store_dir / DATABASE_FILE)
    with database:
        assert database.execute("DELETE FROM clients WHERE client_id = ?", (client_id,)).rowcount
    database.close()
    assert api.get(f"/clients/{client_id}", headers=AUTH).status_code == 404
    listed = api.get(f"/clients/{client_id}/decisions", headers=AUTH)
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"client_id": client_id, "decisions": [p.json() for p in posted]}
    # A new decision needs a score, hence the application: that one is 404.
    assert (
        api.post(f"/clients/{client_id}/decisions", json={"decision": "accept"}, headers=AUTH)
    ).status_code == 404


@pytest.mark.parametrize("client_id", [2**63 - 1, 2**63, 10**40])
def test_decisions_of_an_impossible_id_are_404(client_function: ModuleType, client_id: int) -> None:
    answer = TestClient(client_function.app).get(f"/clients/{client_id}/decisions", headers=AUTH)
    assert answer.status_code == 404, answer.text


# --------------------------------------------------------------------------- aws (moto)


@pytest.fixture
def aws_store(
    monkeypatch: pytest.MonkeyPatch,
    trained_model: TrainingResult,
    small_data_dir: Path,
    tmp_path: Path,
) -> Iterator[Store]:
    import boto3
    from moto import mock_aws

    from creditscore_common.store.aws import AwsStore

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_table_from_template(dynamodb, "ClientsTable", "clients")
        create_table_from_template(dynamodb, "DecisionsTable", "decisions")
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket="models", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        store = AwsStore(
            bucket="models",
            clients_table="clients",
            region=REGION,
            cache_dir=tmp_path / "cache",
            decisions_table="decisions",
        )
        publish(trained_model.version_dir, small_data_dir, store, progress=False)
        yield store


def test_concurrent_posts_are_all_kept_on_dynamodb(
    client_function: ModuleType, aws_store: Store, client_ids: list[int]
) -> None:
    models = ModelProvider(aws_store)
    overrides: dict[Callable[..., Any], Callable[..., Any]] = {
        get_store: lambda: aws_store,
        get_models: lambda: models,
    }
    client_function.app.dependency_overrides.update(overrides)
    client_id = client_ids[5]
    posted = post_concurrently(client_function.app, client_id)
    listed = TestClient(client_function.app).get(f"/clients/{client_id}/decisions", headers=AUTH)
    assert listed.status_code == 200
    check_log(listed.json()["decisions"], posted, client_id)
    assert aws_store.list_decisions(client_ids[6]) == []


def test_decisions_outlive_the_client_item_on_dynamodb(
    client_function: ModuleType, aws_store: Store, client_ids: list[int]
) -> None:
    import boto3

    models = ModelProvider(aws_store)
    overrides: dict[Callable[..., Any], Callable[..., Any]] = {
        get_store: lambda: aws_store,
        get_models: lambda: models,
    }
    client_function.app.dependency_overrides.update(overrides)
    api = TestClient(client_function.app)
    client_id = client_ids[10]
    posted = api.post(f"/clients/{client_id}/decisions", json={"decision": "refuse"}, headers=AUTH)
    assert posted.status_code == 201, posted.text
    boto3.client("dynamodb", region_name=REGION).delete_item(
        TableName="clients", Key={"client_id": {"N": str(client_id)}}
    )
    assert api.get(f"/clients/{client_id}", headers=AUTH).status_code == 404
    listed = api.get(f"/clients/{client_id}/decisions", headers=AUTH)
    assert listed.status_code == 200, listed.text
    assert listed.json()["decisions"] == [posted.json()]
    assert api.get(f"/clients/{client_ids[11]}/decisions", headers=AUTH).json()["decisions"] == []
    assert api.get("/clients/1/decisions", headers=AUTH).status_code == 404


def test_dynamodb_refuses_an_overwrite(aws_store: Store, client_ids: list[int]) -> None:
    record = {
        "client_id": client_ids[7],
        "decided_at": new_decided_at(),
        "decision": "refuse",
        "comment": "first",
        "advisor": "a",
        "probability": 1e-05,
        "threshold": 0.1234567890123,
        "model_version": "v",
    }
    aws_store.add_decision(record)
    with pytest.raises(StoreUnavailableError, match="ConditionalCheckFailed"):
        aws_store.add_decision({**record, "comment": "an overwrite attempt"})
    assert aws_store.list_decisions(client_ids[7]) == [record]  # exact numbers back
