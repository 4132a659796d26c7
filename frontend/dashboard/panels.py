"""What every panel of the dashboard shares: errors in words, notes, charts with their text.

Every panel runs through :func:`guarded`: an API failure becomes a clear message in the page
(never a traceback), and the rest of the page still shows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from dashboard import forms
from dashboard.api import ApiError
from dashboard.i18n import Lang, t

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

#: The advisors' time zone (the API answers in UTC).
TIME_ZONE = "Europe/Paris"
#: The API's error code for an application without the minimum fields.
INSUFFICIENT = "insufficient_information"
#: Material icons ship with Streamlit (no emoji font needed on the advisor's machine).
ICONS = {
    "accept": ":material/check_circle:",
    "refuse": ":material/block:",
    "borderline": ":material/balance:",
}
WARN = ":material/warning:"
#: API error codes with a sentence of their own (the API's message is in English).
CODE_MESSAGES = {
    "client_not_found": "err_client_not_found",
    "group_too_small": "err_group_too_small",
    "drift_summary_not_found": "drift_none",
}


def error_message(error: ApiError, lang: Lang) -> str:
    """The sentence shown for a failed API call."""
    if error.code == INSUFFICIENT:  # name the missing fields in the advisor's words
        names = [str(d["field"]) for d in error.details if d.get("field")]
        fields = forms.missing_text(names, lang) if names else error.message
        return t("err_insufficient", lang, fields=fields)
    if error.code in CODE_MESSAGES:
        return t(CODE_MESSAGES[error.code], lang)
    return t(f"err_{error.kind}", lang, detail=error.message)


_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_{}[]<>()#+-.!|~$"})


def note(text: str) -> None:
    """A note in full-contrast text (Streamlit's captions are too pale for WCAG 1.4.3)."""
    st.markdown(f"<small>{text.translate(_MARKDOWN)}</small>", unsafe_allow_html=True)


def guarded(lang: Lang, panel: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R | None:
    """Run a panel; on failure show a message in its place and return None."""
    try:
        return panel(*args, **kwargs)
    except ApiError as error:
        logger.warning("API call failed in %s: %s %s", panel.__name__, error.kind, error.message)
        st.error(error_message(error, lang), icon=WARN)
    except Exception:  # a bug must not show a traceback to an advisor
        logger.exception("panel %s failed", panel.__name__)
        st.error(t("err_page", lang), icon=WARN)
    return None


def attempt(call: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R | ApiError:
    """An API call's answer, or its error.

    For answers several panels share: each shows the error where it needed the answer.
    """
    try:
        return call(*args, **kwargs)
    except ApiError as error:
        logger.warning("API call %s failed: %s %s", call.__name__, error.kind, error.message)
        return error


def show_chart(fig_alt: tuple[Any, str], key: str) -> None:
    """A chart and, right under it, its text alternative."""
    fig, alt = fig_alt
    # No plotly mode bar: its buttons speak English only (plotly.js ships no French locale
    # in Streamlit); zooming by dragging and the hover still work.
    st.plotly_chart(
        fig,
        key=key,
        alt=alt,
        theme=None,
        config={"displaylogo": False, "displayModeBar": False, "responsive": True},
    )
    note(alt)


def local_time(text: str, lang: Lang) -> str:
    """An API time (UTC, ISO 8601) in the advisors' time zone, written for people."""
    try:  # decision keys end with "#<uuid>" to stay unique
        moment = datetime.fromisoformat(text.split("#", 1)[0].replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        local, zone = moment.astimezone(ZoneInfo(TIME_ZONE)), ""
    except ZoneInfoNotFoundError:  # a host without time-zone data
        local, zone = moment.astimezone(UTC), " UTC"
    return local.strftime("%d/%m/%Y %H:%M" if lang == "fr" else "%Y-%m-%d %H:%M") + zone
