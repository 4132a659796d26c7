"""FastAPI plumbing shared by the three functions: app factory, errors, auth, dependencies.

Each function's ``app.py`` holds routes only; this module decides how an error becomes an
HTTP answer (in one place), how callers authenticate, and how a route gets the store and the
active model. Tests swap any of these through ``app.dependency_overrides``.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from creditscore_common.errors import CreditScoreError
from creditscore_common.provider import ModelProvider
from creditscore_common.schemas import ErrorResponse
from creditscore_common.settings import Settings, get_settings
from creditscore_common.store import Store, open_store

log = logging.getLogger("creditscore.api")

#: The error answers every route may give, documented in the OpenAPI schema of each app.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "missing or wrong bearer token"},
    404: {"model": ErrorResponse, "description": "unknown client"},
    422: {"model": ErrorResponse, "description": "invalid request; `details` names each field"},
    503: {"model": ErrorResponse, "description": "store or model unavailable"},
}

#: Files of a model version the functions of this process read, beside metadata.json: each
#: function's app names its own (one function a process on Lambda; all three locally).
_model_files: set[str] = set()


class AuthError(CreditScoreError):
    """The caller did not prove who they are."""

    status_code = 401
    code = "unauthorized"


# ------------------------------------------------------------------- dependencies


@lru_cache(maxsize=1)
def _store(settings: Settings) -> Store:
    return open_store(settings)


@lru_cache(maxsize=1)
def _models(settings: Settings) -> ModelProvider:
    return ModelProvider(_store(settings), settings.model_refresh_seconds, files=_model_files)


def serve_model_files(files: Iterable[str]) -> None:
    """Have the model provider of this process fetch these files of every active version."""
    new = set(files) - _model_files
    if not new:
        return
    _model_files.update(new)
    if _models.cache_info().currsize:  # a provider made before this function's app
        _models(get_settings()).need(new)


def models_for(settings: Settings) -> ModelProvider:
    """The model provider of this process (one loaded model per container)."""
    return _models(settings)


# The dependencies are `async def`: FastAPI runs a sync dependency in a worker thread, a hop
# that costs more than the work they do (a cached lookup).
async def current_settings() -> Settings:
    """The settings of this process (dependency)."""
    return get_settings()


async def get_store(settings: Annotated[Settings, Depends(current_settings)]) -> Store:
    """The store of this process (dependency; tests override it)."""
    return _store(settings)


async def get_models(settings: Annotated[Settings, Depends(current_settings)]) -> ModelProvider:
    """The model provider of this process (dependency; tests override it)."""
    return _models(settings)


def reset_caches() -> None:
    """Forget settings, store, model and model files (tests, or a new environment).

    The next function app created names its model files again.
    """
    get_settings.cache_clear()
    _store.cache_clear()
    _models.cache_clear()
    _model_files.clear()


_bearer = HTTPBearer(auto_error=False)


async def require_auth(
    request: Request,
    settings: Annotated[Settings, Depends(current_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The caller's identity, or 401.

    ``token`` mode (local server): the bearer token must equal API_TOKEN. ``jwt`` mode
    (AWS): API Gateway's JWT authorizer has already verified the token; the function only
    reads the verified claims it passes along and refuses a request without them.
    """
    if settings.auth_mode == "jwt":
        event = request.scope.get("aws.event") or {}
        claims = event.get("requestContext", {}).get("authorizer", {}).get("jwt", {}).get("claims")
        if not claims:
            raise AuthError("no verified JWT claims: call through API Gateway")
        return str(claims.get("email") or claims.get("username") or claims.get("sub"))
    if not settings.api_token:
        raise AuthError("API_TOKEN is not set on the server: every request is refused")
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthError("missing bearer token (Authorization: Bearer <token>)")
    if not hmac.compare_digest(credentials.credentials.encode(), settings.api_token.encode()):
        raise AuthError("wrong bearer token")
    return "local-advisor"


StoreDep = Annotated[Store, Depends(get_store)]
ModelsDep = Annotated[ModelProvider, Depends(get_models)]
AdvisorDep = Annotated[str, Depends(require_auth)]


# ------------------------------------------------------------------- errors


def _error(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"error": code, "message": message}
    if details is not None:
        body["details"] = details
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(status_code=status, content=body, headers=headers)


async def _domain_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, CreditScoreError)
    if error.status_code >= 500:
        log.error("%s: %s", error.code, error)
    return _error(error.status_code, error.code, str(error), error.details)


async def _validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    details = [
        {
            "field": ".".join(str(p) for p in e["loc"][1:] if p != "application"),
            "location": ".".join(str(p) for p in e["loc"]),
            "problem": e["msg"],
        }
        for e in error.errors()
    ]
    fields = ", ".join(sorted({d["field"] or d["location"] for d in details}))
    return _error(422, "invalid_request", f"invalid fields: {fields}", details)


async def _http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    return _error(error.status_code, "http_error", str(error.detail))


async def _unexpected_error(_: Request, error: Exception) -> JSONResponse:
    # Logged with its stack for the operators; the caller gets no internals.
    log.exception("unexpected error", exc_info=error)
    return _error(500, "internal_error", "unexpected server error; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors, validation errors and anything unexpected to JSON answers."""
    app.add_exception_handler(CreditScoreError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


def create_app(title: str, description: str, model_files: Iterable[str] = ()) -> FastAPI:
    """A FastAPI app with the shared error handling (routes are added by the function).

    ``model_files``: the files of a model version the function's routes read, beside
    metadata.json; the model provider fetches those (see :func:`serve_model_files`).
    """
    serve_model_files(model_files)
    app = FastAPI(title=title, description=description, version="1.0", responses=ERROR_RESPONSES)
    install_error_handlers(app)
    return app


def warm_up() -> None:
    """Open the store and load the active model now (cold start), if configuration allows.

    A failure is logged, not raised: the function still starts and answers 503 with the
    reason, instead of crashing at import where nobody sees a clean message.
    """
    try:
        settings = get_settings()
        _models(settings).current()
    except Exception as error:  # reported through /health and 503 answers
        log.warning("warm-up could not load the model: %s", error)
