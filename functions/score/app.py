"""Score function: default probability and decision for a client or a raw application.

Routes only; the logic lives in the shared package (layer) ``creditscore_common``.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from mangum import Mangum

from creditscore_common import observability, service, traffic
from creditscore_common.api import (
    AdvisorDep,
    ModelsDep,
    StoreDep,
    create_app,
    current_settings,
    models_for,
    warm_up,
)
from creditscore_common.errors import CreditScoreError
from creditscore_common.logs import configure_logging
from creditscore_common.provider import ModelProvider
from creditscore_common.schemas import HealthResponse, ScoreRequest, ScoreResponse
from creditscore_common.settings import Settings, get_settings
from creditscore_common.version import ONNX_FILE

#: The files of a model version this function reads (each verified when read).
MODEL_FILES = (ONNX_FILE,)

# Routes are `async def` on purpose: scoring is under a millisecond of CPU, and a sync route
# would pay FastAPI's hop to a worker thread on every call (about half the handler latency).
router = APIRouter(tags=["score"])
ClientId = Path(ge=0, le=2**63 - 1, description="SK_ID_CURR of a new client")


async def health_models(
    settings: Annotated[Settings, Depends(current_settings)],
) -> ModelProvider | CreditScoreError:
    """The model provider, or why the store cannot be opened (/health reports it, not 503)."""
    try:
        return models_for(settings)
    except CreditScoreError as error:
        return error


@router.get("/health", response_model=HealthResponse)
async def health(
    models: Annotated[ModelProvider | CreditScoreError, Depends(health_models)],
) -> dict[str, Any]:
    """Liveness and the active model version, or why it is degraded (no authentication)."""
    return service.health(models)


@router.get("/clients/{client_id}/score", response_model=ScoreResponse)
async def score_client(
    _: AdvisorDep, store: StoreDep, models: ModelsDep, client_id: int = ClientId
) -> dict[str, Any]:
    """Default probability and decision of a new client of the store."""
    return {"client_id": client_id, **service.serve_client(store, models, client_id).as_dict()}


@router.post("/score", response_model=ScoreResponse, response_model_exclude_none=True)
async def score_application(_: AdvisorDep, models: ModelsDep, body: ScoreRequest) -> dict[str, Any]:
    """Default probability and decision of a raw application (any field may be missing)."""
    return service.serve_application(models, body.scorable()).as_dict()


configure_logging("score")
try:  # one JSON line per served score (TRAFFIC_LOG): the drift analysis reads them back
    traffic.configure_traffic_log(get_settings().traffic_log)
except ValueError as error:  # invalid settings: warm_up reports them, routes answer 503
    logging.getLogger(__name__).warning("traffic log not configured: %s", error)
app = create_app("Credit score — score", "Default probability and decision.", MODEL_FILES)
app.include_router(router)
handler = observability.instrument(Mangum(app, lifespan="off"), "score")
warm_up()  # load the model during Lambda's init phase, not on the first request
