"""What the explain routes call: why a client got their score, and what the model is.

- Local explanation: exact TreeSHAP contributions (LightGBM's own algorithm, through
  :mod:`creditscore_common.treeshap`) of every feature to the client's log-odds of default,
  each with a label, the client's value in readable units and a plain sentence. Contributions
  are additive: ``base_value + sum(contributions) == log_odds`` (checked on every answer), and
  ``probability = 1 / (1 + exp(-log_odds))``.
- Refusal reasons: the features that raise the risk most, in order (adverse-action style).
- Model card and global importance, from the model version's own files.

No FastAPI here: routes in ``functions/explain/app.py`` parse, call one function, return.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

from creditscore_common.errors import CreditScoreError, ModelUnavailableError
from creditscore_common.factors import Factor, factors, feature_factors, member_of
from creditscore_common.features import FeatureSpec, transform_record
from creditscore_common.labels import (
    Label,
    Lang,
    column_label,
    feature_labels,
    format_derived_value,
    format_percent,
    format_points,
    format_value,
    is_missing,
    level_text,
)
from creditscore_common.model import (
    IMPORTANCE_FILE,
    MODEL_FILE,
    Band,
    ScoringModel,
    sha256_bytes,
)
from creditscore_common.schemas import BorderlineInterval
from creditscore_common.service import ModelProvider
from creditscore_common.store import Store
from creditscore_common.treeshap import LightGBMLibraryError, TreeShapBooster

log = logging.getLogger(__name__)

#: |base_value + sum(contributions) - log_odds| above this is a bug, not rounding.
ADDITIVITY_TOLERANCE: Final = 1e-6
MAX_REASONS: Final = 4
OTHER_FEATURES: Final = "OTHER_FEATURES"
BASE_VALUE_FEATURE: Final = "BASE_VALUE"
#: At most this many declared values are quoted for one factor.
MAX_QUOTED: Final = 3
POINTS_METHOD: Final = (
    "points = 100 * contribution * (probability - base_probability) / sum(contributions): "
    "each effect keeps its share of the log-odds and the points add up exactly to the "
    "change in probability from the reference average"
)
CONVERSION: Final = (
    "probability = 1 / (1 + exp(-(base_value + sum(contributions)))); contributions and "
    "base_value are in log-odds of default; a positive contribution raises the risk"
)
EXPLANATION_METHOD: Final = (
    "exact TreeSHAP (LightGBM C library, C_API_PREDICT_CONTRIB) on the native booster "
    "model.txt; probability from the ONNX model, as on the score route"
)

Direction = Literal["raises", "lowers", "neutral"]
FeatureKind = Literal["raw", "flag", "domain", "level", "other", "base"]


class ExplanationError(CreditScoreError):
    """An explanation failed a consistency check (a bug: logged, answered with 500)."""

    status_code = 500
    code = "explanation_failed"


# ============================================================================ response models


class FeatureContribution(BaseModel):
    """One feature's part in a client's score, in words and in log-odds."""

    feature: str = Field(description="the model feature (code)")
    kind: FeatureKind = Field(
        description="raw column, employment flag, domain ratio, category level, or the "
        "aggregated remainder (other) / the reference average (base, refusal reasons only)"
    )
    column: str | None = Field(description="the raw column it comes from")
    label: str = Field(description="the feature's name for people, in the requested language")
    value: str | None = Field(description="the client's value in readable units")
    raw_value: float | str | None = Field(description="the client's value as sent")
    contribution: float = Field(description="TreeSHAP value, log-odds of default")
    points: float = Field(
        description="the contribution in percentage points of probability (see Explanation)"
    )
    factor: str | None = Field(description="the factor (key) this feature belongs to")
    direction: Direction = Field(description="effect on the risk of default")
    sentence: str = Field(description="the contribution in one plain sentence")


class QuotedValue(BaseModel):
    """One field the client declared, as the advisor reads it out."""

    field: str = Field(description="the application field (code)")
    label: str
    value: str = Field(description="the client's value in readable units")


class FactorContribution(BaseModel):
    """One factor (features grouped under what the client declared) and its effect."""

    factor: str = Field(description="factor key, e.g. external_scores, loan, income")
    label: str = Field(description="the factor's name, in the requested language")
    contribution: float = Field(description="sum of its features' TreeSHAP values, log-odds")
    points: float = Field(
        description="effect in percentage points of probability; the points of all factors "
        "add up to 100 * (probability - base_probability)"
    )
    direction: Direction
    values: list[QuotedValue] = Field(description="the client's declared values it rests on")
    value: str | None = Field(description="those values in one readable string")
    sentence: str = Field(description="the effect in one plain sentence, values quoted")
    features: list[str] = Field(description="the model features it groups")


class Explanation(BaseModel):
    """A client's default probability, decision, and every feature's contribution."""

    client_id: int | None = Field(None, description="the client explained (GET only)")
    model_version: str
    lang: Lang
    probability: float = Field(description="P(default) from the ONNX model (= score route)")
    threshold: float
    decision: Literal["accept", "refuse"]
    band: Band = Field(description="borderline: to be examined rather than decided on the score")
    borderline: BorderlineInterval
    summary: str = Field(description="probability, threshold and decision in one sentence")
    log_odds: float = Field(description="raw score of the native booster, log-odds")
    base_value: float = Field(description="expected log-odds over the training clients")
    base_probability: float = Field(description="1 / (1 + exp(-base_value))")
    contributions_sum: float = Field(description="sum of the contributions returned")
    additivity_gap: float = Field(description="|base_value + contributions_sum - log_odds|")
    probability_from_log_odds: float = Field(
        description="1 / (1 + exp(-log_odds)); equals probability up to the ONNX parity gap"
    )
    conversion: str
    points_method: str
    points_total: float = Field(description="100 * (probability - base_probability)")
    n_features: int = Field(description="number of model features")
    top: int | None = Field(description="features listed one by one (None: all)")
    contributions: list[FeatureContribution] = Field(
        description="largest |contribution| first; with top=K, the K largest and one "
        "OTHER_FEATURES remainder, so that additivity still holds"
    )
    factors: list[FactorContribution] = Field(
        description="every factor, each once, largest |effect| first (additive: their "
        "contributions add up to contributions_sum over all features)"
    )
    reasons: list[FactorContribution] = Field(
        description="refusal: up to 4 factors raising the risk most; acceptance: up to 4 "
        "lowering it most; in order"
    )


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
        None,
        description="the interval around the threshold where files are to be examined"
    )
    ablations: dict[str, Any] | None = Field(
        None,
        description="cross-validated AUC and cost of the served model, with gender as an "
        "input, and without monotone constraints (same folds): what each choice costs"
    )
    monotone_constraints: dict[str, int] = Field(
        default_factory=dict,
        description="feature -> +1 (never lowers the risk when it grows) or -1"
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


# ============================================================================ the explainer


def _verified_file(model: ScoringModel, name: str) -> bytes:
    """A file of the model version, checked against the sha256 in its metadata."""
    expected = model.metadata.get("sha256", {}).get(name)
    try:
        data = (model.folder / name).read_bytes()
    except OSError as error:
        raise ModelUnavailableError(f"model {model.version}: cannot read {name}") from error
    if expected is None or sha256_bytes(data) != expected:
        log.error("model %s: %s does not match its recorded sha256", model.version, name)
        raise ModelUnavailableError(f"model {model.version}: {name} failed its integrity check")
    return data


def _numeric_only(spec: FeatureSpec) -> FeatureSpec:
    """The same transform without clipping or one-hot: the derived values as computed."""
    return FeatureSpec(spec.numeric_columns, (), {}, {})


@dataclass(frozen=True)
class ModelExplainer:
    """The native booster and label table of one model version."""

    version: str
    booster: TreeShapBooster
    spec: FeatureSpec
    origin: Mapping[str, Mapping[str, str]]
    labels: Mapping[str, Label]
    derived_spec: FeatureSpec
    factor_of: Mapping[str, str]
    #: Factor key -> indices of its features in model order.
    factor_members: Mapping[str, tuple[int, ...]]

    @classmethod
    def load(cls, model: ScoringModel) -> ModelExplainer:
        """Build the explainer of ``model`` (reads and verifies model.txt)."""
        text = _verified_file(model, MODEL_FILE).decode("utf-8")
        try:
            booster = TreeShapBooster(text)
        except LightGBMLibraryError as error:
            raise ModelUnavailableError(f"model {model.version}: {error}") from error
        if booster.n_features != len(model.spec.features):
            booster.close()
            raise ModelUnavailableError(
                f"model {model.version}: model.txt has {booster.n_features} features, "
                f"the feature spec {len(model.spec.features)}"
            )
        try:
            factor_of = feature_factors(model.spec)
        except ValueError as error:
            booster.close()
            raise ModelUnavailableError(f"model {model.version}: {error}") from error
        members: dict[str, list[int]] = {key: [] for key in factors()}
        for j, feature in enumerate(model.spec.features):
            members[factor_of[feature]].append(j)
        return cls(
            version=model.version,
            booster=booster,
            spec=model.spec,
            origin=model.spec.feature_origin(),
            labels=feature_labels(model.spec),
            derived_spec=_numeric_only(model.spec),
            factor_of=factor_of,
            factor_members={k: tuple(v) for k, v in members.items() if v},
        )

    def shap(self, application: Mapping[str, Any]) -> tuple[npt.NDArray[np.float64], float, float]:
        """(contributions per feature, base value, raw log-odds) for one raw application."""
        row = transform_record(self.spec, application)
        contributions = self.booster.contributions(row)[0]
        log_odds = float(self.booster.raw_scores(row)[0])
        return contributions[:-1], float(contributions[-1]), log_odds

    def derived_values(self, application: Mapping[str, Any]) -> dict[str, float]:
        """Numeric features (raw, flag, domain) as computed from the raw values, unclipped."""
        row = transform_record(self.derived_spec, application)[0]
        return dict(zip(self.derived_spec.numeric_features, row.tolist(), strict=True))


_explainers: dict[tuple[str, str], ModelExplainer] = {}
_explainers_lock = threading.Lock()


def explainer_for(model: ScoringModel) -> ModelExplainer:
    """The explainer of ``model``, built once per version and kept while it is active."""
    key = (model.version, str(model.metadata.get("sha256", {}).get(MODEL_FILE)))
    explainer = _explainers.get(key)
    if explainer is not None:
        return explainer
    with _explainers_lock:
        explainer = _explainers.get(key)
        if explainer is None:
            explainer = ModelExplainer.load(model)
            # One version at a time: the previous booster is freed once no request holds it.
            _explainers.clear()
            _explainers[key] = explainer
            log.info("TreeSHAP booster of model %s loaded", model.version)
        return explainer


def clear_cache() -> None:
    """Forget loaded boosters (tests, or to free memory)."""
    with _explainers_lock:
        _explainers.clear()
    _importance.clear()


def warm_up(provider: Callable[[], ModelProvider]) -> None:
    """Load the active model and its booster at cold start; log, never raise, on failure.

    A function that cannot load its model still starts and answers 503 with the reason.
    """
    try:
        explainer_for(provider().current())
    except Exception as error:  # reported by the routes' 503 answers
        log.warning("warm-up could not load the explainer: %s", error)


# ============================================================================ sentences


def _direction(contribution: float) -> Direction:
    if contribution > 0:
        return "raises"
    if contribution < 0:
        return "lowers"
    return "neutral"


_VERBS: dict[tuple[Lang, Direction, bool], str] = {
    ("fr", "raises", False): "augmente le risque de défaut",
    ("fr", "lowers", False): "diminue le risque de défaut",
    ("fr", "neutral", False): "est sans effet sur le risque de défaut",
    ("fr", "raises", True): "augmentent le risque de défaut",
    ("fr", "lowers", True): "diminuent le risque de défaut",
    ("fr", "neutral", True): "sont sans effet sur le risque de défaut",
    ("en", "raises", False): "raises the risk of default",
    ("en", "lowers", False): "lowers the risk of default",
    ("en", "neutral", False): "has no effect on the risk of default",
    ("en", "raises", True): "raise the risk of default",
    ("en", "lowers", True): "lower the risk of default",
    ("en", "neutral", True): "have no effect on the risk of default",
}


def _by_points(points: float, direction: Direction, lang: Lang) -> str:
    """The effect's size after its verb, e.g. " by 3.2 points" (none when neutral)."""
    if direction == "neutral":
        return ""
    return (
        f" de {format_points(points, lang)}"
        if lang == "fr"
        else f" by {format_points(points, lang)}"
    )


def _sentence(
    subject: str,
    value: str | None,
    direction: Direction,
    lang: Lang,
    points: float | None = None,
    plural: bool = False,
) -> str:
    shown = f" ({value})" if value is not None else ""
    by = "" if points is None else _by_points(points, direction, lang)
    return f"{subject}{shown} {_VERBS[(lang, direction, plural)]}{by}."


def _level_value(client_level: str, feature_level: str, lang: Lang) -> str:
    """The client's level of a column, and the level the feature is about if different."""
    if client_level == level_text(feature_level, lang):
        return client_level
    other = level_text(feature_level, lang)
    return f"{client_level}, et non {other}" if lang == "fr" else f"{client_level}, not {other}"


def _other_item(
    contribution: float, points: float, n_other: int, lang: Lang
) -> FeatureContribution:
    direction = _direction(contribution)
    if lang == "fr":
        label = f"Autres caractéristiques ({n_other})"
        sentence = f"Les {n_other} autres caractéristiques, ensemble, "
    else:
        label = f"Other features ({n_other})"
        sentence = f"The {n_other} other features together "
    return FeatureContribution(
        feature=OTHER_FEATURES,
        kind="other",
        column=None,
        label=label,
        value=None,
        raw_value=None,
        contribution=contribution,
        points=points,
        factor=None,
        direction=direction,
        sentence=sentence
        + _VERBS[(lang, direction, True)]
        + _by_points(points, direction, lang)
        + ".",
    )


def _base_reason(base_value: float, threshold: float, lang: Lang) -> FactorContribution:
    """The reason left when no factor raises the risk: the reference average itself."""
    base = format_percent(_sigmoid(base_value), lang)
    limit = format_percent(threshold, lang)
    if lang == "fr":
        label = "Risque moyen des clients de référence"
        sentence = (
            f"Le risque moyen des clients de référence ({base}) atteint déjà le seuil ({limit})."
        )
    else:
        label = "Average risk of reference clients"
        sentence = (
            f"The average risk of reference clients ({base}) already reaches the threshold "
            f"({limit})."
        )
    return FactorContribution(
        factor=BASE_VALUE_FEATURE.lower(),
        label=label,
        contribution=base_value,
        points=0.0,
        direction="raises",
        values=[],
        value=base,
        sentence=sentence,
        features=[],
    )


def _summary(probability: float, threshold: float, refused: bool, band: Band, lang: Lang) -> str:
    p, t = format_percent(probability, lang), format_percent(threshold, lang)
    if lang == "fr":
        verdict = "crédit refusé" if refused else "crédit accordé"
        if band == "borderline":
            verdict = f"dossier à examiner, trop proche du seuil pour trancher ({verdict} au score)"
        return f"Probabilité de défaut {p} pour un seuil de {t} : {verdict}."
    verdict = "loan refused" if refused else "loan granted"
    if band == "borderline":
        verdict = f"to be examined, too close to the threshold to decide ({verdict} on the score)"
    return f"Probability of default {p} against a threshold of {t}: {verdict}."


def _sigmoid(log_odds: float) -> float:
    if log_odds >= 0:
        return 1.0 / (1.0 + math.exp(-log_odds))
    odds = math.exp(log_odds)  # the other form: no overflow for very negative log-odds
    return odds / (1.0 + odds)


def points_scale(probability: float, base_probability: float, total: float) -> float:
    """Percentage points per unit of log-odds, so that the points add up to the change.

    ``100 * (probability - base_probability) / total``; the derivative of the logistic at
    the base when the contributions cancel out (or, within the ONNX parity gap, disagree in
    sign with the change), so that no effect ever changes sign when put in points.
    """
    change = probability - base_probability
    if total != 0.0 and change * total > 0.0:
        return 100.0 * change / total
    return 100.0 * base_probability * (1.0 - base_probability)


# ============================================================================ explanations


def _feature_item(
    explainer: ModelExplainer,
    feature: str,
    contribution: float,
    scale: float,
    application: Mapping[str, Any],
    derived: Mapping[str, float],
    lang: Lang,
) -> FeatureContribution:
    origin = explainer.origin[feature]
    kind = origin["kind"]
    column: str | None = origin["column"]
    label = explainer.labels[feature]
    direction = _direction(contribution)
    raw_value: float | str | None
    if kind == "level":
        level_column = origin["column"]
        raw = application.get(level_column)
        raw_value = None if is_missing(raw) else str(raw)
        value = format_value(level_column, raw_value, lang)
        # The column's label, not the level's: "Contract type (Revolving loans, not Cash
        # loans)" says what the client has and which level the model weighed.
        subject = column_label(level_column).text(lang)
        shown = _level_value(value, origin["level"], lang)
        sentence = _sentence(subject, shown, direction, lang)
    elif kind == "raw":
        raw = application.get(feature)
        raw_value = None if is_missing(raw) else raw
        value = format_value(feature, raw_value, lang)
        sentence = _sentence(label.text(lang), value, direction, lang)
    else:  # domain features and the employment flag: computed from the raw values
        number = derived.get(feature, math.nan)
        raw_value = None if is_missing(number) else number
        value = format_derived_value(feature, raw_value, lang)
        sentence = _sentence(label.text(lang), value, direction, lang)
        column = None if kind == "domain" else column
    return FeatureContribution(
        feature=feature,
        kind=cast(FeatureKind, kind),
        column=column,
        label=label.text(lang),
        value=value,
        raw_value=raw_value,
        contribution=contribution,
        points=contribution * scale,
        factor=explainer.factor_of[feature],
        direction=direction,
        sentence=sentence,
    )


def _quoted_values(
    explainer: ModelExplainer,
    factor: Factor,
    contributions: npt.NDArray[np.float64],
    application: Mapping[str, Any],
    lang: Lang,
) -> list[QuotedValue]:
    """The declared values a factor rests on: all of a short list, else the weightiest."""
    fields = list(factor.quoted)
    if not factor.quote_missing:
        # An empty field says nothing the client can hear; keep one if all are empty.
        filled = [f for f in fields if not is_missing(application.get(f))]
        fields = filled or fields[:1]
    if len(fields) > MAX_QUOTED:
        weight = dict.fromkeys(fields, 0.0)
        for j in explainer.factor_members.get(factor.key, ()):
            feature = explainer.spec.features[j]
            member = member_of(feature, explainer.origin[feature])
            if member in weight:
                weight[member] += abs(float(contributions[j]))
        # Filled fields first, then by weight; the table's order breaks ties.
        fields.sort(key=lambda f: (is_missing(application.get(f)), -weight[f]))
        fields = fields[:MAX_QUOTED]
    return [
        QuotedValue(
            field=name,
            label=column_label(name).text(lang),
            value=format_value(name, application.get(name), lang),
        )
        for name in fields
    ]


def _factor_items(
    explainer: ModelExplainer,
    contributions: npt.NDArray[np.float64],
    scale: float,
    application: Mapping[str, Any],
    lang: Lang,
) -> list[FactorContribution]:
    """Every factor of the model once, largest |effect| first (ties: the table's order)."""
    table = factors()
    items: list[FactorContribution] = []
    for key, members in explainer.factor_members.items():
        factor = table[key]
        contribution = math.fsum(float(contributions[j]) for j in members)
        direction = _direction(contribution)
        points = contribution * scale
        values = _quoted_values(explainer, factor, contributions, application, lang)
        joint = "\u00a0; " if lang == "fr" else "; "
        if len(values) == 1 and values[0].label.lower() == factor.label(lang).lower():
            value: str | None = values[0].value  # "Âge (61 ans)", not "Âge (Âge : 61 ans)"
        else:
            value = joint.join(f"{v.label}{_colon(lang)}{v.value}" for v in values) or None
        items.append(
            FactorContribution(
                factor=key,
                label=factor.label(lang),
                contribution=contribution,
                points=points,
                direction=direction,
                values=values,
                value=value,
                sentence=_sentence(
                    factor.label(lang), value, direction, lang, points, factor.plural(lang)
                ),
                features=[explainer.spec.features[j] for j in members],
            )
        )
    items.sort(key=lambda item: -abs(item.contribution))
    return items


def _colon(lang: Lang) -> str:
    return "\u00a0: " if lang == "fr" else ": "


def explain(
    model: ScoringModel,
    application: Mapping[str, Any],
    lang: Lang = "fr",
    top: int | None = None,
    client_id: int | None = None,
) -> Explanation:
    """Explain one raw application under ``model``: factors, reasons, contributions."""
    explainer = explainer_for(model)
    contributions, base_value, log_odds = explainer.shap(application)
    total = math.fsum(contributions.tolist())
    gap = abs(base_value + total - log_odds)
    if not gap <= ADDITIVITY_TOLERANCE:
        log.error("model %s: additivity gap %.3g", model.version, gap)
        raise ExplanationError(f"contributions do not add up to the score (gap {gap:.3g})")
    # The probability and decision the score route gives for the same application.
    probability = model.score_record(application)
    decision = model.decide(probability)
    band = model.band(probability)
    base_probability = _sigmoid(base_value)
    scale = points_scale(probability, base_probability, total)

    features = explainer.spec.features
    derived = explainer.derived_values(application)
    # Largest effect first; ties keep the model's feature order.
    order = sorted(range(len(features)), key=lambda j: -abs(float(contributions[j])))
    listed = order if top is None or top >= len(order) else order[:top]
    items = [
        _feature_item(
            explainer, features[j], float(contributions[j]), scale, application, derived, lang
        )
        for j in listed
    ]
    if len(listed) < len(order):
        rest = order[len(listed) :]
        remainder = math.fsum(float(contributions[j]) for j in rest)
        items.append(_other_item(remainder, remainder * scale, len(rest), lang))

    factor_items = _factor_items(explainer, contributions, scale, application, lang)
    # The reasons of the decision the score implies: what pushes towards it, strongest first.
    wanted: Direction = "raises" if decision == "refuse" else "lowers"
    reasons = [f for f in factor_items if f.direction == wanted][:MAX_REASONS]
    if decision == "refuse" and not reasons:
        reasons = [_base_reason(base_value, model.threshold, lang)]

    listed_sum = math.fsum(item.contribution for item in items)
    lower, upper = model.borderline
    return Explanation(
        client_id=client_id,
        model_version=model.version,
        lang=lang,
        probability=probability,
        threshold=model.threshold,
        decision=decision,
        band=band,
        borderline=BorderlineInterval(lower=lower, upper=upper),
        summary=_summary(probability, model.threshold, decision == "refuse", band, lang),
        log_odds=log_odds,
        base_value=base_value,
        base_probability=base_probability,
        contributions_sum=listed_sum,
        additivity_gap=abs(base_value + listed_sum - log_odds),
        probability_from_log_odds=_sigmoid(log_odds),
        conversion=CONVERSION,
        points_method=POINTS_METHOD,
        points_total=100.0 * (probability - base_probability),
        n_features=len(features),
        top=top,
        contributions=items,
        factors=factor_items,
        reasons=reasons,
    )


def explain_application(
    models: ModelProvider, application: Mapping[str, Any], lang: Lang, top: int | None
) -> Explanation:
    """Explain a raw application under the active model version."""
    return explain(models.current(), application, lang, top)


def explain_client(
    store: Store, models: ModelProvider, client_id: int, lang: Lang, top: int | None
) -> Explanation:
    """Explain a new client of the store (ClientNotFoundError if unknown)."""
    application = store.get_client(client_id)
    return explain(models.current(), application, lang, top, client_id=client_id)


# ============================================================================ model card

_INTENDED_USE: dict[Lang, list[str]] = {
    "fr": [
        "Aide à la décision pour les conseillers clientèle de Prêt à dépenser qui instruisent "
        "une demande de crédit à la consommation : probabilité de défaut, décision suggérée "
        "et ses raisons.",
        "Le conseiller décide : chaque refus, et chaque dossier proche du seuil, demande une "
        "revue humaine avec le client ; le modèle ne décide jamais seul.",
        "Seuil choisi pour un coût d'un défaut accordé {cost_fn} fois celui d'un bon client "
        "refusé ({cost_fn}:{cost_fp}) ; si ces coûts changent, le seuil doit être recalculé.",
    ],
    "en": [
        "Decision support for Prêt à dépenser's customer advisors handling a consumer loan "
        "application: default probability, suggested decision and its reasons.",
        "The advisor decides: every refusal, and every case close to the threshold, needs a "
        "human review with the client; the model never decides alone.",
        "Threshold chosen for a granted default costing {cost_fn} times a refused good "
        "client ({cost_fn}:{cost_fp}); if those costs change, the threshold must be recomputed.",
    ],
}

_KNOWN_LIMITS: dict[Lang, list[str]] = {
    "fr": [
        "Données d'entraînement : la table application de Home Credit (Kaggle) ou des "
        "clients synthétiques générés à partir de son schéma ; le modèle n'est validé pour "
        "aucune autre population (autre pays, autre produit, clientèle propre de la banque).",
        "Performances mesurées par validation croisée sur ces mêmes données, sans test "
        "hors période : elles surestiment probablement la performance en production.",
        "Dérive : surveiller la distribution des variables (rapport de dérive) et le taux de "
        "défaut observé ; réentraîner quand ils s'écartent de la référence. Les scores "
        "externes (EXT_SOURCE_*), d'origine inconnue, pèsent le plus : un changement chez "
        "leur fournisseur change les décisions sans bruit.",
        "Équité : le genre (CODE_GENDER) n'est jamais une entrée du modèle ni une raison "
        "(lu seulement pour mesurer l'équité) ; ce que ce choix coûte est mesuré à "
        "l'entraînement (ablations). L'âge et la situation familiale restent des entrées : "
        "vérifier les taux de refus par groupe avant tout usage réel.",
        "Probabilités calibrées sur le taux de défaut d'entraînement : un autre taux de "
        "base les décale.",
        "Les effets (TreeSHAP, regroupés par facteur et donnés en points de probabilité) "
        "décrivent le modèle, pas des causes : "
        "des variables corrélées se partagent l'effet, et modifier une variable ne garantit "
        "pas l'effet affiché.",
    ],
    "en": [
        "Training data: Home Credit's application table (Kaggle) or synthetic clients "
        "generated from its schema; the model is not validated for any other population "
        "(another country, another product, the bank's own clients).",
        "Metrics are cross-validated on that same data, with no out-of-time test: they "
        "likely overstate performance in production.",
        "Drift: watch the input distributions (drift report) and the observed default rate; "
        "retrain when they move away from the reference. External scores (EXT_SOURCE_*), "
        "of unknown origin, weigh the most: a change at their provider silently changes "
        "the decisions.",
        "Fairness: gender (CODE_GENDER) is never a model input nor a reason (it is read "
        "only to measure fairness); what leaving it out costs is measured at training "
        "(ablations). Age and family status are still inputs: check refusal rates by "
        "group before any real use.",
        "Probabilities are calibrated on the training default rate: a different base rate "
        "shifts them.",
        "Effects (TreeSHAP, grouped by factor and given in probability points) describe the "
        "model, not causes: correlated "
        "features share an effect, and changing one feature need not have the shown effect.",
    ],
}


def _cost_text(value: Any) -> str:
    number = float(value) if value is not None else math.nan
    return f"{number:g}" if math.isfinite(number) else "?"


def model_card(models: ModelProvider, lang: Lang) -> ModelCard:
    """The active model version's card: data, metrics, threshold, use and limits."""
    model = models.current()
    meta = model.metadata
    data = meta.get("training_data") or {}
    chosen = meta.get("chosen") or {}
    costs = {"cost_fn": _cost_text(meta.get("cost_fn")), "cost_fp": _cost_text(meta.get("cost_fp"))}
    return ModelCard(
        model_version=model.version,
        created_at=meta.get("created_at"),
        model_type=meta.get("model_type"),
        lang=lang,
        decision_rule=str(meta.get("decision_rule", "refuse when probability >= threshold")),
        threshold=model.threshold,
        cost_fn=meta.get("cost_fn"),
        cost_fp=meta.get("cost_fp"),
        training_data=TrainingData(
            file=data.get("file"),
            sha256=data.get("sha256"),
            n_clients=data.get("n_clients"),
            default_rate=data.get("default_rate"),
        ),
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
        explanation_method=EXPLANATION_METHOD,
        intended_use=[text.format(**costs) for text in _INTENDED_USE[lang]],
        known_limits=list(_KNOWN_LIMITS[lang]),
    )


# ============================================================================ global importance

_importance: dict[tuple[str, str], dict[str, Any]] = {}


def _importance_file(model: ScoringModel) -> dict[str, Any]:
    key = (model.version, str(model.metadata.get("sha256", {}).get(IMPORTANCE_FILE)))
    cached = _importance.get(key)
    if cached is None:
        cached = json.loads(_verified_file(model, IMPORTANCE_FILE))
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
