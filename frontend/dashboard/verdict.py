"""The decision first (the banner), and the score in detail.

The banner: accept, refuse or to review, the main reasons, what would change a refusal. The
score: gauge, probability, threshold, zone to review, the model's decision.

Used by the client file, its "what if" and the new applicant. What the page says of a score
is the API's decision and band (:func:`dashboard.charts.verdict`); the probability and the
threshold are shown, never compared here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import api, charts
from dashboard.api import ApiError
from dashboard.i18n import Lang, labelled, number, percent, points, signed_points, t
from dashboard.panels import ICONS, WARN, error_message, guarded, note, show_chart

#: Reasons on the first screen.
REASONS_SHOWN = 3
#: A counterfactual still being fetched: the banner keeps its place (:func:`verdict_view`).
PENDING = "pending"


def uncertainty_zone(score: Mapping[str, Any]) -> tuple[float, float] | None:
    """The model's uncertainty interval around the threshold (None when it is empty)."""
    interval = score.get("borderline") or {}
    lower, upper = interval.get("lower"), interval.get("upper")
    if lower is None or upper is None or float(upper) <= float(lower):
        return None
    return float(lower), float(upper)


def verdict_sentence(score: Mapping[str, Any], lang: Lang) -> str:
    """Probability against threshold in words, on the side the API decided (or its band)."""
    kind = charts.verdict(score)
    probability, threshold = float(score["probability"]), float(score["threshold"])
    values: dict[str, str] = {"prob": percent(probability, lang), "thr": percent(threshold, lang)}
    zone = uncertainty_zone(score)
    if kind == "borderline" and zone is not None:
        values |= {"lower": percent(zone[0], lang), "upper": percent(zone[1], lang)}
    else:
        kind = str(score["decision"])
        values["points"] = points(float(score["margin"]), lang)  # the API's distance
    return t(f"verdict_{kind}", lang, **values)


def _reason_line(number_: int, item: Mapping[str, Any], lang: Lang) -> str:
    """One reason: its direction, its effect in points, its name and the values it rests on."""
    effect = float(item.get("points") or 0.0)
    value = item.get("value")
    shown = f"{item['label']} ({value})" if value else str(item["label"])
    if round(effect, 1) == 0:  # a reason without an effect of its own (the reference risk)
        return f"{number_}. {charts.arrow(str(item.get('direction')))} {item['sentence']}"
    return (
        f"{number_}. {charts.arrow(str(item.get('direction')))} "
        f"**{signed_points(effect, lang)}** · {shown}"
    )


def reasons_view(score: Mapping[str, Any], explanation: Any, lang: Lang) -> None:
    """The decision's main reasons (the API's ``reasons``), each once, with their points."""
    if isinstance(explanation, ApiError):
        st.markdown(f"{WARN} {error_message(explanation, lang)}")
        return
    if not isinstance(explanation, Mapping):
        return
    reasons = list(explanation.get("reasons") or [])[:REASONS_SHOWN]
    decision = str(score["decision"])
    title = (
        f"reasons_borderline_{decision}"
        if charts.verdict(score) == "borderline"
        else f"reasons_{decision}"
    )
    st.markdown(f"**{t(title, lang)}**")
    if not reasons:
        st.markdown(t("why_none", lang))
        return
    st.markdown("\n".join(_reason_line(n, item, lang) for n, item in enumerate(reasons, 1)))


def counterfactual_view(counterfactual: Any, lang: Lang) -> None:
    """For a refusal: the smallest change that would get an accept, or why none does."""
    if counterfactual is None:
        return
    st.markdown(f"**:material/lightbulb: {t('cf_title', lang)}**")
    if isinstance(counterfactual, ApiError):
        st.markdown(f"{WARN} {error_message(counterfactual, lang)}")
        return
    options = counterfactual.get("options") or []
    if counterfactual.get("found") and options:
        st.markdown(str(options[0]["sentence"]))
        if len(options) > 1:
            note(t("cf_more", lang, n=len(options) - 1))
    else:
        st.markdown(str(counterfactual.get("summary") or ""))


def verdict_view(
    score: Mapping[str, Any],
    explanation: Any,
    counterfactual: Any,
    lang: Lang,
    key: str,
    level: int = 2,
) -> DeltaGenerator | None:
    """The decision first: accept, refuse or to review, and why; what would change a refusal.

    ``explanation`` and ``counterfactual`` may be an answer, an :class:`ApiError` (said in
    words in their place) or None (not shown); ``counterfactual`` may also be
    :data:`PENDING`: its place is kept with a waiting note, and returned, for the page to
    fill with :func:`counterfactual_view` once the answer is there (the decision and its
    reasons do not wait for it). ``level``: the decision's heading level, one below the
    heading it sits under (WCAG 1.3.1: headings in order).
    """
    kind = charts.verdict(score)
    pending = isinstance(counterfactual, str) and counterfactual == PENDING
    needed = pending or (
        counterfactual is not None
        and (isinstance(counterfactual, ApiError) or bool(counterfactual.get("needed")))
    )
    slot: DeltaGenerator | None = None
    with st.container(border=True, key=f"verdict-{kind}-{key}"):
        if needed:
            main_column, side = st.columns([3, 2], gap="large")
        else:
            main_column, side = st.container(), None
        with main_column:
            st.markdown(f"{'#' * level} {ICONS[kind]} {t(kind, lang)}")
            st.markdown(verdict_sentence(score, lang))
            if kind == "borderline":
                st.markdown(t("band_reason", lang))
            reasons_view(score, explanation, lang)
        if side is not None:
            with side:
                if pending:
                    slot = st.empty()
                    with slot.container():
                        st.markdown(f"**:material/lightbulb: {t('cf_title', lang)}**")
                        st.markdown(f":material/hourglass_top: {t('loading_cf', lang)}")
                else:
                    counterfactual_view(counterfactual, lang)
    return slot


def score_view(score: Mapping[str, Any], lang: Lang, key: str) -> None:
    """Gauge, then the facts: probability, threshold, zone to review, the model's decision."""
    probability, threshold = float(score["probability"]), float(score["threshold"])
    kind = charts.verdict(score)
    left, right = st.columns([3, 2])
    with left:
        show_chart(charts.gauge(score, lang), key=f"gauge-{key}")
    with right, st.container(border=True):
        st.markdown(labelled(t("probability", lang), percent(probability, lang), lang))
        st.markdown(labelled(t("threshold", lang), percent(threshold, lang), lang))
        zone = uncertainty_zone(score)
        if zone is not None:
            st.markdown(
                t("band_zone", lang, lower=percent(zone[0], lang), upper=percent(zone[1], lang))
            )
        st.markdown(labelled(t("decision", lang), f"{ICONS[kind]} {t(kind, lang)}", lang))
        note(t("model_version", lang, version=score["model_version"]))


def cost_note(card: Mapping[str, Any], lang: Lang) -> None:
    """Why the threshold is where it is: the business cost of each kind of error."""
    if card.get("cost_fn") and card.get("cost_fp"):
        ratio = float(card["cost_fn"]) / float(card["cost_fp"])
        note(t("cost_note", lang, fn=number(ratio, lang, 0 if ratio.is_integer() else 1)))


def score_panel(score: Mapping[str, Any], lang: Lang, key: str) -> None:
    """The score in detail, and why the threshold is where it is."""
    st.header(f":material/speed: {t('score_title', lang)}")
    score_view(score, lang, key=key)
    card = guarded(lang, api.model_card, lang)
    if card:
        cost_note(card, lang)
