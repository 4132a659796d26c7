"""The reference clients most like a new client, and how their record compares with the score.

``GET /clients/{client_id}/similar``: the k nearest reference clients (robust-scaled
distance on declared fields, from :mod:`creditscore_common.reference_index`), their default
rate and medians beside the client's own values, the observed default rate of reference
clients with a similar score (the model version's score bins), and one sentence on why the
neighbours may disagree with the score. Aggregates only: never a reference client's row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from creditscore_common import labels
from creditscore_common.clients import label_of, lang_field
from creditscore_common.compare import ComparisonRequestError, client_features
from creditscore_common.factors import factor_members
from creditscore_common.labels import DEFAULT_LANG, Lang
from creditscore_common.privacy import (
    MEDIAN_DIGITS,
    MIN_CELL_COUNT,
    MIN_GROUP_SIZE,
    is_small,
    round_significant,
)
from creditscore_common.profiles import FEATURES_BY_NAME
from creditscore_common.reference_index import ReferenceIndex, reference_index

if TYPE_CHECKING:
    from creditscore_common.model import ScoringModel
    from creditscore_common.provider import ModelProvider
    from creditscore_common.store import Store

MIN_SIMILAR_K = 20
MAX_SIMILAR_K = 1000
DEFAULT_SIMILAR_K = 50


#: Summary of the nearest neighbours: comparison features whose median is reported.
SIMILAR_SUMMARY = (
    "AGE_YEARS",
    "YEARS_EMPLOYED",
    "AMT_INCOME_TOTAL",
    "AMT_CREDIT",
    "AMT_ANNUITY",
    "CREDIT_INCOME_RATIO",
    "EXT_SOURCE_MEAN",
)


class SimilarQuery(BaseModel):
    """Query of GET /clients/{client_id}/similar."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lang: Lang = lang_field()
    k: int = Field(
        DEFAULT_SIMILAR_K,
        ge=MIN_SIMILAR_K,
        le=MAX_SIMILAR_K,
        description=f"number of nearest reference clients ({MIN_SIMILAR_K} to "
        f"{MAX_SIMILAR_K}; fewer would describe too few people)",
    )


class ScoreBin(BaseModel):
    """Reference clients whose out-of-fold probability fell near the client's probability."""

    lower: float = Field(description="lowest probability of the bin")
    upper: float = Field(description="highest probability of the bin")
    n_clients: int
    default_rate: float = Field(description="observed default rate in the bin")
    mean_probability: float = Field(description="mean out-of-fold probability in the bin")


class SimilarResponse(BaseModel):
    """Default rate and summary of the k reference clients nearest to the client."""

    client_id: int
    model_version: str
    lang: Lang
    k: int
    n_defaulted: int
    n_repaid: int
    default_rate: float
    reference_default_rate: float
    features_used: list[str] = Field(description="features of the (robust-scaled) distance")
    probability: float = Field(description="the client's P(default), as on the score route")
    score_bin: ScoreBin | None = Field(
        description="observed default rate of reference clients with a similar score "
        "(the calibration bin of the client's probability; null for a model version "
        "trained before bins were recorded)"
    )
    explanation: str = Field(
        description="one sentence on the gap between the neighbours' default rate and the score"
    )
    medians: dict[str, float | None] = Field(description="3 significant digits")
    client_values: dict[str, float | None] = Field(
        description="the client's own values of the summarised features, same units"
    )
    factors: dict[str, str] = Field(description="summarised feature -> its factor key")
    shares: dict[str, dict[str, float | None]] = Field(
        description="share of each level among the k clients (null: 1 to 4 clients)"
    )


def similar_clients(
    index: ReferenceIndex,
    client_id: int,
    record: Mapping[str, Any],
    k: int,
    model: ScoringModel,
    lang: Lang = DEFAULT_LANG,
) -> SimilarResponse:
    """Default rate and summary of the k nearest reference clients (aggregates only).

    Beside them: the observed default rate of reference clients with a similar score, and
    one sentence on why the neighbours may disagree with the score.
    """
    if k < MIN_SIMILAR_K:
        raise ComparisonRequestError(f"k must be at least {MIN_SIMILAR_K}")
    n_reference = index.reference.n_clients
    k = min(k, n_reference)
    if k < MIN_SIMILAR_K:
        raise ComparisonRequestError("too few reference clients for a neighbourhood")
    client = client_features(record)
    scaled = index.scale_client(client)
    known = np.isfinite(scaled)
    if not known.any():
        raise ComparisonRequestError("the client has none of the features the search uses")
    distance = index.distances(scaled)
    nearest = np.argpartition(distance, k - 1)[:k] if k < n_reference else np.arange(k)
    target = index.target[nearest]
    n_defaulted = int(target.sum())
    medians: dict[str, float | None] = {}
    for name in SIMILAR_SUMMARY:
        if name not in index.column:
            continue
        values = index.reference.values[nearest, index.column[name]]
        values = values[np.isfinite(values)]
        medians[name] = (
            round_significant(float(np.median(values)), MEDIAN_DIGITS)
            if values.size >= MIN_CELL_COUNT
            else None
        )
    shares: dict[str, dict[str, float | None]] = {}
    for name, levels in index.reference.group_levels.items():
        codes = index.reference.groups[nearest, index.group_column[name]].astype(np.int64)
        counts = np.bincount(codes[codes >= 0], minlength=len(levels))
        shares[name] = {
            level: None if is_small(n) else round(n / k, 4)
            for level, n in zip(levels, counts.tolist(), strict=True)
        }
    probability = model.score_record(record)
    score_bin = score_bin_of(model.metadata.get("score_bins"), probability)
    rate = n_defaulted / k
    used = [n for n, ok in zip(index.similarity_features, known, strict=True) if ok]
    return SimilarResponse(
        client_id=client_id,
        model_version=index.model_version,
        lang=lang,
        probability=probability,
        score_bin=score_bin,
        explanation=_gap_sentence(k, rate, probability, score_bin, used, lang),
        client_values={name: round_significant(client[name], MEDIAN_DIGITS) for name in medians},
        factors={name: summary_factor(name) for name in medians},
        k=k,
        n_defaulted=n_defaulted,
        n_repaid=k - n_defaulted,
        default_rate=round(n_defaulted / k, 4),
        reference_default_rate=round(index.default_rate, 4),
        features_used=used,
        medians=medians,
        shares=shares,
    )


def score_bin_of(bins: Mapping[str, Any] | None, probability: float) -> ScoreBin | None:
    """The recorded bin of out-of-fold probabilities that ``probability`` falls in."""
    if not bins or not bins.get("edges"):
        return None
    edges = [float(e) for e in bins["edges"]]
    j = int(np.searchsorted(edges, probability, side="right")) - 1
    j = min(max(j, 0), len(edges) - 2)
    n = int(bins["n_clients"][j])
    if n < MIN_GROUP_SIZE:
        return None
    return ScoreBin(
        lower=edges[j],
        upper=edges[j + 1],
        n_clients=n,
        default_rate=round(int(bins["n_defaulted"][j]) / n, 4),
        mean_probability=round(float(bins["mean_probability"][j]), 4),
    )


def summary_factor(name: str) -> str:
    """The factor (factors.py) a comparison feature belongs to."""
    members = factor_members()
    if name in members:
        return members[name]
    return members[FEATURES_BY_NAME[name].source[0]]


def _gap_sentence(
    k: int,
    rate: float,
    probability: float,
    score_bin: ScoreBin | None,
    used: Sequence[str],
    lang: Lang,
) -> str:
    """Neighbours, similar scores and the score in one or two sentences an advisor can say."""
    pct = labels.format_percent
    names = ", ".join(label_of(n, lang).lower() for n in used)
    if lang == "fr":
        text = (
            f"Parmi les {k} clients de référence les plus proches ({names}), "
            f"{pct(rate, lang)} ont fait défaut."
        )
        if score_bin is not None:
            text += (
                f" Parmi les {score_bin.n_clients} clients de référence dont le score était "
                f"voisin ({pct(score_bin.lower, lang)} à {pct(score_bin.upper, lang)}), "
                f"{pct(score_bin.default_rate, lang)} ont fait défaut : c'est ce que "
                f"mesure le score de {pct(probability, lang)}."
            )
        if abs(rate - probability) >= max(0.03, probability / 2):
            text += (
                f" L'écart vient de ce que le voisinage ne compare que ces "
                f"{len(used)} caractéristiques, tandis que le score pèse tout le dossier "
                f"(scores externes en tête), et que {k} clients font un petit échantillon."
            )
        return text
    text = f"Among the {k} most similar reference clients ({names}), {pct(rate, lang)} defaulted."
    if score_bin is not None:
        text += (
            f" Among the {score_bin.n_clients} reference clients with a similar score "
            f"({pct(score_bin.lower, lang)} to {pct(score_bin.upper, lang)}), "
            f"{pct(score_bin.default_rate, lang)} defaulted: that is what the score of "
            f"{pct(probability, lang)} measures."
        )
    if abs(rate - probability) >= max(0.03, probability / 2):
        text += (
            f" The gap comes from the neighbourhood comparing only these {len(used)} "
            "characteristics while the score weighs the whole file (external scores "
            f"first), and from {k} clients being a small sample."
        )
    return text


def client_similar(
    store: Store, models: ModelProvider, client_id: int, query: SimilarQuery
) -> SimilarResponse:
    """GET /clients/{client_id}/similar."""
    record = store.get_client(client_id)
    model = models.current()
    index = reference_index(model)
    return similar_clients(index, client_id, record, query.k, model, query.lang)
