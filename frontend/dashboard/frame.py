"""The dashboard's frame: the page set up, the sidebar, the API's state, then one page.

Pages, in the order of an advisor's journey:

* client file (:mod:`dashboard.client_page`): find a client; the decision first (accept,
  refuse, or to review when the score lies in the model's uncertainty zone), its main reasons
  in percentage points and, for a refusal, the smallest change that would get an accept; then
  the summary card, the score in detail, why, compare, what if, and the advisor's decision;
* new applicant (:mod:`dashboard.new_applicant`): a file entered from scratch (the API's
  minimum fields marked), scored and explained;
* the model (:mod:`dashboard.model_page`): model card, global importance, data drift.

The dashboard shows the API's decision and band; it never compares a probability with the
threshold itself.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import streamlit as st

from dashboard import api, auth, charts, timing
from dashboard.api import ApiError
from dashboard.client_page import client_page, start_file
from dashboard.i18n import DEFAULT_LANG, LANGS, Lang, t
from dashboard.model_page import model_page
from dashboard.new_applicant import new_applicant_page
from dashboard.panels import WARN, error_message, guarded
from dashboard.signin import signed_in

VIEWS = ("client", "new", "model")
VIEW_TITLES = {"client": "page_client", "new": "page_new", "model": "page_model"}
#: The decision banner's tint and left rule, behind words and an icon that carry the meaning
#: on their own; dark text on each tint stays above 12:1 (WCAG 1.4.3), the rule is a graphic
#: (1.4.11) in the charts' colours.
BANNER_COLOURS = {
    "accept": ("#E7F1F8", charts.BLUE),
    "refuse": ("#FBEAE1", charts.DARK_VERMILLION),
    "borderline": ("#FFF3D1", charts.DARK_AMBER),
}
BANNER_STYLE = (
    "<style>\n"
    '[class*="st-key-verdict-"] { border-left: 0.5rem solid; }\n'
    + "".join(
        f'[class*="st-key-verdict-{kind}"] {{ background: {tint}; border-left-color: {rule}; }}\n'
        for kind, (tint, rule) in BANNER_COLOURS.items()
    )
    # Streamlit writes "Press Enter to apply" under a text box in English and cannot be told
    # otherwise; the search box says it in the advisor's words in its help instead.
    + '[data-testid="InputInstructions"] { display: none; }\n'
    + "</style>"
)


def _sidebar(lang: Lang) -> str:
    with st.sidebar:
        st.radio(
            "Langue · Language",
            LANGS,
            format_func=lambda code: {"fr": "Français", "en": "English"}[code],
            horizontal=True,
            key="lang",
        )
        view = st.radio(
            t("nav", lang),
            VIEWS,
            format_func=lambda v: t(VIEW_TITLES[v], lang),
            key="view",
        )
    return str(view)


def _health(lang: Lang, asked: Future[Any] | None = None) -> bool:
    """Show the API's state in the sidebar; False (with a message) when it cannot be used.

    ``asked``: the health call, already started (:func:`api.in_background`); else asked here.
    """
    try:
        state = api.health() if asked is None else asked.result()
    except ApiError as error:
        st.error(error_message(error, lang), icon=WARN)
        if st.button(t("retry", lang)):
            st.rerun()
        with st.sidebar:
            st.markdown(f":material/cloud_off: {t('api_down', lang)}")
        return False
    with st.sidebar:
        st.markdown(
            f":material/cloud_done: {t('api_ok', lang, version=state.get('model_version') or '—')}"
        )
    return True


def main() -> None:
    """The whole dashboard, run by Streamlit at every interaction."""
    timing.configure_logging()
    timing.run_started()
    if "lang" not in st.session_state:
        asked = st.query_params.get("lang")
        st.session_state["lang"] = asked if asked in LANGS else DEFAULT_LANG
    if "view" not in st.session_state and st.query_params.get("view") in VIEWS:
        st.session_state["view"] = st.query_params["view"]
    lang: Lang = st.session_state["lang"]
    view = st.session_state.get("view", "client")  # the sidebar's choice, set before the run
    # The first screen's calls start first of all, before the page is laid out: a file's
    # calls and the API's health, together (one round trip for all; the first run of a
    # session spends a tenth of a second on the sidebar alone).
    ready = api.load_config().token != ""
    load = start_file(lang) if ready and view == "client" else None
    health = api.in_background(api.health) if ready else None
    # The options menu's items (Print, Record a screencast, Settings, About) are Streamlit's
    # English words: "minimal" keeps only the items the app gives, and it gives none.
    st.set_option("client.toolbarMode", "minimal")
    st.set_page_config(
        page_title=f"{t(VIEW_TITLES.get(view, 'page_client'), lang)} · Prêt à dépenser",
        page_icon=":material/credit_score:",
        layout="wide",
        menu_items={"Get help": None, "Report a bug": None, "About": None},
    )
    view = _sidebar(lang)
    with st.sidebar:  # WCAG 3.1.1: the page's language is the advisor's (Streamlit says "en")
        st.html(
            f"<script>document.documentElement.lang = {lang!r};</script>",
            unsafe_allow_javascript=True,
        )
        st.html(BANNER_STYLE)
    cognito = auth.cognito_config()
    if cognito is not None and not signed_in(cognito, lang):
        return
    if api.load_config().token == "":
        st.error(t("err_config", lang), icon=WARN)
        return
    if not _health(lang, health):
        return
    if view == "new":
        guarded(lang, new_applicant_page, lang)
    elif view == "model":
        model_page(lang)
    else:
        client_page(lang, load)
    timing.milestone("done")
