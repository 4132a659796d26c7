"""GET /monitoring/drift on the aws backend (moto): 404 before a publish, then the summary.

The summary is published by `creditscore drift --publish aws`, the way the scheduled job
would, into template.yaml's bucket under ``monitoring/``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from fastapi.testclient import TestClient
from test_store_aws import BUCKET, CLIENTS_TABLE, DECISIONS_TABLE, REGION, aws

from creditscore_common.api import reset_caches
from creditscore_common.store.base import DRIFT_SUMMARY_FILE, MONITORING_PREFIX
from monitoring.compare import SUMMARY_FILE
from serving.local_server import load_function
from training.cli import main
from training.train import TrainingResult

__all__ = ["aws"]  # a fixture used by name below (aws_credentials: tests/conftest.py)

pytestmark = pytest.mark.xdist_group("trained_model")
TOKEN = "a-real-token-for-the-aws-backend"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def explain_on_aws(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """The explain function's app with STORE_BACKEND=aws on the mocked account."""
    for name, value in {
        "STORE_BACKEND": "aws",
        "MODEL_BUCKET": BUCKET,
        "CLIENTS_TABLE": CLIENTS_TABLE,
        "DECISIONS_TABLE": DECISIONS_TABLE,
        "AWS_REGION": REGION,
        "AUTH_MODE": "token",
        "API_TOKEN": TOKEN,
        "MODEL_CACHE_DIR": str(tmp_path / "cache"),
        "TRAFFIC_LOG": "",
    }.items():
        monkeypatch.setenv(name, value)
    reset_caches()
    module = load_function("explain")
    assert module is not None
    try:
        yield TestClient(module.app, raise_server_exceptions=False)
    finally:
        reset_caches()


def test_drift_route_on_the_aws_store(
    explain_on_aws: TestClient,
    small_data_dir: Path,
    trained_model: TrainingResult,
    tmp_path: Path,
) -> None:
    missing = explain_on_aws.get("/monitoring/drift", headers=AUTH)
    assert missing.status_code == 404, missing.text
    assert missing.json()["error"] == "drift_summary_not_found"

    out = tmp_path / "report"
    args = ["drift", "--data", str(small_data_dir), "--model", str(trained_model.version_dir)]
    assert main([*args, "--out", str(out), "--publish", "aws"]) == 0
    key = f"{MONITORING_PREFIX}/{DRIFT_SUMMARY_FILE}"
    stored = boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=key)
    written = json.loads((out / SUMMARY_FILE).read_text())
    assert json.loads(stored["Body"].read()) == written

    answer = explain_on_aws.get("/monitoring/drift", headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.json() == written
    assert explain_on_aws.get("/monitoring/drift").status_code == 401


@pytest.mark.parametrize(
    ("code", "status", "published"),
    [("NoSuchKey", 404, False), ("AccessDenied", 403, False), ("SlowDown", 503, None)],
)
def test_a_missing_summary_without_list_permission_is_not_published(
    aws: None, tmp_path: Path, code: str, status: int, published: bool | None
) -> None:
    """Real S3 answers AccessDenied for a missing key when the caller may not list the bucket
    (the explain function may not): that is "not published"; other errors are errors."""
    from botocore.stub import Stubber
    from test_store_aws import make_store

    from creditscore_common.errors import StoreUnavailableError

    store = make_store(tmp_path)
    with Stubber(store.s3) as stubber:
        stubber.add_client_error("get_object", service_error_code=code, http_status_code=status)
        if published is None:
            with pytest.raises(StoreUnavailableError, match=code):
                store.get_drift_summary()
        else:
            assert store.get_drift_summary() is None
        stubber.assert_no_pending_responses()
