"""The stubbed API answers what the real API answers: each canned answer validates against
the real response model, so the dashboard's tests cannot drift from the API's contract."""

from __future__ import annotations

from typing import Any, get_args

import pytest
import stub_api
from pydantic import BaseModel

from creditscore_common import (
    applications,
    clients,
    compare,
    counterfactual,
    decisions,
    explain,
    factors,
    model_card,
    monitoring,
    schemas,
    similar,
)
from creditscore_common.errors import InsufficientApplicationError

STATE = stub_api.StubApi()


def ask(method: str, path: str, params: dict[str, str] | None = None, body: Any = None) -> Any:
    status, answer = STATE.answer(method, path, params or {}, body)
    assert status in (200, 201), answer
    return answer


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "model"),
    [
        ("GET", "/health", None, None, schemas.HealthResponse),
        ("GET", "/clients", {"limit": "2"}, None, clients.ClientPage),
        ("GET", "/clients", {"with_score": "true", "pending": "true"}, None, clients.ClientPage),
        ("GET", "/clients", {"verdict": "borderline"}, None, clients.ClientPage),
        ("GET", "/clients/100001", {"lang": "fr"}, None, clients.ClientDetails),
        ("GET", "/clients/100001/application", None, None, applications.ApplicationResponse),
        ("GET", "/clients/100002/score", None, None, schemas.ScoreResponse),
        ("GET", "/clients/100004/score", None, None, schemas.ScoreResponse),
        ("GET", "/clients/100002/explanation", {"top": "3"}, None, explain.Explanation),
        ("GET", "/clients/100001/explanation", {"lang": "en"}, None, explain.Explanation),
        (
            "GET",
            "/clients/100002/counterfactual",
            {"lang": "fr"},
            None,
            counterfactual.Counterfactual,
        ),
        (
            "GET",
            "/clients/100001/counterfactual",
            {"lang": "en"},
            None,
            counterfactual.Counterfactual,
        ),
        (
            "POST",
            "/counterfactual",
            {"lang": "en"},
            {"application": stub_api.CLIENTS[100002]},
            counterfactual.Counterfactual,
        ),
        ("GET", "/clients/100001/comparison", {"gender": "same"}, None, compare.ComparisonResponse),
        (
            "GET",
            "/clients/100001/bivariate",
            {"x": "AMT_CREDIT", "y": "AGE_YEARS"},
            None,
            compare.BivariateResponse,
        ),
        ("GET", "/clients/100001/similar", {"k": "30"}, None, similar.SimilarResponse),
        (
            "POST",
            "/clients/100001/decisions",
            None,
            {"decision": "accept", "comment": ""},
            schemas.DecisionRecord,
        ),
        ("GET", "/clients/100001/decisions", None, None, decisions.DecisionList),
        (
            "POST",
            "/score",
            None,
            {"application": stub_api.CLIENTS[100004]},
            schemas.ScoreResponse,
        ),
        (
            "POST",
            "/explain",
            {"lang": "en"},
            {"application": stub_api.CLIENTS[100001]},
            explain.Explanation,
        ),
        ("GET", "/inputs", {"lang": "en"}, None, applications.InputsResponse),
        ("GET", "/model", {"lang": "fr"}, None, model_card.ModelCard),
        ("GET", "/model/importance", {"top": "2"}, None, model_card.GlobalImportance),
        ("GET", "/monitoring/drift", None, None, monitoring.DriftSummary),
    ],
)
def test_stub_answers_validate_against_the_real_models(
    method: str, path: str, params: dict[str, str] | None, body: Any, model: type[BaseModel]
) -> None:
    model.model_validate(ask(method, path, params, body))


@pytest.mark.parametrize("client_id", stub_api.SCORED)
def test_stub_explanations_add_up(client_id: int) -> None:
    answer = ask("GET", f"/clients/{client_id}/explanation", {"top": "5"})
    assert answer["additivity_gap"] < 1e-9
    # factors: each once, their points add up to probability - base, largest first
    keys = [f["factor"] for f in answer["factors"]]
    assert len(keys) == len(set(keys))
    assert sum(f["points"] for f in answer["factors"]) == pytest.approx(answer["points_total"])
    assert answer["points_total"] == pytest.approx(
        100 * (answer["probability"] - answer["base_probability"])
    )
    sizes = [abs(f["contribution"]) for f in answer["factors"]]
    assert sizes == sorted(sizes, reverse=True)
    # reasons are factors pushing towards the decision, strongest first
    wanted = "raises" if answer["decision"] == "refuse" else "lowers"
    assert answer["reasons"] and all(r["direction"] == wanted for r in answer["reasons"])
    assert all(r in answer["factors"] for r in answer["reasons"])


def test_stub_factors_are_the_real_factors() -> None:
    real = factors.factors()
    members = factors.factor_members()
    answer = ask("GET", "/clients/100002/explanation", {"lang": "en"})
    assert len(answer["factors"]) == len(real)  # every factor, each once
    for item in answer["factors"]:
        assert item["label"] == real[item["factor"]].label("en")
    for item in answer["contributions"]:
        if item["kind"] == "other":
            continue
        member = item["column"] if item["kind"] in ("raw", "flag", "level") else item["feature"]
        assert members[member] == item["factor"], item["feature"]
    neighbours = ask("GET", "/clients/100001/similar")
    for name, key in neighbours["factors"].items():
        assert similar.summary_factor(name) == key
        assert name in similar.SIMILAR_SUMMARY


def test_stub_bands_follow_the_interval() -> None:
    for client_id, band in ((100001, "clear"), (100002, "clear"), (100004, "borderline")):
        answer = ask("GET", f"/clients/{client_id}/score")
        assert answer["band"] == band
        lower, upper = answer["borderline"]["lower"], answer["borderline"]["upper"]
        assert (lower <= answer["probability"] < upper) == (band == "borderline")


def test_stub_refuses_an_application_without_the_minimum_like_the_api() -> None:
    assert stub_api.MINIMUM_FIELDS == schemas.MINIMUM_FIELDS
    assert stub_api.MINIMUM_ONE_OF == schemas.MINIMUM_ONE_OF
    for path in ("/score", "/explain", "/counterfactual"):
        status, answer = STATE.answer("POST", path, {}, {"application": {"AMT_CREDIT": 1.0}})
        assert status == 422
        schemas.ErrorResponse.model_validate(answer)
        missing = schemas.missing_minimum({"AMT_CREDIT": 1.0})
        error = InsufficientApplicationError(missing)
        assert answer["error"] == error.code
        assert answer["message"] == str(error)
        assert answer["details"] == error.details


def test_stub_inputs_mark_the_real_required_fields() -> None:
    real = {f.name: f for f in applications.input_fields("fr").fields}
    answer = ask("GET", "/inputs", {"lang": "fr"})
    for item in answer["fields"]:
        assert item["required"] == real[item["name"]].required, item["name"]
        assert item["required_group"] == real[item["name"]].required_group, item["name"]
    assert answer["minimum_rule"] == applications.input_fields("fr").minimum_rule


def test_stub_forms_use_real_field_names() -> None:
    real = {f.name for f in applications.input_fields("fr").fields}
    stub = {f["name"] for f in ask("GET", "/inputs")["fields"]}
    assert stub <= real
    real_groups = {g.name: {o.value for o in g.levels} for g in applications.group_filters("fr")}
    for group in ask("GET", "/inputs")["groups"]:
        assert {o["value"] for o in group["levels"]} <= real_groups[group["name"]]
    for application in stub_api.CLIENTS.values():
        schemas.Application.model_validate(application)


def test_the_dashboard_names_only_real_fields_and_features() -> None:
    from creditscore_common.profiles import FEATURE_NAMES
    from dashboard import compare_tab, forms

    real = {f.name for f in applications.input_fields("fr").fields}
    for name in (*forms.WHATIF_FIELDS, *forms.NEW_FIELDS, *forms.NEW_OPTIONAL_FIELDS):
        assert name in real, name
    assert set(compare_tab.DEFAULT_COMPARED) <= set(FEATURE_NAMES)


def test_the_stub_sends_the_real_group_filters_and_sections_in_the_real_order() -> None:
    """The dashboard takes both orders from the API: the stub must not hide a change."""
    real_groups = [g.name for g in applications.group_filters("fr")]
    assert [g["name"] for g in ask("GET", "/inputs")["groups"]] == real_groups
    for client_id in stub_api.SCORED:
        real = clients.describe_client(client_id, stub_api.CLIENTS[client_id], "fr")
        real_order = list(dict.fromkeys(f.section for f in real.fields))
        stub = ask("GET", f"/clients/{client_id}", {"lang": "fr"})
        assert list(dict.fromkeys(f["section"] for f in stub["fields"])) == real_order


def test_the_dashboard_has_words_for_every_real_group_filter_and_section() -> None:
    """Titles are the dashboard's only part: a missing one would fall back to other words."""
    from dashboard import i18n

    for group in applications.group_filters("fr"):
        assert i18n.has_text(f"filter_{group.name}"), group.name
    for section in get_args(clients.ClientField.model_fields["section"].annotation):
        assert i18n.has_text(f"section_{section}"), section


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_stub_fairness_is_worded_and_counted_like_the_api(lang: str) -> None:
    card = ask("GET", "/model", {"lang": lang})
    answer = card["fairness"]
    # Without its labels, the record goes through the real card's builder to the same answer.
    recorded = {
        **answer,
        "dimensions": {
            name: {
                **{k: v for k, v in dimension.items() if k != "label"},
                "groups": [
                    {k: v for k, v in g.items() if k != "label"} for g in dimension["groups"]
                ],
            }
            for name, dimension in answer["dimensions"].items()
        },
    }
    built = model_card.fairness_of(recorded, lang)
    assert built is not None and built.model_dump() == answer
    for dimension in answer["dimensions"].values():
        assert sum(g["n"] for g in dimension["groups"]) == card["training_data"]["n_clients"]
        assert sum(g["n_defaulted"] or 0 for g in dimension["groups"]) == round(
            card["training_data"]["n_clients"] * card["training_data"]["default_rate"]
        )
    assert answer["threshold"] == card["threshold"]
    model_card.Calibration.model_validate(card["calibration"])


def test_reason_codes_agree_with_the_api() -> None:
    """The stub, the dashboard's list and its words say what decisions.REASON_CODES says."""
    from dashboard.decision_tab import REASONS
    from dashboard.i18n import french_spaces, t

    by_model = {
        model: tuple(
            code for code, (against, _, _) in decisions.REASON_CODES.items() if model in against
        )
        for model in ("accept", "refuse")
    }
    assert stub_api.REASON_CODES == by_model == REASONS
    assert set(decisions.REASON_CODES) == set(get_args(schemas.ReasonCode))
    for code, (_, french, english) in decisions.REASON_CODES.items():
        assert (t(f"reason_{code}", "fr"), t(f"reason_{code}", "en")) == (
            french_spaces(french),
            english,
        )


def test_the_stub_records_a_submission_once_and_replaces_only_on_purpose() -> None:
    state = stub_api.StubApi()
    url = "/clients/100002/decisions"  # the model refuses 100002
    body = {"decision": "refuse", "comment": "vu"}
    first = state.answer("POST", url, {}, body, "k1")
    assert first[0] == 201 and state.answer("POST", url, {}, body, "k1") == (200, first[1])
    assert state.answer("POST", url, {}, {**body, "comment": "autre"}, "k1")[0] == 409
    assert state.answer("POST", url, {}, body, "k2")[0] == 409  # no supersedes
    against = {"decision": "accept", "comment": "", "supersedes": first[1]["decided_at"]}
    assert state.answer("POST", url, {}, against, "k3")[0] == 422  # no reason code
    replaced = state.answer("POST", url, {}, {**against, "reason_code": "co_emprunteur"}, "k4")
    assert replaced[0] == 201
    listed = decisions.DecisionList.model_validate(state.answer("GET", url, {}, None)[1])
    assert listed.final is not None and listed.final.decided_at == replaced[1]["decided_at"]
    assert len(listed.decisions) == 2
