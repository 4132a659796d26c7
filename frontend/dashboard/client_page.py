"""The client file: find a client, the decision first, the summary card, the score, the tabs.

The tabs are a module each: why, compare, what if, and the advisor's decision.

The summary card's sections come in the order the API sends the fields; the dashboard only
holds their titles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import streamlit as st

from dashboard import api
from dashboard.api import ApiError
from dashboard.compare_tab import compare_panel
from dashboard.decision_tab import decision_panel
from dashboard.i18n import Lang, has_text, labelled, money, t
from dashboard.panels import WARN, attempt, error_message, guarded
from dashboard.verdict import score_panel, verdict_view
from dashboard.whatif_tab import whatif_panel
from dashboard.why_tab import EXPLANATION_TOP, why_panel

#: Sections of the summary card side by side.
CARD_COLUMNS = 4


def _open(client_id: int) -> None:
    st.session_state["client_id"] = client_id
    st.query_params["client"] = str(client_id)


def _level_texts(lang: Lang) -> dict[str, str]:
    """Category levels as the API writes them for people in ``lang``."""
    return {
        level["value"]: level["text"]
        for field in api.inputs(lang)["fields"]
        if field["kind"] == "category"
        for level in field["levels"] or []
    }


def _list_row(row: Mapping[str, Any], levels: Mapping[str, str], lang: Lang) -> str:
    def amount(value: Any) -> str:
        return "—" if value is None else money(float(value), lang)

    def level(value: Any) -> str:
        return "—" if value is None else levels.get(str(value), str(value))

    age = row.get("age_years")
    return t(
        "list_row",
        lang,
        id=row["client_id"],
        contract=level(row.get("contract_type")),
        income_type=level(row.get("income_type")),
        age="—" if age is None else f"{int(age)} {'ans' if lang == 'fr' else 'y'}",
        income=amount(row.get("income")),
        credit=amount(row.get("credit")),
    )


def find_client(lang: Lang) -> None:
    """Search by ID, or browse and search the list of new clients."""
    with st.form("find-id", border=False):
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        typed = left.text_input(t("find_id", lang), key="find-id-text", max_chars=12)
        if right.form_submit_button(t("find_open", lang), type="primary"):
            text = typed.strip()
            if text.isdigit():
                _open(int(text))
                st.rerun()  # the file is drawn above the finder: draw the page again
            else:
                st.warning(t("err_invalid", lang, detail=t("find_id", lang)), icon=WARN)
    query = st.text_input(
        t("find_search", lang), key="find-q", help=t("find_search_help", lang), max_chars=100
    )
    cursors: list[int | None] = st.session_state.setdefault("find-cursors", [None])
    if st.session_state.get("find-last-q") != query:
        cursors[:] = [None]
        st.session_state["find-last-q"] = query
    page = api.list_clients(q=query, cursor=cursors[-1])
    rows = page["clients"]
    if not rows:
        st.info(t("find_none", lang), icon=":material/search:")
        return
    levels = _level_texts(lang)
    labels = {row["client_id"]: _list_row(row, levels, lang) for row in rows}
    pick_key = f"find-pick-{len(cursors)}-{query}"

    def picked() -> None:  # only when the advisor picks: a typed ID later is not overridden
        chosen = st.session_state.get(pick_key)
        if chosen is not None:
            _open(int(chosen))

    st.selectbox(
        t("find_pick", lang),
        list(labels),
        index=None,
        format_func=lambda cid: labels[cid],
        key=pick_key,
        placeholder=t("find_prompt", lang),
        on_change=picked,
    )
    back, more = st.columns(2)
    if len(cursors) > 1 and back.button(t("find_first", lang)):
        cursors[:] = [None]
        st.rerun()
    if page.get("next_cursor") is not None and more.button(t("find_more", lang)):
        cursors.append(int(page["next_cursor"]))
        st.rerun()


def client_page(lang: Lang) -> None:
    """The client file: the decision first, then the file, then why, compare, what if, decide.

    The first screen needs three calls at most (score, explanation, and for a refusal the
    counterfactual); every later panel reuses those answers (and the API client's cache).
    """
    st.title(t("page_client", lang))
    asked = st.query_params.get("client")
    if "client_id" not in st.session_state and asked and asked.isdigit():
        st.session_state["client_id"] = int(asked)
    client_id: int | None = st.session_state.get("client_id")
    details: dict[str, Any] | None = None
    failure: ApiError | None = None
    if client_id is not None:
        try:
            details = api.client(client_id, lang)
        except ApiError as error:
            failure = error
    with st.expander(t("find_title", lang), expanded=details is None, icon=":material/search:"):
        guarded(lang, find_client, lang)
    if client_id is None:
        st.info(t("find_prompt", lang), icon=":material/person_search:")
        return
    if failure is not None and failure.kind == "not_found":
        st.warning(t("client_unknown", lang, id=client_id), icon=":material/person_off:")
        return
    if failure is not None or details is None:
        st.error(error_message(failure, lang) if failure else t("err_page", lang), icon=WARN)
        return
    score: dict[str, Any] | None = guarded(lang, api.score, client_id)
    explanation: Any = None
    counterfactual: Any = None
    if score is not None:
        explanation = attempt(api.explanation, client_id, lang, EXPLANATION_TOP)
        if score["decision"] == "refuse":
            counterfactual = attempt(api.counterfactual, client_id, lang)
        with st.container(key="decision-banner"):
            guarded(lang, verdict_view, score, explanation, counterfactual, lang, "client")
    if guarded(lang, summary_card, client_id, details, lang) is None or score is None:
        return
    guarded(lang, score_panel, score, lang, str(client_id))
    why, compare, whatif, decide = st.tabs(
        [
            f":material/help: {t('why_title', lang)}",
            f":material/bar_chart: {t('compare_title', lang)}",
            f":material/tune: {t('whatif_title', lang)}",
            f":material/edit_note: {t('decide_title', lang)}",
        ]
    )
    with why:
        guarded(lang, why_panel, client_id, explanation, lang)
    with compare:
        guarded(lang, compare_panel, client_id, details, explanation, lang)
    with whatif:
        guarded(lang, whatif_panel, client_id, score, explanation, counterfactual, lang)
    with decide:
        guarded(lang, decision_panel, client_id, score, lang)


# ----------------------------------------------------------------------------- summary card


def sections(fields: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """The client's fields by section, sections in the order the API first sends them."""
    by_section: dict[str, list[Mapping[str, Any]]] = {}
    for field in fields:
        by_section.setdefault(str(field["section"]), []).append(field)
    return by_section


def section_title(section: str, lang: Lang) -> str:
    """A section's title (the dashboard's words; a section it does not know is "other")."""
    key = f"section_{section}"
    return t(key if has_text(key) else "section_other", lang)


def summary_card(client_id: int, details: Mapping[str, Any], lang: Lang) -> bool:
    """The client's descriptive fields, by section (True once shown)."""
    st.header(t("card_title", lang, id=client_id))
    by_section = sections(details["fields"])
    shown = list(by_section)
    for start in range(0, len(shown), CARD_COLUMNS):
        row = zip(st.columns(CARD_COLUMNS), shown[start : start + CARD_COLUMNS], strict=False)
        for column, section in row:
            with column.container(border=True):
                st.markdown(f"**{section_title(section, lang)}**")
                lines = [labelled(f["label"], f["text"], lang) for f in by_section[section]]
                st.markdown("  \n".join(lines))
    return True
