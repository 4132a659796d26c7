"""Widgets that follow the advisor's language: one widget per language, the choice carried over.

Streamlit keeps a keyed widget's value as the words it showed: after a switch to English, a
select box would still read "marié(e)" or "Tous". Each widget is therefore keyed per language;
the first time it is drawn in a language, the advisor's choice in the other language is
carried over (as the value itself, or re-written in the new language's format for a text).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Literal

import streamlit as st

from dashboard.i18n import LANGS, Lang

#: ``persist_state`` of the widgets in the file's tabs and the forms. Streamlit forgets a
#: widget's value at the end of a run that did not draw it; the tabs are drawn only when
#: open, and a language's widgets only in that language: without it, a filter chosen in
#: "compare" would be gone on coming back from "what if", and a language switch made on
#: another tab could not carry the choice over (:func:`lang_key`).
KEPT: Final[Literal["page"]] = "page"


def lang_key(
    base: str, lang: Lang, convert: Callable[[Any, Lang, Lang], Any] | None = None
) -> tuple[str, bool]:
    """The widget key of ``base`` in ``lang``, and whether a choice was carried over.

    ``convert(value, from_lang, to_lang)`` re-writes a carried value (a typed number's text);
    without it the value is carried as it is (the options of a select box are raw values).
    A widget whose value was carried over must be drawn without a default of its own
    (Streamlit refuses both).
    """
    key = f"{base}-{lang}"
    if key in st.session_state:
        return key, True
    for other in LANGS:
        previous = f"{base}-{other}"
        if other != lang and previous in st.session_state:
            value = st.session_state[previous]
            st.session_state[key] = value if convert is None else convert(value, other, lang)
            return key, True
    return key, False
