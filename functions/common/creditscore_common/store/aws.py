"""The AWS store: model versions in S3, clients in DynamoDB (boto3).

S3 layout: ``models/<version>/<file>`` and ``models/active`` (the active version's name).
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
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from creditscore_common.errors import ClientNotFoundError, StoreUnavailableError
from creditscore_common.model import METADATA_FILE
from creditscore_common.store.base import (
    ACTIVE_POINTER,
    MODELS_PREFIX,
    Application,
    Store,
    decode_application,
    encode_application,
    version_files,
)

log = logging.getLogger(__name__)

BATCH_SIZE = 25  # DynamoDB's BatchWriteItem limit
MAX_BATCH_ATTEMPTS = 8


class AwsStore(Store):
    """S3 + DynamoDB backend."""

    def __init__(
        self,
        bucket: str,
        clients_table: str,
        region: str,
        cache_dir: Path,
        session: Any = None,
    ) -> None:
        self.bucket = bucket
        self.clients_table = clients_table
        self.region = region
        self.cache_dir = Path(cache_dir)
        self._session = session
        self._s3: Any = None
        self._dynamodb: Any = None

    # ---------------------------------------------------------------- boto3, lazily

    def _client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        # Fail fast: a function answers 503 quickly rather than hang until its timeout.
        config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2})
        session = self._session or boto3.session.Session()
        return session.client(service, region_name=self.region, config=config)

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

    def _call(self, what: str, operation: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return operation(**kwargs)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404"):
                raise
            raise StoreUnavailableError(f"{what} failed: {code or error}") from error
        except BotoCoreError as error:
            raise StoreUnavailableError(f"{what} failed: {error}") from error

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

    def model_dir(self, version: str) -> Path:
        """Download the version's files once into the cache folder (Lambda's /tmp)."""
        target = self.cache_dir / version
        if (target / METADATA_FILE).is_file():
            return target
        staging = self.cache_dir / f".{version}-download"
        staging.mkdir(parents=True, exist_ok=True)
        self._download(version, METADATA_FILE, staging)
        for name in version_files(staging):
            if name != METADATA_FILE:
                self._download(version, name, staging)
        staging.rename(target)
        return target

    def _download(self, version: str, name: str, folder: Path) -> None:
        destination = folder / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        answer = self._call(
            f"downloading {name} of model {version}",
            self.s3.get_object,
            Bucket=self.bucket,
            Key=self._key(version, name),
        )
        destination.write_bytes(answer["Body"].read())

    def put_model_version(self, folder: Path) -> tuple[str, bool]:
        """Upload a version's files; skipped if its metadata.json is already there."""
        from botocore.exceptions import ClientError

        metadata = json.loads((folder / METADATA_FILE).read_text())
        version = str(metadata["model_version"])
        try:
            self._call(
                "checking the model version",
                self.s3.head_object,
                Bucket=self.bucket,
                Key=self._key(version, METADATA_FILE),
            )
            return version, False
        except ClientError:
            pass
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
        self._call(
            "writing the active model pointer",
            self.s3.put_object,
            Bucket=self.bucket,
            Key=self._key(ACTIVE_POINTER),
            Body=(version + "\n").encode(),
        )
        return True

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
