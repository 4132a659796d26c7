"""The store interface: model versions and new clients, whatever the backend.

Two backends implement it: ``local`` (a folder and SQLite, the default) and ``aws`` (S3 and
DynamoDB). The functions only ever see this interface.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from creditscore_common.schemas import DecisionRecord

MODELS_PREFIX = "models"
ACTIVE_POINTER = "active"
#: Monitoring documents (the latest drift summary) live beside the models, under this prefix.
MONITORING_PREFIX = "monitoring"
DRIFT_SUMMARY_FILE = "drift_summary.json"

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


#: Raw fields of a client's line in lists (:meth:`Store.list_clients`).
SUMMARY_FIELDS = (
    "NAME_CONTRACT_TYPE",
    "NAME_INCOME_TYPE",
    "CODE_GENDER",
    "DAYS_BIRTH",
    "AMT_INCOME_TOTAL",
    "AMT_CREDIT",
)
#: Text fields a search word is looked for in (:func:`matches_search`).
SEARCH_FIELDS = ("NAME_CONTRACT_TYPE", "NAME_INCOME_TYPE", "NAME_EDUCATION_TYPE", "OCCUPATION_TYPE")
#: Fields of a decision record, as every backend stores them (append-only): the fields of
#: the API's record, in its order.
DECISION_FIELDS: tuple[str, ...] = tuple(DecisionRecord.model_fields)
ClientSummary = dict[str, Any]


def search_terms(query: str | None) -> list[str]:
    """The lower-cased words of a client search (none: list every client)."""
    return [word.lower() for word in (query or "").split()]


def is_id_prefix(term: str) -> bool:
    """A search word made of ASCII digits matches the start of a client id."""
    return term.isascii() and term.isdigit()


def matches_search(client_id: int, application: Mapping[str, Any], terms: list[str]) -> bool:
    """Whether a client matches every search word (see :func:`is_id_prefix`).

    A word of digits must start the client id; any other word must be part of one of the
    :data:`SEARCH_FIELDS` (case-insensitive). The local backend runs the same rule in SQL.
    """
    for term in terms:
        if is_id_prefix(term):
            if not str(client_id).startswith(term):
                return False
        elif not any(
            isinstance(application.get(f), str) and term in application[f].lower()
            for f in SEARCH_FIELDS
        ):
            return False
    return True


def client_summary(application: Mapping[str, Any]) -> ClientSummary:
    """The :data:`SUMMARY_FIELDS` of a raw application (absent ones omitted)."""
    return {f: application[f] for f in SUMMARY_FIELDS if application.get(f) is not None}


class Store(ABC):
    """Where the functions read model versions and clients."""

    # ---------------------------------------------------------------- model versions

    @abstractmethod
    def active_version(self) -> str | None:
        """Name of the active model version, or None before any publish."""

    @abstractmethod
    def model_dir(self, version: str, files: Iterable[str] | None = None) -> Path:
        """A local folder holding metadata.json and ``files`` of ``version`` (None: all).

        A backend that keeps versions elsewhere downloads the files a caller names, and only
        those its metadata records (a file it does not record is refused when read). Files
        are not verified here: the reader of each one checks its hash.
        """

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

    @abstractmethod
    def list_clients(
        self, limit: int, cursor: int | None = None, query: str | None = None
    ) -> tuple[list[tuple[int, ClientSummary]], int | None]:
        """A page of new clients matching ``query``, and the cursor of the next page.

        ``cursor`` is the last client id of the previous page (None: first page); the next
        cursor is None on the last page. Following cursors visits every client once. Rows
        carry :func:`client_summary` fields only.
        """

    # ---------------------------------------------------------------- decisions

    @abstractmethod
    def add_decision(self, record: Mapping[str, Any]) -> None:
        """Append one decision record (:data:`DECISION_FIELDS`); never overwrite one.

        The audit log is append-only: no backend updates or deletes a decision, and a
        record whose (client_id, decided_at) already exists is refused, not replaced.
        """

    @abstractmethod
    def list_decisions(self, client_id: int) -> list[dict[str, Any]]:
        """Every decision recorded on a client, oldest first."""

    @abstractmethod
    def all_decisions(self) -> list[dict[str, Any]]:
        """Every decision recorded on every client, oldest first (read-only; reporting).

        For offline reports (``creditscore report``), never for a request: the aws backend
        reads the whole table with a Scan, a permission only the reporting credentials hold
        (no function of template.yaml is granted it on the decisions table).
        """

    # ---------------------------------------------------------------- monitoring

    @abstractmethod
    def put_drift_summary(self, summary: Mapping[str, Any]) -> None:
        """Replace the latest drift summary (a JSON document) in one atomic step."""

    @abstractmethod
    def get_drift_summary(self) -> dict[str, Any] | None:
        """The latest published drift summary, or None if none was published."""

    # ---------------------------------------------------------------- health, publish

    def health_problem(self) -> str | None:
        """Why the store cannot serve as it should, found cheaply (None: nothing known).

        For /health: a backend that can tell (the local one: a database deleted, replaced
        or not writable, a publish that did not finish) overrides it.
        """
        return None

    @contextmanager
    def publishing(self, version: str) -> Iterator[None]:
        """Mark a publish of ``version`` under way for the duration of the block.

        A backend that can make a half-done publish visible (the local one: a marker and a
        lock) overrides it; by default nothing is marked.
        """
        yield

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Release connections (optional)."""
