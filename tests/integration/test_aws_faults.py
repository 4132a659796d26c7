"""Faults of the aws backend under the real function apps: AWS busy or silent, then back.

The score and client functions run on S3 + DynamoDB under moto (a published model and the
new clients), and botocore's own event hooks inject the faults into their boto3 clients:

* DynamoDB throttling (ProvisionedThroughputExceededException, ThrottlingException) on
  reading a client (GetItem), listing clients (Scan) and recording a decision (PutItem);
* S3 not answering (read timeout, connect timeout, no connection) while the model is fetched
  at cold start.

Each must give a 503 whose message says in a short sentence which store is busy or
unreachable and when to retry (Retry-After), with nothing of botocore's internals (request
id, ARN, endpoint URL, table or bucket name, traceback); /health says ``degraded`` while the
model cannot be fetched; and the very same request succeeds once AWS answers again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from cloudformation import (  # type: ignore[import-not-found]
    BUCKET,
    CLIENTS_TABLE,
    DECISIONS_TABLE,
    REGION,
    create_resources_from_template,
    lambda_env,
)
from fastapi.testclient import TestClient
from moto import mock_aws

from creditscore_common import explain, reference_index
from creditscore_common.api import reset_caches
from creditscore_common.store.aws import RETRY_AFTER_BUSY, RETRY_AFTER_UNREACHABLE, AwsStore
from serving.local_server import load_function
from training.data import NEW_CLIENTS_FILE, load_applications
from training.publish import publish

if TYPE_CHECKING:
    from training.train import TrainingResult

TOKEN = "aws-faults-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: What AWS puts in a throttling error, none of which may reach the caller.
REQUEST_ID = "Q7RSQ1HT0FAULTREQUESTID0000000000000000000"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:123456789012:table/{CLIENTS_TABLE}"
#: Text that must never appear in an answer.
INTERNALS = (
    REQUEST_ID,
    "arn:aws",
    CLIENTS_TABLE,
    DECISIONS_TABLE,
    BUCKET,
    "amazonaws",
    "http://",
    "https://",
    "Traceback",
    "botocore",
)

pytestmark = pytest.mark.xdist_group("trained_model")


# --------------------------------------------------------------------------- fault injection


@dataclass
class Faults:
    """Faults to inject, by ``service.Operation`` (botocore's event names), and the calls."""

    #: Error code of a throttling ClientError answered instead of calling AWS.
    throttled: dict[str, str] = field(default_factory=dict)
    #: Transport error raised where the request would be sent (inside botocore's retries).
    unreachable: dict[str, Callable[[str], Exception]] = field(default_factory=dict)
    #: Attempts of each faulty operation (botocore retries included).
    attempts: dict[str, int] = field(default_factory=dict)

    def clear(self) -> None:
        """AWS answers again."""
        self.throttled.clear()
        self.unreachable.clear()

    def install(self, client: Any) -> None:
        """Hook this object into a boto3 client's events (ahead of moto's own hook)."""
        client.meta.events.register_first("before-call.*.*", self._before_call)
        client.meta.events.register_first("before-send.*.*", self._before_send)

    @staticmethod
    def _operation(event_name: str) -> str:
        _, service, operation = event_name.split(".")
        return f"{service}.{operation}"

    def _before_call(self, event_name: str, **_: Any) -> Any:
        # What botocore's Stubber does: answer in place of AWS, here with a throttling error
        # as DynamoDB words it (the request id and the ARN included).
        operation = self._operation(event_name)
        code = self.throttled.get(operation)
        if code is None:
            return None
        self.attempts[operation] = self.attempts.get(operation, 0) + 1
        parsed = {
            "Error": {
                "Code": code,
                "Message": f"Rate of requests exceeds the allowed throughput on {TABLE_ARN}",
            },
            "ResponseMetadata": {"RequestId": REQUEST_ID, "HTTPStatusCode": 400},
        }
        return _HttpAnswer(400), parsed

    def _before_send(self, event_name: str, request: Any, **_: Any) -> Any:
        operation = self._operation(event_name)
        fault = self.unreachable.get(operation)
        if fault is None:
            return None
        self.attempts[operation] = self.attempts.get(operation, 0) + 1
        raise fault(str(request.url))


@dataclass
class _HttpAnswer:
    status_code: int
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""


def _read_timeout(url: str) -> Exception:
    from botocore.exceptions import ReadTimeoutError

    error: Exception = ReadTimeoutError(endpoint_url=url)
    return error


def _connect_timeout(url: str) -> Exception:
    from botocore.exceptions import ConnectTimeoutError

    error: Exception = ConnectTimeoutError(endpoint_url=url)
    return error


def _no_connection(url: str) -> Exception:
    from botocore.exceptions import EndpointConnectionError

    error: Exception = EndpointConnectionError(endpoint_url=url)
    return error


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Faults:
    """Faults injected into every boto3 client the store makes; backoff sleeps skipped."""
    injected = Faults()
    real_client = AwsStore._client

    def client_with_faults(self: AwsStore, service: str) -> Any:
        client = real_client(self, service)
        injected.install(client)
        return client

    monkeypatch.setattr(AwsStore, "_client", client_with_faults)
    # botocore sleeps between attempts (up to a second): the attempts are counted instead.
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda _: None)
    return injected


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[None]:
    """A mocked account with template.yaml's bucket and tables; nothing reaches AWS."""
    with mock_aws():
        create_resources_from_template()
        yield


@pytest.fixture
def client_id(
    aws: None, tmp_path: Path, trained_model: TrainingResult, small_data_dir: Path
) -> int:
    """Publish the model and the new clients to S3 and DynamoDB; one client's id."""
    store = AwsStore(
        BUCKET, CLIENTS_TABLE, REGION, tmp_path / "publish-cache", None, DECISIONS_TABLE
    )
    publish(trained_model.version_dir, small_data_dir, store, progress=False)
    table = load_applications(small_data_dir / NEW_CLIENTS_FILE, with_target=False)
    return int(table.ids[0])


@pytest.fixture
def cold_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, faults: Faults
) -> Iterator[Callable[[str], TestClient]]:
    """``cold_start(name)``: a function's app as on Lambda (aws store), its cold start done."""
    # Look at the store on every request: recovery is seen at once (not after a minute).
    lambda_env(monkeypatch, tmp_path, AUTH_MODE="token", API_TOKEN=TOKEN, MODEL_REFRESH_SECONDS="0")
    monkeypatch.delenv("TRAFFIC_LOG", raising=False)

    def start(function: str) -> TestClient:
        reset_caches()
        reference_index.clear_cache()
        explain.clear_cache()
        module: ModuleType | None = load_function(function)  # its import is the cold start
        assert module is not None
        return TestClient(module.app)

    yield start
    reset_caches()
    reference_index.clear_cache()
    explain.clear_cache()


def assert_clean_503(answer: Any, *words: str, retry_after: int) -> str:
    """A 503 in the API's error shape, a short sentence with ``words``, and Retry-After."""
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert set(body) <= {"error", "message", "details"}
    assert body["error"] == "store_unavailable"
    message = str(body["message"])
    for word in words:
        assert word in message, message
    assert "retry" in message.lower(), message
    assert len(message) < 200, message
    for internal in INTERNALS:
        assert internal not in answer.text, (internal, answer.text)
    assert answer.headers.get("retry-after") == str(retry_after)
    return message


# --------------------------------------------------------------------------- DynamoDB


@pytest.mark.parametrize(
    ("function", "operation", "code", "request_args"),
    [
        (
            "score",
            "dynamodb.GetItem",
            "ProvisionedThroughputExceededException",
            ("GET", "/clients/{id}/score", None),
        ),
        ("client", "dynamodb.Scan", "ThrottlingException", ("GET", "/clients?limit=5", None)),
        (  # a decision is one conditional transaction (record, idempotency key, final)
            "client",
            "dynamodb.TransactWriteItems",
            "ProvisionedThroughputExceededException",
            (
                "POST",
                "/clients/{id}/decisions",
                {"decision": "accept", "comment": "fault test", "reason_code": "autre"},
            ),
        ),
    ],
    ids=["get-client", "list-clients", "add-decision"],
)
def test_dynamodb_throttling_is_a_clean_503_then_recovers(
    client_id: int,
    cold_start: Callable[[str], TestClient],
    faults: Faults,
    function: str,
    operation: str,
    code: str,
    request_args: tuple[str, str, dict[str, str] | None],
) -> None:
    api = cold_start(function)
    method, path, body = request_args
    url = path.replace("{id}", str(client_id))

    faults.throttled[operation] = code
    busy = api.request(method, url, headers=AUTH, json=body)
    assert_clean_503(busy, "DynamoDB", "busy", retry_after=RETRY_AFTER_BUSY)
    # Answered before the retry loop, as botocore's Stubber does: one attempt.
    assert faults.attempts[operation] == 1

    faults.clear()
    again = api.request(method, url, headers=AUTH, json=body)
    assert again.status_code in (200, 201), again.text
    if operation == "dynamodb.TransactWriteItems":  # the refused one not recorded, the other was
        decisions = api.get(f"/clients/{client_id}/decisions", headers=AUTH)
        assert decisions.status_code == 200, decisions.text
        assert len(decisions.json()["decisions"]) == 1


# --------------------------------------------------------------------------- S3


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        (_read_timeout, ("S3", "did not answer in time")),
        (_connect_timeout, ("S3", "did not answer in time")),
        (_no_connection, ("S3", "cannot connect")),
    ],
    ids=["read-timeout", "connect-timeout", "no-connection"],
)
def test_s3_timeout_at_cold_start_is_503_and_degraded_then_recovers(
    client_id: int,
    cold_start: Callable[[str], TestClient],
    faults: Faults,
    fault: Callable[[str], Exception],
    words: tuple[str, ...],
) -> None:
    faults.unreachable["s3.GetObject"] = fault
    api = cold_start("score")  # the model cannot be fetched at cold start

    health = api.get("/health")
    assert health.status_code == 200, health.text
    assert health.json()["status"] == "degraded"
    assert "S3" in str(health.json()["detail"])
    for internal in INTERNALS:
        assert internal not in health.text, (internal, health.text)

    attempts_before = faults.attempts["s3.GetObject"]
    scored = api.get(f"/clients/{client_id}/score", headers=AUTH)
    assert_clean_503(scored, *words, retry_after=RETRY_AFTER_UNREACHABLE)
    # Bounded: botocore sent the request twice, then gave up (standard mode, 2 attempts).
    assert faults.attempts["s3.GetObject"] - attempts_before == 2

    faults.clear()
    scored = api.get(f"/clients/{client_id}/score", headers=AUTH)
    assert scored.status_code == 200, scored.text
    assert api.get("/health").json()["status"] == "ok"
