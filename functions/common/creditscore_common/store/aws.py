"""The AWS store: model versions in S3, clients in DynamoDB (boto3).

S3 layout: ``models/<version>/<file>`` and ``models/active`` (the active version's name);
``monitoring/drift_summary.json`` holds the latest drift summary (one PUT replaces it).
A version's files are uploaded before the pointer is written, and a single PUT replaces the
pointer, so a reader sees the old version or the new one, never half of one. The clients
table is keyed by ``client_id`` (number) and holds the raw application as one JSON string
(exact, and free of DynamoDB's Decimal numbers).

boto3 clients are created on first use, not at import: under moto's ``mock_aws`` a client
made before the mock starts would talk to the real AWS.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from creditscore_common.errors import (
    ClientNotFoundError,
    ModelUnavailableError,
    StoreUnavailableError,
)
from creditscore_common.schemas import DecisionRecord
from creditscore_common.store.base import (
    ACTIVE_POINTER,
    DECISION_FIELDS,
    DRIFT_SUMMARY_FILE,
    MODELS_PREFIX,
    MONITORING_PREFIX,
    Application,
    ClientSummary,
    Store,
    client_summary,
    decision_row,
    decode_application,
    encode_application,
    final_decision,
    matches_search,
    search_terms,
    supersede_conflict,
)
from creditscore_common.version import (
    METADATA_FILE,
    read_metadata,
    recorded_files,
    version_files,
)

log = logging.getLogger(__name__)

BATCH_SIZE = 25  # DynamoDB's BatchWriteItem limit
#: Sort keys of the decisions table's guard items start with this (after every ISO time):
#: ``~final`` (the client's final decision) and ``~key#<idempotency key>``.
GUARD_PREFIX = "~"
FINAL_POINTER = GUARD_PREFIX + "final"
KEY_MARKER = GUARD_PREFIX + "key#"
MAX_BATCH_ATTEMPTS = 8


#: Seconds a caller is told to wait (Retry-After) when AWS throttles, and when it does not
#: answer: a throttled table frees up within a second or two (botocore already retried with
#: backoff); an endpoint that timed out may need longer.
RETRY_AFTER_BUSY = 2
RETRY_AFTER_UNREACHABLE = 5

#: Error codes AWS gives a throttled request (botocore's standard retry mode uses the same
#: list): the service is up but busy, and the request may be sent again shortly.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
    }
)


def client_config() -> Any:
    """The botocore Config of every client: fail fast, retry once, within Lambda's timeout.

    The functions run for at most 10 s (template.yaml). A call makes at most two attempts
    (``standard`` mode: throttling and connection errors retried with jittered backoff, under
    a retry quota), each at most 1 s to connect and 2 s between bytes read, so one call gives
    up after about 7 s: the caller gets a 503 it can retry rather than a Lambda timeout.
    """
    from botocore.config import Config

    return Config(
        connect_timeout=1,
        read_timeout=2,
        retries={"mode": "standard", "total_max_attempts": 2},
    )


class StoreBusyError(StoreUnavailableError):
    """S3 or DynamoDB throttled the request or did not answer: worth retrying shortly.

    ``retry_after``: seconds the API tells the caller to wait (its Retry-After header).
    """

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _service_of(operation: Any) -> str:
    """The AWS service a bound boto3 client method calls ("S3", "DynamoDB"), else "AWS"."""
    client = getattr(operation, "__self__", None)
    service_model = getattr(getattr(client, "meta", None), "service_model", None)
    service_id = getattr(service_model, "service_id", None)
    return str(service_id) if service_id else "AWS"


def unavailable_error(what: str, service: str, error: Exception) -> StoreUnavailableError:
    """The domain error for a failed AWS call, in words fit for an API answer.

    Throttling and timeouts or lost connections become :class:`StoreBusyError` (retry
    later); any other error names its code or kind. Nothing of the request is repeated
    (endpoint URL, bucket or table name, request id, ARN): the full error is logged.
    """
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )
    from botocore.exceptions import ConnectionError as BotoConnectionError

    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", "")) or "unknown error"
        if code in THROTTLING_CODES:
            return StoreBusyError(
                f"{what} failed: {service} is busy (throttled, {code}); "
                f"retry in {RETRY_AFTER_BUSY} seconds",
                RETRY_AFTER_BUSY,
            )
        return StoreUnavailableError(f"{what} failed: {service} answered {code}")
    if isinstance(error, ReadTimeoutError | ConnectTimeoutError):
        return StoreBusyError(
            f"{what} failed: {service} did not answer in time; "
            f"retry in {RETRY_AFTER_UNREACHABLE} seconds",
            RETRY_AFTER_UNREACHABLE,
        )
    if isinstance(error, EndpointConnectionError | ConnectionClosedError | BotoConnectionError):
        return StoreBusyError(
            f"{what} failed: cannot connect to {service}; "
            f"retry in {RETRY_AFTER_UNREACHABLE} seconds",
            RETRY_AFTER_UNREACHABLE,
        )
    return StoreUnavailableError(f"{what} failed: {type(error).__name__}: {error}")


class AwsStore(Store):
    """S3 + DynamoDB backend."""

    def __init__(
        self,
        bucket: str,
        clients_table: str,
        region: str,
        cache_dir: Path,
        session: Any = None,
        decisions_table: str = "",
    ) -> None:
        self.bucket = bucket
        self.clients_table = clients_table
        self.decisions_table = decisions_table
        self.region = region
        self.cache_dir = Path(cache_dir)
        self._session = session
        self._s3: Any = None
        self._dynamodb: Any = None

    # ---------------------------------------------------------------- boto3, lazily

    def _client(self, service: str) -> Any:
        import boto3

        session = self._session or boto3.session.Session()
        return session.client(service, region_name=self.region, config=client_config())

    @property
    def s3(self) -> Any:
        """The S3 client (created on first use)."""
        if self._s3 is None:
            self._s3 = self._client("s3")
        return self._s3

    @property
    def dynamodb(self) -> Any:
        """The DynamoDB client (created on first use)."""
        if self._dynamodb is None:
            self._dynamodb = self._client("dynamodb")
        return self._dynamodb

    def _call(
        self,
        what: str,
        operation: Any,
        *,
        absent: tuple[str, ...] = ("NoSuchKey", "404"),
        **kwargs: Any,
    ) -> Any:
        """Run one AWS call; every failure becomes StoreUnavailableError but ``absent`` ones.

        A ClientError with one of the ``absent`` codes passes through: the caller reads it as
        "not there".
        """
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return operation(**kwargs)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in absent:
                raise
            unavailable = unavailable_error(what, _service_of(operation), error)
            log.warning("%s: %s", unavailable, error)
            raise unavailable from error
        except BotoCoreError as error:
            unavailable = unavailable_error(what, _service_of(operation), error)
            log.warning("%s: %s", unavailable, error)
            raise unavailable from error

    def _key(self, *parts: str) -> str:
        return "/".join((MODELS_PREFIX, *parts))

    # ---------------------------------------------------------------- model versions

    def active_version(self) -> str | None:
        """The version named by ``models/active``, or None if there is none."""
        from botocore.exceptions import ClientError

        try:
            answer = self._call(
                "reading the active model pointer",
                self.s3.get_object,
                Bucket=self.bucket,
                Key=self._key(ACTIVE_POINTER),
            )
        except ClientError:
            return None
        return str(answer["Body"].read().decode().strip()) or None

    def model_dir(self, version: str, files: Iterable[str] | None = None) -> Path:
        """Download ``files`` of the version (None: all) into the cache folder (Lambda's /tmp).

        A file is downloaded once per container: the cache keeps it under the version's
        name (versions are never rewritten). Only files the metadata records are fetched.
        """
        target = self.cache_dir / version
        if not (target / METADATA_FILE).is_file():
            self._download(version, METADATA_FILE, target)
        recorded = recorded_files(read_metadata(target))
        wanted = recorded if files is None else [name for name in files if name in recorded]
        for name in wanted:
            if not (target / name).is_file():
                self._download(version, name, target)
        return target

    def _download(self, version: str, name: str, folder: Path) -> None:
        """One file of a version into ``folder``: written aside, then renamed (atomic)."""
        from botocore.exceptions import ClientError

        try:
            answer = self._call(
                f"downloading {name} of model {version}",
                self.s3.get_object,
                Bucket=self.bucket,
                Key=self._key(version, name),
            )
        except ClientError as error:
            raise ModelUnavailableError(f"model {version}: {name} is not in the bucket") from error
        destination = folder / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".download-", dir=destination.parent)
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(answer["Body"].read())
            os.replace(temporary, destination)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _has_version(self, version: str) -> bool:
        """Whether the version's metadata.json, written last by an upload, is in the bucket."""
        from botocore.exceptions import ClientError

        try:
            self._call(
                "checking the model version",
                self.s3.head_object,
                Bucket=self.bucket,
                Key=self._key(version, METADATA_FILE),
            )
        except ClientError:
            return False
        return True

    def put_model_version(self, folder: Path) -> tuple[str, bool]:
        """Upload a version's files; skipped if its metadata.json is already there."""
        version = str(read_metadata(folder)["model_version"])
        if self._has_version(version):
            return version, False
        # metadata.json last: its presence marks a complete upload.
        for name in [*version_files(folder)[1:], METADATA_FILE]:
            self._call(
                f"uploading {name}",
                self.s3.put_object,
                Bucket=self.bucket,
                Key=self._key(version, name),
                Body=(folder / name).read_bytes(),
            )
        return version, True

    def activate(self, version: str) -> bool:
        """Replace ``models/active`` with one PUT (atomic for readers)."""
        if self.active_version() == version:
            return False
        if not self._has_version(version):
            raise ValueError(f"model version {version} is not in the store")
        self._write_pointer(version)
        return True

    def _write_pointer(self, version: str) -> None:
        """Replace ``models/active`` (one PUT: S3 swaps the object whole)."""
        self._call(
            "writing the active model pointer",
            self.s3.put_object,
            Bucket=self.bucket,
            Key=self._key(ACTIVE_POINTER),
            Body=(version + "\n").encode(),
        )

    # ---------------------------------------------------------------- monitoring

    def put_drift_summary(self, summary: Mapping[str, Any]) -> None:
        """Upload the summary to ``monitoring/drift_summary.json`` (one PUT: atomic)."""
        body = json.dumps(summary, allow_nan=False, ensure_ascii=False).encode()
        self._call(
            "writing the drift summary",
            self.s3.put_object,
            Bucket=self.bucket,
            Key=f"{MONITORING_PREFIX}/{DRIFT_SUMMARY_FILE}",
            Body=body,
            ContentType="application/json",
        )

    def get_drift_summary(self) -> dict[str, Any] | None:
        """The latest drift summary, or None if none was published.

        The function may read ``monitoring/*`` but not list the bucket (least privilege), and
        S3 then answers AccessDenied, not NoSuchKey, for an object that does not exist. With
        GetObject granted on that prefix, AccessDenied on this key means "not published yet".
        """
        from botocore.exceptions import ClientError

        key = f"{MONITORING_PREFIX}/{DRIFT_SUMMARY_FILE}"
        try:
            answer = self._call(
                "reading the drift summary",
                self.s3.get_object,
                absent=("NoSuchKey", "404", "AccessDenied", "403"),
                Bucket=self.bucket,
                Key=key,
            )
        except ClientError:
            log.info("s3://%s/%s: not published (or not readable)", self.bucket, key)
            return None
        try:
            summary: dict[str, Any] = json.loads(answer["Body"].read())
        except ValueError as error:
            raise StoreUnavailableError(f"the drift summary is not JSON: {error}") from error
        return summary

    # ---------------------------------------------------------------- clients

    def get_client(self, client_id: int) -> Application:
        """Read one client by id (a strongly consistent GetItem)."""
        answer = self._call(
            "reading a client",
            self.dynamodb.get_item,
            TableName=self.clients_table,
            Key={"client_id": {"N": str(int(client_id))}},
            ConsistentRead=True,
        )
        item = answer.get("Item")
        if item is None:
            raise ClientNotFoundError(client_id)
        return decode_application(item["application"]["S"])

    def put_clients(self, clients: Iterable[tuple[int, Application]]) -> int:
        """BatchWriteItem in chunks of 25, retrying unprocessed items with backoff.

        DynamoDB cannot tell whether a put changed anything, so the count is of items sent;
        re-sending an identical item leaves the table as it was (idempotent).
        """
        batch: list[dict[str, Any]] = []
        written = 0
        for client_id, application in clients:
            batch.append(
                {
                    "PutRequest": {
                        "Item": {
                            "client_id": {"N": str(int(client_id))},
                            "application": {"S": encode_application(application)},
                        }
                    }
                }
            )
            if len(batch) == BATCH_SIZE:
                written += self._write_batch(batch)
                batch = []
        if batch:
            written += self._write_batch(batch)
        return written

    def _write_batch(self, requests: list[dict[str, Any]]) -> int:
        pending = {self.clients_table: requests}
        for attempt in range(MAX_BATCH_ATTEMPTS):
            answer = self._call(
                "writing clients", self.dynamodb.batch_write_item, RequestItems=pending
            )
            pending = answer.get("UnprocessedItems") or {}
            if not pending:
                return len(requests)
            time.sleep(min(0.05 * 2**attempt, 2.0))
        left = sum(len(v) for v in pending.values())
        raise StoreUnavailableError(f"DynamoDB left {left} clients unprocessed after retries")

    def count_clients(self) -> int:
        """Approximate item count from DescribeTable (updated by DynamoDB every ~6 hours)."""
        answer = self._call(
            "describing the clients table",
            self.dynamodb.describe_table,
            TableName=self.clients_table,
        )
        return int(answer["Table"].get("ItemCount", 0))

    def list_clients(
        self, limit: int, cursor: int | None = None, query: str | None = None
    ) -> tuple[list[tuple[int, ClientSummary]], int | None]:
        """Scan pages from ``cursor`` (ExclusiveStartKey), in DynamoDB's order, not by id.

        A search is filtered here with :func:`matches_search` (the id is a number, and the
        fields live inside one JSON string), so it may read many pages: fine for tens of
        thousands of clients; a larger table would want a search index.
        """
        terms = search_terms(query)
        page_size = limit if not terms else max(limit, 200)
        found: list[tuple[int, ClientSummary]] = []
        start = None if cursor is None else {"client_id": {"N": str(int(cursor))}}
        while True:
            request: dict[str, Any] = {"TableName": self.clients_table, "Limit": page_size}
            if start is not None:
                request["ExclusiveStartKey"] = start
            answer = self._call("listing clients", self.dynamodb.scan, **request)
            items = answer.get("Items", [])
            start = answer.get("LastEvaluatedKey")
            for position, item in enumerate(items):
                client_id = int(item["client_id"]["N"])
                application = decode_application(item["application"]["S"])
                if not matches_search(client_id, application, terms):
                    continue
                found.append((client_id, client_summary(application)))
                if len(found) == limit:
                    last_of_table = start is None and position == len(items) - 1
                    return found, None if last_of_table else client_id
            if start is None:
                return found, None

    # ---------------------------------------------------------------- decisions

    def _decisions(self) -> str:
        if not self.decisions_table:
            raise StoreUnavailableError("DECISIONS_TABLE is not configured for this store")
        return self.decisions_table

    def add_decision(self, record: Mapping[str, Any], exclusive: bool = False) -> dict[str, Any]:
        """Write the record, its key's marker and the final pointer in one transaction.

        Beside the records, a client's partition holds two kinds of guard items, whose
        ``decided_at`` starts with ``~`` (after every time, so a Query for records stops
        before them): ``~key#<idempotency key>`` (``record_at``: the record written with that
        key) and ``~final`` (``final_at``: the client's final decision). TransactWriteItems
        puts the record (if its key is new), the marker (if no marker has that key) and the
        pointer (if it still names the record ``supersedes`` replaces) all or none: a
        repeated key returns the first record, a stale ``supersedes`` is a 409. Clients
        decided before the pointer existed have none: their final decision is read from the
        records (a race there is only guarded until their first new decision).
        Every write is a Put: the function needs dynamodb:PutItem and Query, nothing else.
        """
        client_id = int(record["client_id"])
        key, supersedes = record.get("idempotency_key"), record.get("supersedes")
        decisions = self.list_decisions(client_id)
        earlier = next((d for d in decisions if key and d.get("idempotency_key") == key), None)
        if earlier is not None:
            return earlier
        final = final_decision(decisions)
        if exclusive and supersedes != (None if final is None else final["decided_at"]):
            raise supersede_conflict(final, supersedes)
        table, partition = self._decisions(), {"N": str(client_id)}
        pointer: dict[str, Any] = {
            "TableName": table,
            "Item": {"client_id": partition, "decided_at": {"S": FINAL_POINTER}},
        }
        # Not exclusive: the pointer follows the appended record, unconditionally.
        pointer["Item"]["final_at"] = {"S": str(record["decided_at"])}
        if exclusive:
            pointer["ConditionExpression"] = "attribute_not_exists(decided_at)"
        if exclusive and supersedes is not None:
            pointer["ConditionExpression"] += " OR final_at = :superseded"
            pointer["ExpressionAttributeValues"] = {":superseded": {"S": str(supersedes)}}
        actions: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": table,
                    "Item": {
                        name: _attribute(name, record[name])
                        for name in DECISION_FIELDS
                        if record.get(name) is not None
                    },
                    "ConditionExpression": "attribute_not_exists(decided_at)",
                }
            },
            {"Put": pointer},
        ]
        if key:
            marker = {"client_id": partition, "decided_at": {"S": KEY_MARKER + str(key)}}
            marker["record_at"] = {"S": str(record["decided_at"])}
            actions.append(
                {
                    "Put": {
                        "TableName": table,
                        "Item": marker,
                        "ConditionExpression": "attribute_not_exists(decided_at)",
                    }
                }
            )
        from botocore.exceptions import ClientError

        try:
            self._call(
                "recording a decision",
                self.dynamodb.transact_write_items,
                absent=("TransactionCanceledException",),
                TransactItems=actions,
            )
        except ClientError as error:  # cancelled: which condition failed says why
            reasons = [
                str(reason.get("Code", ""))
                for reason in error.response.get("CancellationReasons", [])
            ]
            if key and reasons[2:3] == ["ConditionalCheckFailed"]:  # a concurrent repeat
                return self._decision_with_key(client_id, str(key))
            if reasons[1:2] == ["ConditionalCheckFailed"]:  # replaced meanwhile
                raise supersede_conflict(
                    final_decision(self.list_decisions(client_id)), supersedes
                ) from error
            codes = ", ".join(code for code in reasons if code not in ("", "None"))
            duplicate = reasons[:1] == ["ConditionalCheckFailed"]
            raise StoreUnavailableError(
                f"recording a decision failed: DynamoDB answered {codes or 'an error'}"
                + (" (a record with this decided_at exists)" if duplicate else "")
            ) from error
        return decision_row(record)

    def _decision_with_key(self, client_id: int, key: str) -> dict[str, Any]:
        """The record a ``~key#`` marker names (written in the same transaction)."""
        marker = self._decision_items(client_id, "decided_at = :at", KEY_MARKER + key)
        if not marker:
            raise StoreUnavailableError(f"recording a decision failed: no marker for key {key}")
        found = self._decision_items(client_id, "decided_at = :at", marker[0]["record_at"]["S"])
        if not found:
            raise StoreUnavailableError(f"recording a decision failed: no record for key {key}")
        return _decision_of(found[0])

    def _decision_items(self, client_id: int, condition: str, at: str) -> list[dict[str, Any]]:
        """Raw items of the client's partition whose decided_at meets ``condition`` (:at)."""
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self._decisions(),
            "KeyConditionExpression": f"client_id = :client AND {condition}",
            "ExpressionAttributeValues": {
                ":client": {"N": str(int(client_id))},
                ":at": {"S": at},
            },
            "ScanIndexForward": True,
            "ConsistentRead": True,
        }
        while True:
            answer = self._call("reading decisions", self.dynamodb.query, **request)
            items.extend(answer.get("Items", []))
            last = answer.get("LastEvaluatedKey")
            if not last:
                return items
            request["ExclusiveStartKey"] = last

    def list_decisions(self, client_id: int) -> list[dict[str, Any]]:
        """Query the client's decisions by ascending decided_at (strongly consistent).

        The guard items (``~...``, see :meth:`add_decision`) sort after every record: the
        key condition stops before them.
        """
        items = self._decision_items(client_id, "decided_at < :at", GUARD_PREFIX)
        return [_decision_of(item) for item in items]

    def all_decisions(self) -> list[dict[str, Any]]:
        """Scan the whole decisions table (every page), sorted by decided_at then client.

        Reporting only: the functions' policies grant Query on this table, not Scan; the
        credentials running ``creditscore report --store aws`` need dynamodb:Scan on it.
        """
        decisions: list[dict[str, Any]] = []
        request: dict[str, Any] = {"TableName": self._decisions(), "ConsistentRead": True}
        while True:
            answer = self._call("reading every decision", self.dynamodb.scan, **request)
            for item in answer.get("Items", []):
                if not item["decided_at"]["S"].startswith(GUARD_PREFIX):  # not a record
                    decisions.append(_decision_of(item))
            last = answer.get("LastEvaluatedKey")
            if not last:
                break
            request["ExclusiveStartKey"] = last
        decisions.sort(key=lambda record: (record["decided_at"], record["client_id"]))
        return decisions

    # ---------------------------------------------------------------- model history
    # Lifecycle (creditscore activate / rollback / promote / publish). The history is one S3
    # object, models/history.jsonl, rewritten whole with a conditional PUT (If-Match on the
    # ETag read, If-None-Match for the first event): two lifecycle commands cannot both
    # append from the same state, no table is needed beyond the stack's, and the functions
    # already may read models/* (GET /model lists it). A DynamoDB item per event would need a
    # new table and a Query grant for the explain function; the history stays small (one
    # line per activation), so rewriting it is cheap.

    def _history_key(self) -> str:
        from creditscore_common.store.base import HISTORY_FILE

        return self._key(HISTORY_FILE)

    def _read_history(self) -> tuple[list[dict[str, Any]], str | None]:
        """The history and the ETag of its object (None: no history yet)."""
        from botocore.exceptions import ClientError

        from creditscore_common.store.base import decode_history

        try:
            answer = self._call(
                "reading the model history",
                self.s3.get_object,
                absent=("NoSuchKey", "404", "AccessDenied", "403"),
                Bucket=self.bucket,
                Key=self._history_key(),
            )
        except ClientError:
            return [], None
        try:
            events = decode_history(answer["Body"].read().decode(), self._history_key())
        except ValueError as error:
            raise StoreUnavailableError(str(error)) from error
        return events, str(answer["ETag"])

    def model_history(self) -> list[dict[str, Any]]:
        """``models/history.jsonl``, oldest first (empty when there is none, or unreadable).

        As for the drift summary, AccessDenied on this key means "not written yet" for a
        function that may not list the bucket.
        """
        return self._read_history()[0]

    def activate_recorded(
        self,
        version: str,
        action: Any,
        by: str,
        reason: str,
        details: Mapping[str, Any] | None = None,
    ) -> bool:
        """The event (conditional PUT of the history), then the pointer (one PUT).

        A concurrent lifecycle command makes the conditional PUT fail (412): the state is
        read again, up to 3 times, then StoreUnavailableError. If the pointer PUT fails,
        the event stays and a rerun completes the switch without a second event.
        """
        from botocore.exceptions import ClientError

        from creditscore_common.store.base import encode_history, lifecycle_event

        if not self._has_version(version):
            raise ValueError(f"model version {version} is not in the store")
        for _ in range(3):
            active = self.active_version()
            if active == version:
                return False
            history, etag = self._read_history()
            last = history[-1] if history else None
            if not (last and last["version"] == version and last.get("previous") == active):
                event = lifecycle_event(version, action, by, reason, active, details)
                condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
                try:
                    self._call(
                        "writing the model history",
                        self.s3.put_object,
                        absent=("PreconditionFailed", "412", "ConditionalRequestConflict", "409"),
                        Bucket=self.bucket,
                        Key=self._history_key(),
                        Body=encode_history([*history, event]).encode(),
                        ContentType="application/x-ndjson",
                        **condition,
                    )
                except ClientError:
                    log.warning("the model history changed while %s was activated; again", version)
                    continue
            self._write_pointer(version)
            return True
        raise StoreUnavailableError(
            "the model history kept changing (another activate, rollback, promote or publish "
            "is running): try again when it is done"
        )

    def put_promotion(self, version: str, comparison: Mapping[str, Any]) -> str:
        """Upload ``models/promotions/<version>.json`` (one PUT); returns its s3:// URI."""
        from creditscore_common.store.base import PROMOTIONS_PREFIX

        key = self._key(PROMOTIONS_PREFIX, f"{version}.json")
        self._call(
            "writing the promotion record",
            self.s3.put_object,
            Bucket=self.bucket,
            Key=key,
            Body=json.dumps(comparison, allow_nan=False, indent=2).encode(),
            ContentType="application/json",
        )
        return f"s3://{self.bucket}/{key}"


#: Decision fields stored as DynamoDB numbers (from the record's types), and their type.
_NUMBER_FIELDS: dict[str, type[int] | type[float]] = {
    name: int if field.annotation is int else float
    for name, field in DecisionRecord.model_fields.items()
    if field.annotation is int or field.annotation is float
}


def _attribute(name: str, value: Any) -> dict[str, Any]:
    """A decision field as a DynamoDB attribute: numbers exact, bools, else a string."""
    if isinstance(value, bool):
        return {"BOOL": value}
    kind = _NUMBER_FIELDS.get(name)
    if kind is int:
        return {"N": str(int(value))}
    if kind is float:
        return {"N": _number(value)}
    return {"S": str(value)}


def _value(name: str, attribute: Mapping[str, Any]) -> Any:
    """Inverse of :func:`_attribute`."""
    if "BOOL" in attribute:
        return bool(attribute["BOOL"])
    kind = _NUMBER_FIELDS.get(name)
    return attribute["S"] if kind is None else kind(attribute["N"])


def _decision_of(item: Mapping[str, Any]) -> dict[str, Any]:
    """A decision item as a record (attributes absent from older items left out)."""
    return decision_row(
        {name: _value(name, item[name]) for name in DECISION_FIELDS if name in item}
    )


def _number(value: float) -> str:
    """A float as a DynamoDB number: exact, positional (never 1e-05)."""
    return format(Decimal(repr(float(value))), "f")
