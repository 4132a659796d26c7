"""The advisors' sign-in page (Cognito), when the dashboard is hosted without a fixed token.

The calls to Cognito are in :mod:`dashboard.auth`; this module only draws the forms.
"""

from __future__ import annotations

import logging

import streamlit as st

from dashboard import api, auth
from dashboard.i18n import Lang, t
from dashboard.panels import WARN

logger = logging.getLogger(__name__)


def signed_in(cognito: auth.CognitoConfig, lang: Lang) -> bool:
    """Whether an advisor is signed in; if not, the sign-in form (and False)."""
    if auth.session_token(cognito):
        with st.sidebar:
            if st.button(t("sign_out", lang), icon=":material/logout:"):
                for key in list(st.session_state):
                    if key != "lang":  # nothing of this advisor's work stays behind
                        del st.session_state[key]
                api.clear_cache()
                st.rerun()
        return True
    st.title(t("sign_in_title", lang))
    challenge = st.session_state.get("auth-challenge")
    try:
        if challenge is None:
            with st.form("sign-in", enter_to_submit=False):
                email = st.text_input(t("email", lang), key="sign-in-email")
                password = st.text_input(t("password", lang), type="password", key="sign-in-pw")
                if st.form_submit_button(t("sign_in", lang), type="primary"):
                    pending = auth.sign_in(cognito, email.strip(), password)
                    if pending is not None:
                        st.session_state["auth-challenge"] = pending
                    st.rerun()
        elif challenge["name"] == auth.TOTP:
            st.info(t("totp_needed", lang), icon=":material/phonelink_lock:")
            with st.form("totp", enter_to_submit=False):
                code = st.text_input(t("totp_code", lang), max_chars=6, key="totp-code")
                if st.form_submit_button(t("sign_in", lang), type="primary"):
                    auth.answer_totp(cognito, challenge, code.strip())
                    st.session_state.pop("auth-challenge", None)
                    st.rerun()
        elif challenge["name"] != auth.NEW_PASSWORD:
            raise KeyError(challenge["name"])  # a challenge this page does not handle
        else:
            st.info(t("new_password_needed", lang), icon=":material/key:")
            with st.form("new-password", enter_to_submit=False):
                first = st.text_input(t("new_password", lang), type="password", key="new-pw-1")
                again = st.text_input(
                    t("new_password_again", lang), type="password", key="new-pw-2"
                )
                if st.form_submit_button(t("sign_in", lang), type="primary"):
                    if first != again:
                        st.warning(t("passwords_differ", lang), icon=WARN)
                    else:
                        pending = auth.set_new_password(cognito, challenge, first)
                        st.session_state.pop("auth-challenge", None)
                        if pending is not None:  # the authenticator code comes next
                            st.session_state["auth-challenge"] = pending
                        st.rerun()
    except auth.SignInError as error:
        logger.info("sign-in refused: %s", error.code)
        st.session_state.pop("auth-challenge", None)  # an expired challenge: start again
        key = "sign_in_refused" if error.code != "Unreachable" else "err_unreachable"
        st.error(t(key, lang, detail=error.message), icon=WARN)
    except KeyError:  # a challenge this dashboard does not handle (SMS, ...)
        logger.warning("unexpected Cognito answer", exc_info=True)
        st.session_state.pop("auth-challenge", None)
        st.error(t("sign_in_refused", lang, detail=t("sign_in_unsupported", lang)), icon=WARN)
    return False
