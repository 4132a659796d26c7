"""The dashboard's settings: the environment first, then Streamlit secrets (when hosted)."""

from __future__ import annotations

import logging
import os

import streamlit as st

logger = logging.getLogger(__name__)


def setting(name: str) -> str | None:
    """The value of setting ``name``, or None when it is set nowhere."""
    value = os.environ.get(name)
    if value:
        return value
    try:
        secret = st.secrets.get(name)
    except FileNotFoundError:  # no secrets file: a local run
        return None
    except Exception:  # a malformed secrets file must not stop the page
        logger.warning("could not read Streamlit secrets", exc_info=True)
        return None
    return None if secret is None else str(secret)
