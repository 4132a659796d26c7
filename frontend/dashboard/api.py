"""The dashboard's only way to data: a small client of the credit-scoring API.

Every figure the dashboard shows comes from here. Requests have timeouts; a 503 (model or
store not ready) and a dropped connection are retried a few times with a short back-off; every
failure becomes an :class:`ApiError` whose ``kind`` the pages turn into a message for people.
GET answers are cached for a short time (``st.cache_data``), keyed by URL, parameters and
token, so that moving between tabs does not call the API again; ``/health`` for a few seconds.
Calls a page needs together run at once in worker threads (:func:`in_background`): a client's
first screen costs one round trip, not one per call.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, ParamSpec, TypeVar

import requests
import streamlit as st
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx
from streamlit.runtime.scriptrunner_utils.script_run_context_attr import (
    SCRIPT_RUN_CONTEXT_ATTR_NAME,
)

from dashboard import auth
from dashboard.config import setting

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "http://127.0.0.1:8000"
#: Seconds to connect; seconds to wait for an answer (API_TIMEOUT overrides it).
CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 15.0
#: Attempts for a 503 or a dropped connection, and the pause before each retry.
RETRY_PAUSES = (0.4, 1.2)
#: Seconds a GET answer stays cached.
CACHE_TTL = 120
#: Seconds the API's health stays cached: every page asks for it, an outage shows within that.
HEALTH_TTL = 15
#: Calls in flight at once for all the sessions of this dashboard (a page needs five at most).
WORKERS = 16

P = ParamSpec("P")
R = TypeVar("R")

ErrorKind = Literal[
    "config",
    "unreachable",
    "timeout",
    "unauthorized",
    "not_found",
    "invalid",
    "unavailable",
    "server",
]


class ApiError(Exception):
    """A failed API call, classified for the page that shows it."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        status: int | None = None,
        code: str = "",
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.status = status
        #: The API's own error code (``client_not_found``, ``insufficient_information``, ...).
        self.code = code
        #: The API's per-field details (``[{"field": ..., "problem": ...}]``), if any.
        self.details: list[dict[str, Any]] = details or []


@dataclass(frozen=True)
class ApiConfig:
    """Where the API is and how to authenticate."""

    url: str
    token: str
    timeout: float = READ_TIMEOUT

    @property
    def token_key(self) -> str:
        """A digest of the token: part of the cache key, never the token itself."""
        return hashlib.sha256(self.token.encode()).hexdigest()[:16]


#: The configuration of the page that started a call in a worker thread (its token may live
#: in that page's session, which a worker must not read or refresh on its own).
_WORKER_CONFIG: ContextVar[ApiConfig | None] = ContextVar("api_worker_config", default=None)
_POOL = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="api-call")


def load_config() -> ApiConfig:
    """API URL, token and timeout from the environment or Streamlit secrets.

    API_URL (default the local server), API_TOKEN (required unless advisors sign in with
    Cognito, see :mod:`dashboard.auth`), API_TIMEOUT (seconds to wait for an answer, default
    15). In a worker thread: the configuration of the page that started the call.
    """
    started_by = _WORKER_CONFIG.get()
    if started_by is not None:
        return started_by
    url = setting("API_URL") or DEFAULT_API_URL
    cognito = auth.cognito_config()
    if cognito is not None:  # hosted in front of AWS: the signed-in advisor's own token
        token = auth.session_token(cognito) or ""
    else:
        token = setting("API_TOKEN") or ""
    timeout = setting("API_TIMEOUT")
    try:
        seconds = float(timeout) if timeout else READ_TIMEOUT
    except ValueError:
        logger.warning("API_TIMEOUT=%r is not a number of seconds; using %s", timeout, READ_TIMEOUT)
        seconds = READ_TIMEOUT
    return ApiConfig(url=url.rstrip("/"), token=token, timeout=seconds)


def _error_from_response(response: requests.Response) -> ApiError:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    details: list[dict[str, Any]] = []
    if isinstance(body, dict):
        message = str(body.get("message") or body.get("detail") or response.reason)
        code = str(body.get("error") or "")
        found = body.get("details")
        if isinstance(found, list):
            details = [item for item in found if isinstance(item, dict)]
    else:
        message, code = response.reason or f"HTTP {status}", ""
    kinds: dict[int, ErrorKind] = {401: "unauthorized", 403: "unauthorized", 404: "not_found"}
    if status in kinds:
        return ApiError(kinds[status], message, status, code, details)
    if status in (400, 422):
        return ApiError("invalid", message, status, code, details)
    if status in (502, 503, 504):
        return ApiError("unavailable", message, status, code, details)
    return ApiError("server", message, status, code, details)


def request(
    config: ApiConfig,
    method: str,
    path: str,
    params: Mapping[str, Any] | None = None,
    body: Mapping[str, Any] | None = None,
    retry: bool = True,
    extra_headers: Mapping[str, str] | None = None,
) -> Any:
    """Call the API and return the decoded JSON answer, or raise :class:`ApiError`.

    A 503 and a dropped connection are retried (``RETRY_PAUSES``) when ``retry`` is true; a
    POST is retried only on a 503. A call that writes (a decision) passes ``retry=False``: a
    503 may come after the write, and the audit log must not get the decision twice.
    ``extra_headers`` (an Idempotency-Key) are sent with the usual ones.
    """
    if not config.token:
        raise ApiError("config", "API_TOKEN is not set")
    headers = {"Authorization": f"Bearer {config.token}", "Accept": "application/json"}
    headers.update(extra_headers or {})
    clean = {k: v for k, v in (params or {}).items() if v is not None}
    url = f"{config.url}{path}"
    attempts = len(RETRY_PAUSES) + 1 if retry else 1
    for attempt in range(attempts):
        last = attempt == attempts - 1
        started = time.perf_counter()
        try:
            response = requests.request(
                method,
                url,
                params=clean,
                json=body,
                headers=headers,
                timeout=(CONNECT_TIMEOUT, config.timeout),
            )
        except requests.Timeout as exc:
            raise ApiError("timeout", str(exc)) from exc
        except requests.ConnectionError as exc:
            if last or method != "GET":
                raise ApiError("unreachable", str(exc)) from exc
            time.sleep(RETRY_PAUSES[attempt])
            continue
        except requests.RequestException as exc:  # a malformed API_URL, a broken answer...
            raise ApiError("config" if isinstance(exc, ValueError) else "server", str(exc)) from exc
        logger.debug(
            "%s %s: %s in %.0f ms",
            method,
            path,
            response.status_code,
            1000 * (time.perf_counter() - started),
        )
        if response.status_code == 503 and not last:
            time.sleep(RETRY_PAUSES[attempt])
            continue
        if response.status_code >= 400:
            raise _error_from_response(response)
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError("server", "the API answered something that is not JSON") from exc
    raise ApiError("unavailable", "the API is not ready")  # pragma: no cover - loop returns


@st.cache_data(ttl=CACHE_TTL, show_spinner=False, max_entries=512)
def _cached_get(
    url: str,
    token_key: str,
    path: str,
    params: tuple[tuple[str, Any], ...],
    _config: ApiConfig,
) -> Any:
    """GET through the cache, keyed by URL, token digest, path and parameters.

    ``_config`` (with the token itself) is left out of the key by its leading underscore.
    """
    return request(_config, "GET", path, dict(params))


def get(path: str, **params: Any) -> Any:
    """A cached GET of the API."""
    config = load_config()
    frozen = tuple(sorted((k, v) for k, v in params.items() if v is not None))
    return _cached_get(config.url, config.token_key, path, frozen, config)


def post(path: str, body: Mapping[str, Any], **params: Any) -> Any:
    """A POST to the API (never cached)."""
    return request(load_config(), "POST", path, params, body)


def clear_cache() -> None:
    """Forget cached answers (after recording a decision, say)."""
    _cached_get.clear()  # type: ignore[attr-defined]


def in_background(call: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> Future[R]:
    """Start an API call in a worker thread now; its answer (or ApiError) is the future's.

    The page's configuration is read here, in the page's thread, and handed to the worker;
    the worker also gets the page's Streamlit context, so that the answer goes through the
    same cache as a call made in the page.
    """
    config = load_config()
    context = get_script_run_ctx(suppress_warning=True)

    def run() -> R:
        thread = threading.current_thread()
        add_script_run_ctx(thread, context)
        token = _WORKER_CONFIG.set(config)
        try:
            return call(*args, **kwargs)
        finally:
            _WORKER_CONFIG.reset(token)
            setattr(thread, SCRIPT_RUN_CONTEXT_ATTR_NAME, None)  # a pooled thread: let go

    return _POOL.submit(run)


# ----------------------------------------------------------------------------- the routes


@st.cache_data(ttl=HEALTH_TTL, show_spinner=False, max_entries=16)
def _cached_health(url: str, token_key: str, _config: ApiConfig) -> Any:
    """GET /health through a short cache (a failure is not cached: the next page asks again)."""
    return request(_config, "GET", "/health")


def health() -> Any:
    """GET /health: whether the API is up and which model it serves (cached ``HEALTH_TTL`` s)."""
    config = load_config()
    return _cached_health(config.url, config.token_key, config)


def list_clients(q: str | None = None, cursor: int | None = None, limit: int = 20) -> Any:
    """GET /clients: a page of new clients, optionally searched."""
    return get("/clients", q=q or None, cursor=cursor, limit=limit)


def worklist(
    q: str | None = None,
    verdict: str | None = None,
    pending: bool = True,
    cursor: int | None = None,
    limit: int = 20,
) -> Any:
    """GET /clients scored: new clients with their score band and whether a decision exists.

    Not cached: a decision recorded elsewhere takes the client off a pending list.
    """
    params = {
        "with_score": "true",
        "pending": "true" if pending else None,
        "verdict": verdict,
        "q": q or None,
        "cursor": cursor,
        "limit": limit,
    }
    return request(load_config(), "GET", "/clients", params)


def client(client_id: int, lang: str) -> Any:
    """GET /clients/{id}: the client's descriptive fields."""
    return get(f"/clients/{client_id}", lang=lang)


def application(client_id: int) -> Any:
    """GET /clients/{id}/application: the client's raw application (for "what if")."""
    return get(f"/clients/{client_id}/application")


def score(client_id: int) -> Any:
    """GET /clients/{id}/score."""
    return get(f"/clients/{client_id}/score")


def explanation(client_id: int, lang: str, top: int | None = None) -> Any:
    """GET /clients/{id}/explanation: every factor's effect in points, the reasons first."""
    return get(f"/clients/{client_id}/explanation", lang=lang, top=top)


def counterfactual(client_id: int, lang: str) -> Any:
    """GET /clients/{id}/counterfactual: the smallest changes that would get an accept."""
    return get(f"/clients/{client_id}/counterfactual", lang=lang)


def comparison(client_id: int, lang: str, features: list[str], filters: dict[str, str]) -> Any:
    """GET /clients/{id}/comparison: distributions by class for the chosen features."""
    return get(
        f"/clients/{client_id}/comparison", lang=lang, features=",".join(features), **filters
    )


def bivariate(client_id: int, lang: str, x: str, y: str, filters: dict[str, str]) -> Any:
    """GET /clients/{id}/bivariate: a 2-D histogram by class."""
    return get(f"/clients/{client_id}/bivariate", lang=lang, x=x, y=y, **filters)


def similar(client_id: int, lang: str, k: int = 50) -> Any:
    """GET /clients/{id}/similar: summary of the k most similar reference clients."""
    return get(f"/clients/{client_id}/similar", lang=lang, k=k)


def decisions(client_id: int) -> Any:
    """GET /clients/{id}/decisions (not cached: the log changes)."""
    return request(load_config(), "GET", f"/clients/{client_id}/decisions")


def record_decision(
    client_id: int,
    decision: str,
    comment: str,
    idempotency_key: str,
    reason_code: str | None = None,
    supersedes: str | None = None,
) -> Any:
    """POST /clients/{id}/decisions with the submission's Idempotency-Key (not retried here).

    The caller keeps ``idempotency_key`` until the decision is recorded: sending the same
    submission again (a double click, a retry after a failure) gets the first record back.
    """
    body: dict[str, Any] = {"decision": decision, "comment": comment}
    if reason_code is not None:
        body["reason_code"] = reason_code
    if supersedes is not None:
        body["supersedes"] = supersedes
    return request(
        load_config(),
        "POST",
        f"/clients/{client_id}/decisions",
        None,
        body,
        False,
        {"Idempotency-Key": idempotency_key},
    )


def score_application(application: Mapping[str, Any]) -> Any:
    """POST /score: score an application that is not on file (or an edited one)."""
    return post("/score", {"application": dict(application)})


def explain_application(application: Mapping[str, Any], lang: str, top: int | None = None) -> Any:
    """POST /explain: the explanation of such an application."""
    return post("/explain", {"application": dict(application)}, lang=lang, top=top)


def counterfactual_application(application: Mapping[str, Any], lang: str) -> Any:
    """POST /counterfactual: what would get such an application accepted."""
    return post("/counterfactual", {"application": dict(application)}, lang=lang)


def inputs(lang: str) -> Any:
    """GET /inputs: every application field with its label, kind, levels and bounds."""
    return get("/inputs", lang=lang)


def model_card(lang: str) -> Any:
    """GET /model: the model card."""
    return get("/model", lang=lang)


def importance(lang: str, top: int = 20) -> Any:
    """GET /model/importance: global importance (mean |TreeSHAP|)."""
    return get("/model/importance", lang=lang, top=top)


def drift() -> Any:
    """GET /monitoring/drift: the latest data-drift summary."""
    return get("/monitoring/drift")
