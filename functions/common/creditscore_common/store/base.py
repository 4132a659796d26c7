"""The store interface: model versions and new clients, whatever the backend.

Two backends implement it: ``local`` (a folder and SQLite, the default) and ``aws`` (S3 and
DynamoDB). The functions only ever see this interface.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from creditscore_common.model import METADATA_FILE

MODELS_PREFIX = "models"
ACTIVE_POINTER = "active"

Application = dict[str, Any]


def encode_application(application: Mapping[str, Any]) -> str:
    """Canonical JSON of a raw application: missing values omitted, keys sorted.

    Storing one JSON document per client keeps every backend exact (no Decimal, no float
    drift) and makes rewriting the same client a no-op.
    """
    present = {
        k: v
        for k, v in application.items()
        if v is not None and not (isinstance(v, float) and math.isnan(v))
    }
    return json.dumps(present, sort_keys=True, separators=(",", ":"), allow_nan=False)


def decode_application(text: str) -> Application:
    """Inverse of :func:`encode_application`."""
    decoded: Application = json.loads(text)
    return decoded


def version_files(folder: Path) -> list[str]:
    """Files of a model version: metadata.json and every file it lists a sha256 for."""
    metadata = json.loads((folder / METADATA_FILE).read_text())
    return [METADATA_FILE, *sorted(metadata.get("sha256", {}))]


class Store(ABC):
    """Where the functions read model versions and clients."""

    # ---------------------------------------------------------------- model versions

    @abstractmethod
    def active_version(self) -> str | None:
        """Name of the active model version, or None before any publish."""

    @abstractmethod
    def model_dir(self, version: str) -> Path:
        """A local folder holding every file of ``version`` (downloaded if needed)."""

    @abstractmethod
    def put_model_version(self, folder: Path) -> tuple[str, bool]:
        """Copy a version folder into the store; (version, whether anything was written)."""

    @abstractmethod
    def activate(self, version: str) -> bool:
        """Make ``version`` the active one in one atomic step; False if it already was."""

    # ---------------------------------------------------------------- clients

    @abstractmethod
    def get_client(self, client_id: int) -> Application:
        """The raw application of a new client; ClientNotFoundError if unknown."""

    @abstractmethod
    def put_clients(self, clients: Iterable[tuple[int, Application]]) -> int:
        """Insert or update clients; returns how many rows actually changed."""

    @abstractmethod
    def count_clients(self) -> int:
        """Number of new clients in the store."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Release connections (optional)."""
