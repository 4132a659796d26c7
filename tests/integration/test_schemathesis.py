"""Property-based fuzzing of every operation of the local server (schemathesis).

The OpenAPI document of the local server (the three functions' routes on one app) is loaded
at collection, one test an operation. Each test sends cases generated from the schema, valid
and invalid (schemathesis's examples, coverage and fuzzing phases; fixed seed, derandomized,
a bounded number of examples, no shrinking) to the app in process, on a real published
store, with the bearer token, and checks every answer: no 5xx; a status the operation
declares; a content type, headers and body matching what it declares for that status; an
undeclared method answered 405.

Random client ids are nearly all unknown (404) and random feature names unknown (422): half
of them are redrawn among the store's clients and the comparison features, so that the
routes' real work is fuzzed too. Two checks are left out on purpose:
``positive_data_acceptance``, since a request the schema allows may still be refused by rules
JSON Schema cannot state (a cross-field plausibility rule, a comparison group too small to be
shown) with a documented 422; and ``negative_data_rejection``, since the bearer token is added
to every case (a case "without Authorization" then has it) and unknown query parameters are
ignored, not refused (FastAPI's rule).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from creditscore_common import explain, reference_index
from creditscore_common.api import reset_caches
from creditscore_common.profiles import FEATURE_NAMES
from creditscore_common.store.local import LocalStore
from serving.local_server import build_app

TOKEN = "schemathesis-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SEED = 20260413
#: Examples per operation in the fuzzing phase; the examples and coverage phases add their
#: own (boundary values of each field: about 1,300 cases for each POST of an application).
#: About 35 s for the 19 operations on one idle core.
MAX_EXAMPLES = 25
#: The operations of the local server (score 3, explain 7, client 9): a route added without
#: being fuzzed, or a schema that lost its operations, fails test_every_operation_is_fuzzed.
EXPECTED_OPERATIONS = 19
#: The largest client id (SK_ID_CURR is a signed 64-bit integer).
MAX_CLIENT_ID = 2**63 - 1
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    unsupported_method,
]

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("trained_model")]


def _api_routes(routes: Iterable[Any]) -> set[str]:
    """``METHOD /path`` of every API route, through included routers (not /docs, /openapi)."""
    found: set[str] = set()
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            found |= _api_routes(included.routes)
        elif isinstance(route, APIRoute):
            found |= {f"{method} {route.path}" for method in (route.methods or set()) - {"HEAD"}}
    return found


def _local_server_openapi() -> tuple[dict[str, Any], set[str]]:
    """The local server's OpenAPI document and its routes, built without a store."""
    saved = {name: os.environ.get(name) for name in ("STORE_BACKEND", "LOCAL_STORE_PATH")}
    os.environ["STORE_BACKEND"] = "local"
    os.environ["LOCAL_STORE_PATH"] = "/nonexistent/schemathesis-collection"
    reset_caches()
    try:
        app = build_app()
        document: dict[str, Any] = app.openapi()
        routes = _api_routes(app.routes)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_caches()
    return document, routes


CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "generation": {
            "mode": "all",  # valid cases and invalid ones (answered 4xx, never 5xx)
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            # Bounded in time even when it fails (the failing case and a curl line are shown),
            # and nothing written under the repository (.hypothesis): the same run every time.
            "no-shrink": True,
            "database": "none",
        },
        "phases": {"stateful": {"enabled": False}},
    }
)
_DOCUMENT, _ROUTES = _local_server_openapi()
schema = schemathesis.openapi.from_dict(_DOCUMENT, config=CONFIG)

#: Ids of the store's new clients (filled by the ``server`` fixture, read while generating).
_known_ids: list[int] = []


@schema.hook
def flatmap_path_parameters(_: Any, path_parameters: dict[str, Any] | None) -> Any:
    """Half the valid client ids become a client of the store (else nearly all are 404)."""
    client_id = (path_parameters or {}).get("client_id")
    valid = type(client_id) is int and 0 <= client_id <= MAX_CLIENT_ID
    if not _known_ids or not valid:
        # An invalid id (negative cases) stays as generated: it must be answered 422.
        return st.just(path_parameters)
    known = st.sampled_from(_known_ids).map(lambda i: {**(path_parameters or {}), "client_id": i})
    return st.one_of(st.just(path_parameters), known)


@schema.hook
def flatmap_query(_: Any, query: dict[str, Any] | None) -> Any:
    """Half the valid feature pairs (x, y) become comparison features (else all are 422)."""
    if not query or not all(isinstance(query.get(axis), str) for axis in ("x", "y")):
        return st.just(query)
    features = st.sampled_from(FEATURE_NAMES)
    known = st.tuples(features, features).map(lambda xy: {**query, "x": xy[0], "y": xy[1]})
    return st.one_of(st.just(query), known)


@pytest.fixture(scope="module")
def store_dir(publish_local: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A published store of this module's own (the decisions route writes to it)."""
    folder: Path = publish_local(tmp_path_factory.mktemp("schemathesis_store"))
    return folder


@pytest.fixture(scope="module")
def server(store_dir: Path) -> Iterator[FastAPI]:
    """The local server app on ``store_dir``, with the bearer token ``TOKEN``."""
    store = LocalStore(store_dir)
    try:
        page, _ = store.list_clients(limit=50)
    finally:
        store.close()
    _known_ids[:] = sorted(client_id for client_id, _ in page)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STORE_BACKEND", "local")
        patch.setenv("LOCAL_STORE_PATH", str(store_dir))
        patch.setenv("API_TOKEN", TOKEN)
        patch.setenv("AUTH_MODE", "token")
        patch.delenv("TRAFFIC_LOG", raising=False)
        reset_caches()
        reference_index.clear_cache()
        explain.clear_cache()
        try:
            yield build_app()
        finally:
            reset_caches()
            reference_index.clear_cache()
            explain.clear_cache()
            _known_ids.clear()


def test_every_operation_is_fuzzed() -> None:
    """The parametrized test covers every route of the app, and the app has them all."""
    results = list(schema.get_all_operations())
    operations = {result.ok().label for result in results if isinstance(result, Ok)}
    assert len(operations) == len(results), "an operation of the schema cannot be tested"
    assert len(operations) == EXPECTED_OPERATIONS
    assert operations == _ROUTES


@schema.parametrize()
def test_every_answer_matches_the_schema(case: Any, server: FastAPI) -> None:
    case.call_and_validate(app=server, headers=AUTH, checks=CHECKS)


# ------------------------------------------------------------- regressions found by fuzzing


def _client_id_operations() -> list[tuple[str, str]]:
    return sorted(
        (method.upper(), path)
        for path, items in _DOCUMENT["paths"].items()
        if "{client_id}" in path
        for method in items
    )


def test_every_client_id_declares_the_same_bounds() -> None:
    """Regression: the explain and client routes took any client id, the score route only
    a 64-bit one: the same id was a 422 on one route and a 404 on the next."""
    operations = _client_id_operations()
    assert len(operations) == 10
    for method, path in operations:
        (parameter,) = (
            p
            for p in _DOCUMENT["paths"][path][method.lower()]["parameters"]
            if p["name"] == "client_id"
        )
        bounds = (parameter["schema"].get("minimum"), parameter["schema"].get("maximum"))
        assert bounds == (0, MAX_CLIENT_ID), (method, path)


def test_a_client_id_over_64_bits_is_422_on_every_route(server: FastAPI) -> None:
    api = TestClient(server)
    for method, path in _client_id_operations():
        url = path.replace("{client_id}", str(MAX_CLIENT_ID + 1))
        answer = api.request(method, url, headers=AUTH, json={} if method == "POST" else None)
        assert answer.status_code == 422, (method, path, answer.text)
        assert answer.json()["details"][0]["field"] == "client_id", (method, path)
