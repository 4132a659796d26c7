"""The model: its card (what it is, how it was chosen, how well it does), importance, drift."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import streamlit as st

from dashboard import api, charts
from dashboard.api import ApiError
from dashboard.i18n import Lang, labelled, number, percent, t
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
    guarded(lang, importance_panel, lang)
    guarded(lang, drift_panel, lang)


def model_card_panel(lang: Lang) -> None:
    """What the model is, how it was chosen, how well it does."""
    card = api.model_card(lang)
    st.subheader(t("model_card", lang))
    metrics = card.get("metrics", {})
    training = card.get("training_data", {})
    st.markdown(
        f"{t('model_version', lang, version=card['model_version'])} · "
        f"{labelled(t('model_type', lang), card.get('model_type') or '—', lang)} · "
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
                        t("col_model", lang): c.get("model"),
                        t("col_imbalance", lang): c.get("imbalance"),
                        "AUC": decimals(c.get("auc")),
                        t("metric_cost", lang): decimals(c.get("cost_per_client")),
                        t("threshold", lang): share(c.get("threshold")),
                    }
                    for c in candidates
                ]
            )


def importance_panel(lang: Lang) -> None:
    """Global importance (mean |TreeSHAP|)."""
    answer = api.importance(lang, top=IMPORTANCE_TOP)
    show_chart(charts.importance(answer["features"], lang), key="importance")
    note(t("importance_method", lang, n=number(float(answer.get("n_clients_sampled") or 0), lang)))


def drift_panel(lang: Lang) -> None:
    """The latest data-drift summary, if one was published."""
    st.subheader(t("drift_title", lang))
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
