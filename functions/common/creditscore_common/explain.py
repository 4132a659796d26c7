"""What the explain routes call: why a client got their score, and what the model is.

- Local explanation: exact TreeSHAP contributions (LightGBM's own algorithm, through
  :mod:`creditscore_common.treeshap`) of every feature to the client's log-odds of default,
  each with a label, the client's value in readable units and a plain sentence. Contributions
  are additive: ``base_value + sum(contributions) == log_odds`` (checked on every answer), and
  ``probability = 1 / (1 + exp(-log_odds))``.
- Refusal reasons: the features that raise the risk most, in order (adverse-action style).
- Model card and global importance: :mod:`creditscore_common.model_card`.

The words of every sentence and of the model card are in :mod:`creditscore_common.wording`.
No FastAPI here: routes in ``functions/explain/app.py`` parse, call one function, return.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

from creditscore_common import model_card, observability, wording
from creditscore_common.errors import ExplanationError, ModelUnavailableError
from creditscore_common.factors import Factor, factors, feature_factors, member_of
from creditscore_common.features import FeatureSpec, transform_record_features
from creditscore_common.labels import (
    Label,
    Lang,
    column_label,
    feature_labels,
    format_derived_value,
    format_percent,
    format_value,
    is_missing,
)
from creditscore_common.model import Band, ScoringModel
from creditscore_common.provider import ModelProvider, check_served_file, served_file
from creditscore_common.schemas import BorderlineInterval
from creditscore_common.store import Store
from creditscore_common.treeshap import LightGBMLibraryError, TreeShapBooster
from creditscore_common.version import MODEL_FILE
from creditscore_common.wording import Direction

log = logging.getLogger(__name__)

#: |base_value + sum(contributions) - log_odds| above this is a bug, not rounding.
ADDITIVITY_TOLERANCE: Final = 1e-6
MAX_REASONS: Final = 4
OTHER_FEATURES: Final = "OTHER_FEATURES"
BASE_VALUE_FEATURE: Final = "BASE_VALUE"
#: At most this many declared values are quoted for one factor.
MAX_QUOTED: Final = 3

FeatureKind = Literal["raw", "flag", "domain", "level", "other", "base"]


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


# ============================================================================ the explainer


@dataclass(frozen=True)
class ModelExplainer:
    """The native booster and label table of one model version."""

    version: str
    booster: TreeShapBooster
    spec: FeatureSpec
    origin: Mapping[str, Mapping[str, str]]
    labels: Mapping[str, Label]
    factor_of: Mapping[str, str]
    #: Factor key -> indices of its features in model order.
    factor_members: Mapping[str, tuple[int, ...]]

    @classmethod
    def load(cls, model: ScoringModel) -> ModelExplainer:
        """Build the explainer of ``model`` (reads and verifies model.txt)."""
        text = served_file(model, MODEL_FILE).decode("utf-8")
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
            factor_of=factor_of,
            factor_members={k: tuple(v) for k, v in members.items() if v},
        )

    def shap(self, row: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.float64], float, float]:
        """(contributions per feature, base value, raw log-odds) for one transformed row."""
        contributions = self.booster.contributions(row)[0]
        log_odds = float(self.booster.raw_scores(row)[0])
        return contributions[:-1], float(contributions[-1]), log_odds


_explainers: dict[tuple[str, str], ModelExplainer] = {}
_explainers_lock = threading.Lock()


def explainer_for(model: ScoringModel) -> ModelExplainer:
    """The explainer of ``model``, built once per version and kept while it is active."""
    key = (model.version, str(model.metadata.get("sha256", {}).get(MODEL_FILE)))
    check_served_file(model, MODEL_FILE)  # model.txt altered on disk since: refused (503)
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
    model_card.clear_cache()


def warm_up(provider: Callable[[], ModelProvider]) -> None:
    """Load the active model and its booster at cold start; log, never raise, on failure.

    A function that cannot load its model still starts and answers 503 with the reason.
    """
    try:
        explainer_for(provider().current())
    except Exception as error:  # reported by the routes' 503 answers
        log.warning("warm-up could not load the explainer: %s", error)


# ============================================================================ building blocks


def _other_item(
    contribution: float, points: float, n_other: int, lang: Lang
) -> FeatureContribution:
    direction = wording.direction_of(contribution)
    return FeatureContribution(
        feature=OTHER_FEATURES,
        kind="other",
        column=None,
        label=wording.other_features_label(n_other, lang),
        value=None,
        raw_value=None,
        contribution=contribution,
        points=points,
        factor=None,
        direction=direction,
        sentence=wording.other_features_sentence(n_other, direction, points, lang),
    )


def _base_reason(base_value: float, threshold: float, lang: Lang) -> FactorContribution:
    """The reason left when no factor raises the risk: the reference average itself."""
    base = format_percent(_sigmoid(base_value), lang)
    return FactorContribution(
        factor=BASE_VALUE_FEATURE.lower(),
        label=wording.base_reason_label(lang),
        contribution=base_value,
        points=0.0,
        direction="raises",
        values=[],
        value=base,
        sentence=wording.base_reason_sentence(base, format_percent(threshold, lang), lang),
        features=[],
    )


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
    direction = wording.direction_of(contribution)
    raw_value: float | str | None
    if kind == "level":
        level_column = origin["column"]
        raw = application.get(level_column)
        raw_value = None if is_missing(raw) else str(raw)
        value = format_value(level_column, raw_value, lang)
        # The column's label, not the level's: "Contract type (Revolving loans, not Cash
        # loans)" says what the client has and which level the model weighed.
        subject = column_label(level_column).text(lang)
        shown = wording.level_value(value, origin["level"], lang)
        sentence = wording.effect_sentence(subject, shown, direction, lang)
    elif kind == "raw":
        raw = application.get(feature)
        raw_value = None if is_missing(raw) else raw
        value = format_value(feature, raw_value, lang)
        sentence = wording.effect_sentence(label.text(lang), value, direction, lang)
    else:  # domain features and the employment flag: computed from the raw values
        number = derived.get(feature, math.nan)
        raw_value = None if is_missing(number) else number
        value = format_derived_value(feature, raw_value, lang)
        sentence = wording.effect_sentence(label.text(lang), value, direction, lang)
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
        direction = wording.direction_of(contribution)
        points = contribution * scale
        values = _quoted_values(explainer, factor, contributions, application, lang)
        value = wording.quoted_values(
            factor.label(lang), [(v.label, v.value) for v in values], lang
        )
        items.append(
            FactorContribution(
                factor=key,
                label=factor.label(lang),
                contribution=contribution,
                points=points,
                direction=direction,
                values=values,
                value=value,
                sentence=wording.effect_sentence(
                    factor.label(lang), value, direction, lang, points, factor.plural(lang)
                ),
                features=[explainer.spec.features[j] for j in members],
            )
        )
    items.sort(key=lambda item: -abs(item.contribution))
    return items


@observability.counted(observability.EXPLANATIONS)
@observability.traced(observability.MODEL_EXPLAIN)
def explain(
    model: ScoringModel,
    application: Mapping[str, Any],
    lang: Lang = "fr",
    top: int | None = None,
    client_id: int | None = None,
) -> Explanation:
    """Explain one raw application under ``model``: factors, reasons, contributions."""
    explainer = explainer_for(model)
    # Transformed once: TreeSHAP, the ONNX probability and the values shown all read it.
    transformed = transform_record_features(model.spec, application)
    contributions, base_value, log_odds = explainer.shap(transformed.row)
    total = math.fsum(contributions.tolist())
    gap = abs(base_value + total - log_odds)
    if not gap <= ADDITIVITY_TOLERANCE:
        log.error("model %s: additivity gap %.3g", model.version, gap)
        raise ExplanationError(f"contributions do not add up to the score (gap {gap:.3g})")
    # The probability and decision the score route gives for the same application.
    probability = model.score_row(transformed.row)
    decision = model.decide(probability)
    band = model.band(probability)
    base_probability = _sigmoid(base_value)
    scale = points_scale(probability, base_probability, total)

    features = explainer.spec.features
    derived = transformed.numeric_values(model.spec)
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
        summary=wording.summary(probability, model.threshold, decision == "refuse", band, lang),
        log_odds=log_odds,
        base_value=base_value,
        base_probability=base_probability,
        contributions_sum=listed_sum,
        additivity_gap=abs(base_value + listed_sum - log_odds),
        probability_from_log_odds=_sigmoid(log_odds),
        conversion=wording.CONVERSION,
        points_method=wording.POINTS_METHOD,
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
