"""The client file: find a client, the decision first, the summary card, the score, the tabs.

The landing page is the advisors' worklist: new clients waiting for a decision, a page at a
time, with what their score says, filtered by it and searched; a click opens a file.

A file's first screen (decision, reasons, summary card, score) costs one round trip: its calls
start together, in worker threads, even before the API's health is known (:func:`start_file`);
a refusal's counterfactual starts as soon as the score says "refuse", and its place in the
banner waits for it while the rest of the page shows. The tabs are a module each (why,
compare, what if, the advisor's decision) and load only when opened.

The summary card's sections come in the order the API sends the fields; the dashboard only
holds their titles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import streamlit as st

from dashboard import api, charts, timing
from dashboard.api import ApiError
from dashboard.compare_tab import compare_panel
from dashboard.decision_tab import decision_panel
from dashboard.i18n import LANGS, UNIT_SPACE, Lang, has_text, labelled, money, percent, t
from dashboard.panels import ICONS, WARN, attempt, error_message, guarded
from dashboard.verdict import PENDING, counterfactual_view, score_panel, verdict_view
from dashboard.whatif_tab import whatif_panel
from dashboard.why_tab import EXPLANATION_TOP, why_panel

#: The summary card's sections sit side by side, each at least this wide, and wrap onto as
#: many lines as the screen needs: four on a laptop, two at 200 % zoom, one at 400 %
#: (WCAG 1.4.10: no label clipped, no horizontal scrolling).
CARD_MIN_WIDTH = "17rem"
CARD_STYLE = (
    "<style>\n"
    ".st-key-summary-card [data-testid='stHorizontalBlock'] { flex-wrap: wrap; }\n"
    ".st-key-summary-card [data-testid='stColumn'] {\n"
    f"  flex: 1 1 {CARD_MIN_WIDTH} !important; min-width: min({CARD_MIN_WIDTH}, 100%) !important;\n"
    "  overflow-wrap: anywhere;\n"
    "}\n"
    "</style>"
)


#: The file's tabs, in order, and their titles' icons.
FILE_TABS = {
    "why": (":material/help:", "why_title"),
    "compare": (":material/bar_chart:", "compare_title"),
    "whatif": (":material/tune:", "whatif_title"),
    "decide": (":material/edit_note:", "decide_title"),
}
#: The worklist's score filter: every client, or what the score says.
VERDICTS = (None, "accept", "borderline", "refuse")


def _open(client_id: int) -> None:
    st.session_state["client_id"] = client_id
    st.query_params["client"] = str(client_id)


def asked_client() -> int | None:
    """The client whose file is open: chosen in this session, or asked in the link."""
    asked = st.query_params.get("client")
    if "client_id" not in st.session_state and asked and asked.isdigit():
        st.session_state["client_id"] = int(asked)
    chosen = st.session_state.get("client_id")
    return None if chosen is None else int(chosen)


@dataclass(frozen=True)
class FileLoad:
    """The calls of a file's first screen, started together (each answer or ApiError)."""

    client_id: int
    lang: Lang
    details: Future[Any]
    score: Future[Any]
    explanation: Future[Any]
    card: Future[Any]
    #: Its answer is None unless the score says "refuse" (an accepted file asks for none).
    counterfactual: Future[Any]


def _counterfactual_after(score: Future[Any], client_id: int, lang: Lang) -> Any:
    """The counterfactual of a refused file, asked as soon as the score is known."""
    answer = score.result()  # the score's ApiError is the score's to show
    return api.counterfactual(client_id, lang) if answer["decision"] == "refuse" else None


def start_file(lang: Lang) -> FileLoad | None:
    """Start the first screen's calls of the file asked for, if any, all at once."""
    client_id = asked_client()
    if client_id is None:
        return None
    score = api.in_background(api.score, client_id)
    return FileLoad(
        client_id=client_id,
        lang=lang,
        details=api.in_background(api.client, client_id, lang),
        score=score,
        explanation=api.in_background(api.explanation, client_id, lang, EXPLANATION_TOP),
        card=api.in_background(api.model_card, lang),
        counterfactual=api.in_background(_counterfactual_after, score, client_id, lang),
    )


def _answer(future: Future[Any]) -> Any:
    """A started call's answer, or its ApiError (for the panel that needs it to say)."""
    return attempt(future.result)


def tab_label(name: str, lang: Lang) -> str:
    """The title of one of the file's tabs (:data:`FILE_TABS`)."""
    icon, key = FILE_TABS[name]
    return f"{icon} {t(key, lang)}"


def _open_tab_key(client_id: int) -> str:
    """Session key of the tab last open in a client's file (its name: any language)."""
    return f"file-open-tab-{client_id}"


def _tab_key(client_id: int, lang: Lang) -> tuple[str, str | None]:
    """The tabs' key in ``lang``, and the tab to open first (the one open in the other language).

    The tabs' widget state is per language (their labels change), and Streamlit forgets a
    widget's state after a run that did not draw it: the open tab's name is also kept under a
    plain key, so the advisor stays on their tab across a language switch and the runs after.
    """
    key = f"file-tab-{client_id}-{lang}"
    if key in st.session_state:
        return key, None
    remembered = st.session_state.get(_open_tab_key(client_id))
    if remembered in FILE_TABS:
        return key, tab_label(str(remembered), lang)
    for other in LANGS:
        chosen = st.session_state.get(f"file-tab-{client_id}-{other}")
        for name in FILE_TABS:
            if other != lang and chosen == tab_label(name, other):
                return key, tab_label(name, lang)
    return key, None


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
        age="—" if age is None else f"{int(age)}{UNIT_SPACE}{'ans' if lang == 'fr' else 'years'}",
        income=amount(row.get("income")),
        credit=amount(row.get("credit")),
    )


def _open_typed() -> None:
    """Open the file of the number typed in the finder (a callback: before the page runs).

    Opening it before the run, rather than from within it, saves a run of the last file's
    page (and, when the API's health has expired from the cache, a round trip).
    """
    text = str(st.session_state.get("find-id-text") or "").strip()
    if text.isdigit():
        _open(int(text))
    else:
        st.session_state["find-id-invalid"] = True


def find_by_id(lang: Lang) -> None:
    """Open a file by its client number."""
    with st.form("find-id", border=False, enter_to_submit=False):
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        left.text_input(
            t("find_id", lang),
            key="find-id-text",
            max_chars=12,
            help=t("find_id_help", lang),
            placeholder="100001",
        )
        right.form_submit_button(t("find_open", lang), type="primary", on_click=_open_typed)
        if st.session_state.pop("find-id-invalid", False):
            st.warning(t("err_invalid", lang, detail=t("find_id", lang)), icon=WARN)


def _score_text(row: Mapping[str, Any], lang: Lang) -> str:
    """What a listed client's score says: the API's band and decision, and the probability."""
    if row.get("probability") is None or row.get("decision") is None:
        return t("wl_no_score", lang)
    kind = charts.verdict(row)
    return f"{ICONS[kind]} " + t(
        "wl_score",
        lang,
        verdict=t(f"wl_verdict_{kind}", lang),
        prob=percent(float(row["probability"]), lang),
    )


def worklist(lang: Lang) -> None:
    """New clients waiting for a decision, a page at a time: filter, search, open a file."""
    st.subheader(f":material/checklist: {t('wl_title', lang)}")
    left, middle = st.columns([3, 2], vertical_alignment="bottom")
    query = left.text_input(
        t("find_search", lang), key="find-q", help=t("find_search_help", lang), max_chars=100
    )
    verdict = middle.selectbox(
        t("wl_verdict", lang),
        VERDICTS,
        format_func=lambda v: t(f"wl_verdict_{v or 'all'}", lang),
        key="wl-verdict",
    )
    pending = st.toggle(t("wl_pending", lang), value=True, key="wl-pending")
    filters = (query, verdict, pending)
    cursors: list[int | None] = st.session_state.setdefault("find-cursors", [None])
    if st.session_state.get("find-last-filters") != filters:
        cursors[:] = [None]  # new filters: back to the start of the list
        st.session_state["find-last-filters"] = filters
    with st.spinner(t("loading_tab", lang)):
        page = api.worklist(q=query, verdict=verdict, pending=pending, cursor=cursors[-1])
    rows = page["clients"]
    more = page.get("next_cursor") is not None
    if not rows:
        st.info(t("wl_none" if more else "wl_empty", lang), icon=":material/search:")
    else:
        levels = _level_texts(lang)
        with st.container(key="worklist"):
            for row in rows:
                client_id = int(row["client_id"])
                line = st.columns([2, 7, 3, 3], vertical_alignment="center")
                line[0].button(
                    t("wl_open", lang, id=client_id),
                    key=f"wl-open-{client_id}",
                    help=t("wl_open_help", lang, id=client_id),
                    on_click=_open,
                    args=(client_id,),
                )
                line[1].markdown(_list_row(row, levels, lang).split(" · ", 1)[-1])
                line[2].markdown(_score_text(row, lang))
                decided = t("wl_decided" if row.get("decided") else "wl_waiting", lang)
                line[3].markdown(decided)
    back, forward = st.columns(2)
    if len(cursors) > 1 and back.button(t("find_first", lang)):
        cursors[:] = [None]
        st.rerun()
    if more and forward.button(t("find_more", lang)):
        cursors.append(int(page["next_cursor"]))
        st.rerun()


def find_client(lang: Lang) -> None:
    """Open a file by its number, or from the worklist."""
    find_by_id(lang)
    worklist(lang)


def client_page(lang: Lang, load: FileLoad | None = None) -> None:
    """The client file: the decision first, then the file, then why, compare, what if, decide.

    ``load``: the first screen's calls, started by :func:`start_file` (started here if not).
    Without a client: the worklist.
    """
    st.title(t("page_client", lang))
    client_id = asked_client()
    if client_id is None:
        guarded(lang, find_client, lang)
        st.info(t("find_prompt", lang), icon=":material/person_search:")
        return
    if load is None or load.client_id != client_id or load.lang != lang:
        load = start_file(lang)
    assert load is not None  # a client is asked for
    with st.spinner(t("loading_file", lang)):
        details = _answer(load.details)
    timing.milestone("client details in")
    failure = details if isinstance(details, ApiError) else None
    finder = st.expander(
        t("find_title", lang),
        expanded=failure is not None,
        icon=":material/search:",
        key=f"finder-{client_id}",
        on_change="rerun",
    )
    if finder.open is not False:  # the worklist is loaded only when the finder is opened
        with finder:
            guarded(lang, find_client, lang)
    if failure is not None and failure.kind == "not_found":
        st.warning(t("client_unknown", lang, id=client_id), icon=":material/person_off:")
        return
    if failure is not None or details is None:
        st.error(error_message(failure, lang) if failure else t("err_page", lang), icon=WARN)
        return
    with st.spinner(t("loading_file", lang)):
        score: dict[str, Any] | None = guarded(lang, load.score.result)
        explanation: Any = _answer(load.explanation) if score is not None else None
    timing.milestone("score and explanation in")
    slot = None
    if score is not None:
        refused = score["decision"] == "refuse"
        with st.container(key="decision-banner"):
            slot = guarded(
                lang,
                verdict_view,
                score,
                explanation,
                PENDING if refused else None,
                lang,
                f"client-{client_id}",  # a new file, a new banner (not the last one updated)
            )
        timing.milestone("banner drawn")
    if guarded(lang, summary_card, client_id, details, lang) is None or score is None:
        return
    _answer(load.card)  # already asked: the score panel finds it in the cache
    guarded(lang, score_panel, score, lang, str(client_id))
    counterfactual: list[Any] = []

    def refusal_change() -> Any:  # waited for once, by the first panel that needs it
        if not counterfactual:
            counterfactual.append(_answer(load.counterfactual))
        return counterfactual[0]

    tab_key, first = _tab_key(client_id, lang)
    tabs = st.tabs(
        [tab_label(name, lang) for name in FILE_TABS],
        key=tab_key,
        default=first,
        on_change="rerun",
    )
    for name, tab in zip(FILE_TABS, tabs, strict=True):
        if tab.open is False:  # a tab is drawn (and its data fetched) only when opened
            continue
        if tab.open:
            st.session_state[_open_tab_key(client_id)] = name
        with tab, st.spinner(t("loading_tab", lang)):
            if name == "why":
                guarded(lang, why_panel, client_id, explanation, lang)
            elif name == "compare":
                guarded(lang, compare_panel, client_id, details, explanation, lang)
            elif name == "whatif":
                guarded(lang, whatif_panel, client_id, score, explanation, refusal_change(), lang)
            else:
                guarded(lang, decision_panel, client_id, score, lang)
    if slot is not None:
        with slot.container():
            guarded(lang, counterfactual_view, refusal_change(), lang)


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
    st.html(CARD_STYLE)
    by_section = sections(details["fields"])
    with st.container(key="summary-card"):
        for column, section in zip(st.columns(len(by_section)), by_section, strict=True):
            with column.container(border=True):
                st.markdown(f"**{section_title(section, lang)}**")
                lines = [labelled(f["label"], f["text"], lang) for f in by_section[section]]
                st.markdown("  \n".join(lines))
    return True
