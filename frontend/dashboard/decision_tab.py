"""The advisor's decision on a client's file: recorded exactly once, replaced only on purpose.

* One Idempotency-Key per form submission, kept in the session until the API says the
  decision is recorded: a double click, or a second try after a failure that the API had in
  fact recorded, gets the first record back instead of writing a second one.
* The button is drawn disabled while the decision is sent (the click's callback sets a flag
  that the run clears once it has the answer, then redraws the panel).
* The panel is a fragment: recording reruns it alone, so the rest of the file stays as the
  last answers drew it, even when the API is down; a failure says in words that the decision
  was **not** recorded, and the advisor's choice and comment stay in their fields.
* A decision against the model's asks for a reason code and a confirmation; a client that
  already has a final decision is decided again only by ticking "replace", which sends
  ``supersedes``.
* The history is a dataframe of plain text (a comment is data, never Markdown).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any, Final

import streamlit as st
from streamlit.errors import StreamlitInvalidLayoutContextError

from dashboard import api, charts
from dashboard.api import ApiError
from dashboard.i18n import Lang, percent, t
from dashboard.panels import ICONS, WARN, error_message, local_time
from dashboard.widgets import KEPT, lang_key

logger = logging.getLogger(__name__)

CHOICES: Final = ("accept", "refuse")
#: Reason codes for going against the model, by the model's decision they override (the
#: API's ``decisions.REASON_CODES``; a contract test checks that both lists agree).
REASONS: Final[dict[str, tuple[str, ...]]] = {
    "refuse": ("garanties_supplementaires", "co_emprunteur", "situation_verifiee", "autre"),
    "accept": ("incoherence_declarations", "endettement_constate", "autre"),
}


def _state_key(name: str, client_id: int) -> str:
    return f"decide-{name}-{client_id}"


def _start_sending(client_id: int) -> None:
    """The submit button's callback: the decision is being sent (the button is disabled)."""
    st.session_state[_state_key("sending", client_id)] = True


def submission_key(client_id: int, body: Mapping[str, Any]) -> str:
    """The Idempotency-Key of this submission: kept while the same body is sent again.

    A new key for a changed body: a key names one decision, and the API refuses to reuse
    it for another.
    """
    slot = _state_key("submission", client_id)
    kept = st.session_state.get(slot)
    if not kept or kept[1] != dict(body):
        kept = (uuid.uuid4().hex, dict(body))
        st.session_state[slot] = kept
    return str(kept[0])


def decision_panel(client_id: int, score: Mapping[str, Any], lang: Lang) -> None:
    """Record the advisor's decision, and show the final decision and the history."""
    st.subheader(t("decide_title", lang))
    _decision_fragment(client_id, dict(score), lang)


@st.fragment
def _decision_fragment(client_id: int, score: dict[str, Any], lang: Lang) -> None:
    """The panel's body, rerun alone when a decision is recorded."""
    history = _history(client_id, lang)
    final = history.get("final") if history else None
    if final:
        st.markdown(
            f"{ICONS.get(str(final['decision']), '')} "
            + t(
                "decide_final",
                lang,
                decision=f"**{t(str(final['decision']), lang)}**",
                at=local_time(str(final["decided_at"]), lang),
                advisor=_plain(str(final.get("advisor") or "")),
            )
        )
    outcome = st.session_state.get(_state_key("outcome", client_id))
    if outcome:
        kind, text = outcome
        if kind == "success":
            st.success(text, icon=":material/check_circle:")
        elif kind == "error":
            st.error(text, icon=WARN)
        else:
            st.warning(text, icon=":material/edit:")
    if _decision_form(client_id, score, final, lang):
        try:
            st.rerun(scope="fragment")
        except StreamlitInvalidLayoutContextError:  # drawn by a whole run: rerun it all
            st.rerun()
    _history_table(history, lang)


def _decision_form(
    client_id: int, score: Mapping[str, Any], final: Mapping[str, Any] | None, lang: Lang
) -> bool:
    """The form; sends a submitted decision. True when the panel must be drawn again."""
    model = str(score["decision"])
    borderline = charts.verdict(score) == "borderline"
    if borderline:
        st.markdown(f"{ICONS['borderline']} {t('decide_borderline', lang)}")
    sending_slot = _state_key("sending", client_id)
    sending = bool(st.session_state.get(sending_slot))
    choice_key, carried = lang_key(f"decide-choice-{client_id}", lang)
    with st.form(f"decide-{client_id}", clear_on_submit=False, enter_to_submit=False):
        choice = st.radio(
            t("decide_choice", lang),
            CHOICES,
            index=None if borderline or carried else CHOICES.index(model),
            format_func=lambda c: f"{ICONS[c]} {t(c, lang)}",
            horizontal=True,
            key=choice_key,
            persist_state=KEPT,
        )
        comment = st.text_area(
            t("decide_comment", lang),
            max_chars=1000,
            key=f"decide-comment-{client_id}",
            help=t("decide_against", lang),
            persist_state=KEPT,
        )
        # Shown once the advisor has chosen against the model (a form redraws on submit).
        reason, confirmed = None, False
        if choice is not None and choice != model:
            reason_key, _ = lang_key(f"decide-reason-{client_id}", lang)
            reason = st.selectbox(
                t("decide_reason", lang),
                REASONS[model],
                index=None,
                format_func=lambda code: t(f"reason_{code}", lang),
                key=reason_key,
                persist_state=KEPT,
            )
            confirmed = st.checkbox(
                t("decide_confirm", lang, model=t(model, lang)),
                key=f"decide-confirm-{client_id}",
                persist_state=KEPT,
            )
        replace = False
        if final:
            replace = st.checkbox(
                t("decide_replace", lang, at=local_time(str(final["decided_at"]), lang)),
                key=f"decide-replace-{client_id}",
                persist_state=KEPT,
            )
        st.form_submit_button(
            t("decide_submit", lang),
            type="primary",
            disabled=sending,
            on_click=_start_sending,
            args=(client_id,),
        )
    if not sending:
        return False
    st.session_state[_state_key("outcome", client_id)] = _send(
        client_id,
        model,
        borderline,
        (choice, comment.strip(), reason, confirmed, replace),
        final,
        lang,
    )
    st.session_state[sending_slot] = False
    return True


def _send(
    client_id: int,
    model: str,
    borderline: bool,
    form: tuple[str | None, str, str | None, bool, bool],
    final: Mapping[str, Any] | None,
    lang: Lang,
) -> tuple[str, str]:
    """Check the form, then record the decision: (outcome kind, the words to show)."""
    choice, comment, reason, confirmed, replace = form
    if choice is None:
        return "warning", t("decide_need_choice", lang)
    if borderline and not comment:
        return "warning", t("decide_need_check", lang)
    overrides = choice != model
    if overrides and (reason is None or not confirmed):
        return "warning", t("decide_need_override", lang)
    if reason == "autre" and not comment:
        return "warning", t("decide_need_other", lang)
    if final and not replace:
        return "warning", t("decide_need_replace", lang)
    reason_code = reason if overrides else None
    supersedes = str(final["decided_at"]) if final else None
    body = {"decision": choice, "comment": comment, "reason": reason_code, "of": supersedes}
    key = submission_key(client_id, body)
    try:
        record = api.record_decision(client_id, choice, comment, key, reason_code, supersedes)
    except ApiError as error:
        logger.warning("decision not recorded: %s %s", error.kind, error.message)
        return "error", t("decide_not_recorded", lang, reason=error_message(error, lang))
    # Recorded (or recorded before, for a repeat): the next submission is a new one.
    for name in ("submission", "replace", "confirm"):
        st.session_state.pop(_state_key(name, client_id), None)
    return "success", t("decide_done", lang, at=local_time(str(record["decided_at"]), lang))


def _history(client_id: int, lang: Lang) -> dict[str, Any] | None:
    """The client's decisions; the last ones shown if the API cannot say now."""
    slot = _state_key("history", client_id)
    try:
        answer: dict[str, Any] = api.decisions(client_id)
    except ApiError as error:
        logger.warning("decisions not read: %s %s", error.kind, error.message)
        st.warning(t("decide_stale", lang, reason=error_message(error, lang)), icon=WARN)
        kept: dict[str, Any] | None = st.session_state.get(slot)
        return kept
    st.session_state[slot] = answer
    return answer


def _history_table(history: Mapping[str, Any] | None, lang: Lang) -> None:
    """Every recorded decision, newest first, as plain text (comments are data)."""
    st.markdown(f"**{t('decide_history', lang)}**")
    records = list(history["decisions"]) if history else []
    if not records:
        st.markdown(t("decide_none", lang))
        return
    final = (history or {}).get("final") or {}
    st.dataframe(
        [
            {
                t("col_at", lang): local_time(str(d["decided_at"]), lang),
                t("col_decision", lang): t(str(d["decision"]), lang),
                t("col_status", lang): t(
                    "status_final"
                    if d["decided_at"] == final.get("decided_at")
                    else "status_replaced",
                    lang,
                ),
                t("col_reason", lang): t(f"reason_{d['reason_code']}", lang)
                if d.get("reason_code")
                else "",
                t("col_comment", lang): str(d.get("comment") or ""),
                t("col_advisor", lang): str(d.get("advisor") or ""),
                t("col_probability", lang): percent(float(d["probability"]), lang),
                t("col_model", lang): str(d.get("model_version") or ""),
            }
            for d in reversed(records)
        ],
        hide_index=True,
    )


_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_{}[]<>()#+-.!|~$"})


def _plain(text: str) -> str:
    """``text`` escaped for Markdown: shown as typed (an advisor's name is data too)."""
    return text.translate(_MARKDOWN)
