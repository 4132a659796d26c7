"""The AWS backend (S3 + DynamoDB) under moto: the store contract, batching, failures.

The bucket and the tables are created from template.yaml's own resource Properties, so the
tests run against the key schema that is deployed. boto3 clients are created inside the mock
(the store makes them lazily, on first use).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from cloudformation import (
    BUCKET,
    CLIENTS_TABLE,
    DECISIONS_TABLE,
    REGION,
    create_resources_from_template,
    lambda_env,
    load_template,
    template_resources,
)
from moto import mock_aws
from test_store_local import PRESENT, StoreContract, make_fake_version

import creditscore_common.store.aws as aws_module
from creditscore_common.errors import CreditScoreError, StoreUnavailableError
from creditscore_common.model import ScoringModel
from creditscore_common.provider import ModelProvider
from creditscore_common.settings import Settings
from creditscore_common.store import open_store
from creditscore_common.store.aws import (
    BATCH_SIZE,
    MAX_BATCH_ATTEMPTS,
    RETRY_AFTER_BUSY,
    RETRY_AFTER_UNREACHABLE,
    AwsStore,
    StoreBusyError,
    unavailable_error,
)
from creditscore_common.store.base import ACTIVE_POINTER, MODELS_PREFIX
from creditscore_common.version import (
    IMPORTANCE_FILE,
    METADATA_FILE,
    MODEL_FILE,
    ONNX_FILE,
    PROFILES_FILE,
)
from training.train import TrainingResult

REPO = Path(__file__).resolve().parents[3]
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens there


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[None]:
    """A mocked account holding template.yaml's bucket and tables."""
    with mock_aws():
        create_resources_from_template()
        yield


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the backoff sleeps of the batch writer instead of sleeping."""
    sleeps: list[float] = []
    monkeypatch.setattr(aws_module.time, "sleep", sleeps.append)
    return sleeps


def make_store(tmp_path: Path, **overrides: Any) -> AwsStore:
    arguments: dict[str, Any] = {
        "bucket": BUCKET,
        "clients_table": CLIENTS_TABLE,
        "region": REGION,
        "cache_dir": tmp_path / "model-cache",
    }
    arguments.update(overrides)
    return AwsStore(**arguments)


def all_clients() -> dict[int, str]:
    """client_id -> stored JSON of every item in the clients table (a test-side Scan)."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    items: dict[int, str] = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=CLIENTS_TABLE):
        for item in page["Items"]:
            items[int(item["client_id"]["N"])] = item["application"]["S"]
    return items


class TestAwsStore(StoreContract):
    @pytest.fixture
    def store(self, aws: None, tmp_path: Path) -> AwsStore:
        return make_store(tmp_path)

    def test_put_clients_is_idempotent(self, store: AwsStore) -> None:
        rows = [(100_000 + i, {"AMT_CREDIT": 1000.0 + i, "CODE_GENDER": "F"}) for i in range(30)]
        store.put_clients(rows)
        before = all_clients()
        store.put_clients(rows)
        assert all_clients() == before, "rewriting the same rows must leave the table as it was"
        assert len(before) == 30

    def test_version_layout_and_pointer(self, store: AwsStore, tmp_path: Path) -> None:
        folder = make_fake_version(tmp_path / "v", "20260101-000000-aaaaaaaa")
        version, _ = store.put_model_version(folder)
        store.activate(version)
        s3 = boto3.client("s3", region_name=REGION)
        keys = {
            item["Key"]
            for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{MODELS_PREFIX}/")["Contents"]
        }
        assert keys == {
            f"{MODELS_PREFIX}/{ACTIVE_POINTER}",
            *(
                f"{MODELS_PREFIX}/{version}/{name}"
                for name in (
                    "metadata.json",
                    "model.onnx",
                    "model.txt",
                    "stats/reference_stats.json",
                )
            ),
        }
        pointer = s3.get_object(Bucket=BUCKET, Key=f"{MODELS_PREFIX}/{ACTIVE_POINTER}")
        assert pointer["Body"].read().decode().strip() == version

    def test_metadata_is_uploaded_last(
        self, store: AwsStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """metadata.json marks a complete upload: an interrupted one is retried whole."""
        folder = make_fake_version(tmp_path / "v", "20260101-000000-aaaaaaaa")
        uploaded: list[str] = []
        real_put = store.s3.put_object

        def put_object(**kwargs: Any) -> Any:
            uploaded.append(kwargs["Key"].rsplit("/", 1)[-1])
            return real_put(**kwargs)

        monkeypatch.setattr(store.s3, "put_object", put_object)
        store.put_model_version(folder)
        assert uploaded[-1] == METADATA_FILE and len(uploaded) == 4

    def test_model_dir_downloads_once_into_the_cache(
        self, store: AwsStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        folder = make_fake_version(tmp_path / "v", "20260101-000000-aaaaaaaa")
        version, _ = store.put_model_version(folder)
        local = store.model_dir(version)
        assert local == tmp_path / "model-cache" / version
        assert (local / "stats" / "reference_stats.json").read_bytes() == b'{"n": 1}'
        assert sorted(p.name for p in (tmp_path / "model-cache").iterdir()) == [version]

        def refuse(**_: Any) -> Any:
            raise AssertionError("the cached version was downloaded again")

        monkeypatch.setattr(store.s3, "get_object", refuse)
        assert store.model_dir(version) == local

    def test_model_dir_downloads_only_the_named_files(
        self, store: AwsStore, tmp_path: Path
    ) -> None:
        folder = make_fake_version(tmp_path / "v", "20260101-000000-aaaaaaaa")
        version, _ = store.put_model_version(folder)

        def cached(local: Path) -> list[str]:
            return sorted(p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file())

        local = store.model_dir(version, files=[ONNX_FILE, "not-recorded.bin"])
        assert cached(local) == [METADATA_FILE, ONNX_FILE]
        assert store.model_dir(version, files=[MODEL_FILE]) == local  # added to the cache
        assert cached(local) == [METADATA_FILE, ONNX_FILE, MODEL_FILE]
        assert (local / MODEL_FILE).read_bytes() == (folder / MODEL_FILE).read_bytes()

    @pytest.mark.xdist_group("trained_model")
    def test_scoring_model_from_s3_matches_the_original(
        self, store: AwsStore, trained_model: TrainingResult
    ) -> None:
        version, _ = store.put_model_version(trained_model.version_dir)
        store.activate(version)
        original = ScoringModel.load(trained_model.version_dir)
        from_s3 = ScoringModel.load(store.model_dir(version))
        record = {"AMT_CREDIT": 406597.5, "AMT_INCOME_TOTAL": 202500.0, "DAYS_BIRTH": -9461.0}
        assert from_s3.score_record(record) == original.score_record(record)

    @pytest.mark.xdist_group("trained_model")
    def test_provider_fetches_the_files_it_is_asked_for(
        self, store: AwsStore, tmp_path: Path, trained_model: TrainingResult
    ) -> None:
        """The local server declares a function's files after its provider exists."""
        version, _ = store.put_model_version(trained_model.version_dir)
        store.activate(version)
        provider = ModelProvider(store, files=())
        model = provider.current()
        cache = tmp_path / "model-cache" / version
        assert sorted(p.name for p in cache.iterdir()) == [METADATA_FILE, ONNX_FILE]
        provider.need([MODEL_FILE])
        assert provider.current() is model  # the same version: fetched, not reloaded
        assert sorted(p.name for p in cache.iterdir()) == [METADATA_FILE, ONNX_FILE, MODEL_FILE]

    def test_activate_unknown_version_is_refused(self, store: AwsStore) -> None:
        before = store.active_version()
        with pytest.raises(ValueError, match="not in the store"):
            store.activate("no-such-version")
        assert store.active_version() == before

    def test_missing_version_files_are_a_domain_error(self, store: AwsStore) -> None:
        """A version absent from the bucket is a 503 from the API, not a raw NoSuchKey (500)."""
        with pytest.raises(CreditScoreError):
            store.model_dir("no-such-version")

    def test_get_client_uses_template_key_schema(self, store: AwsStore) -> None:
        store.put_clients([(100002, {"AMT_CREDIT": 1.0})])
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        item = dynamodb.get_item(TableName=CLIENTS_TABLE, Key={"client_id": {"N": "100002"}})
        assert "Item" in item


# ---------------------------------------------------------------------------- batches


def test_batches_are_chunked_at_the_dynamodb_limit(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store(tmp_path)
    sizes: list[int] = []
    real = store.dynamodb.batch_write_item

    def batch_write_item(**kwargs: Any) -> Any:
        sizes.append(sum(len(v) for v in kwargs["RequestItems"].values()))
        return real(**kwargs)

    monkeypatch.setattr(store.dynamodb, "batch_write_item", batch_write_item)
    rows = [(i, {"AMT_CREDIT": float(i)}) for i in range(2 * BATCH_SIZE + 3)]
    assert store.put_clients(rows) == len(rows)
    assert sizes == [BATCH_SIZE, BATCH_SIZE, 3]
    assert len(all_clients()) == len(rows)


def test_unprocessed_items_are_sent_again(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_backoff: list[float]
) -> None:
    store = make_store(tmp_path)
    real = store.dynamodb.batch_write_item
    sent: list[list[int]] = []

    def batch_write_item(**kwargs: Any) -> Any:
        requests = kwargs["RequestItems"][CLIENTS_TABLE]
        ids = [int(r["PutRequest"]["Item"]["client_id"]["N"]) for r in requests]
        sent.append(ids)
        if len(sent) == 1:  # DynamoDB throttles: it takes 5 items and hands back the rest
            answer = real(RequestItems={CLIENTS_TABLE: requests[:5]})
            answer["UnprocessedItems"] = {CLIENTS_TABLE: copy.deepcopy(requests[5:])}
            return answer
        return real(**kwargs)

    monkeypatch.setattr(store.dynamodb, "batch_write_item", batch_write_item)
    rows = [(100_000 + i, {"AMT_CREDIT": float(i)}) for i in range(12)]
    assert store.put_clients(rows) == 12
    assert sent == [[r[0] for r in rows], [r[0] for r in rows[5:]]]
    assert len(no_backoff) == 1, "one backoff before the retry"
    stored = all_clients()
    assert sorted(stored) == [r[0] for r in rows]
    assert store.get_client(100_011) == {"AMT_CREDIT": 11.0}


def test_items_never_processed_are_an_error(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_backoff: list[float]
) -> None:
    store = make_store(tmp_path)
    calls: list[int] = []

    def batch_write_item(**kwargs: Any) -> Any:
        calls.append(1)
        return {"UnprocessedItems": kwargs["RequestItems"]}

    monkeypatch.setattr(store.dynamodb, "batch_write_item", batch_write_item)
    with pytest.raises(StoreUnavailableError, match="unprocessed"):
        store.put_clients([(1, {"AMT_CREDIT": 1.0}), (2, {"AMT_CREDIT": 2.0})])
    assert len(calls) == MAX_BATCH_ATTEMPTS
    assert all(0 < s <= 2.0 for s in no_backoff), "backoff is bounded"


# ---------------------------------------------------------------------------- failures


class UnreachableSession:
    """A boto3 session whose clients talk to an endpoint where nothing listens."""

    def __init__(self) -> None:
        self._session = boto3.session.Session()

    def client(self, service: str, **kwargs: Any) -> Any:
        return self._session.client(service, endpoint_url=UNREACHABLE, **kwargs)


@pytest.mark.parametrize(
    "operation",
    ["active_version", "get_client", "put_clients", "model_dir", "put_model_version"],
)
def test_unreachable_aws_is_store_unavailable(
    aws_credentials: None, tmp_path: Path, operation: str
) -> None:
    store = make_store(tmp_path, session=UnreachableSession())
    folder = make_fake_version(tmp_path / "v", "20260101-000000-aaaaaaaa")
    calls = {
        "active_version": lambda: store.active_version(),
        "get_client": lambda: store.get_client(100002),
        "put_clients": lambda: store.put_clients([(1, {"AMT_CREDIT": 1.0})]),
        "model_dir": lambda: store.model_dir("20260101-000000-aaaaaaaa"),
        "put_model_version": lambda: store.put_model_version(folder),
    }
    with pytest.raises(StoreUnavailableError) as caught:
        calls[operation]()
    assert "127.0.0.1" in str(caught.value) or "connect" in str(caught.value).lower()


def test_missing_table_is_store_unavailable(aws: None, tmp_path: Path) -> None:
    store = make_store(tmp_path, clients_table="no-such-table")
    with pytest.raises(StoreUnavailableError, match="ResourceNotFound"):
        store.get_client(100002)
    with pytest.raises(StoreUnavailableError):
        store.put_clients([(1, {"AMT_CREDIT": 1.0})])


def test_missing_bucket_is_store_unavailable(aws: None, tmp_path: Path) -> None:
    store = make_store(tmp_path, bucket="no-such-bucket")
    with pytest.raises(StoreUnavailableError, match="NoSuchBucket"):
        store.active_version()
    with pytest.raises(StoreUnavailableError):
        store.put_model_version(make_fake_version(tmp_path / "v", "20260101-000000-aaaaaaaa"))


def test_access_denied_is_store_unavailable(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    store = make_store(tmp_path)

    def denied(**_: Any) -> Any:
        error = {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}
        raise ClientError(error, "GetItem")

    monkeypatch.setattr(store.dynamodb, "get_item", denied)
    with pytest.raises(StoreUnavailableError, match="AccessDenied"):
        store.get_client(100002)


def test_clients_fail_fast_within_the_lambda_timeout(aws_credentials: None, tmp_path: Path) -> None:
    """Two attempts at most (standard retry mode), 1 s to connect, 2 s between bytes read:
    one call gives up in about 7 s, under the functions' 10 s timeout."""
    store = make_store(tmp_path)
    config = store.dynamodb.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}
    assert (config.connect_timeout, config.read_timeout) == (1, 2)
    worst = config.retries["total_max_attempts"] * (config.connect_timeout + config.read_timeout)
    assert worst + 1 < load_template()["Globals"]["Function"]["Timeout"]


@pytest.mark.parametrize(
    ("code", "busy"),
    [
        ("ProvisionedThroughputExceededException", True),
        ("ThrottlingException", True),
        ("SlowDown", True),
        ("RequestLimitExceeded", True),
        ("ResourceNotFoundException", False),
        ("AccessDeniedException", False),
    ],
)
def test_throttling_is_busy_and_other_errors_name_their_code(code: str, busy: bool) -> None:
    from botocore.exceptions import ClientError

    arn = "arn:aws:dynamodb:eu-west-3:123456789012:table/secret-table"
    error = ClientError(
        {
            "Error": {"Code": code, "Message": f"about {arn}"},
            "ResponseMetadata": {"RequestId": "REQUEST-ID-1234"},
        },
        "GetItem",
    )
    mapped = unavailable_error("reading a client", "DynamoDB", error)
    assert isinstance(mapped, StoreUnavailableError)
    assert isinstance(mapped, StoreBusyError) is busy
    message = str(mapped)
    assert message.startswith("reading a client failed: DynamoDB") and code in message
    assert "arn:" not in message and "REQUEST-ID" not in message
    if busy:
        assert isinstance(mapped, StoreBusyError) and mapped.retry_after == RETRY_AFTER_BUSY
        assert "busy" in message and "retry" in message


@pytest.mark.parametrize(
    ("error_name", "words"),
    [
        ("ReadTimeoutError", "did not answer in time"),
        ("ConnectTimeoutError", "did not answer in time"),
        ("EndpointConnectionError", "cannot connect to S3"),
        ("ConnectionClosedError", "cannot connect to S3"),
    ],
)
def test_timeouts_and_lost_connections_are_busy_without_the_url(
    error_name: str, words: str
) -> None:
    import botocore.exceptions

    url = "https://creditscore-models-secret.s3.eu-west-3.amazonaws.com/models/active"
    error: Exception = getattr(botocore.exceptions, error_name)(endpoint_url=url)
    mapped = unavailable_error("reading the active model pointer", "S3", error)
    assert isinstance(mapped, StoreBusyError)
    assert mapped.retry_after == RETRY_AFTER_UNREACHABLE
    assert words in str(mapped) and "retry" in str(mapped)
    assert "amazonaws" not in str(mapped) and "secret" not in str(mapped)


def test_a_failed_call_names_the_service_it_called(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service comes from the boto3 client: a real throttled GetItem says DynamoDB."""
    store = make_store(tmp_path)

    def throttled(event_name: str, **_: Any) -> Any:
        parsed = {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}
        return type("Answer", (), {"status_code": 400, "headers": {}, "content": b""})(), parsed

    store.dynamodb.meta.events.register_first("before-call.dynamodb.GetItem", throttled)
    with pytest.raises(StoreBusyError, match="DynamoDB is busy"):
        store.get_client(100002)


def test_clients_are_created_lazily(aws_credentials: None, tmp_path: Path) -> None:
    """Constructing the store (at import, on Lambda) must not create boto3 clients."""
    store = make_store(tmp_path)
    assert store._s3 is None and store._dynamodb is None
    with mock_aws():
        create_resources_from_template()
        store.put_clients([(5, {"AMT_CREDIT": 5.0})])
        assert store.get_client(5) == {"AMT_CREDIT": 5.0}


# ---------------------------------------------------------------------------- settings


def test_open_store_wires_every_setting(aws_credentials: None, tmp_path: Path) -> None:
    settings = Settings(
        store_backend="aws",
        model_bucket=BUCKET,
        clients_table=CLIENTS_TABLE,
        decisions_table=DECISIONS_TABLE,
        aws_region=REGION,
        auth_mode="jwt",
        model_cache_dir=str(tmp_path / "cache"),
    )
    store = open_store(settings)
    assert isinstance(store, AwsStore)
    assert store.bucket == BUCKET and store.clients_table == CLIENTS_TABLE
    assert store.region == REGION and store.cache_dir == tmp_path / "cache"
    assert getattr(store, "decisions_table", DECISIONS_TABLE) == DECISIONS_TABLE


def test_round_trip_through_settings(aws: None, tmp_path: Path) -> None:
    settings = Settings(
        store_backend="aws",
        model_bucket=BUCKET,
        clients_table=CLIENTS_TABLE,
        decisions_table=DECISIONS_TABLE,
        auth_mode="jwt",
        model_cache_dir=str(tmp_path / "cache"),
    )
    store = open_store(settings)
    store.put_clients([(100002, PRESENT)])
    assert store.get_client(100002) == PRESENT


# ---------------------------------------------------------------------------- end to end


@pytest.mark.xdist_group("trained_model")
def test_score_function_on_aws_calls_only_what_its_policy_grants(
    aws: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    trained_model: TrainingResult,
    small_data_dir: Path,
) -> None:
    """The score function's handler, on S3 + DynamoDB: 200s, and every AWS call it makes is
    one of the actions template.yaml grants it (a call outside them is AccessDenied on AWS).
    """
    from creditscore_common.api import reset_caches
    from serving.local_server import load_function
    from training.data import NEW_CLIENTS_FILE, load_applications
    from training.publish import publish

    publish(trained_model.version_dir, small_data_dir, make_store(tmp_path), progress=False)
    client_id = int(load_applications(small_data_dir / NEW_CLIENTS_FILE, with_target=False).ids[0])

    called: set[str] = set()
    real_client = AwsStore._client

    def recording_client(self: AwsStore, service: str) -> Any:
        client = real_client(self, service)

        def record(event_name: str, **_: Any) -> None:
            _, prefix, operation = event_name.split(".")
            called.add(f"{prefix}:{operation}")

        client.meta.events.register("before-call.*.*", record)
        return client

    monkeypatch.setattr(AwsStore, "_client", recording_client)
    lambda_env(monkeypatch, tmp_path)
    reset_caches()
    try:
        module = load_function("score")
        assert module is not None
        for event_name in ("health", "score_client", "score_application"):
            event = json.loads((REPO / "events" / f"{event_name}.json").read_text())
            if event_name == "score_client":
                event["rawPath"] = event["requestContext"]["http"]["path"] = (
                    f"/clients/{client_id}/score"
                )
                event["pathParameters"] = {"client_id": str(client_id)}
            response = module.handler(event, None)
            assert response["statusCode"] == 200, (event_name, response["body"])
    finally:
        reset_caches()

    policy = template_resources()["ScoreFunction"]["Properties"]["Policies"]
    granted = {
        action
        for document in policy
        for statement in document["Statement"]
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    iam_action = {"s3:HeadObject": "s3:GetObject"}
    used = {iam_action.get(call, call) for call in called}
    assert used, "no AWS call was recorded"
    assert used <= granted, f"calls the policy does not grant: {sorted(used - granted)}"
    assert (tmp_path / "lambda-tmp" / trained_model.model_version).is_dir()


@pytest.mark.xdist_group("trained_model")
@pytest.mark.parametrize(
    ("function", "expected"),
    [
        ("score", {METADATA_FILE, ONNX_FILE}),
        ("explain", {METADATA_FILE, ONNX_FILE, MODEL_FILE, IMPORTANCE_FILE}),
        ("client", {METADATA_FILE, ONNX_FILE, PROFILES_FILE}),
    ],
)
def test_each_function_downloads_only_the_files_it_reads(
    aws: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    trained_model: TrainingResult,
    small_data_dir: Path,
    function: str,
    expected: set[str],
) -> None:
    """A function's cold start fetches the files of the active version it reads, no others.

    No function reads the report's figures or reference_stats.json; only the explain
    function reads the booster, only the client function the reference profiles.
    """
    from creditscore_common.api import reset_caches
    from serving.local_server import load_function
    from training.publish import publish

    publish(trained_model.version_dir, small_data_dir, make_store(tmp_path), progress=False)
    lambda_env(monkeypatch, tmp_path)
    reset_caches()
    try:
        assert load_function(function) is not None  # its import is the Lambda cold start
    finally:
        reset_caches()
    cache = tmp_path / "lambda-tmp" / trained_model.model_version
    assert {p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file()} == expected


# ---------------------------------------------------------------------------- all decisions


def test_all_decisions_scans_every_page(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every decision of every client, oldest first, across Scan pages."""
    from test_store_local import check_all_decisions

    store = make_store(tmp_path, decisions_table=DECISIONS_TABLE)
    real_scan = store.dynamodb.scan
    pages: list[int] = []

    def small_pages(**request: Any) -> Any:
        answer = real_scan(**{**request, "Limit": 1})
        pages.append(len(answer.get("Items", [])))
        return answer

    monkeypatch.setattr(store.dynamodb, "scan", small_pages)
    check_all_decisions(store)
    assert len(pages) > 3  # one item a page: the pages were followed


def test_all_decisions_without_a_table_is_unavailable(aws: None, tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailableError, match="DECISIONS_TABLE"):
        make_store(tmp_path).all_decisions()


def test_no_function_may_scan_the_decisions_table() -> None:
    """Listing every decision is for the reporting credentials, never a function's role."""
    for name, resource in template_resources().items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                actions = statement["Action"]
                actions = [actions] if isinstance(actions, str) else actions
                if "DecisionsTable" in json.dumps(statement["Resource"]):
                    assert "dynamodb:Scan" not in actions, name


# ---------------------------------------------------------------------------- model history


def test_history_and_pointer_on_s3(aws: None, tmp_path: Path) -> None:
    """The event is one line of models/history.jsonl, written before the pointer."""
    store = make_store(tmp_path)
    assert store.model_history() == []
    first = make_fake_version(tmp_path / "v", "20260101-000000-aaaaaaaa")
    second = make_fake_version(tmp_path / "v", "20260102-000000-bbbbbbbb", b"other")
    for folder in (first, second):
        store.put_model_version(folder)
    assert store.activate_recorded(first.name, "publish", "ci", "first")
    assert store.activate_recorded(second.name, "activate", "ops", "hotfix")
    assert not store.activate_recorded(second.name, "activate", "ops", "again")
    history = store.model_history()
    assert [(e["version"], e["action"], e["previous"], e["by"]) for e in history] == [
        (first.name, "publish", None, "ci"),
        (second.name, "activate", first.name, "ops"),
    ]
    assert store.active_version() == second.name
    with pytest.raises(ValueError, match="not in the store"):
        store.activate_recorded("no-such-version", "activate", "ops", "typo")
    where = store.put_promotion(second.name, {"verdict": "accepted"})
    assert where == f"s3://{BUCKET}/{MODELS_PREFIX}/promotions/{second.name}.json"
    s3 = boto3.client("s3", region_name=REGION)
    body = s3.get_object(Bucket=BUCKET, Key=f"{MODELS_PREFIX}/promotions/{second.name}.json")
    assert json.loads(body["Body"].read()) == {"verdict": "accepted"}


def test_a_concurrent_history_write_is_not_overwritten(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another command appends between our read and our write: the conditional PUT fails,
    the state is read again, and both events are kept."""
    store = make_store(tmp_path)
    first = make_fake_version(tmp_path / "v", "20260101-000000-aaaaaaaa")
    second = make_fake_version(tmp_path / "v", "20260102-000000-bbbbbbbb", b"other")
    for folder in (first, second):
        store.put_model_version(folder)
    store.activate_recorded(first.name, "publish", "ci", "first")
    real_read = store._read_history
    calls = {"n": 0}

    def read_then_someone_writes() -> tuple[list[dict[str, Any]], str | None]:
        seen = real_read()
        calls["n"] += 1
        if calls["n"] == 1:  # another writer appends after our read
            other = make_store(tmp_path / "other")
            text = "".join(json.dumps(e) + "\n" for e in [*seen[0], {**seen[0][0], "by": "x"}])
            other.s3.put_object(Bucket=BUCKET, Key=f"{MODELS_PREFIX}/history.jsonl", Body=text)
        return seen

    monkeypatch.setattr(store, "_read_history", read_then_someone_writes)
    assert store.activate_recorded(second.name, "activate", "ops", "hotfix")
    assert calls["n"] == 2
    assert [e["by"] for e in store.model_history()] == ["ci", "x", "ops"]
