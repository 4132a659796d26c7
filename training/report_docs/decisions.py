"""Human in the loop: how advisors' recorded decisions compare with the model's.

A decision record carries the probability and threshold *at that moment*; the model's own
decision is recomputed from them (refuse when probability >= threshold), so a later model
version changes nothing in the summary of an earlier one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: An override: (the model's decision, the advisor's).
ACCEPT_TO_REFUSE = "accept→refuse"
REFUSE_TO_ACCEPT = "refuse→accept"
#: Records may one day carry a reason code; until then overrides are split by comment.
REASON_FIELD = "reason_code"
COMMENT_GIVEN = "comment given"
NO_COMMENT = "no comment"


def model_decision(record: Mapping[str, Any]) -> str:
    """What the model suggested when the decision was recorded."""
    return "refuse" if float(record["probability"]) >= float(record["threshold"]) else "accept"


@dataclass
class VersionDecisions:
    """The decisions recorded against one model version."""

    model_version: str
    n_decisions: int = 0
    clients: set[int] = field(default_factory=set)
    n_agree: int = 0
    advisor_refusals: int = 0
    overrides: dict[str, int] = field(
        default_factory=lambda: {ACCEPT_TO_REFUSE: 0, REFUSE_TO_ACCEPT: 0}
    )
    #: direction -> reason code (or comment given / no comment) -> overrides
    reasons: dict[str, dict[str, int]] = field(
        default_factory=lambda: {ACCEPT_TO_REFUSE: {}, REFUSE_TO_ACCEPT: {}}
    )
    first: str | None = None
    last: str | None = None

    @property
    def n_files(self) -> int:
        """Distinct clients decided on."""
        return len(self.clients)

    @property
    def agreement_rate(self) -> float | None:
        """Share of decisions equal to the model's at that moment."""
        return self.n_agree / self.n_decisions if self.n_decisions else None

    @property
    def n_overrides(self) -> int:
        """Decisions that differ from the model's."""
        return self.n_decisions - self.n_agree

    def add(self, record: Mapping[str, Any], by_code: bool) -> None:
        """Count one record."""
        self.n_decisions += 1
        self.clients.add(int(record["client_id"]))
        moment = str(record["decided_at"]).split("#", 1)[0]
        self.first = moment if self.first is None else min(self.first, moment)
        self.last = moment if self.last is None else max(self.last, moment)
        advisor, model = str(record["decision"]), model_decision(record)
        self.advisor_refusals += advisor == "refuse"
        if advisor == model:
            self.n_agree += 1
            return
        direction = f"{model}→{advisor}"
        self.overrides[direction] += 1
        if by_code:
            reason = str(record.get(REASON_FIELD) or "none")
        else:
            reason = COMMENT_GIVEN if str(record.get("comment") or "").strip() else NO_COMMENT
        self.reasons[direction][reason] = self.reasons[direction].get(reason, 0) + 1


@dataclass(frozen=True)
class DecisionsSummary:
    """Every model version's decisions, and how overrides are broken down."""

    versions: list[VersionDecisions]
    by_reason_code: bool  # False: records carry no reason code, split by comment instead

    @property
    def n_decisions(self) -> int:
        """Decisions over every version."""
        return sum(v.n_decisions for v in self.versions)


def summarise_decisions(records: Iterable[Mapping[str, Any]]) -> DecisionsSummary:
    """Per model version (oldest first): files, agreement, overrides by direction and reason."""
    records = list(records)
    by_code = any(record.get(REASON_FIELD) for record in records)
    versions: dict[str, VersionDecisions] = {}
    for record in records:
        name = str(record["model_version"])
        versions.setdefault(name, VersionDecisions(name)).add(record, by_code)
    ordered = sorted(versions.values(), key=lambda v: (v.first or "", v.model_version))
    return DecisionsSummary(ordered, by_code)
