"""What would change the decision: the smallest changes a refused client can make.

Only fields the client controls are ever changed: the credit amount, the annuity (hence the
term), the price of the goods financed and so the down payment. Age, family, gender, income
or anything else the client cannot change at the counter are never touched. Every option is
verified by re-scoring it through the same ONNX model as the score route, in one batch.

Levers (the loan term is credit / annuity, in years, as the annuity is a yearly repayment):

- ``down_payment``: same purchase, borrow less (credit and annuity down at the same term;
  the client pays the difference up front);
- ``smaller_purchase``: cheaper goods, credit and annuity down in the same proportion;
- ``longer_term``: same credit over more years (a lower annuity);
- ``combined``: a longer term and a smaller credit together.

For each lever the smallest change that brings the probability under the threshold is
searched on a grid within the bounds seen among reference clients (the transform's clipping
limits) and refined by bisection; the options are returned by how little they change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

from creditscore_common import observability
from creditscore_common.labels import (
    DEFAULT_LANG,
    Lang,
    column_label,
    format_amount,
    format_number,
    format_percent,
    format_value,
)
from creditscore_common.model import Band, ScoringModel
from creditscore_common.provider import ModelProvider
from creditscore_common.store import Store

Lever = Literal["down_payment", "smaller_purchase", "longer_term", "combined"]


class FieldChange(BaseModel):
    """One field of the application, now and as proposed."""

    field: str = Field(description="AMT_CREDIT, AMT_ANNUITY or AMT_GOODS_PRICE")
    label: str
    current: float | None
    proposed: float
    current_text: str
    proposed_text: str


class CounterfactualOption(BaseModel):
    """A change the client controls that the model would accept, verified by re-scoring."""

    lever: Lever
    changes: list[FieldChange]
    term_years: float = Field(description="credit / annuity after the change")
    down_payment: float | None = Field(description="goods price - credit after the change")
    probability: float = Field(description="P(default) of the changed application (ONNX)")
    decision: Literal["accept", "refuse"]
    band: Band
    points_change: float = Field(description="100 * (new probability - current probability)")
    sentence: str = Field(description="the option in one plain sentence")


class Counterfactual(BaseModel):
    """GET /clients/{client_id}/counterfactual and POST /counterfactual."""

    client_id: int | None = None
    model_version: str
    lang: Lang
    probability: float
    threshold: float
    decision: Literal["accept", "refuse"]
    band: Band
    needed: bool = Field(description="false when the application is already accepted")
    found: bool = Field(description="an option brings the probability under the threshold")
    summary: str = Field(description="the answer in one sentence")
    options: list[CounterfactualOption] = Field(description="smallest change first")
    fields_changed: list[str] = Field(description="the only fields any option may change")
    method: str


# ============================================================================ the search

#: The only fields an option may change: what the client decides at the counter.
CHANGEABLE: Final = ("AMT_CREDIT", "AMT_ANNUITY", "AMT_GOODS_PRICE")
#: The lender's longest term for a consumer loan, in years (the reference bound may be lower).
MAX_TERM_YEARS: Final = 30
#: Proposed credit amounts are rounded down to this many euros (an amount one can say).
CREDIT_STEP: Final = 1000.0
GRID: Final = 40
REFINE: Final = 24
N_TERMS: Final = 10
METHOD: Final = (
    "grid search then refinement on the credit amount (same term, same goods: a larger down "
    "payment; or a cheaper purchase) and on the term in whole years, within the bounds seen "
    "among reference clients; every option re-scored by the ONNX model of the score route"
)
_LEVER_ORDER: Final = {"longer_term": 0, "down_payment": 1, "smaller_purchase": 2, "combined": 3}


@dataclass(frozen=True)
class _Loan:
    """The client's loan as it stands, and the bounds a change must stay in."""

    credit: float
    annuity: float
    goods: float | None
    min_credit: float
    max_term: float

    @property
    def term(self) -> float:
        return self.credit / self.annuity


@dataclass(frozen=True)
class _Candidate:
    lever: Lever
    share: float  # credit after / credit before
    term: float  # years

    def fields(self, loan: _Loan) -> dict[str, float]:
        credit = loan.credit * self.share
        out = {"AMT_CREDIT": credit, "AMT_ANNUITY": credit / self.term}
        if loan.goods is not None:
            out["AMT_GOODS_PRICE"] = (
                loan.goods * self.share if self.lever == "smaller_purchase" else loan.goods
            )
        return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number > 0 else None


def _loan(model: ScoringModel, application: Mapping[str, Any]) -> _Loan | None:
    credit, annuity = (
        _number(application.get("AMT_CREDIT")),
        _number(application.get("AMT_ANNUITY")),
    )
    if credit is None or annuity is None:
        return None
    limits = model.spec.clip_limits
    min_credit = max(limits.get("AMT_CREDIT", (0.0, math.inf))[0], CREDIT_STEP)
    lowest_ratio = limits.get("ANNUITY_CREDIT_RATIO", (1.0 / MAX_TERM_YEARS, 1.0))[0]
    max_term = min(MAX_TERM_YEARS, 1.0 / lowest_ratio) if lowest_ratio > 0 else MAX_TERM_YEARS
    return _Loan(credit, annuity, _number(application.get("AMT_GOODS_PRICE")), min_credit, max_term)


def _score(
    model: ScoringModel, application: Mapping[str, Any], loan: _Loan, batch: list[_Candidate]
) -> npt.NDArray[np.float64]:
    """P(default) of each candidate, in one transform and one ONNX call."""
    n = len(batch)
    columns: dict[str, Any] = {}
    for name, value in application.items():
        if isinstance(value, str):
            column = np.empty(n, dtype=object)
            column[:] = value
            columns[name] = column
        else:
            columns[name] = np.full(n, np.nan if value is None else value, dtype=np.float64)
    changed = [c.fields(loan) for c in batch]
    for name in CHANGEABLE:
        if any(name in f for f in changed):
            columns[name] = np.array([f.get(name, np.nan) for f in changed], dtype=np.float64)
    return model.score_columns(columns)


def _terms(loan: _Loan) -> list[float]:
    """Whole-year terms longer than today's, up to the longest allowed."""
    first = math.floor(loan.term) + 1
    last = math.floor(loan.max_term)
    if first > last:
        return []
    step = max(1, math.ceil((last - first + 1) / N_TERMS))
    terms = list(range(first, last + 1, step))
    if terms[-1] != last:
        terms.append(last)
    return [float(t) for t in terms]


def _levers(loan: _Loan) -> list[tuple[Lever, float]]:
    """(lever, term) of each credit-share search; the term lever is searched apart."""
    levers: list[tuple[Lever, float]] = [("down_payment", loan.term)]
    if loan.goods is not None:
        levers.append(("smaller_purchase", loan.term))
    terms = _terms(loan)
    if terms:
        levers.append(("combined", terms[-1]))
    return levers


def _search(
    model: ScoringModel, application: Mapping[str, Any], loan: _Loan
) -> list[tuple[_Candidate, float]]:
    """The smallest change of each lever that the model accepts, verified, rounded."""
    threshold = model.threshold
    lowest_share = loan.min_credit / loan.credit
    shares = np.linspace(1.0, lowest_share, GRID) if lowest_share < 1.0 else np.array([1.0])
    batch = [_Candidate("longer_term", 1.0, term) for term in _terms(loan)]
    for lever, term in _levers(loan):
        batch += [_Candidate(lever, float(s), term) for s in shares]
    probabilities = _score(model, application, loan, batch)

    best: dict[Lever, _Candidate] = {}
    refine: list[_Candidate] = []
    for lever in ("longer_term", "down_payment", "smaller_purchase", "combined"):
        rows = [j for j, c in enumerate(batch) if c.lever == lever]
        ok = [j for j in rows if probabilities[j] < threshold]
        if not ok:
            continue
        first = ok[0]  # rows run from the smallest change to the largest
        best[lever] = batch[first]
        previous = rows.index(first) - 1
        if lever != "longer_term" and previous >= 0:
            hi, lo = batch[rows[previous]].share, batch[first].share
            refine += [
                _Candidate(lever, float(s), batch[first].term)
                for s in np.linspace(hi, lo, REFINE + 2)[1:-1]
            ]
    if refine:
        refined = _score(model, application, loan, refine)
        for candidate, p in zip(refine, refined.tolist(), strict=True):
            if p < threshold and candidate.share > best[candidate.lever].share:
                best[candidate.lever] = candidate

    # Round to amounts one can say (the credit down to CREDIT_STEP), then verify again.
    rounded = [
        _Candidate(
            c.lever,
            max(math.floor(loan.credit * c.share / CREDIT_STEP) * CREDIT_STEP, CREDIT_STEP)
            / loan.credit
            if c.lever != "longer_term"
            else 1.0,
            c.term,
        )
        for c in best.values()
    ]
    if not rounded:
        return []
    verified = _score(model, application, loan, rounded)
    return [(c, p) for c, p in zip(rounded, verified.tolist(), strict=True) if p < threshold]


# ============================================================================ the answer


def _years_text(years: float, lang: Lang) -> str:
    whole = round(years)
    if abs(years - whole) < 0.05:
        unit = (
            ("an" if whole < 2 else "ans") if lang == "fr" else ("year" if whole == 1 else "years")
        )
        return f"{whole} {unit}"
    number = format_number(years, 1, lang)
    return f"{number} ans" if lang == "fr" else f"{number} years"


def _sentence(lever: Lever, loan: _Loan, new: Mapping[str, float], p: float, lang: Lang) -> str:
    credit = format_amount(new["AMT_CREDIT"], lang)
    term = _years_text(new["AMT_CREDIT"] / new["AMT_ANNUITY"], lang)
    if lever in ("down_payment", "smaller_purchase"):
        term = f"la même durée ({term})" if lang == "fr" else f"the same term ({term})"
    annuity = format_amount(new["AMT_ANNUITY"], lang)
    shown = format_percent(p, lang)
    goods = new.get("AMT_GOODS_PRICE")
    down = None if goods is None else format_amount(goods - new["AMT_CREDIT"], lang)
    if lang == "fr":
        if lever == "longer_term":
            return (
                f"Accordable pour le même crédit de {credit} sur {term} au lieu de "
                f"{_years_text(loan.term, lang)} (annuité de {annuity})\u00a0: probabilité {shown}."
            )
        if lever == "smaller_purchase" and goods is not None:
            return (
                f"Accordable pour un bien de {format_amount(goods, lang)} financé par un crédit "
                f"de {credit} sur {term}\u00a0: probabilité {shown}."
            )
        extra = f", avec un apport de {down} pour le même bien" if down is not None else ""
        return (
            f"Accordable jusqu'à {credit} sur {term}{extra} (annuité de {annuity})\u00a0: "
            f"probabilité {shown}."
        )
    if lever == "longer_term":
        return (
            f"Grantable for the same credit of {credit} over {term} instead of "
            f"{_years_text(loan.term, lang)} (annuity {annuity}): probability {shown}."
        )
    if lever == "smaller_purchase" and goods is not None:
        return (
            f"Grantable for goods of {format_amount(goods, lang)} financed by a credit of "
            f"{credit} over {term}: probability {shown}."
        )
    extra = f", with a down payment of {down} for the same goods" if down is not None else ""
    return f"Grantable up to {credit} over {term}{extra} (annuity {annuity}): probability {shown}."


def _option(
    model: ScoringModel,
    candidate: _Candidate,
    probability: float,
    loan: _Loan,
    current: float,
    lang: Lang,
) -> CounterfactualOption:
    new = candidate.fields(loan)
    before = {"AMT_CREDIT": loan.credit, "AMT_ANNUITY": loan.annuity, "AMT_GOODS_PRICE": loan.goods}
    changes = [
        FieldChange(
            field=name,
            label=column_label(name).text(lang),
            current=before[name],
            proposed=round(value, 2),
            current_text=format_value(name, before[name], lang),
            proposed_text=format_value(name, value, lang),
        )
        for name, value in new.items()
        if before[name] is None or abs(value - float(before[name] or 0.0)) > 0.005
    ]
    goods = new.get("AMT_GOODS_PRICE")
    return CounterfactualOption(
        lever=candidate.lever,
        changes=changes,
        term_years=round(new["AMT_CREDIT"] / new["AMT_ANNUITY"], 2),
        down_payment=None if goods is None else round(goods - new["AMT_CREDIT"], 2),
        probability=probability,
        decision=model.decide(probability),
        band=model.band(probability),
        points_change=100.0 * (probability - current),
        sentence=_sentence(candidate.lever, loan, new, probability, lang),
    )


def _summary(needed: bool, found: bool, first: str | None, threshold: float, lang: Lang) -> str:
    limit = format_percent(threshold, lang)
    if lang == "fr":
        if not needed:
            return "Le dossier est déjà accordable\u00a0: aucune modification n'est nécessaire."
        if found and first is not None:
            return first
        return (
            "Aucune modification du montant, de la durée, du prix du bien ou de l'apport, dans "
            f"les limites observées chez les clients de référence, ne fait passer la "
            f"probabilité sous le seuil de {limit}."
        )
    if not needed:
        return "The application is already grantable: no change is needed."
    if found and first is not None:
        return first
    return (
        "No change of the amount, term, goods price or down payment, within the bounds seen "
        f"among reference clients, brings the probability under the threshold of {limit}."
    )


@observability.counted(observability.COUNTERFACTUALS)
@observability.traced(observability.MODEL_COUNTERFACTUAL)
def counterfactual(
    model: ScoringModel,
    application: Mapping[str, Any],
    lang: Lang = DEFAULT_LANG,
    client_id: int | None = None,
) -> Counterfactual:
    """The smallest changes the client controls that the model would accept."""
    probability = model.score_record(application)
    decision = model.decide(probability)
    needed = decision == "refuse"
    options: list[CounterfactualOption] = []
    loan = _loan(model, application) if needed else None
    if loan is not None:
        found = _search(model, application, loan)
        by_lever = {c.lever: (c, p) for c, p in found}
        # A combined change is worth proposing only where it asks for less than the others.
        combined = by_lever.get("combined")
        others = [c.share for lever, (c, _) in by_lever.items() if lever != "combined"]
        if (
            combined is not None
            and others
            and ("longer_term" in by_lever or combined[0].share <= max(others))
        ):
            del by_lever["combined"]
        ordered = sorted(
            by_lever.values(), key=lambda cp: (1.0 - cp[0].share, _LEVER_ORDER[cp[0].lever])
        )
        options = [_option(model, c, p, loan, probability, lang) for c, p in ordered]
    first = options[0].sentence if options else None
    return Counterfactual(
        client_id=client_id,
        model_version=model.version,
        lang=lang,
        probability=probability,
        threshold=model.threshold,
        decision=decision,
        band=model.band(probability),
        needed=needed,
        found=bool(options),
        summary=_summary(needed, bool(options), first, model.threshold, lang),
        options=options,
        fields_changed=list(CHANGEABLE),
        method=METHOD,
    )


def counterfactual_application(
    models: ModelProvider, application: Mapping[str, Any], lang: Lang
) -> Counterfactual:
    """POST /counterfactual: for a raw application, under the active model version."""
    return counterfactual(models.current(), application, lang)


def counterfactual_client(
    store: Store, models: ModelProvider, client_id: int, lang: Lang
) -> Counterfactual:
    """GET /clients/{client_id}/counterfactual (404 for an unknown client)."""
    application = store.get_client(client_id)
    return counterfactual(models.current(), application, lang, client_id=client_id)
