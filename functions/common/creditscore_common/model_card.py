"""The model card and global importance: what a model version is, from its own files.

``GET /model`` gives the active version's card (data fingerprint, metrics, threshold and
borderline interval, costs, ablations, intended use and known limits, in the advisor's
language); ``GET /model/importance`` its features by mean |TreeSHAP| over training clients.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from creditscore_common import wording
from creditscore_common.labels import Lang, feature_labels
from creditscore_common.model import ScoringModel
from creditscore_common.provider import ModelProvider, served_file
from creditscore_common.version import IMPORTANCE_FILE


class TrainingData(BaseModel):
    """Fingerprint of the data a model version was trained on."""

    file: str | None
    sha256: str | None
    n_clients: int | None
    default_rate: float | None


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
    monotone_constraints: dict[str, int] = Field(
        default_factory=dict,
        description="feature -> +1 (never lowers the risk when it grows) or -1",
    )
    explanation_method: str
    intended_use: list[str]
    known_limits: list[str]


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


def model_card(models: ModelProvider, lang: Lang) -> ModelCard:
    """The active model version's card: data, metrics, threshold, use and limits."""
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
        monotone_constraints=dict(meta.get("monotone_constraints") or {}),
        explanation_method=wording.EXPLANATION_METHOD,
        intended_use=wording.intended_use(lang, meta.get("cost_fn"), meta.get("cost_fp")),
        known_limits=wording.known_limits(lang),
    )


# ============================================================================ global importance

_importance: dict[tuple[str, str], dict[str, Any]] = {}


def _importance_file(model: ScoringModel) -> dict[str, Any]:
    key = (model.version, str(model.metadata.get("sha256", {}).get(IMPORTANCE_FILE)))
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
