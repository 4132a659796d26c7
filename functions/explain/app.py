"""Explain function: why a client got their score, what the model is, and how it drifts.

Routes only; the logic lives in the shared package (layer), ``creditscore_common.explain``.
The TreeSHAP booster is loaded at cold start, next to the model, so that no request pays
for it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from mangum import Mangum

from creditscore_common import counterfactual, explain, monitoring, observability
from creditscore_common import model_card as card
from creditscore_common.api import AdvisorDep, ModelsDep, StoreDep, create_app, models_for
from creditscore_common.labels import DEFAULT_LANG, Lang
from creditscore_common.logs import configure_logging
from creditscore_common.schemas import ErrorResponse, ScoreRequest
from creditscore_common.settings import get_settings
from creditscore_common.version import IMPORTANCE_FILE, MODEL_FILE, ONNX_FILE

#: The files of a model version this function reads (each verified when read): the ONNX
#: model (probabilities, counterfactuals), the booster (TreeSHAP), the global importance.
MODEL_FILES = (ONNX_FILE, MODEL_FILE, IMPORTANCE_FILE)

router = APIRouter(tags=["explain"])
ClientId = Path(ge=0, le=2**63 - 1, description="SK_ID_CURR of a new client")
LangQuery = Annotated[Lang, Query(description="language of labels and sentences")]
TopQuery = Annotated[
    int | None,
    Query(ge=1, le=1000, description="list the K largest contributions and one remainder"),
]


@router.get("/clients/{client_id}/explanation", response_model=explain.Explanation)
def explain_client(
    _: AdvisorDep,
    store: StoreDep,
    models: ModelsDep,
    client_id: int = ClientId,
    top: TopQuery = None,
    lang: LangQuery = DEFAULT_LANG,
) -> explain.Explanation:
    """Each feature's contribution to a new client's score, and the refusal reasons."""
    return explain.explain_client(store, models, client_id, lang, top)


@router.post("/explain", response_model=explain.Explanation)
def explain_application(
    _: AdvisorDep,
    models: ModelsDep,
    body: ScoreRequest,
    top: TopQuery = None,
    lang: LangQuery = DEFAULT_LANG,
) -> explain.Explanation:
    """Each feature's contribution to the score of a raw application."""
    return explain.explain_application(models, body.scorable(), lang, top)


@router.get("/clients/{client_id}/counterfactual", response_model=counterfactual.Counterfactual)
def counterfactual_client(
    _: AdvisorDep,
    store: StoreDep,
    models: ModelsDep,
    client_id: int = ClientId,
    lang: LangQuery = DEFAULT_LANG,
) -> counterfactual.Counterfactual:
    """What would change a refusal: the smallest changes to credit, term or down payment."""
    return counterfactual.counterfactual_client(store, models, client_id, lang)


@router.post("/counterfactual", response_model=counterfactual.Counterfactual)
def counterfactual_application(
    _: AdvisorDep, models: ModelsDep, body: ScoreRequest, lang: LangQuery = DEFAULT_LANG
) -> counterfactual.Counterfactual:
    """What would change the refusal of a raw application (same levers as for a client)."""
    return counterfactual.counterfactual_application(models, body.scorable(), lang)


@router.get("/model", response_model=card.ModelCard)
def model_card(
    _: AdvisorDep, models: ModelsDep, store: StoreDep, lang: LangQuery = DEFAULT_LANG
) -> card.ModelCard:
    """The active model's card: training data, metrics, threshold, use, limits, history."""
    return card.model_card(models, lang, store)


@router.get("/model/importance", response_model=card.GlobalImportance)
def model_importance(
    _: AdvisorDep, models: ModelsDep, top: TopQuery = None, lang: LangQuery = DEFAULT_LANG
) -> card.GlobalImportance:
    """Features by mean |TreeSHAP| over training clients, largest first."""
    return card.global_importance(models, lang, top)


@router.get(
    "/monitoring/drift",
    response_model=monitoring.DriftSummary,
    responses={404: {"model": ErrorResponse, "description": "no drift summary has been published"}},
)
def drift_summary(_: AdvisorDep, store: StoreDep) -> dict[str, Any]:
    """The latest data drift summary: reference vs new clients or served traffic."""
    return monitoring.latest_drift_summary(store)


configure_logging("explain")
app = create_app(
    "Credit score — explain",
    "Local and global explanations, model card, drift monitoring.",
    MODEL_FILES,
)
app.include_router(router)
handler = observability.instrument(Mangum(app, lifespan="off"), "explain")
# Model and TreeSHAP booster loaded during Lambda's init phase, not on the first request.
explain.warm_up(lambda: models_for(get_settings()))
