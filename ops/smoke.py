"""`make smoke API_URL=...`: is a deployed (or local) API serving, right now, fast enough.

Run after every deployment, first on staging then on production, and on a laptop against the
local server. It checks, in this order, and stops at the first failure:

1. ``GET /health`` answers 200 with ``status: ok`` and a model version;
2. an authenticated ``GET /clients?limit=1`` gives a client id (or ``--client-id``);
3. ``GET /clients/{id}/score`` answers ``--requests`` times with a probability in [0, 1], a
   decision and the same model version; the p99 of their latencies stays under ``--max-p99-ms``;
4. ``GET /clients/{id}/explanation`` answers with reasons.

The token: ``API_TOKEN`` (the local server's shared token), else a short-lived Cognito token
of the dedicated smoke-test user, asked with ``AdminInitiateAuth`` by the deploying role
(``SMOKE_USER_POOL_ID``, ``SMOKE_CLIENT_ID``, ``SMOKE_USERNAME``, ``SMOKE_PASSWORD``): the
smoke-test app client allows that flow only, and no advisor can use it.

Exit status: 0 when every check passed, 1 when one failed (the reason on stderr, one line),
2 for a usage error. A JSON summary goes to stdout (and to ``--out`` if given).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

log = logging.getLogger(__name__)

#: Environment variables of the Cognito smoke-test user (all four, or none).
COGNITO_VARIABLES = ("SMOKE_USER_POOL_ID", "SMOKE_CLIENT_ID", "SMOKE_USERNAME", "SMOKE_PASSWORD")


class SmokeError(Exception):
    """A check failed; ``args[0]`` says which and why, in one line."""


@dataclass
class SmokeReport:
    """What the smoke test saw."""

    api_url: str
    model_version: str | None = None
    client_id: int | None = None
    score_requests: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_p99_ms: float = 0.0
    reasons: int = 0
    passed: bool = False
    failure: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The report without the raw latencies (they are summarised by p50/p99)."""
        summary = asdict(self)
        summary.pop("latencies_ms")
        return summary


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in [0, 1]) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def cognito_token(environ: Mapping[str, str], client: Any = None) -> str | None:
    """A short-lived ID token of the smoke-test user, or None when it is not configured.

    ``client``: a boto3 ``cognito-idp`` client (made here when None, after the check that
    the variables are set, so a local run needs no AWS configuration).
    """
    values = {name: environ.get(name, "") for name in COGNITO_VARIABLES}
    if not any(values.values()):
        return None
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise SmokeError(f"the smoke-test user is half configured: {', '.join(missing)} unset")
    if client is None:
        import boto3  # only for a deployed API

        client = boto3.client("cognito-idp")
    try:
        answer = client.admin_initiate_auth(
            UserPoolId=values["SMOKE_USER_POOL_ID"],
            ClientId=values["SMOKE_CLIENT_ID"],
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={
                "USERNAME": values["SMOKE_USERNAME"],
                "PASSWORD": values["SMOKE_PASSWORD"],
            },
        )
    except Exception as error:  # botocore's errors: reported in one line, never a traceback
        raise SmokeError(f"the smoke-test user could not sign in: {error}") from error
    result = answer.get("AuthenticationResult") or {}
    token = result.get("IdToken")
    if not token:
        challenge = answer.get("ChallengeName", "none")
        raise SmokeError(f"the smoke-test user got no token (challenge: {challenge})")
    return str(token)


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code != 200:
        detail = response.text[:200].replace("\n", " ")
        raise SmokeError(f"{what}: HTTP {response.status_code}: {detail}")
    try:
        body = response.json()
    except ValueError as error:
        raise SmokeError(f"{what}: the answer is not JSON") from error
    if not isinstance(body, dict):
        raise SmokeError(f"{what}: the answer is not a JSON object")
    return body


def run_smoke(
    http: httpx.Client,
    report: SmokeReport,
    requests: int,
    client_id: int | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> SmokeReport:
    """Run the checks with ``http`` (base URL and token set); fills and returns ``report``."""
    health = _json(http.get("/health"), "GET /health")
    if health.get("status") != "ok" or not health.get("model_version"):
        raise SmokeError(f"GET /health: status {health.get('status')!r}: {health.get('detail')}")
    report.model_version = str(health["model_version"])
    if client_id is None:
        page = _json(http.get("/clients", params={"limit": 1}), "GET /clients")
        items = page.get("clients") or []
        if not items:
            raise SmokeError("GET /clients: the store has no client to score")
        client_id = int(items[0]["client_id"])
    report.client_id = client_id
    for _ in range(requests):
        started = clock()
        score = _json(http.get(f"/clients/{client_id}/score"), f"GET /clients/{client_id}/score")
        report.latencies_ms.append((clock() - started) * 1000)
        probability = score.get("probability")
        if not isinstance(probability, int | float) or not 0 <= probability <= 1:
            raise SmokeError(f"GET /clients/{client_id}/score: probability {probability!r}")
        if score.get("decision") not in ("accept", "refuse"):
            raise SmokeError(f"GET /clients/{client_id}/score: decision {score.get('decision')!r}")
        if score.get("model_version") != report.model_version:
            raise SmokeError(
                f"model version changed during the test: {report.model_version} then "
                f"{score.get('model_version')} (a deployment or publish in progress?)"
            )
        report.score_requests += 1
    if report.latencies_ms:
        report.p50_ms = round(percentile(report.latencies_ms, 0.5), 1)
        report.p99_ms = round(percentile(report.latencies_ms, 0.99), 1)
        if report.p99_ms > report.max_p99_ms:
            raise SmokeError(
                f"score p99 {report.p99_ms:.0f} ms is above the bound {report.max_p99_ms:.0f} ms"
            )
    path = f"/clients/{client_id}/explanation"
    explanation = _json(http.get(path), f"GET {path}")
    reasons = explanation.get("reasons") or []
    if not reasons:
        raise SmokeError(f"GET {path}: no reason in the explanation")
    report.reasons = len(reasons)
    report.passed = True
    return report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ops.smoke", description=__doc__.split("\n")[0])
    parser.add_argument("--api-url", default=os.environ.get("API_URL", ""), help="base URL")
    parser.add_argument("--client-id", type=int, default=None, help="client to score")
    parser.add_argument("--requests", type=int, default=20, help="score requests (p99 over them)")
    parser.add_argument("--max-p99-ms", type=float, default=2000.0, help="p99 bound (ms)")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds per request")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON summary here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point (exit 0 pass, 1 fail, 2 usage)."""
    args = _parser().parse_args(argv)
    if not args.api_url:
        sys.stderr.write("smoke: no API URL: pass --api-url or set API_URL\n")
        return 2
    if args.requests < 1:
        sys.stderr.write("smoke: --requests must be at least 1\n")
        return 2
    report = SmokeReport(api_url=args.api_url, max_p99_ms=args.max_p99_ms)
    try:
        token = os.environ.get("API_TOKEN") or cognito_token(os.environ)
        if not token:
            raise SmokeError(
                "no credentials: set API_TOKEN (local server) or the smoke-test user's "
                + ", ".join(COGNITO_VARIABLES)
            )
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=args.api_url, headers=headers, timeout=args.timeout) as http:
            run_smoke(http, report, args.requests, args.client_id)
    except SmokeError as failure:
        report.failure = str(failure)
    except httpx.HTTPError as error:
        report.failure = f"{args.api_url} cannot be reached: {error}"
    summary = json.dumps(report.as_dict(), indent=2)
    sys.stdout.write(summary + "\n")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(summary + "\n")
    if report.failure:
        sys.stderr.write(f"smoke test FAILED: {report.failure}\n")
        return 1
    sys.stderr.write(
        f"smoke test passed: model {report.model_version}, {report.score_requests} scores "
        f"(p99 {report.p99_ms} ms), {report.reasons} reasons\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
