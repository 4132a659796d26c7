"""Client function: new clients, how they compare with reference clients, and decisions.

Routes only; the logic lives in the shared package (layer) ``creditscore_common``:
``clients`` (the list and the description of new clients), ``compare`` (comparisons with
the reference clients: aggregates only, never a reference client; ``reference_index`` loads
them) and ``decisions`` (the append-only audit log). Every route requires authentication.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response
from mangum import Mangum

from creditscore_common import (
    applications,
    clients,
    compare,
    decisions,
    observability,
    reference_index,
    schemas,
)
from creditscore_common import similar as neighbours
from creditscore_common.api import (
    AdvisorDep,
    ModelsDep,
    StoreDep,
    create_app,
    models_for,
    warm_up,
)
from creditscore_common.logs import configure_logging
from creditscore_common.settings import get_settings
from creditscore_common.version import ONNX_FILE, PROFILES_FILE

#: The files of a model version this function reads (each verified when read): the ONNX
#: model (decisions record the score) and the reference clients' comparison profiles.
MODEL_FILES = (ONNX_FILE, PROFILES_FILE)

router = APIRouter(tags=["clients"])
ClientId = Path(ge=0, le=2**63 - 1, description="SK_ID_CURR of a new client")


@router.get("/clients", response_model=clients.ClientPage)
def list_clients(
    _: AdvisorDep,
    store: StoreDep,
    models: ModelsDep,
    query: Annotated[clients.ClientListQuery, Query()],
) -> clients.ClientPage:
    """A page of new clients, optionally searched (`q`), scored and filtered (the worklist)."""
    return clients.client_page(store, query, models)


@router.get("/clients/{client_id}", response_model=clients.ClientDetails)
def get_client(
    _: AdvisorDep,
    store: StoreDep,
    query: Annotated[clients.ClientQuery, Query()],
    client_id: int = ClientId,
) -> clients.ClientDetails:
    """What an advisor needs about a client: labelled fields in human units, by section."""
    return clients.client_details(store, client_id, query)


@router.get("/clients/{client_id}/application", response_model=applications.ApplicationResponse)
def get_application(
    _: AdvisorDep, store: StoreDep, client_id: int = ClientId
) -> applications.ApplicationResponse:
    """The client's raw application, to edit and send to POST /score ("what if")."""
    return applications.client_application(store, client_id)


@router.get("/inputs", response_model=applications.InputsResponse)
def inputs(
    _: AdvisorDep, query: Annotated[clients.ClientQuery, Query()]
) -> applications.InputsResponse:
    """Every application field: label, kind, allowed levels and bounds (to build a form)."""
    return applications.input_fields(query.lang)


@router.get("/clients/{client_id}/comparison", response_model=compare.ComparisonResponse)
def comparison(
    _: AdvisorDep,
    store: StoreDep,
    models: ModelsDep,
    query: Annotated[compare.ComparisonQuery, Query()],
    client_id: int = ClientId,
) -> compare.ComparisonResponse:
    """The client's value, percentile and the group's histograms by class, per feature.

    The group is every reference client, narrowed by any of `age_band`, `gender`,
    `contract_type`, `income_type`, `education` (a level, or `same` for the client's own).
    Counts of 1 to 4 are null; a group under 100 clients (or 20 of a class) is a 422.
    """
    return compare.client_comparison(store, models, client_id, query)


@router.get("/clients/{client_id}/bivariate", response_model=compare.BivariateResponse)
def bivariate(
    _: AdvisorDep,
    store: StoreDep,
    models: ModelsDep,
    query: Annotated[compare.BivariateQuery, Query()],
    client_id: int = ClientId,
) -> compare.BivariateResponse:
    """Binned 2-D density of features `x` and `y` by class (same group filters), and the client."""
    return compare.client_bivariate(store, models, client_id, query)


@router.get("/clients/{client_id}/similar", response_model=neighbours.SimilarResponse)
def similar(
    _: AdvisorDep,
    store: StoreDep,
    models: ModelsDep,
    query: Annotated[neighbours.SimilarQuery, Query()],
    client_id: int = ClientId,
) -> neighbours.SimilarResponse:
    """Default rate and summary of the `k` (>= 20) most similar reference clients."""
    return neighbours.client_similar(store, models, client_id, query)


@router.post(
    "/clients/{client_id}/decisions",
    response_model=schemas.DecisionRecord,
    status_code=201,
    responses={
        200: {
            "model": schemas.DecisionRecord,
            "description": "a repeat of an Idempotency-Key: the first record, nothing written",
        },
        409: {
            "model": schemas.ErrorResponse,
            "description": "the client has a final decision and `supersedes` does not name it, "
            "or the Idempotency-Key was used for another decision",
        },
    },
)
def record_decision(
    advisor: AdvisorDep,
    store: StoreDep,
    models: ModelsDep,
    body: decisions.DecisionRequest,
    response: Response,
    client_id: int = ClientId,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            pattern=decisions.IDEMPOTENCY_KEY_PATTERN,
            description="one per form submission: a repeat is answered with the first record",
        ),
    ] = None,
) -> schemas.DecisionRecord:
    """Record the advisor's decision with the client's current score (append-only, once)."""
    record, written = decisions.record_decision(
        store, models, client_id, body, advisor, idempotency_key
    )
    if not written:
        response.status_code = 200
    return record


@router.get("/clients/{client_id}/decisions", response_model=decisions.DecisionList)
def list_decisions(
    _: AdvisorDep, store: StoreDep, client_id: int = ClientId
) -> decisions.DecisionList:
    """Every decision recorded on the client, oldest first, and the current final one."""
    return decisions.client_decisions(store, client_id)


configure_logging("client")
app = create_app(
    "Credit score — clients",
    "New clients, comparisons with reference clients (aggregates only), decisions.",
    MODEL_FILES,
)
app.include_router(router)
handler = observability.instrument(Mangum(app, lifespan="off"), "client")
warm_up()  # the model, during Lambda's init phase
reference_index.warm_up(lambda: models_for(get_settings()))  # and its reference profiles
