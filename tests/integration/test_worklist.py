"""The advisors' worklist: GET /clients scored (`with_score`) and filtered (`pending`, `verdict`).

On a published small store, through the client function: each listed client carries the
active model's score and whether a decision was recorded; the filters keep exactly the clients
they name, page after page, and a filtered page never looks at more than ``MAX_SCANNED``
clients; the list without the new parameters answers as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_client_api import AUTH, load_client_function

from creditscore_common import clients
from creditscore_common.api import reset_caches

pytestmark = pytest.mark.xdist_group("trained_model")

#: A search that narrows the store to about a tenth of its clients (revolving loans).
SUBSET = "revolving"
#: Other clients (cash loans), on whom no test records a decision.
UNDECIDED = "cash"
LIST_FIELDS = {
    "client_id",
    "contract_type",
    "income_type",
    "gender",
    "age_years",
    "income",
    "credit",
}
SCORE_FIELDS = {"probability", "decision", "band", "decided"}


@pytest.fixture(scope="module")
def store_dir(
    publish_local: Callable[[Path], Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return publish_local(tmp_path_factory.mktemp("worklist_store"))


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, store_dir: Path) -> Iterator[TestClient]:
    yield TestClient(load_client_function(monkeypatch, store_dir).app)
    reset_caches()


def every_page(api: TestClient, **params: Any) -> list[dict[str, Any]]:
    """Every client of a listing, following ``next_cursor`` to the end."""
    found: list[dict[str, Any]] = []
    cursor: int | None = None
    for _ in range(1000):
        query = dict(params) | ({} if cursor is None else {"cursor": cursor})
        answer = api.get("/clients", params=query, headers=AUTH)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        found.extend(page["clients"])
        assert len(page["clients"]) <= int(params.get("limit", 20))
        cursor = page["next_cursor"]
        if cursor is None:
            return found
    raise AssertionError("the cursor never ends")


def verdict_of(item: dict[str, Any]) -> str:
    return "borderline" if item["band"] == "borderline" else str(item["decision"])


def test_with_score_adds_the_score_and_the_decision_state(api: TestClient) -> None:
    plain = api.get("/clients", params={"q": UNDECIDED, "limit": 10}, headers=AUTH).json()
    scored = api.get(
        "/clients", params={"q": UNDECIDED, "limit": 10, "with_score": "true"}, headers=AUTH
    ).json()
    assert [c["client_id"] for c in plain["clients"]] == [c["client_id"] for c in scored["clients"]]
    assert plain["next_cursor"] == scored["next_cursor"]
    for before, after in zip(plain["clients"], scored["clients"], strict=True):
        # the fields of the list are unchanged; the new ones are null unless asked for
        assert {k: after[k] for k in before if k not in SCORE_FIELDS} == {
            k: v for k, v in before.items() if k not in SCORE_FIELDS
        }
        assert all(before[k] is None for k in SCORE_FIELDS), before
        assert 0.0 < after["probability"] < 1.0
        assert after["decision"] in ("accept", "refuse") and after["band"] in (
            "clear",
            "borderline",
        )
        assert after["decided"] is False
    assert set(plain["clients"][0]) == LIST_FIELDS | SCORE_FIELDS


def test_the_listed_score_is_the_one_a_decision_records(api: TestClient) -> None:
    first = api.get("/clients", params={"q": SUBSET, "with_score": "true"}, headers=AUTH).json()
    client = first["clients"][0]
    posted = api.post(  # the model's own decision: no reason code needed
        f"/clients/{client['client_id']}/decisions",
        json={"decision": client["decision"]},
        headers=AUTH,
    )
    assert posted.status_code == 201, posted.text
    record = posted.json()
    assert client["probability"] == pytest.approx(record["probability"], abs=1e-9)
    assert client["decision"] == (
        "refuse" if record["probability"] >= record["threshold"] else "accept"
    )
    again = api.get("/clients", params={"q": SUBSET, "with_score": "true"}, headers=AUTH).json()
    assert again["clients"][0]["decided"] is True
    # pending: the decided client is left out, every other one is listed once, in order
    everyone = every_page(api, q=SUBSET, limit=7)
    pending = every_page(api, q=SUBSET, limit=7, pending="true")
    assert [c["client_id"] for c in pending] == [
        c["client_id"] for c in everyone if c["client_id"] != client["client_id"]
    ]
    assert all(c["decided"] is False for c in pending)


def test_each_verdict_keeps_exactly_its_clients(api: TestClient) -> None:
    scored = every_page(api, q=SUBSET, limit=50, with_score="true")
    assert len(scored) > 20
    by_verdict: dict[str, list[int]] = {}
    for verdict in ("accept", "borderline", "refuse"):
        listed = every_page(api, q=SUBSET, limit=6, verdict=verdict)
        assert all(verdict_of(item) == verdict for item in listed), verdict
        by_verdict[verdict] = [item["client_id"] for item in listed]
    for verdict, ids in by_verdict.items():
        assert ids == [c["client_id"] for c in scored if verdict_of(c) == verdict], verdict
    assert by_verdict["accept"], "no clear accept in the subset: the test would prove nothing"


def test_a_filtered_page_looks_at_a_bounded_number_of_clients(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    scored = every_page(api, q=SUBSET, limit=50, with_score="true")
    rare = min(
        ("accept", "borderline", "refuse"), key=lambda v: sum(verdict_of(c) == v for c in scored)
    )
    monkeypatch.setattr(clients, "MAX_SCANNED", 5)
    answer = api.get(
        "/clients", params={"q": SUBSET, "limit": 20, "verdict": rare}, headers=AUTH
    ).json()
    assert len(answer["clients"]) <= 5  # fewer than the limit: only five were looked at
    assert answer["next_cursor"] is not None
    listed = every_page(api, q=SUBSET, limit=20, verdict=rare)
    assert [c["client_id"] for c in listed] == [
        c["client_id"] for c in scored if verdict_of(c) == rare
    ]


def test_worklist_parameters_are_validated(api: TestClient) -> None:
    for query in ("verdict=maybe", "pending=perhaps", "with_score=2"):
        answer = api.get(f"/clients?{query}", headers=AUTH)
        assert answer.status_code == 422, query
    assert api.get("/clients?pending=true").status_code == 401
