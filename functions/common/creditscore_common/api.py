"""FastAPI plumbing shared by the three functions: app factory, errors, auth, dependencies.

Each function's ``app.py`` holds routes only; this module decides how an error becomes an
HTTP answer (in one place), how callers authenticate, and how a route gets the store and the
active model. Tests swap any of these through ``app.dependency_overrides``.
"""

from __future__ import annotations

import email.message
import hmac
import logging
import threading
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from creditscore_common import observability
from creditscore_common.errors import CreditScoreError, ModelUnavailableError, StoreUnavailableError
from creditscore_common.provider import ModelProvider
from creditscore_common.schemas import ErrorResponse
from creditscore_common.settings import Settings, get_settings
from creditscore_common.store import Store, open_store

log = logging.getLogger("creditscore.api")

#: The error answers every route may give, documented in the OpenAPI schema of each app.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "missing or wrong bearer token"},
    404: {"model": ErrorResponse, "description": "unknown client"},
    413: {"model": ErrorResponse, "description": "request body over MAX_BODY_BYTES (64 KB)"},
    422: {
        "model": ErrorResponse,
        "description": "invalid request: a field (`details` names each), a body that is not "
        "UTF-8 JSON, or a content type other than application/json",
    },
    500: {"model": ErrorResponse, "description": "unexpected server error (logged)"},
    503: {
        "model": ErrorResponse,
        "description": "store or model unavailable",
        "headers": {
            "Retry-After": {
                "description": "seconds to wait before retrying, when the store is only "
                "busy or slow (throttled, timed out): the request may then succeed",
                "schema": {"type": "integer", "minimum": 1},
            }
        },
    },
}

#: Largest request body accepted (bytes); a larger one is answered 413 before it is parsed.
MAX_BODY_BYTES = 64 * 1024

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
    # On Lambda each store call is an X-Ray subsegment (store.<method>).
    return observability.traced_store(open_store(settings))


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


def _error(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": code, "message": message}
    if details is not None:
        body["details"] = details
    answer_headers = dict(headers or {})
    if status == 401:
        answer_headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(status_code=status, content=body, headers=answer_headers or None)


async def _domain_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, CreditScoreError)
    if error.status_code >= 500:
        log.error("%s: %s", error.code, error)
    if isinstance(error, StoreUnavailableError):
        observability.count(observability.STORE_ERRORS)
    elif isinstance(error, ModelUnavailableError):
        observability.count(observability.MODEL_ERRORS)
    # A transient failure (a throttled or slow store) says when to try again.
    retry_after = error.retry_after
    headers = {"Retry-After": str(retry_after)} if isinstance(retry_after, int) else None
    return _error(error.status_code, error.code, str(error), error.details, headers)


def _is_json(content_type: str | None) -> bool:
    """Whether a Content-Type names JSON (application/json or application/*+json)."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _json_position(doc: Any, pos: Any) -> str:
    """``line L column C`` of a character position in a JSON document."""
    if not isinstance(doc, str) or not isinstance(pos, int):
        return f"position {pos}"
    line = doc.count("\n", 0, pos) + 1
    column = pos - (doc.rfind("\n", 0, pos) + 1) + 1
    return f"line {line} column {column}"


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = list(error.errors())
    broken = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if broken is not None:
        reason = (broken.get("ctx") or {}).get("error", "malformed JSON")
        where = _json_position(error.body, broken["loc"][-1])
        message = f"invalid JSON body: {reason} at {where}"
        details = [{"field": "body", "location": "body", "problem": message}]
        return _error(422, "invalid_request", message, details)
    content_type = request.headers.get("content-type")
    if (
        content_type
        and not _is_json(content_type)
        and any(e["loc"][:1] == ("body",) for e in errors)
    ):
        message = f"the request body must be application/json (got Content-Type: {content_type})"
        details = [{"field": "body", "location": "body", "problem": message}]
        return _error(422, "invalid_request", message, details)
    details = [
        {
            "field": ".".join(str(p) for p in e["loc"][1:] if p != "application"),
            "location": ".".join(str(p) for p in e["loc"]),
            "problem": e["msg"],
        }
        for e in errors
    ]
    fields = ", ".join(sorted({d["field"] or d["location"] for d in details}))
    return _error(422, "invalid_request", f"invalid fields: {fields}", details)


async def _http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    # Headers such as Allow (405) are part of the answer.
    return _error(error.status_code, "http_error", str(error.detail), headers=error.headers)


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


# ------------------------------------------------------------------- request guard


_protected_cache: dict[int, tuple[dict[str, Any], list[tuple[Any, set[str]]]]] = {}
_openapi_lock = threading.Lock()


def _protected_operations(app: FastAPI) -> list[tuple[Any, set[str]]]:
    """(path regex, methods) of the operations that declare the bearer scheme.

    Read from the OpenAPI schema: an operation is marked with the bearer security scheme
    exactly when it depends on :func:`require_auth` (through ``_bearer``).
    """
    if app.openapi_schema is None:
        # FastAPI builds the schema on first use and caches it, but two threads building it
        # at once (the first concurrent requests) can break each other: one builds it.
        with _openapi_lock:
            app.openapi()
    schema = app.openapi()  # cached by FastAPI
    cached = _protected_cache.get(id(app))
    if cached is not None and cached[0] is schema:
        return cached[1]
    operations: list[tuple[Any, set[str]]] = []
    for path, items in schema.get("paths", {}).items():
        methods = {
            m.upper() for m, op in items.items() if isinstance(op, dict) and op.get("security")
        }
        if methods:
            if "GET" in methods:
                methods.add("HEAD")
            operations.append((compile_path(path)[0], methods))
    _protected_cache[id(app)] = (schema, operations)
    return operations


class _BodyTooLargeError(Exception):
    """The body went over MAX_BODY_BYTES while being read."""


class RequestGuard:
    """ASGI middleware: what is checked before a route parses the request body.

    * A route that depends on :func:`require_auth` and a request that carries no credentials
      at all (no Authorization header in ``token`` mode; no verified claims in ``jwt`` mode)
      is answered 401 without reading the body; any credentials present are judged by
      :func:`require_auth` (the source of truth) as before.
    * A body over :data:`MAX_BODY_BYTES` is answered 413: at once from Content-Length, else
      while it is read.
    * A body that is not UTF-8 is answered 422 (JSON is UTF-8).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 401, 413 or 422 here, or pass the request on with its body replayed."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answer = self._anonymous(scope) or self._declared_too_large(scope)
        if answer is not None:
            await answer(scope, receive, send)
            return
        try:
            messages, body = await self._read_body(receive)
        except _BodyTooLargeError:
            await _too_large()(scope, receive, send)
            return
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as error:
            message = (
                f"the request body is not valid UTF-8 (byte 0x{body[error.start]:02x} at "
                f"offset {error.start}): send UTF-8 JSON (application/json)"
            )
            details = [{"field": "body", "location": "body", "problem": message}]
            await _error(422, "invalid_request", message, details)(scope, receive, send)
            return
        pending = list(messages)

        async def replay() -> Message:
            if pending:
                return pending.pop(0)
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _read_body(receive: Receive) -> tuple[list[Message], bytes]:
        messages: list[Message] = []
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise _BodyTooLargeError
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return messages, b"".join(chunks)

    @staticmethod
    def _declared_too_large(scope: Scope) -> JSONResponse | None:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return None
                return _too_large() if declared > MAX_BODY_BYTES else None
        return None

    @staticmethod
    def _anonymous(scope: Scope) -> JSONResponse | None:
        app = scope.get("app")
        if not isinstance(app, FastAPI) or require_auth in app.dependency_overrides:
            return None
        path, method = scope.get("path", ""), scope.get("method", "")
        if not any(
            method in methods and regex.match(path) for regex, methods in _protected_operations(app)
        ):
            return None
        settings = get_settings()
        if settings.auth_mode == "jwt":
            event = scope.get("aws.event") or {}
            claims = (
                event.get("requestContext", {}).get("authorizer", {}).get("jwt", {}).get("claims")
            )
            if claims:
                return None
            message = "no verified JWT claims: call through API Gateway"
        else:
            if any(name == b"authorization" for name, _ in scope.get("headers", [])):
                return None
            message = "missing bearer token (Authorization: Bearer <token>)"
        return _error(401, AuthError.code, message)


def _too_large() -> JSONResponse:
    return _error(
        413,
        "payload_too_large",
        f"the request body is over {MAX_BODY_BYTES} bytes ({MAX_BODY_BYTES // 1024} KB)",
    )


def create_app(title: str, description: str, model_files: Iterable[str] = ()) -> FastAPI:
    """A FastAPI app with the shared error handling (routes are added by the function).

    ``model_files``: the files of a model version the function's routes read, beside
    metadata.json; the model provider fetches those (see :func:`serve_model_files`).
    """
    serve_model_files(model_files)
    app = FastAPI(title=title, description=description, version="1.0", responses=ERROR_RESPONSES)
    install_error_handlers(app)
    app.add_middleware(RequestGuard)
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
