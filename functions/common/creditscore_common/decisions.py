"""Advisors' decisions: an append-only audit log, one record a decision.

A record says who decided what about which client, when, and against which score: the
default probability, threshold and model version *at that moment* (the client is scored
again when the decision is recorded, so the record does not depend on what the dashboard
showed). The advisor comes from the authenticated identity, never from the request body.

``decided_at`` is an ISO 8601 UTC time with microseconds followed by ``#`` and a random
uuid: it sorts by time, and two decisions recorded at the same microsecond still get two
keys. Backends only ever insert (see ``Store``).

Recorded exactly once, replaced only on purpose:

* an ``Idempotency-Key`` (one per form submission) makes a repeated request harmless: the
  first one is answered 201, a repeat with the same body 200 with the first record (nothing
  written), a repeat with another body 409. Without a key every request is a new one.
* a client has at most one *final* decision: the latest record no other supersedes. A new
  decision on a client that has one must say so (``supersedes`` = the final one's
  ``decided_at``), else 409; two advisors cannot both replace the same one (the store checks
  it in the same atomic step as the write).
* a decision against the model's (accept while the score says refuse, or the reverse) needs
  a ``reason_code`` of :data:`REASON_CODES` for that direction (``autre``: a comment too);
  the record says whether it went against the model (``overrides_model``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from creditscore_common import service
from creditscore_common.errors import ClientNotFoundError, CreditScoreError
from creditscore_common.schemas import DecisionRecord, ReasonCode
from creditscore_common.store.base import (
    DecisionConflictError,
    final_decision,
    supersede_conflict,
)

if TYPE_CHECKING:
    from creditscore_common.provider import ModelProvider
    from creditscore_common.store import Store

MAX_COMMENT_LENGTH = 1000
#: The largest client id (publish reads ids as 64-bit integers; SQLite stores no larger one).
MAX_CLIENT_ID = 2**63 - 1
#: An Idempotency-Key: 1 to 128 printable ASCII characters, no space (a uuid fits).
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,128}$"

Decision = Literal["accept", "refuse"]

#: Why an advisor may go against the model: the model's decision each code overrides, and
#: its label (the dashboard shows the same labels). ``autre`` fits both, with a comment.
REASON_CODES: dict[ReasonCode, tuple[tuple[Decision, ...], str, str]] = {
    "garanties_supplementaires": (("refuse",), "Garanties supplémentaires", "Extra guarantees"),
    "co_emprunteur": (("refuse",), "Co-emprunteur solvable", "Creditworthy co-borrower"),
    "situation_verifiee": (
        ("refuse",),
        "Situation vérifiée sur justificatifs",
        "Situation checked on documents",
    ),
    "incoherence_declarations": (
        ("accept",),
        "Déclarations incohérentes",
        "Inconsistent declarations",
    ),
    "endettement_constate": (("accept",), "Endettement constaté", "Debts found"),
    "autre": (("accept", "refuse"), "Autre (préciser en commentaire)", "Other (explain)"),
}


class DecisionRejectedError(CreditScoreError):
    """A decision the rules refuse (a reason code missing or of the wrong kind): 422."""

    status_code = 422
    code = "invalid_decision"

    def __init__(self, field: str, problem: str) -> None:
        self.details = [{"field": field, "location": f"body.{field}", "problem": problem}]
        super().__init__(problem)


class DecisionRequest(BaseModel):
    """Body of POST /clients/{client_id}/decisions (the advisor comes from the token)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    decision: Decision = Field(description="the advisor's decision")
    comment: str = Field("", max_length=MAX_COMMENT_LENGTH, description="why (optional)")
    reason_code: ReasonCode | None = Field(
        None,
        description="required when the decision goes against the model's: "
        "garanties_supplementaires, co_emprunteur, situation_verifiee (accepting what it "
        "refuses); incoherence_declarations, endettement_constate (refusing what it accepts); "
        "autre (either, with a comment)",
    )
    supersedes: str | None = Field(
        None,
        max_length=100,
        description="decided_at of the client's current final decision, to replace it "
        "(required when the client has one)",
    )


class DecisionList(BaseModel):
    """Every decision recorded on a client, oldest first, and the current final one."""

    client_id: int
    decisions: list[DecisionRecord]
    final: DecisionRecord | None = Field(
        None, description="the current final decision: the latest one no other supersedes"
    )


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
    idempotency_key: str | None = None,
) -> tuple[DecisionRecord, bool]:
    """Score the client now and append the decision; (the record, whether it was written).

    A repeat of ``idempotency_key`` writes nothing and gives the first record (False);
    DecisionConflictError for a repeat with another body or a wrong ``supersedes``,
    DecisionRejectedError for a reason code missing or not fit for the decision.
    """
    if not 0 <= client_id <= MAX_CLIENT_ID:
        raise ClientNotFoundError(client_id)
    recorded = store.list_decisions(client_id)
    if idempotency_key is not None:
        for earlier in recorded:
            if earlier.get("idempotency_key") == idempotency_key:
                return _repeat(DecisionRecord.model_validate(earlier), request), False
    score = service.score_client(store, models, client_id)  # 404 for an unknown client
    final = final_decision(recorded)
    if request.supersedes != (None if final is None else final["decided_at"]):
        raise supersede_conflict(final, request.supersedes)
    overrides_model = request.decision != score.decision
    _check_reason(request, score.decision, overrides_model)
    record = DecisionRecord(
        client_id=client_id,
        decided_at=new_decided_at(),
        decision=request.decision,
        comment=request.comment,
        advisor=advisor,
        probability=score.probability,
        threshold=score.threshold,
        model_version=score.model_version,
        overrides_model=overrides_model,
        reason_code=request.reason_code,
        supersedes=request.supersedes,
        idempotency_key=idempotency_key,
    )
    stored = DecisionRecord.model_validate(store.add_decision(record.model_dump(), exclusive=True))
    if stored.decided_at != record.decided_at:  # a concurrent request with the same key won
        return _repeat(stored, request), False
    return record, True


def _check_reason(request: DecisionRequest, model_decision: str, overrides_model: bool) -> None:
    """DecisionRejectedError unless a decision against the model's has a fitting reason code.

    A reason code on a decision that agrees with the model is kept as given: the model (or
    its version) may have changed since the advisor saw the score that called for one.
    """
    code = request.reason_code
    if not overrides_model:
        return
    fitting = [name for name, (against, _, _) in REASON_CODES.items() if model_decision in against]
    if code is None or code not in fitting:
        raise DecisionRejectedError(
            "reason_code",
            f"your decision ({request.decision}) goes against the model's ({model_decision}): "
            f"reason_code must be one of {', '.join(fitting)}"
            + ("" if code is None else f" (got {code})"),
        )
    if code == "autre" and not request.comment:
        raise DecisionRejectedError("comment", "reason_code autre needs a comment saying why")


def _repeat(earlier: DecisionRecord, request: DecisionRequest) -> DecisionRecord:
    """The first record of an Idempotency-Key, if ``request`` is the same request again."""
    asked = (request.decision, request.comment, request.reason_code, request.supersedes)
    if asked != (earlier.decision, earlier.comment, earlier.reason_code, earlier.supersedes):
        raise DecisionConflictError(
            f"Idempotency-Key {earlier.idempotency_key} was already used for another decision "
            f"on this client ({earlier.decision}, decided_at={earlier.decided_at}): send a new "
            "key for a new decision"
        )
    return earlier


def client_decisions(store: Store, client_id: int) -> DecisionList:
    """The client's decisions, oldest first, whatever became of the client's row.

    The audit log outlives the clients table: decisions recorded on a client whose row was
    deleted (or rewritten under another id) are still answered. ClientNotFoundError only
    for an id with no decision and no client row.
    """
    if not 0 <= client_id <= MAX_CLIENT_ID:  # no store holds it: not a question for the store
        raise ClientNotFoundError(client_id)
    recorded = store.list_decisions(client_id)
    if not recorded:
        store.get_client(client_id)  # 404 for an id the store has never heard of
    final = final_decision(recorded)
    return DecisionList(
        client_id=client_id,
        decisions=[DecisionRecord.model_validate(r) for r in recorded],
        final=None if final is None else DecisionRecord.model_validate(final),
    )
