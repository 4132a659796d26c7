"""Scoring over the store and the active model version: what the score routes call.

The model's life cycle (active version, refresh, load) is :mod:`creditscore_common.provider`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from creditscore_common import observability, traffic
from creditscore_common.errors import CreditScoreError
from creditscore_common.model import ScoringModel
from creditscore_common.provider import ModelProvider
from creditscore_common.store import Store


@dataclass(frozen=True)
class Score:
    """A default probability and its decision, with the version that produced them."""

    probability: float
    threshold: float
    decision: str
    margin: float
    model_version: str
    band: str = "clear"
    borderline: tuple[float, float] | None = None

    def as_dict(self) -> dict[str, Any]:
        """Fields of the score response."""
        lower, upper = self.borderline or (self.threshold, self.threshold)
        return {
            "probability": self.probability,
            "threshold": self.threshold,
            "decision": self.decision,
            "band": self.band,
            "borderline": {"lower": lower, "upper": upper},
            "margin": self.margin,
            "model_version": self.model_version,
        }


def _score_with(model: ScoringModel, application: Mapping[str, Any]) -> Score:
    with observability.traced(observability.MODEL_SCORE):
        probability = model.score_record(application)
    return Score(
        probability=probability,
        threshold=model.threshold,
        decision=model.decide(probability),
        margin=probability - model.threshold,
        model_version=model.version,
        band=model.band(probability),
        borderline=model.borderline,
    )


def score_application(models: ModelProvider, application: Mapping[str, Any]) -> Score:
    """Score one raw application against the active version's own threshold."""
    return _score_with(models.current(), application)


def score_client(store: Store, models: ModelProvider, client_id: int) -> Score:
    """Score a new client of the store by id (ClientNotFoundError if unknown)."""
    return score_application(models, store.get_client(client_id))


def serve_application(
    models: ModelProvider, application: Mapping[str, Any], client_id: int | None = None
) -> Score:
    """Score an application for the score routes, and log the served score (traffic.py).

    The other functions score too (a decision records the score of the moment) but only
    what the score routes answer is production traffic for the drift analysis.
    """
    model = models.current()
    score = _score_with(model, application)
    traffic.log_served_score(model.spec, application, score, client_id)
    observability.count_served_score(score.decision, score.band)
    return score


def serve_client(store: Store, models: ModelProvider, client_id: int) -> Score:
    """:func:`serve_application` for a new client of the store (404 if unknown)."""
    return serve_application(models, store.get_client(client_id), client_id)


def health(models: ModelProvider | CreditScoreError) -> dict[str, Any]:
    """Liveness: ok with the model version, or degraded with every reason found.

    ``models``: the model provider, or the error that kept the store from opening. The
    files of the served version found altered are reasons too, and so is the store's
    :meth:`Store.health_problem` (a database deleted or not writable, a publish that did
    not finish), so that /health never says ok while requests fail.
    """
    if isinstance(models, CreditScoreError):
        return {"status": "degraded", "model_version": None, "detail": str(models)}
    problems: list[str] = []
    try:
        version: str | None = models.current().version
    except CreditScoreError as error:
        version = None
        problems.append(str(error))
    problems.extend(models.problems())  # files of the served version refused to their readers
    store_problem = models.store.health_problem()
    if store_problem is not None and store_problem not in problems:
        problems.append(store_problem)
    if problems:
        return {"status": "degraded", "model_version": version, "detail": "; ".join(problems)}
    return {"status": "ok", "model_version": version, "detail": None}
