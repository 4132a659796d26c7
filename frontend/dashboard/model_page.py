"""The model: its card, calibration and fairness by group, importance, drift."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import streamlit as st

from dashboard import api, charts
from dashboard.api import ApiError
from dashboard.i18n import Lang, labelled, number, percent, points, t, word_for
from dashboard.panels import guarded, local_time, note, show_chart
from dashboard.verdict import cost_note

#: Features in the global importance chart.
IMPORTANCE_TOP = 15
#: Inputs in the drift chart, the most changed first.
DRIFT_TOP = 15


def model_page(lang: Lang) -> None:
    """Model card, global importance and data drift."""
    st.title(t("model_title", lang))
    guarded(lang, model_card_panel, lang)
    guarded(lang, fairness_panel, lang)
    guarded(lang, importance_panel, lang)
    guarded(lang, drift_panel, lang)


def model_card_panel(lang: Lang) -> None:
    """What the model is, how it was chosen, how well it does."""
    card = api.model_card(lang)
    st.header(t("model_card", lang))
    metrics = card.get("metrics", {})
    training = card.get("training_data", {})
    st.markdown(
        f"{t('model_version', lang, version=card['model_version'])} · "
        f"{labelled(t('model_type', lang), word_for('model', card.get('model_type'), lang), lang)}"
        " · "
        f"{t('model_trained', lang)} **{local_time(card.get('created_at') or '', lang)}**"
    )
    row = st.columns(4)
    row[0].metric(t("threshold", lang), percent(float(card["threshold"]), lang))
    row[1].metric(t("metric_auc", lang), number(float(metrics.get("cv_auc", 0)), lang, 3))
    row[2].metric(t("metric_recall", lang), percent(float(metrics.get("recall", 0)), lang))
    row[3].metric(t("metric_refusal", lang), percent(float(metrics.get("refusal_rate", 0)), lang))
    row = st.columns(4)
    row[0].metric(
        t("metric_cost", lang), number(float(metrics.get("cv_cost_per_client", 0)), lang, 3)
    )
    row[1].metric(t("model_clients", lang), number(float(training.get("n_clients", 0)), lang))
    row[2].metric(
        t("model_default_rate", lang), percent(float(training.get("default_rate", 0)), lang)
    )
    cost_note(card, lang)
    fingerprint = (training.get("sha256") or "")[:12]
    if fingerprint:
        note(t("model_data", lang, file=training.get("file") or "—", sha=fingerprint))
    uses, limits = st.columns(2)
    with uses:
        st.markdown(f"**{t('model_use', lang)}**")
        st.markdown("\n".join(f"- {item}" for item in card.get("intended_use") or []) or "—")
    with limits:
        st.markdown(f"**{t('model_limits', lang)}**")
        st.markdown("\n".join(f"- {item}" for item in card.get("known_limits") or []) or "—")
    candidates: Sequence[Mapping[str, Any]] = card.get("comparison") or []
    if candidates:

        def share(value: Any) -> str:
            return "—" if value is None else percent(float(value), lang)

        def decimals(value: Any) -> str:
            return "—" if value is None else number(float(value), lang, 3)

        with st.expander(t("model_candidates", lang)):
            st.table(
                [
                    {
                        t("col_model", lang): word_for("model", c.get("model"), lang),
                        t("col_imbalance", lang): word_for("imbalance", c.get("imbalance"), lang),
                        "AUC": decimals(c.get("auc")),
                        t("metric_cost", lang): decimals(c.get("cost_per_client")),
                        t("threshold", lang): share(c.get("threshold")),
                    }
                    for c in candidates
                ]
            )


def fairness_panel(lang: Lang) -> None:
    """Calibration of the probabilities, and decisions by gender, age band and family status."""
    card = api.model_card(lang)
    calibration: Mapping[str, Any] | None = card.get("calibration")
    fairness: Mapping[str, Any] | None = card.get("fairness")
    st.header(t("fairness_title", lang))
    if calibration:
        st.markdown(calibration_text(calibration, lang))
    if not fairness:
        st.info(t("fairness_none", lang), icon=":material/info:")
        return
    threshold = percent(float(fairness["threshold"]), lang)
    st.markdown(
        t("fairness_intro", lang, n=number(float(fairness["n_clients"]), lang), thr=threshold)
    )
    minimum = int(fairness.get("min_group_size", 0))
    for dimension in (fairness.get("dimensions") or {}).values():
        st.markdown(parity_text(dimension, minimum, lang))
        opportunity = opportunity_text(dimension, lang)
        if opportunity:
            st.markdown(opportunity)
        caption = t("fairness_caption", lang, dimension=dimension["label"], thr=threshold)
        st.markdown(fairness_table(caption, dimension["groups"], lang), unsafe_allow_html=True)
    note(t("fairness_small", lang, n=minimum))


def calibration_text(calibration: Mapping[str, Any], lang: Lang) -> str:
    """ECE and Brier score in words, and whether the probabilities were corrected."""
    figures = t(
        "calibration_figures",
        lang,
        bins=int(calibration.get("n_bins", 10)),
        ece=points(float(calibration["ece"]), lang),
        brier=number(float(calibration["brier"]), lang, 3),
    )
    if calibration.get("calibrated"):
        after = t(
            "calibration_shifted",
            lang,
            shift=number(float(calibration.get("logit_shift", 0)), lang, 3),
            before=points(float(calibration["before"]["ece"]), lang),
        )
    else:
        after = t("calibration_kept", lang, tol=points(float(calibration["tolerance"]), lang))
    return f"{figures} {after}"


def _rated(groups: Sequence[Mapping[str, Any]], key: str) -> list[Mapping[str, Any]]:
    return [g for g in groups if g.get(key) is not None]


def parity_text(dimension: Mapping[str, Any], minimum: int, lang: Lang) -> str:
    """Approval rates by group, their ratio and the four-fifths rule, in one sentence.

    "Taux d'accord : femmes 78 %, hommes 71 % — rapport 0,91 (règle ... respectée)."
    """
    rates = ", ".join(
        f"{g['label']} {percent(float(g['approval_rate']), lang)}"
        for g in _rated(dimension["groups"], "approval_rate")
    )
    ratio = dimension.get("parity_ratio")
    if ratio is None:
        return t("fairness_parity_none", lang, rates=rates or "—", n=minimum)
    broken = bool(dimension.get("below_four_fifths"))
    rule = t("fairness_rule_broken" if broken else "fairness_rule_met", lang)
    return t("fairness_parity", lang, rates=rates, ratio=number(float(ratio), lang, 2), rule=rule)


def opportunity_text(dimension: Mapping[str, Any], lang: Lang) -> str | None:
    """The spread of the true-positive rates (defaulters refused), if at least two are known."""
    gap = dimension.get("equal_opportunity_gap")
    rates = [
        float(g["true_positive_rate"]) for g in _rated(dimension["groups"], "true_positive_rate")
    ]
    if gap is None or len(rates) < 2:
        return None
    return t(
        "fairness_opportunity",
        lang,
        low=percent(min(rates), lang),
        high=percent(max(rates), lang),
        gap=points(float(gap), lang),
    )


def fairness_table(caption: str, groups: Sequence[Mapping[str, Any]], lang: Lang) -> str:
    """An HTML table with its caption and header cells (WCAG 1.3.1): one row a group."""

    def share(value: Any) -> str:
        return "—" if value is None else percent(float(value), lang)

    def cell(text: str) -> str:
        return f'<td style="text-align: right">{html.escape(text, quote=False)}</td>'

    keys = ("col_approval", "col_default_approved", "col_false_positive", "col_false_negative")
    header = "".join(
        f'<th scope="col">{html.escape(t(key, lang), quote=False)}</th>'
        for key in ("col_group", "col_clients", *keys)
    )
    rows = "".join(
        "<tr>"
        f'<th scope="row">{html.escape(str(g["label"]), quote=False)}</th>'
        + cell(number(float(g["n"]), lang))
        + "".join(
            cell(share(g.get(key)))
            for key in (
                "approval_rate",
                "default_rate_approved",
                "false_positive_rate",
                "false_negative_rate",
            )
        )
        + "</tr>"
        for g in groups
    )
    return (
        f"<table><caption>{html.escape(caption, quote=False)}</caption>"
        f"<thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>"
    )


def importance_panel(lang: Lang) -> None:
    """Global importance (mean |TreeSHAP|)."""
    answer = api.importance(lang, top=IMPORTANCE_TOP)
    show_chart(charts.importance(answer["features"], lang), key="importance")
    note(t("importance_method", lang, n=number(float(answer.get("n_clients_sampled") or 0), lang)))


def drift_panel(lang: Lang) -> None:
    """The latest data-drift summary, if one was published."""
    st.header(t("drift_title", lang))
    try:
        summary = api.drift()
    except ApiError as error:
        if error.kind == "not_found":
            st.info(t("drift_none", lang), icon=":material/info:")
            return
        raise
    n, total = int(summary.get("n_drifted", 0)), int(summary.get("n_features", 0))
    share = percent(float(summary.get("drift_share", 0)), lang)
    verdict = summary.get("verdict")
    if verdict == "drift":
        st.warning(
            t("drift_verdict_drift", lang, n=n, total=total, share=share),
            icon=":material/trending_down:",
        )
    elif verdict == "insufficient data":
        rows = summary.get("current", {}).get("rows", 0)
        st.info(t("drift_verdict_few", lang, rows=rows), icon=":material/info:")
    else:
        st.success(
            t("drift_verdict_ok", lang, n=n, total=total, share=share),
            icon=":material/check_circle:",
        )
    note(
        t(
            "drift_meta",
            lang,
            at=local_time(str(summary.get("generated_at", "")), lang),
            ref=number(float(summary.get("reference", {}).get("rows", 0)), lang),
            cur=number(float(summary.get("current", {}).get("rows", 0)), lang),
            thr=percent(float(summary.get("share_threshold", 0)), lang, 0),
        )
    )
    prediction = summary.get("prediction") or {}
    if prediction:

        def value(key: str, write: Callable[[float], str]) -> str:
            found = prediction.get(key)
            return "—" if found is None else write(float(found))

        st.markdown(
            t(
                "drift_prediction",
                lang,
                ref=value("reference_mean", lambda v: percent(v, lang)),
                cur=value("current_mean", lambda v: percent(v, lang)),
                psi=value("psi", lambda v: number(v, lang, 3)),
            )
        )
    features = sorted(summary.get("features", []), key=lambda f: -(f.get("psi") or 0.0))[:DRIFT_TOP]
    if features:
        show_chart(charts.drift(features, lang), key="drift")
