"""The post-deployment smoke test (ops/smoke.py) against the real local server app.

It must pass on a healthy API, and fail in one line, without a traceback, on each thing a
broken release shows: a degraded /health, no token, an API out of reach, a p99 over its
bound. The Cognito sign-in of the smoke-test user runs against moto.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import boto3
import pytest
from fastapi.testclient import TestClient
from moto import mock_aws
from test_client_api import AUTH, load_client_function

from creditscore_common.api import reset_caches
from ops import smoke
from serving.local_server import build_app

pytestmark = pytest.mark.xdist_group("trained_model")
#: The moto user's password (not a secret: moto runs in memory).
SMOKE_PASSWORD = "Sm0ke-Test-2026!"  # pragma: allowlist secret


@pytest.fixture(scope="module")
def store_dir(
    publish_local: Callable[[Path], Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return publish_local(tmp_path_factory.mktemp("smoke_store"))


@pytest.fixture
def client_function(monkeypatch: pytest.MonkeyPatch, store_dir: Path) -> Iterator[ModuleType]:
    yield load_client_function(monkeypatch, store_dir)
    reset_caches()


@pytest.fixture
def http(client_function: ModuleType) -> TestClient:
    return TestClient(build_app(), headers=AUTH)


def test_a_healthy_api_passes(http: TestClient) -> None:
    report = smoke.run_smoke(http, smoke.SmokeReport("local", max_p99_ms=60_000), requests=5)
    assert report.passed and report.failure is None
    assert report.score_requests == 5 and len(report.latencies_ms) == 5
    assert report.model_version and report.client_id is not None and report.reasons > 0
    assert report.p50_ms is not None and report.p99_ms is not None
    assert report.p50_ms <= report.p99_ms


def test_a_p99_over_the_bound_fails(http: TestClient) -> None:
    ticks = iter(float(i) for i in range(100))  # every request "takes" one second
    with pytest.raises(smoke.SmokeError, match=r"p99 1000 ms is above the bound 500 ms"):
        smoke.run_smoke(
            http, smoke.SmokeReport("local", max_p99_ms=500), requests=3, clock=lambda: next(ticks)
        )


def test_a_degraded_health_fails_first(http: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        smoke, "_json", lambda response, what: {"status": "degraded", "detail": "no model"}
    )
    with pytest.raises(smoke.SmokeError, match=r"GET /health: status 'degraded': no model"):
        smoke.run_smoke(http, smoke.SmokeReport("local", max_p99_ms=1000), requests=1)


def test_a_wrong_token_fails_on_the_first_authenticated_call(client_function: ModuleType) -> None:
    http = TestClient(build_app(), headers={"Authorization": "Bearer wrong"})
    with pytest.raises(smoke.SmokeError, match=r"GET /clients: HTTP 401"):
        smoke.run_smoke(http, smoke.SmokeReport("local", max_p99_ms=1000), requests=1)


def test_an_unknown_client_fails_in_words(http: TestClient) -> None:
    with pytest.raises(smoke.SmokeError, match=r"GET /clients/1/score: HTTP 404"):
        smoke.run_smoke(http, smoke.SmokeReport("local", max_p99_ms=1000), 1, client_id=1)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_command_reports_an_api_out_of_reach(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("API_TOKEN", "x")
    url = f"http://127.0.0.1:{_closed_port()}"
    code = smoke.main(["--api-url", url, "--timeout", "2", "--out", str(tmp_path / "s.json")])
    out, err = capsys.readouterr()
    assert code == 1
    assert err.startswith("smoke test FAILED: ") and "cannot be reached" in err
    assert "Traceback" not in out + err
    assert json.loads((tmp_path / "s.json").read_text())["passed"] is False


@pytest.mark.parametrize(
    ("argv", "message"),
    [([], "no API URL"), (["--api-url", "http://127.0.0.1:1", "--requests", "0"], "--requests")],
)
def test_usage_errors_exit_2(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.delenv("API_URL", raising=False)
    assert smoke.main(argv) == 2
    assert message in capsys.readouterr().err


def test_without_credentials_the_command_says_which(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("API_TOKEN", *smoke.COGNITO_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    assert smoke.main(["--api-url", "http://127.0.0.1:1"]) == 1
    assert "no credentials: set API_TOKEN" in capsys.readouterr().err


def test_a_half_configured_smoke_user_is_named() -> None:
    with pytest.raises(smoke.SmokeError, match="SMOKE_CLIENT_ID, SMOKE_PASSWORD unset"):
        smoke.cognito_token({"SMOKE_USER_POOL_ID": "p", "SMOKE_USERNAME": "u"})
    assert smoke.cognito_token({}) is None


def test_the_smoke_user_signs_in_with_admin_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        cognito = boto3.client("cognito-idp", region_name="eu-west-3")
        pool = cognito.create_user_pool(PoolName="advisors")["UserPool"]["Id"]
        client = cognito.create_user_pool_client(
            UserPoolId=pool,
            ClientName="smoke-test",
            ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"],
        )["UserPoolClient"]["ClientId"]
        cognito.admin_create_user(UserPoolId=pool, Username="smoke@example.org")
        cognito.admin_set_user_password(
            UserPoolId=pool,
            Username="smoke@example.org",
            Password=SMOKE_PASSWORD,
            Permanent=True,
        )
        environ = {
            "SMOKE_USER_POOL_ID": pool,
            "SMOKE_CLIENT_ID": client,
            "SMOKE_USERNAME": "smoke@example.org",
            "SMOKE_PASSWORD": SMOKE_PASSWORD,
        }
        token = smoke.cognito_token(environ, cognito)
        assert token is not None and token.count(".") == 2  # a JWT
        with pytest.raises(smoke.SmokeError, match="could not sign in"):
            smoke.cognito_token({**environ, "SMOKE_PASSWORD": "wrong"}, cognito)
