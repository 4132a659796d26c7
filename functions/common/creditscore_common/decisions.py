"""Advisors' decisions: an append-only audit log, one record a decision.

A record says who decided what about which client, when, and against which score: the
default probability, threshold and model version *at that moment* (the client is scored
again when the decision is recorded, so the record does not depend on what the dashboard
showed). The advisor comes from the authenticated identity, never from the request body.

``decided_at`` is an ISO 8601 UTC time with microseconds followed by ``#`` and a random
uuid: it sorts by time, and two decisions recorded at the same microsecond still get two
keys, so concurrent writes are all kept. Backends only ever insert (see ``Store``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from creditscore_common import service
from creditscore_common.errors import ClientNotFoundError
from creditscore_common.schemas import DecisionRecord

if TYPE_CHECKING:
    from creditscore_common.provider import ModelProvider
    from creditscore_common.store import Store

MAX_COMMENT_LENGTH = 1000
#: The largest client id (publish reads ids as 64-bit integers; SQLite stores no larger one).
MAX_CLIENT_ID = 2**63 - 1


class DecisionRequest(BaseModel):
    """Body of POST /clients/{client_id}/decisions (the advisor comes from the token)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    decision: Literal["accept", "refuse"] = Field(description="the advisor's decision")
    comment: str = Field("", max_length=MAX_COMMENT_LENGTH, description="why (optional)")


class DecisionList(BaseModel):
    """Every decision recorded on a client, oldest first."""

    client_id: int
    decisions: list[DecisionRecord]


def new_decided_at(now: datetime | None = None) -> str:
    """A unique, time-sortable key: ``2026-11-27T21:00:00.123456Z#<32 hex digits>``."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S.%f}Z#{uuid.uuid4().hex}"


def record_decision(
    store: Store,
    models: ModelProvider,
    client_id: int,
    request: DecisionRequest,
    advisor: str,
) -> DecisionRecord:
    """Score the client now and append the advisor's decision to the audit log."""
    score = service.score_client(store, models, client_id)  # 404 for an unknown client
    record = DecisionRecord(
        client_id=client_id,
        decided_at=new_decided_at(),
        decision=request.decision,
        comment=request.comment,
        advisor=advisor,
        probability=score.probability,
        threshold=score.threshold,
        model_version=score.model_version,
    )
    store.add_decision(record.model_dump())
    return record


def client_decisions(store: Store, client_id: int) -> DecisionList:
    """The client's decisions, oldest first, whatever became of the client's row.

    The audit log outlives the clients table: decisions recorded on a client whose row was
    deleted (or rewritten under another id) are still answered. ClientNotFoundError only
    for an id with no decision and no client row.
    """
    if not 0 <= client_id <= MAX_CLIENT_ID:  # no store holds it: not a question for the store
        raise ClientNotFoundError(client_id)
    records = [DecisionRecord.model_validate(r) for r in store.list_decisions(client_id)]
    if not records:
        store.get_client(client_id)  # 404 for an id the store has never heard of
    return DecisionList(client_id=client_id, decisions=records)
