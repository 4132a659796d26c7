"""New applicant: a file entered from scratch, scored and explained; nothing is stored."""

from __future__ import annotations

import streamlit as st

from dashboard import api, forms
from dashboard.api import ApiError
from dashboard.i18n import Lang, percent, t
from dashboard.panels import WARN, attempt, error_message, note
from dashboard.simulation import counterfactual_of, explained, simulate
from dashboard.verdict import score_view, verdict_view
from dashboard.why_tab import FACTORS_SHOWN, factors_view


def new_applicant_page(lang: Lang) -> None:
    """A file entered from scratch, scored and explained (nothing is stored).

    The fields the API requires are marked; a form without them is not sent.
    """
    st.title(t("new_title", lang))
    st.markdown(t("new_intro", lang))
    rule = api.inputs(lang).get("minimum_rule")
    if rule:
        st.info(str(rule), icon=":material/info:")
    version = st.session_state.setdefault("new-version", 0)
    problems: list[str] = []
    with st.form("new-applicant", enter_to_submit=False):
        application = forms.application_form(
            forms.NEW_FIELDS, {}, f"new-{version}", lang, problems=problems
        )
        with st.expander(t("new_more", lang)):
            application = forms.application_form(
                forms.NEW_OPTIONAL_FIELDS,
                application,
                f"new-more-{version}",
                lang,
                problems=problems,
            )
        run = st.form_submit_button(t("new_run", lang), type="primary")
    if run and problems:
        st.warning(t("fix_fields", lang, fields=", ".join(problems)), icon=WARN)
    elif run:
        st.session_state.pop("new-result", None)
        outcome = simulate(application, lang)
        if outcome is not None:
            st.session_state["new-result"] = outcome
    result = st.session_state.get("new-result")
    if result is None:
        return
    score = result["score"]
    explanation = attempt(explained, result, lang)
    counterfactual = (
        attempt(counterfactual_of, result, lang) if score["decision"] == "refuse" else None
    )
    verdict_view(score, explanation, counterfactual, lang, key="new", level=2)
    score_view(score, lang, key="new")
    st.subheader(t("why_title", lang))
    if isinstance(explanation, ApiError):
        st.error(error_message(explanation, lang), icon=WARN)
        return
    factors_view(explanation, lang, "new", FACTORS_SHOWN)
    note(t("why_method", lang, base=percent(float(explanation["base_probability"]), lang)))
