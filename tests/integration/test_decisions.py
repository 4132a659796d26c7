"""The decision audit log: append-only, each decision recorded exactly once, both backends.

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

from creditscore_common import decisions, reference_index, service
from creditscore_common.api import get_models, get_store, reset_caches
from creditscore_common.decisions import DecisionRequest, new_decided_at
from creditscore_common.errors import StoreUnavailableError
from creditscore_common.provider import ModelProvider
from creditscore_common.store import Store
from creditscore_common.store.base import DecisionConflictError, final_decision
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


def post_concurrently(
    app: Any, client_id: int, n: int = N_CONCURRENT, same_key: bool = False
) -> list[Any]:
    """``n`` POSTs released at once from ``n`` threads (one TestClient each).

    Each says why ("autre" and a comment), so that it is valid whatever the model decides;
    ``same_key``: one form submitted ``n`` times (same body, same Idempotency-Key), else
    ``n`` advisors deciding at once (each their own key and comment).
    """
    # Built once before the threads: FastAPI's first app.openapi() (which the API's guard
    # calls on the first request) is not safe to run in several threads at once.
    app.openapi()
    barrier = threading.Barrier(n)
    answers: list[Any] = [None] * n

    def post(i: int) -> None:
        api = TestClient(app)
        barrier.wait()
        answers[i] = api.post(
            f"/clients/{client_id}/decisions",
            json={
                "decision": "refuse" if i % 2 and not same_key else "accept",
                "reason_code": "autre",
                "comment": "the same click" if same_key else f"advisor note {i}",
            },
            headers={**AUTH, "Idempotency-Key": "one-submission" if same_key else f"key-{i}"},
        )

    threads = [threading.Thread(target=post, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def check_exactly_once(answers: list[Any], listed: list[dict[str, Any]], client_id: int) -> None:
    """One 201, and one record; the other answers are 409 (other keys) or 200 (same key)."""
    codes = sorted(a.status_code for a in answers)
    assert codes.count(201) == 1 and set(codes) <= {200, 201, 409}, [a.text for a in answers]
    (created,) = [a.json() for a in answers if a.status_code == 201]
    assert listed == [created]
    assert created["client_id"] == client_id and DECIDED_AT.match(created["decided_at"])
    assert 0 <= created["probability"] <= 1 and 0 < created["threshold"] < 1
    for answer in answers:
        if answer.status_code == 200:  # a repeat: the first record, not a copy
            assert answer.json() == created
        elif answer.status_code == 409:
            assert answer.json()["error"] == "decision_conflict"
            assert "supersedes" in answer.json()["message"]


def model_decision(store: Store, client_id: int) -> str:
    """What the model decides for the client now."""
    return service.score_client(store, ModelProvider(store), client_id).decision


def against(decision: str) -> str:
    """The other decision."""
    return "refuse" if decision == "accept" else "accept"


def legacy_record(client_id: int, comment: str) -> dict[str, Any]:
    """A record as stores wrote them before idempotency keys and supersession."""
    return {
        "client_id": client_id,
        "decided_at": new_decided_at(),
        "decision": "accept",
        "comment": comment,
        "advisor": "a",
        "probability": 1e-05,
        "threshold": 0.1234567890123,
        "model_version": "v",
    }


def check_rules(api: TestClient, store: Store, client_id: int) -> None:
    """Exactly once, replaced only on purpose, overrides with a reason: through the API."""
    url = f"/clients/{client_id}/decisions"
    model = model_decision(store, client_id)
    same = {"decision": model, "comment": "conforme au score"}
    first = api.post(url, json=same, headers={**AUTH, "Idempotency-Key": "k1"})
    assert first.status_code == 201, first.text
    assert first.json()["overrides_model"] is False and first.json()["idempotency_key"] == "k1"
    repeat = api.post(url, json=same, headers={**AUTH, "Idempotency-Key": "k1"})
    assert (repeat.status_code, repeat.json()) == (200, first.json())
    other_body = api.post(
        url, json={**same, "comment": "autre chose"}, headers={**AUTH, "Idempotency-Key": "k1"}
    )
    assert other_body.status_code == 409 and "Idempotency-Key k1" in other_body.json()["message"]
    # A second decision must say what it replaces.
    unsaid = api.post(url, json=same, headers={**AUTH, "Idempotency-Key": "k2"})
    assert unsaid.status_code == 409
    decided_at = first.json()["decided_at"]
    assert f"send supersedes={decided_at} to replace it" in unsaid.json()["message"]
    wrong = api.post(
        url, json={**same, "supersedes": "2020-01-01T00:00:00.000000Z#0"}, headers=AUTH
    )
    assert wrong.status_code == 409 and "not the client's current final" in wrong.json()["message"]
    # Going against the model needs a reason code fitting that direction.
    override = {"decision": against(model), "comment": "", "supersedes": decided_at}
    for reason, status in [(None, 422), (OTHER_DIRECTION[model], 422), ("autre", 422)]:
        answer = api.post(url, json={**override, "reason_code": reason}, headers=AUTH)
        assert answer.status_code == status, answer.text
        assert answer.json()["error"] == "invalid_decision"
    replaced = api.post(
        url,
        json={**override, "reason_code": FITTING[model], "comment": "vu en agence"},
        headers={**AUTH, "Idempotency-Key": "k3"},
    )
    assert replaced.status_code == 201, replaced.text
    assert replaced.json()["overrides_model"] is True
    assert replaced.json()["supersedes"] == decided_at
    # The stale supersedes is now refused: the first record is no longer the final one.
    stale = api.post(url, json={**same, "supersedes": decided_at}, headers=AUTH)
    assert stale.status_code == 409
    listed = api.get(url, headers=AUTH).json()
    assert listed["decisions"] == [first.json(), replaced.json()]
    assert listed["final"] == replaced.json()


#: A reason code fitting a decision against the model's decision (the key), and one that
#: fits the other direction only.
FITTING = {"accept": "endettement_constate", "refuse": "garanties_supplementaires"}
OTHER_DIRECTION = {"accept": "garanties_supplementaires", "refuse": "endettement_constate"}


# --------------------------------------------------------------------------- local store


def test_concurrent_posts_record_one_decision_locally(
    client_function: ModuleType, client_ids: list[int]
) -> None:
    """Twenty advisors at once on an undecided client: one record, nineteen 409."""
    client_id = client_ids[0]
    answers = post_concurrently(client_function.app, client_id)
    listed = TestClient(client_function.app).get(f"/clients/{client_id}/decisions", headers=AUTH)
    assert listed.status_code == 200
    check_exactly_once(answers, listed.json()["decisions"], client_id)
    assert listed.json()["final"] == listed.json()["decisions"][0]
    assert listed.json()["final"]["advisor"] == "local-advisor"  # from the token, not the body


def test_a_submission_repeated_at_once_is_recorded_once_locally(
    client_function: ModuleType, client_ids: list[int]
) -> None:
    """A double click (twenty, here): one 201, the others 200 with the same record."""
    client_id = client_ids[12]
    answers = post_concurrently(client_function.app, client_id, same_key=True)
    listed = TestClient(client_function.app).get(f"/clients/{client_id}/decisions", headers=AUTH)
    check_exactly_once(answers, listed.json()["decisions"], client_id)
    assert {a.status_code for a in answers} == {200, 201}


def test_two_processes_writing_at_once_record_one_decision(
    client_function: ModuleType, store_dir: Path, client_ids: list[int]
) -> None:
    # Two store instances = two SQLite connections, as two server processes would hold.
    stores = [LocalStore(store_dir), LocalStore(store_dir)]
    models = [ModelProvider(store) for store in stores]
    client_id = client_ids[1]
    barrier = threading.Barrier(N_CONCURRENT)
    outcomes: list[Any] = [None] * N_CONCURRENT
    request = DecisionRequest(decision="accept", reason_code="autre", comment="a double click")

    def decide(i: int) -> None:
        barrier.wait()
        try:  # even threads: one submission sent twice; odd ones: other advisors
            outcomes[i] = decisions.record_decision(
                stores[i % 2], models[i % 2], client_id, request, f"advisor-{i}", f"key-{i % 2}"
            )
        except DecisionConflictError as error:
            outcomes[i] = error

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(N_CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorded = stores[0].list_decisions(client_id)
    assert len(recorded) == 1
    written = [o for o in outcomes if isinstance(o, tuple) and o[1]]
    assert len(written) == 1 and written[0][0].model_dump(exclude_none=True) == recorded[0]
    winner_key = recorded[0]["idempotency_key"]
    for i, outcome in enumerate(outcomes):
        if f"key-{i % 2}" == winner_key:  # the same submission: answered with the record
            assert isinstance(outcome, tuple) and outcome[0].decided_at == recorded[0]["decided_at"]
        else:
            assert isinstance(outcome, DecisionConflictError)
    for store in stores:
        store.close()


def test_the_rules_of_recording_locally(
    client_function: ModuleType, store_dir: Path, client_ids: list[int]
) -> None:
    store = LocalStore(store_dir)
    check_rules(TestClient(client_function.app), store, client_ids[13])
    store.close()


def test_the_local_log_is_append_only(store_dir: Path, client_ids: list[int]) -> None:
    store = LocalStore(store_dir)
    record = legacy_record(client_ids[2], "first")
    assert store.add_decision(record) == record
    with pytest.raises(StoreUnavailableError):  # the same key again, replacing "itself"
        store.add_decision(
            {**record, "comment": "an overwrite", "supersedes": record["decided_at"]}
        )
    with pytest.raises(DecisionConflictError, match="already recorded"):
        store.add_decision({**record, "decided_at": new_decided_at()}, exclusive=True)
    database = sqlite3.connect(store_dir / DATABASE_FILE)
    for statement in ("UPDATE decisions SET comment = 'changed'", "DELETE FROM decisions"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            database.execute(statement)
    database.close()
    assert [r["comment"] for r in store.list_decisions(client_ids[2])] == ["first"]
    store.close()


def test_a_decisions_table_of_an_older_version_is_migrated(tmp_path: Path) -> None:
    """A store made before idempotency keys: its rows are kept, and the new rules apply."""
    store = LocalStore(tmp_path, create=True)
    store.close()
    old = legacy_record(7, "written by an older version")
    database = sqlite3.connect(tmp_path / DATABASE_FILE)
    with database:
        database.executescript(
            "CREATE TABLE decisions (id INTEGER PRIMARY KEY AUTOINCREMENT, client_id INTEGER "
            "NOT NULL, decided_at TEXT NOT NULL, decision TEXT NOT NULL, comment TEXT NOT NULL,"
            " advisor TEXT NOT NULL, probability REAL NOT NULL, threshold REAL NOT NULL, "
            "model_version TEXT NOT NULL, UNIQUE (client_id, decided_at));"
        )
        database.execute(
            "INSERT INTO decisions (client_id, decided_at, decision, comment, advisor, "
            "probability, threshold, model_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            tuple(old.values()),
        )
    database.close()
    store = LocalStore(tmp_path)
    assert store.list_decisions(7) == [old]  # read back exactly, no new field invented
    newer = {
        **legacy_record(7, "replaces it"),
        "supersedes": old["decided_at"],
        "idempotency_key": "k",
        "overrides_model": True,
        "reason_code": "autre",
    }
    assert store.add_decision(newer, exclusive=True) == newer
    repeat = {**newer, "decided_at": new_decided_at()}
    assert store.add_decision(repeat, exclusive=True) == newer
    assert store.list_decisions(7) == [old, newer]
    assert final_decision(store.list_decisions(7)) == newer
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
        json={"decision": "refuse", "reason_code": "autre", "comment": comment},
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
    assert [p.status_code for p in posted] == [201, 409]
    posted[1] = api.post(
        f"/clients/{client_id}/decisions",
        json={
            "decision": "refuse",
            "reason_code": "autre",
            "comment": "revu",
            "supersedes": posted[0].json()["decided_at"],
        },
        headers=AUTH,
    )
    assert posted[1].status_code == 201, posted[1].text
    database = sqlite3.connect(store_dir / DATABASE_FILE)
    with database:
        assert database.execute("DELETE FROM clients WHERE client_id = ?", (client_id,)).rowcount
    database.close()
    assert api.get(f"/clients/{client_id}", headers=AUTH).status_code == 404
    listed = api.get(f"/clients/{client_id}/decisions", headers=AUTH)
    assert listed.status_code == 200, listed.text
    assert listed.json() == {
        "client_id": client_id,
        "decisions": [p.json() for p in posted],
        "final": posted[1].json(),
    }
    # A new decision needs a score, hence the application: that one is 404.
    superseding = {"decision": "accept", "supersedes": posted[1].json()["decided_at"]}
    assert (
        api.post(f"/clients/{client_id}/decisions", json=superseding, headers=AUTH)
    ).status_code == 404


@pytest.mark.parametrize(("client_id", "status"), [(2**63 - 1, 404), (2**63, 422), (10**40, 422)])
def test_decisions_of_an_impossible_id(
    client_function: ModuleType, client_id: int, status: int
) -> None:
    """404 for an id no store holds; 422 beyond 2^63 - 1 (the bound of every client route)."""
    answer = TestClient(client_function.app).get(f"/clients/{client_id}/decisions", headers=AUTH)
    assert answer.status_code == status, answer.text


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


def api_on(client_function: ModuleType, store: Store) -> TestClient:
    """The client function's API with ``store`` (and its models) swapped in."""
    models = ModelProvider(store)
    overrides: dict[Callable[..., Any], Callable[..., Any]] = {
        get_store: lambda: store,
        get_models: lambda: models,
    }
    client_function.app.dependency_overrides.update(overrides)
    return TestClient(client_function.app)


def test_concurrent_posts_record_one_decision_on_dynamodb(
    client_function: ModuleType, aws_store: Store, client_ids: list[int]
) -> None:
    api = api_on(client_function, aws_store)
    for client_id, same_key in ((client_ids[5], False), (client_ids[14], True)):
        answers = post_concurrently(client_function.app, client_id, same_key=same_key)
        listed = api.get(f"/clients/{client_id}/decisions", headers=AUTH)
        assert listed.status_code == 200
        check_exactly_once(answers, listed.json()["decisions"], client_id)
    assert aws_store.list_decisions(client_ids[6]) == []
    assert len(aws_store.all_decisions()) == 2  # the guard items are not decisions


def test_the_rules_of_recording_on_dynamodb(
    client_function: ModuleType, aws_store: Store, client_ids: list[int]
) -> None:
    check_rules(api_on(client_function, aws_store), aws_store, client_ids[13])


def test_a_repeat_racing_the_first_write_gets_the_first_record_on_dynamodb(
    aws_store: Store, client_ids: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key marker's conditional write, when the repeat read the log before the write."""
    first = {**legacy_record(client_ids[15], "once"), "idempotency_key": "k"}
    assert aws_store.add_decision(first) == first
    monkeypatch.setattr(aws_store, "list_decisions", lambda client_id: [])  # read too early
    assert aws_store.add_decision({**first, "decided_at": new_decided_at()}) == first
    other = {**first, "decided_at": new_decided_at(), "idempotency_key": "k2"}
    with pytest.raises(DecisionConflictError):  # the final pointer's condition
        aws_store.add_decision(other, exclusive=True)
    monkeypatch.undo()
    assert aws_store.list_decisions(client_ids[15]) == [first]


def test_decisions_outlive_the_client_item_on_dynamodb(
    client_function: ModuleType, aws_store: Store, client_ids: list[int]
) -> None:
    import boto3

    api = api_on(client_function, aws_store)
    client_id = client_ids[10]
    body = {"decision": "refuse", "reason_code": "autre", "comment": "revu"}
    posted = api.post(f"/clients/{client_id}/decisions", json=body, headers=AUTH)
    assert posted.status_code == 201, posted.text
    boto3.client("dynamodb", region_name=REGION).delete_item(
        TableName="clients", Key={"client_id": {"N": str(client_id)}}
    )
    assert api.get(f"/clients/{client_id}", headers=AUTH).status_code == 404
    listed = api.get(f"/clients/{client_id}/decisions", headers=AUTH)
    assert listed.status_code == 200, listed.text
    assert listed.json()["decisions"] == [posted.json()] == [listed.json()["final"]]
    assert api.get(f"/clients/{client_ids[11]}/decisions", headers=AUTH).json()["decisions"] == []
    assert api.get("/clients/1/decisions", headers=AUTH).status_code == 404


def test_dynamodb_refuses_an_overwrite(aws_store: Store, client_ids: list[int]) -> None:
    record = {**legacy_record(client_ids[7], "first"), "decision": "refuse"}
    assert aws_store.add_decision(record) == record
    with pytest.raises(StoreUnavailableError, match="ConditionalCheckFailed"):
        aws_store.add_decision(
            {**record, "comment": "an overwrite attempt", "supersedes": record["decided_at"]}
        )
    with pytest.raises(DecisionConflictError, match="already recorded"):
        aws_store.add_decision({**record, "decided_at": new_decided_at()}, exclusive=True)
    assert aws_store.list_decisions(client_ids[7]) == [record]  # exact numbers back


def test_items_of_an_older_version_read_back_on_dynamodb(
    aws_store: Store, client_ids: list[int]
) -> None:
    """Items without the new attributes (and without a final pointer) are kept as they were."""
    import boto3

    old = legacy_record(client_ids[8], "written by an older version")
    item = {
        name: {"N": repr(value)} if isinstance(value, int | float) else {"S": value}
        for name, value in old.items()
    }
    boto3.client("dynamodb", region_name=REGION).put_item(TableName="decisions", Item=item)
    assert aws_store.list_decisions(client_ids[8]) == [old]
    with pytest.raises(DecisionConflictError, match="already recorded"):
        aws_store.add_decision(legacy_record(client_ids[8], "no supersedes"), exclusive=True)
    newer = {**legacy_record(client_ids[8], "replaces it"), "supersedes": old["decided_at"]}
    assert aws_store.add_decision({**newer, "overrides_model": False}, exclusive=True) == {
        **newer,
        "overrides_model": False,
    }
    final = final_decision(aws_store.list_decisions(client_ids[8]))
    assert final is not None and final["comment"] == "replaces it"
