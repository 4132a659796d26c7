"""Fixtures of the dashboard's tests: the stubbed API and a Streamlit AppTest of the app."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

HERE = Path(__file__).resolve().parent
FRONTEND = HERE.parents[2] / "frontend"
APP = FRONTEND / "app.py"
for folder in (HERE, FRONTEND):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from stub_api import TOKEN, StubServer  # noqa: E402


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    """A fresh stub API; the dashboard is pointed at it through API_URL and API_TOKEN."""
    server = StubServer()
    monkeypatch.setenv("API_URL", server.url)
    monkeypatch.setenv("API_TOKEN", TOKEN)
    monkeypatch.setenv("API_TIMEOUT", "2")
    st.cache_data.clear()
    yield server
    server.stop()
    st.cache_data.clear()


@pytest.fixture
def app(stub: StubServer) -> Callable[..., AppTest]:
    """Run the dashboard: ``app(client=100001, lang="en")`` sets the page's query string."""

    def run(tab: str | None = None, **query: object) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=30)
        for key, value in query.items():
            at.query_params[key] = str(value)
        if tab is not None:  # the file's tabs load only when opened: open this one first
            at = open_tab(at, tab, int(str(query["client"])), lang=str(query.get("lang", "fr")))
        return at.run()

    return run


def open_tab(at: AppTest, name: str, client_id: int, lang: str = "fr") -> AppTest:
    """Open a tab of the file (``why``, ``compare``, ``whatif``, ``decide``) at the next run."""
    from dashboard.client_page import tab_label

    chosen = "en" if lang == "en" else "fr"
    at.session_state[f"file-tab-{client_id}-{chosen}"] = tab_label(name, chosen)
    return at
