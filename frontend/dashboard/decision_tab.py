"""The advisor's decision on a client's file, with a comment, and the decisions recorded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from dashboard import api, charts
from dashboard.i18n import Lang, percent, t
from dashboard.panels import ICONS, local_time
from dashboard.widgets import lang_key


def decision_panel(client_id: int, score: Mapping[str, Any], lang: Lang) -> None:
    """Record the advisor's decision with a comment, and show earlier decisions.

    The model's decision is proposed, except for a file to review: there the advisor
    chooses, and says in the comment what was checked.
    """
    st.subheader(t("decide_title", lang))
    choices = ("accept", "refuse")
    borderline = charts.verdict(score) == "borderline"
    if borderline:
        st.markdown(f"{ICONS['borderline']} {t('decide_borderline', lang)}")
    with st.form(f"decide-{client_id}", clear_on_submit=False, enter_to_submit=False):
        choice_key, carried = lang_key(f"decide-choice-{client_id}", lang)
        choice = st.radio(
            t("decide_choice", lang),
            choices,
            index=None if borderline or carried else choices.index(str(score["decision"])),
            format_func=lambda c: f"{ICONS[c]} {t(c, lang)}",
            horizontal=True,
            key=choice_key,
        )
        comment = st.text_area(
            t("decide_comment", lang),
            max_chars=1000,
            key=f"decide-comment-{client_id}",
            help=t("decide_against", lang),
        )
        submitted = st.form_submit_button(t("decide_submit", lang), type="primary")
    if submitted:
        if choice is None:
            st.warning(t("decide_need_choice", lang), icon=":material/edit:")
        elif borderline and not comment.strip():
            st.warning(t("decide_need_check", lang), icon=":material/edit:")
        elif choice != score["decision"] and not comment.strip():
            st.warning(t("decide_need_reason", lang), icon=":material/edit:")
        else:
            record = api.record_decision(client_id, str(choice), comment.strip())
            st.success(
                t("decide_done", lang, at=local_time(record["decided_at"], lang)),
                icon=":material/check_circle:",
            )
    st.markdown(f"**{t('decide_history', lang)}**")
    history = api.decisions(client_id)["decisions"]
    if not history:
        st.markdown(t("decide_none", lang))
        return
    st.table(
        [
            {
                t("col_at", lang): local_time(d["decided_at"], lang),
                t("col_decision", lang): f"{ICONS.get(d['decision'], '')} {t(d['decision'], lang)}",
                t("col_comment", lang): d.get("comment") or "",
                t("col_advisor", lang): d.get("advisor") or "",
                t("col_probability", lang): percent(float(d["probability"]), lang),
                t("col_model", lang): d.get("model_version") or "",
            }
            for d in reversed(history)
        ]
    )
