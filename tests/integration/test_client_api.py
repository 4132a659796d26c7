"""The client function end to end: TestClient and the Mangum handler, on a published store.

Lists and searches of new clients (every client once through the cursor, on the local store
and on DynamoDB under moto), client descriptions, comparisons, auth and errors, the sample
events of events/, and the warm latency of the comparison and list routes.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from cloudformation import create_table_from_template, load_template
from fastapi.testclient import TestClient

from creditscore_common import compare, privacy, reference_index
from creditscore_common.api import reset_caches
from creditscore_common.profiles import FEATURE_NAMES
from creditscore_common.store.base import matches_search
from creditscore_common.store.local import LocalStore
from serving.local_server import load_function
from training.data import NEW_CLIENTS_FILE, ApplicationTable, load_applications
from training.publish import publish

if TYPE_CHECKING:
    from training.train import TrainingResult

TOKEN = "test-token-client-api"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
EVENT_CLIENT_ID = "100002"
#: Warm p50 targets through the Mangum handler (milliseconds).
TARGET_P50_MS = {"client_comparison": 20.0, "client_list": 20.0}

CLIENT_ROUTES = (
    "",
    "/application",
    "/comparison",
    "/bivariate?x=AGE_YEARS&y=EXT_SOURCE_2",
    "/similar",
    "/decisions",
)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def new_clients(small_data_dir: Path) -> ApplicationTable:
    return load_applications(small_data_dir / NEW_CLIENTS_FILE, with_target=False)


@pytest.fixture(scope="module")
def store_dir(
    trained_model: TrainingResult, small_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    folder = tmp_path_factory.mktemp("client_store")
    store = LocalStore(folder, create=True)
    publish(trained_model.version_dir, small_data_dir, store, progress=False)
    store.close()
    return folder


def load_client_function(
    monkeypatch: pytest.MonkeyPatch, store_dir: Path, auth_mode: str = "token"
) -> ModuleType:
    monkeypatch.setenv("STORE_BACKEND", "local")
    monkeypatch.setenv("LOCAL_STORE_PATH", str(store_dir))
    monkeypatch.setenv("API_TOKEN", TOKEN)
    monkeypatch.setenv("AUTH_MODE", auth_mode)
    reset_caches()
    reference_index.clear_cache()
    module = load_function("client")
    assert module is not None, "functions/client/app.py is missing"
    return module


@pytest.fixture
def client_function(monkeypatch: pytest.MonkeyPatch, store_dir: Path) -> Iterator[ModuleType]:
    yield load_client_function(monkeypatch, store_dir)
    reset_caches()


@pytest.fixture
def api(client_function: ModuleType) -> TestClient:
    return TestClient(client_function.app)


def load_event(name: str, client_id: int | None = None) -> dict[str, Any]:
    """An event of events/, for another client id if given."""
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    if client_id is not None and "pathParameters" in event:
        old, new = EVENT_CLIENT_ID, str(client_id)
        event["rawPath"] = event["rawPath"].replace(old, new)
        event["requestContext"]["http"]["path"] = event["requestContext"]["http"]["path"].replace(
            old, new
        )
        event["pathParameters"]["client_id"] = new
    return event


class LambdaContext:
    function_name = "ClientFunction"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-west-3:123456789012:function:ClientFunction"
    aws_request_id = "test-request"


pytestmark = pytest.mark.xdist_group("trained_model")


# --------------------------------------------------------------------------- auth and errors


@pytest.mark.parametrize("suffix", ["", *CLIENT_ROUTES])
def test_every_route_needs_a_token(
    api: TestClient, new_clients: ApplicationTable, suffix: str
) -> None:
    path = "/clients" if suffix == "" else f"/clients/{int(new_clients.ids[0])}{suffix}"
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        answer = api.get(path, headers=headers)
        assert answer.status_code == 401, path
        assert answer.json()["error"] == "unauthorized"
    posted = api.post(f"/clients/{int(new_clients.ids[0])}/decisions", json={"decision": "accept"})
    assert posted.status_code == 401


@pytest.mark.parametrize("suffix", CLIENT_ROUTES)
def test_an_unknown_client_is_404(api: TestClient, suffix: str) -> None:
    answer = api.get(f"/clients/1{suffix}", headers=AUTH)
    assert answer.status_code == 404
    assert answer.json()["error"] == "client_not_found"


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("/comparison?features=AGE_YEARS,SHOE_SIZE,SK_ID_CURR", "SHOE_SIZE, SK_ID_CURR"),
        ("/comparison?gendr=male", "gendr"),
        ("/comparison?gender=other", "gender"),
        ("/bivariate?x=AGE_YEARS&y=SHOE_SIZE", "SHOE_SIZE"),
        ("/bivariate?x=AGE_YEARS", "y"),
        ("/similar?k=19", "k"),
        ("/similar?k=5&x=1", "k"),
    ],
)
def test_bad_requests_are_422_naming_the_culprit(
    api: TestClient, new_clients: ApplicationTable, query: str, named: str
) -> None:
    answer = api.get(f"/clients/{int(new_clients.ids[0])}{query}", headers=AUTH)
    assert answer.status_code == 422, answer.text
    assert named in answer.json()["message"]


def test_list_parameters_are_validated(api: TestClient) -> None:
    for query in ("limit=0", "limit=101", "cursor=-1", "q=", "page=2"):
        assert api.get(f"/clients?{query}", headers=AUTH).status_code == 422, query


def test_a_tiny_group_is_refused(api: TestClient, new_clients: ApplicationTable) -> None:
    answer = api.get(
        f"/clients/{int(new_clients.ids[0])}/comparison?income_type=student&education=academic_degree",
        headers=AUTH,
    )
    assert answer.status_code == 422
    assert answer.json()["error"] == "group_too_small"


# --------------------------------------------------------------------------- list and search


def walk(api: TestClient, limit: int, q: str | None = None) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    cursor: int | None = None
    for _ in range(10_000):
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        if q is not None:
            params["q"] = q
        answer = api.get("/clients", params=params, headers=AUTH)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert len(page["clients"]) <= limit
        seen.extend(page["clients"])
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
        assert page["clients"], "a page with a next cursor must not be empty"
    raise AssertionError("the cursor never ends")


def test_the_cursor_walks_every_client_once(api: TestClient, new_clients: ApplicationTable) -> None:
    seen = [c["client_id"] for c in walk(api, limit=97)]
    assert len(seen) == len(set(seen)) == new_clients.n_rows
    assert sorted(seen) == sorted(int(i) for i in new_clients.ids)
    assert seen == sorted(seen)  # local order: by id


def test_search_matches_the_documented_rule(api: TestClient, new_clients: ApplicationTable) -> None:
    ids = [int(i) for i in new_clients.ids]
    prefix = str(ids[len(ids) // 2])[:4]
    for q in ("pensioner", "REVOLVING", f"revolving {prefix}", prefix, "Laborers working", "zzz"):
        expected = {
            ids[row]
            for row in range(new_clients.n_rows)
            if matches_search(ids[row], new_clients.record(row), q.lower().split())
        }
        found = [c["client_id"] for c in walk(api, limit=50, q=q)]
        assert len(found) == len(set(found))
        assert set(found) == expected, q
    assert walk(api, limit=10, q="pensioner")  # the data has pensioners
    assert all(c["income_type"] == "Pensioner" for c in walk(api, limit=100, q="pensioner"))


def test_list_rows_are_short_summaries(api: TestClient) -> None:
    page = api.get("/clients?limit=3", headers=AUTH).json()
    worklist = {"probability", "decision", "band", "decided"}  # with_score=true only
    assert (
        set(page["clients"][0])
        == {
            "client_id",
            "contract_type",
            "income_type",
            "gender",
            "age_years",
            "income",
            "credit",
        }
        | worklist
    )
    assert all(row[name] is None for row in page["clients"] for name in worklist)
    assert 18 <= page["clients"][0]["age_years"] <= 100


# --------------------------------------------------------------------------- one client


def test_client_description_is_labelled_and_in_human_units(
    api: TestClient, new_clients: ApplicationTable
) -> None:
    row = 0
    record = new_clients.record(row)
    answer = api.get(f"/clients/{int(new_clients.ids[row])}", headers=AUTH)
    assert answer.status_code == 200
    body = answer.json()
    fields = {f["name"]: f for f in body["fields"]}
    assert len(fields) < 40  # a description, not a dump of the 120 raw fields
    assert not any(name.startswith("DAYS_") for name in fields)
    assert fields["AGE_YEARS"]["unit"] == "years"
    assert fields["AGE_YEARS"]["value"] == pytest.approx(-record["DAYS_BIRTH"] / 365.25, abs=0.06)
    assert fields["AMT_CREDIT"]["value"] == pytest.approx(record["AMT_CREDIT"])
    assert fields["NAME_CONTRACT_TYPE"]["value"] == record["NAME_CONTRACT_TYPE"]
    assert isinstance(fields["FLAG_OWN_REALTY"]["value"], bool)
    assert all(f["label"] for f in body["fields"])
    assert {f["section"] for f in body["fields"]} >= {"identity", "family", "housing", "loan"}
    assert set(body["groups"]) == {
        "age_band",
        "gender",
        "contract_type",
        "income_type",
        "education",
    }


def test_comparison_of_a_client(api: TestClient, new_clients: ApplicationTable) -> None:
    client_id = int(new_clients.ids[1])
    answer = api.get(
        f"/clients/{client_id}/comparison",
        params={"features": "AGE_YEARS,EXT_SOURCE_2", "gender": "same"},
        headers=AUTH,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [f["feature"] for f in body["features"]] == ["AGE_YEARS", "EXT_SOURCE_2"]
    assert set(body["group"]["filters"]) == {"gender"}
    assert body["group"]["size"] >= privacy.MIN_GROUP_SIZE
    for feature in body["features"]:
        assert 0 <= (feature["percentile"] or 0) <= 100
        for klass in ("repaid", "defaulted"):
            counts = feature["counts"][klass]
            assert len(counts) == len(feature["bin_edges"]) - 1
            assert all(c is None or c == 0 or c >= 5 for c in counts)
    assert "SK_ID_CURR" not in answer.text
    everything = api.get(f"/clients/{client_id}/comparison", headers=AUTH).json()
    assert len(everything["features"]) == len(FEATURE_NAMES)


def test_bivariate_and_similar(api: TestClient, new_clients: ApplicationTable) -> None:
    client_id = int(new_clients.ids[2])
    grid = api.get(
        f"/clients/{client_id}/bivariate?x=AGE_YEARS&y=AMT_CREDIT&contract_type=cash",
        headers=AUTH,
    )
    assert grid.status_code == 200, grid.text
    cells = [c for row in grid.json()["counts"]["defaulted"] for c in row]
    assert all(c is None or c == 0 or c >= 5 for c in cells)
    similar = api.get(f"/clients/{client_id}/similar?k=30", headers=AUTH)
    assert similar.status_code == 200, similar.text
    body = similar.json()
    assert body["k"] == 30 and body["n_defaulted"] + body["n_repaid"] == 30
    assert "SK_ID_CURR" not in similar.text and "client_ids" not in similar.text


def test_the_application_is_the_clients_own_and_scores_the_same(
    api: TestClient, new_clients: ApplicationTable
) -> None:
    client_id = int(new_clients.ids[5])
    answer = api.get(f"/clients/{client_id}/application", headers=AUTH)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["client_id"] == client_id
    application = body["application"]
    assert "SK_ID_CURR" not in application and "TARGET" not in application
    row = new_clients.record(5)
    assert application == {k: v for k, v in row.items() if k != "SK_ID_CURR" and v is not None}


def test_the_form_describes_every_field(api: TestClient) -> None:
    for lang, gender_text in (("fr", "femme"), ("en", "female")):
        answer = api.get(f"/inputs?lang={lang}", headers=AUTH)
        assert answer.status_code == 200, answer.text
        fields = {f["name"]: f for f in answer.json()["fields"]}
        assert len(fields) == 120 and "TARGET" not in fields and "SK_ID_CURR" not in fields
        gender = fields["CODE_GENDER"]
        assert gender["kind"] == "category"
        assert {level["value"] for level in gender["levels"]} >= {"F", "M"}
        assert gender_text in {level["text"] for level in gender["levels"]}
        income = fields["AMT_INCOME_TOTAL"]
        assert income["kind"] == "number" and income["minimum"] == 0 and income["median"] > 0
        assert fields["DAYS_BIRTH"]["unit"] == "days" and fields["DAYS_BIRTH"]["maximum"] == 0
        assert fields["FLAG_MOBIL"]["kind"] == "flag"
        groups = {g["name"]: g for g in answer.json()["groups"]}
        assert set(groups) == set(compare.GroupFilters.model_fields)
        assert {o["value"] for o in groups["gender"]["levels"]} == {"female", "male"}
        assert gender_text in {o["text"] for o in groups["gender"]["levels"]}
    assert api.get("/inputs?lang=de", headers=AUTH).status_code == 422
    assert api.get("/inputs").status_code == 401


def test_openapi_documents_the_filters(client_function: ModuleType) -> None:
    schema = client_function.app.openapi()
    parameters = schema["paths"]["/clients/{client_id}/comparison"]["get"]["parameters"]
    by_name = {p["name"]: p for p in parameters}
    assert {"features", "age_band", "gender", "contract_type", "income_type", "education"} <= set(
        by_name
    )
    assert "same" in by_name["gender"]["description"]


# --------------------------------------------------------------------------- Mangum and events


def test_every_route_has_a_sample_event() -> None:
    template = load_template()
    routes = {
        f"{e['Properties']['Method']} {e['Properties']['Path']}"
        for e in template["Resources"]["ClientFunction"]["Properties"]["Events"].values()
    }
    events = {
        json.loads(p.read_text())["routeKey"]
        for pattern in ("client_*.json", "decisions_*.json")
        for p in EVENTS.glob(pattern)
    }
    assert routes == events


@pytest.mark.parametrize(
    "name",
    [
        "client_list",
        "client_get",
        "client_application",
        "client_inputs",
        "client_comparison",
        "client_bivariate",
        "client_similar",
        "decisions_record",
        "decisions_list",
    ],
)
def test_events_through_the_mangum_handler(
    monkeypatch: pytest.MonkeyPatch, store_dir: Path, new_clients: ApplicationTable, name: str
) -> None:
    module = load_client_function(monkeypatch, store_dir, auth_mode="jwt")
    client_id = int(new_clients.ids[3])
    event = load_event(name, client_id)
    answer = module.handler(event, LambdaContext())
    assert answer["statusCode"] == (201 if name == "decisions_record" else 200), answer["body"]
    body = json.loads(answer["body"])
    if name == "decisions_record":
        # The advisor is the verified identity of the JWT claims, never the request body.
        assert body["advisor"] == "advisor@pret-a-depenser.example"
    if name not in ("client_list", "client_inputs"):
        assert body["client_id"] == client_id
    without_claims = load_event(name, client_id)
    del without_claims["requestContext"]["authorizer"]
    assert module.handler(without_claims, LambdaContext())["statusCode"] == 401
    reset_caches()


def warm_p50_ms(module: ModuleType, event: dict[str, Any], runs: int = 40) -> float:
    for _ in range(5):
        assert module.handler(event, LambdaContext())["statusCode"] == 200
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        module.handler(event, LambdaContext())
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def test_warm_latency_through_mangum(
    monkeypatch: pytest.MonkeyPatch,
    store_dir: Path,
    new_clients: ApplicationTable,
    record_property: Any,
) -> None:
    module = load_client_function(monkeypatch, store_dir, auth_mode="jwt")
    client_id = int(new_clients.ids[4])
    for name, target in TARGET_P50_MS.items():
        p50 = warm_p50_ms(module, load_event(name, client_id))
        record_property(f"{name}_p50_ms", round(p50, 2))
        assert p50 <= target, f"{name}: warm p50 {p50:.1f} ms > {target} ms"
    reset_caches()


# --------------------------------------------------------------------------- DynamoDB (moto)


def test_dynamodb_cursor_and_search(
    small_data_dir: Path, new_clients: ApplicationTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3
    from moto import mock_aws

    from creditscore_common.store.aws import AwsStore

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    n = 400
    rows = [(int(new_clients.ids[i]), new_clients.record(i)) for i in range(n)]
    with mock_aws():
        create_table_from_template(
            boto3.client("dynamodb", region_name="eu-west-3"), "ClientsTable", "clients"
        )
        store = AwsStore("bucket", "clients", "eu-west-3", small_data_dir / "unused")
        store.put_clients(rows)
        for limit, q in (
            (7, None),
            (50, None),
            (400, None),
            (13, "pensioner"),
            (5, "cash working"),
        ):
            seen: list[int] = []
            cursor: int | None = None
            while True:
                page, cursor = store.list_clients(limit, cursor, q)
                assert len(page) <= limit
                seen.extend(client_id for client_id, _ in page)
                if cursor is None:
                    break
            terms = (q or "").lower().split()
            expected = {cid for cid, record in rows if matches_search(cid, record, terms)}
            assert len(seen) == len(set(seen)), (limit, q)
            assert set(seen) == expected, (limit, q)
        page, _ = store.list_clients(3)
        assert set(page[0][1]) <= {
            "NAME_CONTRACT_TYPE",
            "NAME_INCOME_TYPE",
            "CODE_GENDER",
            "DAYS_BIRTH",
            "AMT_INCOME_TOTAL",
            "AMT_CREDIT",
        }
    assert np.all(new_clients.ids[:n] > 0)
