"""The words of the explanations and of the model card, in French and English.

Beside :mod:`creditscore_common.labels` (the names of fields and features and the format of
values), this module holds the sentences built around them: an effect on the risk of
default, the decision summary, the remainder of a top-K list, the reason left when no
factor raises the risk, and the model card's intended use and known limits. The logic that
chooses what to say is in :mod:`creditscore_common.explain`; only the wording is here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final, Literal

from creditscore_common.labels import Lang, format_percent, format_points, level_text
from creditscore_common.model import Band

#: The effect of a feature or factor on the risk of default.
Direction = Literal["raises", "lowers", "neutral"]

#: How the numbers of an explanation relate (in every answer, for experts).
CONVERSION: Final = (
    "probability = 1 / (1 + exp(-(base_value + sum(contributions)))); contributions and "
    "base_value are in log-odds of default; a positive contribution raises the risk"
)
POINTS_METHOD: Final = (
    "points = 100 * contribution * (probability - base_probability) / sum(contributions): "
    "each effect keeps its share of the log-odds and the points add up exactly to the "
    "change in probability from the reference average"
)

_VERBS: Final[dict[tuple[Lang, Direction, bool], str]] = {
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


def colon(lang: Lang) -> str:
    """The separator between a label and its value ("Âge : 61 ans", "Age: 61 years")."""
    return "\u00a0: " if lang == "fr" else ": "


def direction_of(contribution: float) -> Direction:
    """The direction of an effect in log-odds (exactly 0: neutral)."""
    if contribution > 0:
        return "raises"
    if contribution < 0:
        return "lowers"
    return "neutral"


def quoted_values(subject: str, labelled: Sequence[tuple[str, str]], lang: Lang) -> str | None:
    """The (label, value) pairs a factor named ``subject`` rests on, in one string (or None).

    A lone value labelled as the factor itself is given alone: "Âge (61 ans)", not
    "Âge (Âge : 61 ans)".
    """
    if len(labelled) == 1 and labelled[0][0].lower() == subject.lower():
        return labelled[0][1]
    joint = "\u00a0; " if lang == "fr" else "; "
    return joint.join(f"{label}{colon(lang)}{value}" for label, value in labelled) or None


def _by_points(points: float, direction: Direction, lang: Lang) -> str:
    """The effect's size after its verb, e.g. " by 3.2 points" (none when neutral)."""
    if direction == "neutral":
        return ""
    by = "de" if lang == "fr" else "by"
    return f" {by} {format_points(points, lang)}"


def effect_sentence(
    subject: str,
    value: str | None,
    direction: Direction,
    lang: Lang,
    points: float | None = None,
    plural: bool = False,
) -> str:
    """One effect in one sentence, e.g. "Age (61 years) lowers the risk of default by 2 points"."""
    shown = f" ({value})" if value is not None else ""
    by = "" if points is None else _by_points(points, direction, lang)
    return f"{subject}{shown} {_VERBS[(lang, direction, plural)]}{by}."


def level_value(client_level: str, feature_level: str, lang: Lang) -> str:
    """The client's level of a column, and the level the feature is about if different."""
    other = level_text(feature_level, lang)
    if client_level == other:
        return client_level
    return f"{client_level}, et non {other}" if lang == "fr" else f"{client_level}, not {other}"


def other_features_label(n_other: int, lang: Lang) -> str:
    """The label of the remainder of a top-K list of features."""
    if lang == "fr":
        return f"Autres caractéristiques ({n_other})"
    return f"Other features ({n_other})"


def other_features_sentence(n_other: int, direction: Direction, points: float, lang: Lang) -> str:
    """The effect of the remainder of a top-K list in one sentence."""
    if lang == "fr":
        subject = f"Les {n_other} autres caractéristiques, ensemble, "
    else:
        subject = f"The {n_other} other features together "
    return f"{subject}{_VERBS[(lang, direction, True)]}{_by_points(points, direction, lang)}."


def base_reason_label(lang: Lang) -> str:
    """The reason left for a refusal when no factor raises the risk: the reference average."""
    if lang == "fr":
        return "Risque moyen des clients de référence"
    return "Average risk of reference clients"


def base_reason_sentence(base: str, limit: str, lang: Lang) -> str:
    """That reason in one sentence: the average risk already reaches the threshold."""
    if lang == "fr":
        return f"Le risque moyen des clients de référence ({base}) atteint déjà le seuil ({limit})."
    return (
        f"The average risk of reference clients ({base}) already reaches the threshold ({limit})."
    )


def summary(probability: float, threshold: float, refused: bool, band: Band, lang: Lang) -> str:
    """Probability, threshold and decision in one sentence."""
    p, t = format_percent(probability, lang), format_percent(threshold, lang)
    if lang == "fr":
        verdict = "crédit refusé" if refused else "crédit accordé"
        if band == "borderline":
            verdict = f"dossier à examiner, trop proche du seuil pour trancher ({verdict} au score)"
        return f"Probabilité de défaut {p} pour un seuil de {t}\u00a0: {verdict}."
    verdict = "loan refused" if refused else "loan granted"
    if band == "borderline":
        verdict = f"to be examined, too close to the threshold to decide ({verdict} on the score)"
    return f"Probability of default {p} against a threshold of {t}: {verdict}."


# ============================================================================ model card

EXPLANATION_METHOD: Final = (
    "exact TreeSHAP (LightGBM C library, C_API_PREDICT_CONTRIB) on the native booster "
    "model.txt; probability from the ONNX model, as on the score route"
)

_INTENDED_USE: Final[dict[Lang, list[str]]] = {
    "fr": [
        "Aide à la décision pour les conseillers clientèle de Prêt à dépenser qui instruisent "
        "une demande de crédit à la consommation\u00a0: probabilité de défaut, décision suggérée "
        "et ses raisons.",
        "Le conseiller décide\u00a0: chaque refus, et chaque dossier proche du seuil, demande une "
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

_KNOWN_LIMITS: Final[dict[Lang, list[str]]] = {
    "fr": [
        "Données d'entraînement\u00a0: la table application de Home Credit (Kaggle) ou des "
        "clients synthétiques générés à partir de son schéma ; le modèle n'est validé pour "
        "aucune autre population (autre pays, autre produit, clientèle propre de la banque).",
        "Performances mesurées par validation croisée sur ces mêmes données, sans test "
        "hors période\u00a0: elles surestiment probablement la performance en production.",
        "Dérive\u00a0: surveiller la distribution des variables (rapport de dérive) et le taux de "
        "défaut observé ; réentraîner quand ils s'écartent de la référence. Les scores "
        "externes (EXT_SOURCE_*), d'origine inconnue, pèsent le plus\u00a0: un changement chez "
        "leur fournisseur change les décisions sans bruit.",
        "Équité\u00a0: le genre (CODE_GENDER) n'est jamais une entrée du modèle ni une raison "
        "(lu seulement pour mesurer l'équité) ; ce que ce choix coûte est mesuré à "
        "l'entraînement (ablations). L'âge et la situation familiale restent des entrées, et "
        "leurs taux d'accord diffèrent (voir l'équité par groupe de cette fiche, règle des "
        "quatre cinquièmes)\u00a0: à examiner avant tout usage réel.",
        "Probabilités calibrées sur le taux de défaut d'entraînement\u00a0: un autre taux de "
        "base les décale.",
        "Les effets (TreeSHAP, regroupés par facteur et donnés en points de probabilité) "
        "décrivent le modèle, pas des causes\u00a0: "
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
        "(ablations). Age and family status are still inputs, and their approval rates "
        "differ (see this card's fairness by group, four-fifths rule): to be reviewed before "
        "any real use.",
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


def intended_use(lang: Lang, cost_fn: Any, cost_fp: Any) -> list[str]:
    """The model card's intended use, with the version's cost weights ("?" if unknown)."""
    costs = {"cost_fn": _cost_text(cost_fn), "cost_fp": _cost_text(cost_fp)}
    return [text.format(**costs) for text in _INTENDED_USE[lang]]


def known_limits(lang: Lang) -> list[str]:
    """The model card's known limits."""
    return list(_KNOWN_LIMITS[lang])
