"""Advisors' sign-in with Amazon Cognito, for the dashboard hosted in front of the AWS API.

On AWS the API accepts a JSON Web Token issued by the advisors' Cognito user pool (the JWT
authorizer of template.yaml), and records each decision under the advisor it names. So the
hosted dashboard signs each advisor in with e-mail and password through Cognito's SRP flow
(USER_SRP_AUTH: the password itself never leaves the session, see :mod:`dashboard.srp`), then
answers the challenges that may follow: a new password at the first sign-in, and the code of
the advisor's authenticator app when they enabled one (TOTP). The tokens stay in that
advisor's session only and are refreshed before they expire. Locally, or with a fixed token,
COGNITO_CLIENT_ID is unset and API_TOKEN is used instead.

Cognito's public endpoint needs no AWS credentials for these calls: plain HTTPS is enough,
which keeps boto3 out of the dashboard.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import requests
import streamlit as st

from dashboard import srp
from dashboard.config import setting

logger = logging.getLogger(__name__)

SESSION_KEY = "auth"
TARGET = "AWSCognitoIdentityProviderService."
#: Refresh the tokens this many seconds before they expire.
REFRESH_MARGIN = 120


class SignInError(Exception):
    """Cognito refused the sign-in (``code`` is its exception name)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CognitoConfig:
    """The dashboard's Cognito app client."""

    client_id: str
    endpoint: str
    #: The user pool (``eu-west-3_AbCdEf``): SRP signs with its name.
    pool_id: str


#: Challenges the sign-in page answers (anything else: refused in words).
NEW_PASSWORD = "NEW_PASSWORD_REQUIRED"
TOTP = "SOFTWARE_TOKEN_MFA"


def cognito_config() -> CognitoConfig | None:
    """COGNITO_CLIENT_ID, COGNITO_USER_POOL_ID and COGNITO_REGION (or COGNITO_ENDPOINT).

    None when COGNITO_CLIENT_ID is unset (a fixed API_TOKEN is used then). The region
    defaults to the pool id's own (``eu-west-3_...``).
    """
    client_id = setting("COGNITO_CLIENT_ID")
    if not client_id:
        return None
    pool_id = setting("COGNITO_USER_POOL_ID") or ""
    endpoint = setting("COGNITO_ENDPOINT")
    if not endpoint:
        region = setting("COGNITO_REGION") or pool_id.partition("_")[0] or "eu-west-3"
        endpoint = f"https://cognito-idp.{region}.amazonaws.com/"
    return CognitoConfig(client_id=client_id, endpoint=endpoint, pool_id=pool_id)


def _call(config: CognitoConfig, action: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        response = requests.post(
            config.endpoint,
            json=body,
            headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": TARGET + action,
            },
            timeout=(3.05, 10),
        )
    except requests.RequestException as exc:
        raise SignInError("Unreachable", str(exc)) from exc
    try:
        answer: dict[str, Any] = response.json()
    except ValueError as exc:
        raise SignInError("BadAnswer", f"HTTP {response.status_code}") from exc
    if response.status_code >= 400:
        code = str(answer.get("__type", "Error")).rsplit("#", 1)[-1]
        raise SignInError(code, str(answer.get("message") or answer.get("Message") or code))
    return answer


def _store(result: dict[str, Any], refresh_token: str | None = None) -> None:
    st.session_state[SESSION_KEY] = {
        "id_token": result["IdToken"],
        "refresh_token": result.get("RefreshToken") or refresh_token,
        "expires_at": time.time() + float(result.get("ExpiresIn", 3600)),
    }


def _outcome(answer: dict[str, Any], username: str) -> dict[str, Any] | None:
    """Signed in (None, tokens kept) or the next challenge to answer."""
    if "AuthenticationResult" in answer:
        _store(answer["AuthenticationResult"])
        return None
    name = answer.get("ChallengeName")
    parameters = answer.get("ChallengeParameters") or {}
    return {
        "name": name,
        "session": answer.get("Session"),
        # Cognito's own name of the user (an e-mail alias is resolved by then).
        "email": parameters.get("USER_ID_FOR_SRP") or parameters.get("USERNAME") or username,
    }


def sign_in(config: CognitoConfig, email: str, password: str) -> dict[str, Any] | None:
    """Sign in with SRP; returns the challenge to answer next, or None when signed in."""
    if not config.pool_id:
        raise SignInError("Configuration", "COGNITO_USER_POOL_ID is not set")
    try:
        session = srp.SrpSession(config.pool_id)
    except srp.SrpError as error:
        raise SignInError("Configuration", str(error)) from error
    answer = _call(
        config,
        "InitiateAuth",
        {
            "AuthFlow": "USER_SRP_AUTH",
            "ClientId": config.client_id,
            "AuthParameters": {"USERNAME": email, "SRP_A": session.srp_a},
        },
    )
    if answer.get("ChallengeName") == "PASSWORD_VERIFIER":
        try:
            responses = session.answer(answer["ChallengeParameters"], password)
        except (srp.SrpError, KeyError, ValueError) as error:
            raise SignInError("BadChallenge", f"unusable SRP challenge: {error}") from error
        request: dict[str, Any] = {
            "ChallengeName": "PASSWORD_VERIFIER",
            "ClientId": config.client_id,
            "ChallengeResponses": responses,
        }
        if answer.get("Session"):
            request["Session"] = answer["Session"]
        answer = _call(config, "RespondToAuthChallenge", request)
    return _outcome(answer, email)


def set_new_password(
    config: CognitoConfig, challenge: dict[str, Any], password: str
) -> dict[str, Any] | None:
    """Answer NEW_PASSWORD_REQUIRED (an account created by an administrator).

    Returns the next challenge (the authenticator code, if the account has one), or None.
    """
    answer = _call(
        config,
        "RespondToAuthChallenge",
        {
            "ChallengeName": NEW_PASSWORD,
            "ClientId": config.client_id,
            "Session": challenge["session"],
            "ChallengeResponses": {"USERNAME": challenge["email"], "NEW_PASSWORD": password},
        },
    )
    return _outcome(answer, challenge["email"])


def answer_totp(config: CognitoConfig, challenge: dict[str, Any], code: str) -> None:
    """Answer SOFTWARE_TOKEN_MFA with the 6-digit code of the advisor's authenticator app."""
    answer = _call(
        config,
        "RespondToAuthChallenge",
        {
            "ChallengeName": TOTP,
            "ClientId": config.client_id,
            "Session": challenge["session"],
            "ChallengeResponses": {"USERNAME": challenge["email"], "SOFTWARE_TOKEN_MFA_CODE": code},
        },
    )
    _store(answer["AuthenticationResult"])


def session_token(config: CognitoConfig) -> str | None:
    """The signed-in advisor's ID token, refreshed when close to expiry; None if signed out."""
    auth = st.session_state.get(SESSION_KEY)
    if not auth:
        return None
    if time.time() < auth["expires_at"] - REFRESH_MARGIN:
        return str(auth["id_token"])
    if not auth.get("refresh_token"):
        sign_out()
        return None
    try:
        answer = _call(
            config,
            "InitiateAuth",
            {
                "AuthFlow": "REFRESH_TOKEN_AUTH",
                "ClientId": config.client_id,
                "AuthParameters": {"REFRESH_TOKEN": auth["refresh_token"]},
            },
        )
        _store(answer["AuthenticationResult"], refresh_token=auth["refresh_token"])
    except (SignInError, KeyError):
        logger.info("token refresh failed: the advisor signs in again")
        sign_out()
        return None
    return str(st.session_state[SESSION_KEY]["id_token"])


def sign_out() -> None:
    """Forget the advisor's tokens."""
    st.session_state.pop(SESSION_KEY, None)
    st.session_state.pop("auth-challenge", None)
