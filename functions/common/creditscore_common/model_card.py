"""The model card and global importance: what a model version is, from its own files.

``GET /model`` gives the active version's card (data fingerprint, metrics, threshold and
borderline interval, costs, ablations, calibration, fairness by group, intended use and known
limits, in the advisor's language, and the history of the active version: which version
became active, how, when, by whom and why); ``GET /model/importance`` its features by mean
|TreeSHAP| over training clients. Calibration and fairness are None for versions trained
before they were measured.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from creditscore_common import wording
from creditscore_common.errors import StoreUnavailableError
from creditscore_common.labels import Lang, column_label, feature_labels, level_text, word
from creditscore_common.model import ScoringModel
from creditscore_common.provider import ModelProvider, check_served_file, served_file
from creditscore_common.store import Store
from creditscore_common.version import IMPORTANCE_FILE

log = logging.getLogger(__name__)


class TrainingData(BaseModel):
    """Fingerprint of the data a model version was trained on."""

    file: str | None
    sha256: str | None
    n_clients: int | None
    default_rate: float | None


class ReliabilityCurve(BaseModel):
    """Quantile bins of the out-of-fold probabilities: predicted against observed."""

    edges: list[float] = Field(description="bin i is [edges[i], edges[i + 1]), the last closed")
    n_clients: list[int]
    n_defaulted: list[int]
    mean_probability: list[float] = Field(description="mean predicted probability of default")
    observed_rate: list[float] = Field(description="observed default rate")


class CalibrationFigures(BaseModel):
    """How well one set of probabilities matches the observed default rates."""

    ece: float = Field(description="expected calibration error: bin-size weighted mean |gap|")
    brier: float = Field(description="mean squared gap between probability and outcome")
    mean_probability: float
    reliability: ReliabilityCurve


class Calibration(BaseModel):
    """Calibration of the chosen model's out-of-fold probabilities, and any correction."""

    predictions: str
    n_bins: int
    binning: str
    tolerance: float = Field(description="above this ECE the probabilities are corrected")
    ece: float = Field(description="ECE of the probabilities as served")
    brier: float = Field(description="Brier score of the probabilities as served")
    calibrated: bool = Field(description="whether a correction was folded into the model")
    reason: str
    method: str | None = Field(description="the correction, if any")
    why_not_isotonic: str | None = None
    logit_shift: float = Field(description="constant added to the log-odds (0: none)")
    before: CalibrationFigures
    after: CalibrationFigures | None = Field(description="after the correction (None: none)")


class FairnessGroup(BaseModel):
    """Decisions for one group of reference clients, at the served threshold."""

    group: str = Field(description="the group as training recorded it (a level, an age band)")
    label: str = Field(description="the group in the requested language")
    n: int
    n_approved: int | None
    n_defaulted: int | None
    approval_rate: float | None = Field(description="probability < threshold; null if small")
    default_rate_approved: float | None = Field(description="defaulters among the approved")
    false_positive_rate: float | None = Field(description="good clients refused / good clients")
    false_negative_rate: float | None = Field(description="defaulters approved / defaulters")
    true_positive_rate: float | None = Field(description="defaulters refused / defaulters")


class FairnessDimension(BaseModel):
    """The groups of one dimension and how far apart their decisions are."""

    column: str
    label: str = Field(description="the dimension in the requested language")
    groups: list[FairnessGroup]
    parity_ratio: float | None = Field(description="lowest approval rate / highest")
    lowest_approval: str | None
    highest_approval: str | None
    below_four_fifths: bool | None = Field(description="parity ratio below the four-fifths rule")
    equal_opportunity_gap: float | None = Field(
        description="highest true-positive rate minus the lowest"
    )


class Fairness(BaseModel):
    """Approval and error rates by gender, age band and family status (out-of-fold)."""

    predictions: str
    threshold: float
    decision_rule: str
    min_group_size: int = Field(description="smaller groups show their size only")
    four_fifths: float
    small_groups: str
    n_clients: int
    dimensions: dict[str, FairnessDimension]


class HistoryEvent(BaseModel):
    """One change of the active model version (``models/history.jsonl`` in the store)."""

    version: str = Field(description="the version that became active")
    action: Literal["publish", "activate", "promote", "rollback"]
    at: str = Field(description="when (UTC, ISO 8601)")
    by: str = Field(description="who ran the command")
    reason: str = Field(description="why")
    previous: str | None = Field(description="the version active before (null: none)")
    forced: bool | None = Field(None, description="promote: activated although worse")
    comparison: str | None = Field(None, description="promote: where its comparison is stored")


class ModelCard(BaseModel):
    """What a model version is, how well it does, and what it must not be used for."""

    model_version: str
    created_at: str | None = Field(description="training date (UTC, ISO 8601)")
    model_type: str | None
    lang: Lang
    decision_rule: str
    threshold: float
    cost_fn: float | None = Field(description="cost of granting a loan that defaults")
    cost_fp: float | None = Field(description="cost of refusing a client who would repay")
    training_data: TrainingData
    metrics: dict[str, Any] = Field(description="cross-validated metrics of the chosen model")
    comparison: list[dict[str, Any]] = Field(description="every candidate, same folds")
    chosen: dict[str, Any]
    n_features: int
    leakage_alarm: bool | None
    onnx_parity: dict[str, Any] | None
    borderline: dict[str, Any] | None = Field(
        None, description="the interval around the threshold where files are to be examined"
    )
    ablations: dict[str, Any] | None = Field(
        None,
        description="cross-validated AUC and cost of the served model, with gender as an "
        "input, and without monotone constraints (same folds): what each choice costs",
    )
    calibration: Calibration | None = Field(
        None, description="reliability, ECE and Brier score of the out-of-fold probabilities"
    )
    fairness: Fairness | None = Field(
        None, description="decisions by gender, age band and family status (out-of-fold)"
    )
    monotone_constraints: dict[str, int] = Field(
        default_factory=dict,
        description="feature -> +1 (never lowers the risk when it grows) or -1",
    )
    explanation_method: str
    intended_use: list[str]
    known_limits: list[str]
    history: list[HistoryEvent] | None = Field(
        None,
        description="changes of the active version, newest first (null: the store's history "
        "could not be read)",
    )


class ImportanceItem(BaseModel):
    """One feature's average weight in the model's decisions."""

    rank: int
    feature: str
    label: str
    mean_abs_shap: float = Field(description="mean |TreeSHAP| over sampled training clients")
    # No "direction" here: TreeSHAP values average to about zero over the clients (the base
    # value is their mean score), so the sign of mean_shap says nothing about a feature.
    mean_shap: float = Field(description="mean signed TreeSHAP (log-odds), close to 0")


class GlobalImportance(BaseModel):
    """Features by mean |TreeSHAP|, largest first."""

    model_version: str
    lang: Lang
    method: str
    n_clients_sampled: int | None
    base_value: float | None
    n_features: int
    top: int | None
    features: list[ImportanceItem]


# ============================================================================ model card


def model_history(store: Store) -> list[HistoryEvent] | None:
    """The store's model history, newest first; None (logged) if it cannot be read."""
    try:
        events = store.model_history()
    except StoreUnavailableError as error:
        log.warning("model history unavailable: %s", error)
        return None
    known = set(HistoryEvent.model_fields)
    history: list[HistoryEvent] = []
    for event in reversed(events):
        try:
            history.append(
                HistoryEvent.model_validate({k: v for k, v in event.items() if k in known})
            )
        except ValidationError as error:  # a hand-edited line: shown in the log, not a 500
            log.warning("model history event skipped (%s): %s", event, error)
    return history


def model_card(models: ModelProvider, lang: Lang, store: Store | None = None) -> ModelCard:
    """The active model version's card: data, metrics, threshold, use, limits, history."""
    model = models.current()
    meta = model.metadata
    data = meta.get("training_data") or {}
    chosen = meta.get("chosen") or {}
    return ModelCard(
        model_version=model.version,
        created_at=meta.get("created_at"),
        model_type=meta.get("model_type"),
        lang=lang,
        decision_rule=str(meta.get("decision_rule", "refuse when probability >= threshold")),
        threshold=model.threshold,
        cost_fn=meta.get("cost_fn"),
        cost_fp=meta.get("cost_fp"),
        training_data=TrainingData(**{name: data.get(name) for name in TrainingData.model_fields}),
        metrics=dict(meta.get("metrics") or {}),
        comparison=list(meta.get("comparison") or []),
        # The search trials and LightGBM parameters stay in MLflow: the card names the choice.
        chosen={k: chosen.get(k) for k in ("name", "imbalance", "n_trees") if k in chosen},
        n_features=len(model.spec.features),
        leakage_alarm=meta.get("leakage_alarm"),
        onnx_parity=meta.get("onnx_parity"),
        borderline=meta.get("borderline"),
        ablations=meta.get("ablations"),
        calibration=Calibration.model_validate(meta["calibration"])
        if meta.get("calibration")
        else None,
        fairness=fairness_of(meta.get("fairness"), lang),
        monotone_constraints=dict(meta.get("monotone_constraints") or {}),
        explanation_method=wording.EXPLANATION_METHOD,
        intended_use=wording.intended_use(lang, meta.get("cost_fn"), meta.get("cost_fp")),
        known_limits=wording.known_limits(lang),
        history=model_history(store) if store is not None else None,
    )


#: Groups named by training (gender codes, age bands) -> (French, English); other groups are
#: category levels, worded as everywhere else (:func:`labels.level_text`).
_GROUP_WORDS: dict[str, tuple[str, str]] = {
    "F": ("femmes", "women"),
    "M": ("hommes", "men"),
    "other": ("autre ou non renseigné", "other or not given"),
    "< 30": ("moins de 30 ans", "under 30"),
    "30–45": ("30 à 45 ans", "30 to 45"),
    "45–60": ("45 à 60 ans", "45 to 60"),
    "≥ 60": ("60 ans et plus", "60 and over"),
}


def group_label(group: str, lang: Lang) -> str:
    """A fairness group in words ("femmes", "30 à 45 ans", "marié(e)", "non renseigné")."""
    if group == "unknown":
        return word("missing", lang)
    words = _GROUP_WORDS.get(group)
    if words is not None:
        return words[0] if lang == "fr" else words[1]
    return level_text(group, lang)


def _column_text(column: str, lang: Lang) -> str:
    try:
        return column_label(column).text(lang)
    except KeyError:
        return column


def fairness_of(record: Mapping[str, Any] | None, lang: Lang) -> Fairness | None:
    """The metadata's fairness record with every group and dimension in words."""
    if not record:
        return None
    dimensions = {
        name: FairnessDimension.model_validate(
            {
                **figures,
                "label": _column_text(str(figures.get("column", name)), lang),
                "groups": [
                    {**group, "label": group_label(str(group["group"]), lang)}
                    for group in figures.get("groups", [])
                ],
            }
        )
        for name, figures in (record.get("dimensions") or {}).items()
    }
    return Fairness.model_validate({**record, "dimensions": dimensions})


# ============================================================================ global importance

_importance: dict[tuple[str, str], dict[str, Any]] = {}


def _importance_file(model: ScoringModel) -> dict[str, Any]:
    key = (model.version, str(model.metadata.get("sha256", {}).get(IMPORTANCE_FILE)))
    check_served_file(model, IMPORTANCE_FILE)  # altered on disk since it was read: refused
    cached = _importance.get(key)
    if cached is None:
        cached = json.loads(served_file(model, IMPORTANCE_FILE))
        _importance.clear()
        _importance[key] = cached
    return cached


def global_importance(models: ModelProvider, lang: Lang, top: int | None) -> GlobalImportance:
    """Features of the active model by mean |TreeSHAP| (from global_importance.json)."""
    model = models.current()
    raw = _importance_file(model)
    labels = feature_labels(model.spec)
    rows: Sequence[Mapping[str, Any]] = sorted(
        raw.get("features", []), key=lambda row: -float(row["mean_abs_shap"])
    )
    shown = rows if top is None else rows[:top]
    return GlobalImportance(
        model_version=model.version,
        lang=lang,
        method=str(raw.get("method", "mean |TreeSHAP|")),
        n_clients_sampled=raw.get("n_clients_sampled"),
        base_value=raw.get("base_value"),
        n_features=len(rows),
        top=top,
        features=[
            ImportanceItem(
                rank=rank,
                feature=row["feature"],
                label=labels[row["feature"]].text(lang)
                if row["feature"] in labels
                else row["feature"],
                mean_abs_shap=float(row["mean_abs_shap"]),
                mean_shap=float(row["mean_shap"]),
            )
            for rank, row in enumerate(shown, start=1)
        ],
    )


def clear_cache() -> None:
    """Forget the cached importance file (tests, or to free memory)."""
    _importance.clear()
