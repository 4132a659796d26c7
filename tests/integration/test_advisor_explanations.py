"""Explanations an advisor can say out loud, on 400 new clients of a generated store.

Checked on the trained model of the shared fixture, through the shared package and over
HTTP: no explanation ever names gender; each factor appears once with one direction; the
factors' points add up to probability - base; every decision has its reasons in both
languages; every refused client gets either a counterfactual that the score route accepts or
the "no change suffices" answer; borderline files agree between routes; an application
without the minimum information is not scored.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from settings_env import clear_settings_env

from creditscore_common import counterfactual, explain
from creditscore_common.api import reset_caches
from creditscore_common.factors import factors
from creditscore_common.features import PROTECTED_COLUMNS
from creditscore_common.model import ScoringModel
from creditscore_common.provider import ModelProvider
from creditscore_common.schemas import MINIMUM_FIELDS
from creditscore_common.store.local import LocalStore
from serving.local_server import load_function
from training.data import NEW_CLIENTS_FILE, ApplicationTable, load_applications
from training.train import TrainingResult

pytestmark = pytest.mark.xdist_group("trained_model")

TOKEN = "advisor-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
N_SAMPLE = 400
#: Words that would name gender in either language (the labels of CODE_GENDER included).
GENDER_WORDS = ("code_gender", "gender", "genre", "sexe", "femme", "homme")


@pytest.fixture(scope="module")
def store_dir(
    publish_local: Callable[[Path], Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return publish_local(tmp_path_factory.mktemp("advisor") / "store")


@pytest.fixture(scope="module")
def new_clients(small_data_dir: Path) -> ApplicationTable:
    return load_applications(small_data_dir / NEW_CLIENTS_FILE, with_target=False)


@pytest.fixture(scope="module")
def models(store_dir: Path) -> Iterator[tuple[LocalStore, ModelProvider]]:
    store = LocalStore(store_dir)
    yield store, ModelProvider(store)
    store.close()


@pytest.fixture(scope="module")
def sample(new_clients: ApplicationTable) -> list[int]:
    positions = np.linspace(0, new_clients.n_rows - 1, N_SAMPLE).astype(int)
    return [int(new_clients.ids[i]) for i in positions]


@pytest.fixture(scope="module")
def explanations(
    models: tuple[LocalStore, ModelProvider], sample: list[int]
) -> dict[str, list[explain.Explanation]]:
    store, provider = models
    return {
        lang: [explain.explain_client(store, provider, cid, lang, 10) for cid in sample]
        for lang in ("fr", "en")
    }


@pytest.fixture
def api(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], TestClient]]:
    clear_settings_env(monkeypatch)
    monkeypatch.setenv("STORE_BACKEND", "local")
    monkeypatch.setenv("LOCAL_STORE_PATH", str(store_dir))
    monkeypatch.setenv("API_TOKEN", TOKEN)
    reset_caches()

    def client(name: str) -> TestClient:
        module = load_function(name)
        assert module is not None, name
        return TestClient(module.app, raise_server_exceptions=False)

    yield client
    reset_caches()


# ---------------------------------------------------------------------------- explanations


def test_no_explanation_names_gender(explanations: dict[str, list[explain.Explanation]]) -> None:
    for lang, items in explanations.items():
        for body in items:
            text = body.model_dump_json().lower()
            named = [w for w in GENDER_WORDS if w in text]
            assert not named, (lang, body.client_id, named)


def test_each_factor_once_with_one_direction(
    explanations: dict[str, list[explain.Explanation]],
) -> None:
    known = set(factors())
    for items in explanations.values():
        for body in items:
            keys = [f.factor for f in body.factors]
            assert len(keys) == len(set(keys)), body.client_id
            assert set(keys) <= known
            for f in body.factors:
                sign = (f.contribution > 0) - (f.contribution < 0)
                assert {1: "raises", -1: "lowers", 0: "neutral"}[sign] == f.direction
                assert (f.points > 0) - (f.points < 0) == sign
                assert f.label and f.sentence
            # Reasons are factors too: never a factor twice, never a feature name.
            reason_keys = [r.factor for r in body.reasons]
            assert len(reason_keys) == len(set(reason_keys))


def test_points_add_up_to_the_change_in_probability(
    explanations: dict[str, list[explain.Explanation]],
) -> None:
    for items in explanations.values():
        for body in items:
            total = math.fsum(f.points for f in body.factors)
            expected = 100.0 * (body.probability - body.base_probability)
            assert abs(total - expected) <= 1e-6, body.client_id
            assert body.points_total == pytest.approx(expected, abs=1e-12)
            # The factors hold every feature's contribution: additivity in log-odds too.
            log_odds = math.fsum(f.contribution for f in body.factors)
            assert abs(body.base_value + log_odds - body.log_odds) <= 1e-6


def test_every_decision_has_its_reasons_in_both_languages(
    explanations: dict[str, list[explain.Explanation]],
) -> None:
    fr, en = explanations["fr"], explanations["en"]
    n_refused = 0
    for in_fr, in_en in zip(fr, en, strict=True):
        assert in_fr.decision == in_en.decision
        assert [r.factor for r in in_fr.reasons] == [r.factor for r in in_en.reasons]
        wanted = "raises" if in_fr.decision == "refuse" else "lowers"
        pushing = [f for f in in_fr.factors if f.direction == wanted]
        assert len(in_fr.reasons) == min(explain.MAX_REASONS, len(pushing))
        assert [r.factor for r in in_fr.reasons] == [f.factor for f in pushing[:4]]
        for reason_fr, reason_en in zip(in_fr.reasons, in_en.reasons, strict=True):
            assert reason_fr.direction == wanted
            assert "risque" in reason_fr.sentence and "risk" in reason_en.sentence
            assert "point" in reason_fr.sentence and "point" in reason_en.sentence
        if in_fr.decision == "refuse":
            n_refused += 1
            assert len(in_fr.reasons) == explain.MAX_REASONS, in_fr.client_id
    assert n_refused > 0, "the sample holds no refusal: the check would be empty"


def test_band_follows_the_recorded_interval(
    explanations: dict[str, list[explain.Explanation]], trained_model: TrainingResult
) -> None:
    recorded = trained_model.metadata["borderline"]
    for body in explanations["fr"]:
        inside = recorded["lower"] <= body.probability < recorded["upper"]
        assert body.band == ("borderline" if inside else "clear")
        assert body.borderline.lower <= body.threshold <= body.borderline.upper
        if body.band == "borderline":
            assert "examiner" in body.summary


# ---------------------------------------------------------------------------- counterfactuals


def test_every_refusal_gets_a_verified_change_or_a_clear_no(
    models: tuple[LocalStore, ModelProvider], sample: list[int]
) -> None:
    store, provider = models
    model: ScoringModel = provider.current()
    n_found = n_none = 0
    for client_id in sample:
        application = store.get_client(client_id)
        if model.decide(model.score_record(application)) != "refuse":
            continue
        answer = counterfactual.counterfactual_client(store, provider, client_id, "fr")
        assert answer.needed and answer.decision == "refuse"
        if not answer.found:
            n_none += 1
            assert not answer.options and answer.summary.startswith("Aucune modification")
            continue
        n_found += 1
        for option in answer.options:
            changed = {c.field: c.proposed for c in option.changes}
            assert set(changed) <= set(counterfactual.CHANGEABLE)
            assert changed, option
            rescored = model.score_record({**application, **changed})
            # Verified by re-scoring through the same ONNX model as the score route.
            assert rescored < model.threshold
            assert rescored == pytest.approx(option.probability, abs=1e-6)
            assert option.decision == "accept"
        assert answer.summary == answer.options[0].sentence
    assert n_found + n_none > 0


def test_counterfactual_routes(
    api: Callable[[str], TestClient],
    models: tuple[LocalStore, ModelProvider],
    sample: list[int],
) -> None:
    store, provider = models
    model = provider.current()
    explain_api = api("explain")
    decisions = {cid: model.decide(model.score_record(store.get_client(cid))) for cid in sample}
    refused = next(cid for cid, d in decisions.items() if d == "refuse")
    accepted = next(cid for cid, d in decisions.items() if d == "accept")

    body = explain_api.get(f"/clients/{refused}/counterfactual", headers=AUTH).json()
    assert body["client_id"] == refused and body["needed"] is True
    assert body["fields_changed"] == list(counterfactual.CHANGEABLE)
    body = explain_api.get(f"/clients/{accepted}/counterfactual?lang=en", headers=AUTH).json()
    assert body["needed"] is False and body["options"] == [] and "already" in body["summary"]

    posted = explain_api.post(
        "/counterfactual", headers=AUTH, json={"application": store.get_client(refused)}
    )
    assert posted.status_code == 200, posted.text
    assert posted.json()["probability"] == pytest.approx(
        model.score_record(store.get_client(refused))
    )
    assert explain_api.get("/clients/1/counterfactual", headers=AUTH).status_code == 404
    assert explain_api.get(f"/clients/{refused}/counterfactual").status_code == 401


# ---------------------------------------------------------------------------- minimum information


@pytest.mark.parametrize("route", ["/score", "/explain", "/counterfactual"])
def test_an_application_without_the_minimum_is_not_scored(
    api: Callable[[str], TestClient], route: str
) -> None:
    function = "score" if route == "/score" else "explain"
    client = api(function)
    empty = client.post(route, headers=AUTH, json={"application": {}})
    assert empty.status_code == 422, empty.text
    body = empty.json()
    assert body["error"] == "insufficient_information"
    named = {d["field"] for d in body["details"]}
    assert set(MINIMUM_FIELDS) <= named
    assert "EXT_SOURCE_1|EXT_SOURCE_2|EXT_SOURCE_3" in named
    for name in MINIMUM_FIELDS:
        assert name in body["message"]

    minimum = {
        "AMT_INCOME_TOTAL": 150_000.0,
        "AMT_CREDIT": 500_000.0,
        "AMT_ANNUITY": 25_000.0,
        "DAYS_BIRTH": -14_000.0,
    }
    no_score = client.post(route, headers=AUTH, json={"application": minimum})
    assert no_score.status_code == 422
    assert [d["field"] for d in no_score.json()["details"]] == [
        "EXT_SOURCE_1|EXT_SOURCE_2|EXT_SOURCE_3"
    ]
    enough = client.post(
        route, headers=AUTH, json={"application": {**minimum, "EXT_SOURCE_2": 0.5}}
    )
    assert enough.status_code == 200, enough.text


def test_the_form_marks_the_minimum(api: Callable[[str], TestClient]) -> None:
    form = api("client").get("/inputs", headers=AUTH).json()
    required = {f["name"] for f in form["fields"] if f["required"]}
    assert required == set(MINIMUM_FIELDS)
    grouped = {f["name"] for f in form["fields"] if f["required_group"]}
    assert grouped == {"EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"}
    assert form["minimum_rule"]
    assert not any(f["name"] in PROTECTED_COLUMNS and f["required"] for f in form["fields"])


# ---------------------------------------------------------------------------- score and similar


def test_score_route_gives_the_band(
    api: Callable[[str], TestClient],
    models: tuple[LocalStore, ModelProvider],
    sample: list[int],
) -> None:
    _, provider = models
    model = provider.current()
    score_api = api("score")
    for client_id in sample[:40]:
        body = score_api.get(f"/clients/{client_id}/score", headers=AUTH).json()
        assert body["band"] == model.band(body["probability"])
        assert body["borderline"] == {"lower": model.borderline[0], "upper": model.borderline[1]}


def test_similar_clients_say_why_they_differ_from_the_score(
    api: Callable[[str], TestClient], sample: list[int]
) -> None:
    client_api = api("client")
    for client_id in sample[:10]:
        for lang in ("fr", "en"):
            body = client_api.get(
                f"/clients/{client_id}/similar", headers=AUTH, params={"k": 50, "lang": lang}
            ).json()
            assert body["lang"] == lang
            assert set(body["client_values"]) == set(body["medians"])
            assert set(body["factors"].values()) <= set(factors())
            bin_ = body["score_bin"]
            assert bin_ is not None
            assert bin_["lower"] <= body["probability"] <= bin_["upper"]
            assert 0.0 <= bin_["default_rate"] <= 1.0 and bin_["n_clients"] >= 100
            text: str = body["explanation"]
            assert ("défaut" in text) if lang == "fr" else ("defaulted" in text)
            assert str(body["k"]) in text


def test_score_bin_lookup_edges() -> None:
    from creditscore_common.similar import score_bin_of

    bins = {
        "edges": [0.0, 0.1, 1.0],
        "n_clients": [900, 100],
        "n_defaulted": [45, 30],
        "mean_probability": [0.05, 0.3],
    }
    first = score_bin_of(bins, 0.05)
    assert first is not None and first.default_rate == 0.05 and first.upper == 0.1
    last = score_bin_of(bins, 1.0)
    assert last is not None and last.default_rate == 0.3
    at_edge = score_bin_of(bins, 0.1)
    assert at_edge is not None and at_edge.lower == 0.1
    assert score_bin_of({}, 0.5) is None
    small: dict[str, Any] = {**bins, "n_clients": [900, 99]}
    assert score_bin_of(small, 0.5) is None  # too few clients to publish a rate
