"""What the routes call: scoring logic over the store and the active model version.

The active model is loaded once per container and kept; the store's ``active`` pointer is
looked at again at most every ``MODEL_REFRESH_SECONDS``, so publishing a new version reaches
warm functions without a redeploy while a request never waits on more than one small read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from creditscore_common import traffic
from creditscore_common.errors import CreditScoreError, ModelUnavailableError
from creditscore_common.model import ModelIntegrityError, ScoringModel
from creditscore_common.store import Store

log = logging.getLogger(__name__)


class ModelProvider:
    """The active model version of a store, loaded once and refreshed on a timer."""

    def __init__(self, store: Store, refresh_seconds: float = 60.0) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self._model: ScoringModel | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def current(self) -> ScoringModel:
        """The active model; ModelUnavailableError if none can be served."""
        model = self._model
        if model is not None and time.monotonic() - self._checked_at < self.refresh_seconds:
            return model
        with self._lock:
            return self._refresh()

    def _refresh(self) -> ScoringModel:
        self._checked_at = time.monotonic()
        version = self.store.active_version()
        if version is None:
            raise ModelUnavailableError("no model version is active: run `creditscore publish`")
        if self._model is not None and self._model.version == version:
            return self._model
        try:
            model = ScoringModel.load(self.store.model_dir(version))
        except ModelIntegrityError as error:
            log.error("refusing model %s: %s", version, error)
            raise ModelUnavailableError(f"model {version} failed its integrity check") from error
        except (OSError, KeyError, ValueError) as error:
            raise ModelUnavailableError(f"model {version} cannot be loaded: {error}") from error
        log.info("model %s loaded", version)
        self._model = model
        return model

    def loaded_version(self) -> str | None:
        """The version in memory, without touching the store."""
        return None if self._model is None else self._model.version


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
    traffic.log_served_score(
        model.spec,
        application,
        client_id=client_id,
        model_version=score.model_version,
        probability=score.probability,
        threshold=score.threshold,
        decision=score.decision,
    )
    return score


def serve_client(store: Store, models: ModelProvider, client_id: int) -> Score:
    """:func:`serve_application` for a new client of the store (404 if unknown)."""
    return serve_application(models, store.get_client(client_id), client_id)


def health(models: ModelProvider) -> dict[str, Any]:
    """Liveness: ok with the model version, or degraded with the reason."""
    try:
        return {"status": "ok", "model_version": models.current().version, "detail": None}
    except CreditScoreError as error:
        return {
            "status": "degraded",
            "model_version": models.loaded_version(),
            "detail": str(error),
        }
