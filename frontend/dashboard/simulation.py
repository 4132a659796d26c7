"""Applications not on file, scored and explained by the API; nothing is stored.

A "what if" on a client's file and a new applicant; answers are kept per language in the
session.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import api, forms
from dashboard.api import ApiError
from dashboard.i18n import Lang, t
from dashboard.panels import INSUFFICIENT, WARN, error_message
from dashboard.why_tab import EXPLANATION_TOP


def simulate(application: dict[str, Any], lang: Lang) -> dict[str, Any] | None:
    """:func:`simulated` once the application has the API's minimum; else None.

    The advisor is then told which fields to fill in (from ``GET /inputs``, or from the
    API's 422 answer, in case the two ever differ).
    """
    missing = forms.missing_required(application, forms.field_specs(lang))
    if missing:
        st.warning(t("err_insufficient", lang, fields=forms.missing_text(missing, lang)), icon=WARN)
        return None
    try:
        return simulated(application)
    except ApiError as error:
        if error.code != INSUFFICIENT:
            raise
        st.warning(error_message(error, lang), icon=WARN)
        return None


def simulated(application: dict[str, Any]) -> dict[str, Any]:
    """Score an application not on file; its explanations are kept per language.

    Raises :class:`ApiError` (``insufficient_information``) when the API finds too little
    to score: the caller shows which fields are missing.
    """
    return {
        "application": application,
        "score": api.score_application(application),
        "explanations": {},
        "counterfactuals": {},
    }


def explained(result: dict[str, Any], lang: Lang) -> Any:
    """The explanation of a simulated application in ``lang`` (asked once per language)."""
    by_lang: dict[str, Any] = result["explanations"]
    if lang not in by_lang:
        by_lang[lang] = api.explain_application(result["application"], lang, EXPLANATION_TOP)
    return by_lang[lang]


def counterfactual_of(result: dict[str, Any], lang: Lang) -> Any:
    """What would get a simulated application accepted, in ``lang`` (asked once)."""
    by_lang: dict[str, Any] = result.setdefault("counterfactuals", {})
    if lang not in by_lang:
        by_lang[lang] = api.counterfactual_application(result["application"], lang)
    return by_lang[lang]
