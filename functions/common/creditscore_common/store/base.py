"""The store interface: model versions and new clients, whatever the backend.

Two backends implement it: ``local`` (a folder and SQLite, the default) and ``aws`` (S3 and
DynamoDB). The functions only ever see this interface.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from creditscore_common.errors import CreditScoreError
from creditscore_common.schemas import DecisionRecord

MODELS_PREFIX = "models"
ACTIVE_POINTER = "active"
#: Monitoring documents (the latest drift summary) live beside the models, under this prefix.
MONITORING_PREFIX = "monitoring"
DRIFT_SUMMARY_FILE = "drift_summary.json"
#: ``models/history.jsonl``: one JSON line per change of the active version, oldest first.
HISTORY_FILE = "history.jsonl"
#: ``models/promotions/<version>.json``: the last comparison ``creditscore promote`` made
#: for a candidate (beside the version's folder, not in it: a version's files are hashed).
PROMOTIONS_PREFIX = "promotions"

LifecycleAction = Literal["publish", "activate", "promote", "rollback"]
LIFECYCLE_ACTIONS: tuple[LifecycleAction, ...] = ("publish", "activate", "promote", "rollback")

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
#: The decision fields a record may lack (None): left out of the rows the stores return, so
#: that records made before these fields existed read back exactly as they were written.
OPTIONAL_DECISION_FIELDS: frozenset[str] = frozenset(
    name for name, field in DecisionRecord.model_fields.items() if not field.is_required()
)
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


class DecisionConflictError(CreditScoreError):
    """A decision that would not replace the client's current final decision (409).

    Raised when a record's ``supersedes`` does not name the client's current final decision
    (None while the client has one, or a stale one: someone recorded in between).
    """

    status_code = 409
    code = "decision_conflict"


def decision_row(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A decision as stores return it: :data:`DECISION_FIELDS` in order, no None optionals."""
    return {
        name: fields[name]
        for name in DECISION_FIELDS
        if fields.get(name) is not None or name not in OPTIONAL_DECISION_FIELDS
    }


def final_decision(records: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The client's current final decision: the latest record no other record supersedes.

    ``records`` oldest first (as :meth:`Store.list_decisions` returns them). Records made
    before ``supersedes`` existed supersede nothing: the latest of them is the final one.
    """
    superseded = {r.get("supersedes") for r in records}
    current = [r for r in records if r["decided_at"] not in superseded]
    return current[-1] if current else None


def supersede_conflict(
    final: Mapping[str, Any] | None, supersedes: str | None
) -> DecisionConflictError:
    """The 409 for a record whose ``supersedes`` is not the ``final`` decision's id."""
    if final is None:
        return DecisionConflictError(
            f"nothing to supersede: the client has no recorded decision (supersedes="
            f"{supersedes!r}); send the decision without supersedes"
        )
    current = f"{final['decision']} by {final['advisor']}, decided_at={final['decided_at']}"
    if supersedes is None:
        return DecisionConflictError(
            f"a decision is already recorded ({current}): send supersedes="
            f"{final['decided_at']} to replace it"
        )
    return DecisionConflictError(
        f"supersedes={supersedes} is not the client's current final decision ({current}; "
        "it was recorded or replaced meanwhile): reload, and send its decided_at to replace it"
    )


def lifecycle_event(
    version: str,
    action: LifecycleAction,
    by: str,
    reason: str,
    previous: str | None,
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One line of the model history: which version became active, how, when, who and why.

    ``at`` is the UTC time (ISO 8601, seconds); ``previous`` the version active before (None
    for the first one); ``details`` optional extra facts (``forced``, the comparison...).
    """
    if action not in LIFECYCLE_ACTIONS:
        raise ValueError(f"unknown lifecycle action {action!r}: one of {LIFECYCLE_ACTIONS}")
    return {
        "version": version,
        "action": action,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "by": by,
        "reason": reason,
        "previous": previous,
        **dict(details or {}),
    }


def encode_history(events: Iterable[Mapping[str, Any]]) -> str:
    """The history file's text: one compact JSON object a line."""
    return "".join(
        json.dumps(dict(e), allow_nan=False, ensure_ascii=False, separators=(",", ":")) + "\n"
        for e in events
    )


def decode_history(text: str, where: str) -> list[dict[str, Any]]:
    """Inverse of :func:`encode_history`; ValueError naming ``where`` and the line if broken."""
    events: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError as error:
            raise ValueError(f"{where} line {number} is not JSON: {error}") from error
        if not isinstance(event, dict) or "version" not in event or "action" not in event:
            raise ValueError(f"{where} line {number} is not a history event")
        events.append(event)
    return events


def activation_stack(history: Sequence[Mapping[str, Any]]) -> list[str]:
    """The versions a rollback walks back through, the active one last.

    Every event but a rollback pushes its version; a rollback pops the version it left. A
    store whose first recorded event names a ``previous`` (active before the history
    existed) starts from that version.
    """
    stack: list[str] = []
    if history and history[0].get("previous"):
        stack.append(str(history[0]["previous"]))
    for event in history:
        if event["action"] == "rollback":
            if stack:
                stack.pop()
            if not stack or stack[-1] != event["version"]:
                stack.append(str(event["version"]))
        else:
            stack.append(str(event["version"]))
    return stack


def rollback_target(history: Sequence[Mapping[str, Any]], active: str | None) -> str | None:
    """The version a rollback reactivates: the one active before ``active`` (None: none).

    Rolling back twice walks back twice (A, B, C active in turn: C -> B -> A), rather than
    toggling between the last two.
    """
    stack = activation_stack(history)
    if active is None or not stack or stack[-1] != active:
        return None
    earlier = [version for version in stack[:-1] if version != active]
    return earlier[-1] if earlier else None


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

    @abstractmethod
    def activate_recorded(
        self,
        version: str,
        action: LifecycleAction,
        by: str,
        reason: str,
        details: Mapping[str, Any] | None = None,
    ) -> bool:
        """Make ``version`` active and add its :func:`lifecycle_event` to the history.

        One step for readers: the event is written first, then the pointer is switched; a
        process that dies in between leaves an event whose switch a rerun completes (without
        a second event). False, and nothing recorded, if ``version`` already was active.
        ValueError if the version is not in the store.
        """

    @abstractmethod
    def model_history(self) -> list[dict[str, Any]]:
        """Every recorded change of the active version, oldest first (empty: none yet)."""

    @abstractmethod
    def put_promotion(self, version: str, comparison: Mapping[str, Any]) -> str:
        """Store the comparison ``creditscore promote`` made for ``version``; returns where.

        Replaces the previous comparison of the same version (the history keeps the figures
        of each promotion that switched the active version).
        """

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
    def add_decision(self, record: Mapping[str, Any], exclusive: bool = False) -> dict[str, Any]:
        """Append one decision record (:data:`DECISION_FIELDS`); never overwrite one.

        The audit log is append-only: no backend updates or deletes a decision, and a
        record whose (client_id, decided_at) already exists is refused, not replaced.
        In one atomic step with the write:

        * a record whose ``idempotency_key`` (if any) a record of the same client already
          has is not written: that earlier record is returned instead (a repeated request);
        * ``exclusive`` (what the API asks): the record's ``supersedes`` (None if absent)
          must be the ``decided_at`` of the client's :func:`final_decision` (None: the
          client has none), else :class:`DecisionConflictError`: two advisors cannot both
          decide, or replace the same decision. Without it the record is appended as it is
          (imports, reports' fixtures).

        Returns the record stored under the key: ``record`` itself when it was written.
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
