"""The stubbed API answers what the real API answers: each canned answer validates against
the real response model, so the dashboard's tests cannot drift from the API's contract."""

from __future__ import annotations

from typing import Any

import pytest
import stub_api
from pydantic import BaseModel

from creditscore_common import applications, compare, decisions, explain, monitoring, schemas

STATE = stub_api.StubApi()


def ask(method: str, path: str, params: dict[str, str] | None = None, body: Any = None) -> Any:
    status, answer = STATE.answer(method, path, params or {}, body)
    assert status in (200, 201), answer
    return answer


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "model"),
    [
        ("GET", "/health", None, None, schemas.HealthResponse),
        ("GET", "/clients", {"limit": "2"}, None, compare.ClientPage),
        ("GET", "/clients/100001", {"lang": "fr"}, None, compare.ClientDetails),
        ("GET", "/clients/100001/application", None, None, applications.ApplicationResponse),
        ("GET", "/clients/100002/score", None, None, schemas.ScoreResponse),
        ("GET", "/clients/100002/explanation", {"top": "3"}, None, explain.Explanation),
        ("GET", "/clients/100001/comparison", {"gender": "same"}, None, compare.ComparisonResponse),
        (
            "GET",
            "/clients/100001/bivariate",
            {"x": "AMT_CREDIT", "y": "AGE_YEARS"},
            None,
            compare.BivariateResponse,
        ),
        ("GET", "/clients/100001/similar", {"k": "30"}, None, compare.SimilarResponse),
        (
            "POST",
            "/clients/100001/decisions",
            None,
            {"decision": "accept", "comment": ""},
            decisions.DecisionRecord,
        ),
        ("GET", "/clients/100001/decisions", None, None, decisions.DecisionList),
        ("POST", "/score", None, {"application": {"AMT_INCOME_TOTAL": 1.0}}, schemas.ScoreResponse),
        ("POST", "/explain", {"lang": "en"}, {"application": {}}, explain.Explanation),
        ("GET", "/inputs", {"lang": "en"}, None, applications.InputsResponse),
        ("GET", "/model", {"lang": "fr"}, None, explain.ModelCard),
        ("GET", "/model/importance", {"top": "2"}, None, explain.GlobalImportance),
        ("GET", "/monitoring/drift", None, None, monitoring.DriftSummary),
    ],
)
def test_stub_answers_validate_against_the_real_models(
    method: str, path: str, params: dict[str, str] | None, body: Any, model: type[BaseModel]
) -> None:
    model.model_validate(ask(method, path, params, body))


def test_stub_explanations_add_up() -> None:
    answer = ask("GET", "/clients/100002/explanation")
    assert answer["additivity_gap"] < 1e-9


def test_stub_forms_use_real_field_names() -> None:
    real = {f.name for f in applications.input_fields("fr").fields}
    stub = {f["name"] for f in ask("GET", "/inputs")["fields"]}
    assert stub <= real
    real_groups = {g.name: {o.value for o in g.levels} for g in applications.group_filters("fr")}
    for group in ask("GET", "/inputs")["groups"]:
        assert {o["value"] for o in group["levels"]} <= real_groups[group["name"]]
    for application in stub_api.CLIENTS.values():
        schemas.Application.model_validate(application)


def test_the_dashboard_names_only_real_fields_features_and_filters() -> None:
    from creditscore_common.profiles import FEATURE_NAMES
    from dashboard import forms, pages

    real = {f.name for f in applications.input_fields("fr").fields}
    for name in (*forms.WHATIF_FIELDS, *forms.NEW_FIELDS, *forms.NEW_OPTIONAL_FIELDS):
        assert name in real, name
    assert set(pages.DEFAULT_COMPARED) <= set(FEATURE_NAMES)
    assert set(pages.FILTERS) <= set(compare.GroupFilters.model_fields)
