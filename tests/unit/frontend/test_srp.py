"""The dashboard's SRP sign-in proof (frontend/dashboard/srp.py).

Checked two ways: against the SRP-6a server equations (srp_server.py): the right password
is accepted, a wrong one, another secret block or a tampered time refused; and against an
independent client implementation of Cognito's flow (pycognito, a test-only dependency):
with the same private value and time, both sign the same bytes alike.
"""

from __future__ import annotations

import datetime as dt
import types

import pytest
from pycognito import aws_srp  # type: ignore[import-untyped]
from srp_server import SrpServer

from dashboard import srp

POOL = "eu-west-3_Example1"
USER = "3f1c9a52-1d2e-4a8b-9c0d-7e6f5a4b3c2d"
PASSWORD = "Correct-horse-42"  # pragma: allowlist secret
MOMENT = dt.datetime(2026, 11, 3, 9, 5, 4, tzinfo=dt.UTC)


def test_the_right_password_is_accepted_by_the_server_equations() -> None:
    server = SrpServer(POOL, USER, PASSWORD)
    session = srp.SrpSession(POOL)
    answer = session.answer(server.challenge(), PASSWORD, MOMENT)
    assert answer["USERNAME"] == USER and answer["TIMESTAMP"] == "Tue Nov 3 09:05:04 UTC 2026"
    assert server.verify(session.srp_a, answer)


def test_a_wrong_password_or_a_tampered_answer_is_refused() -> None:
    server = SrpServer(POOL, USER, PASSWORD)
    session = srp.SrpSession(POOL)
    wrong = session.answer(server.challenge(), PASSWORD + "!", MOMENT)
    assert not server.verify(session.srp_a, wrong)
    right = session.answer(server.challenge(), PASSWORD, MOMENT)
    assert not server.verify(session.srp_a, {**right, "TIMESTAMP": "Tue Nov 3 09:05:05 UTC 2026"})
    other = SrpServer(POOL, USER, PASSWORD, salt_hex=server.salt_hex, b=server.b)
    assert not other.verify(session.srp_a, right), "another secret block"


def test_values_are_hashed_as_positive_whole_bytes() -> None:
    assert srp.padded_hex(0xABC) == "0abc"
    assert srp.padded_hex(0x8A) == "008a"
    assert srp.padded_hex(0x7F) == "7f"
    assert srp.cognito_timestamp(dt.datetime(2026, 12, 24, 0, 0, 9, tzinfo=dt.UTC)) == (
        "Thu Dec 24 00:00:09 UTC 2026"
    )


def test_a_challenge_of_zero_is_refused() -> None:
    server = SrpServer(POOL, USER, PASSWORD)
    challenge = {**server.challenge(), "SRP_B": f"{srp.N:x}"}
    with pytest.raises(srp.SrpError, match="B is 0"):
        srp.SrpSession(POOL).answer(challenge, PASSWORD)
    with pytest.raises(srp.SrpError, match="not a user pool id"):
        srp.SrpSession("no-region")


def test_the_proof_is_the_one_an_independent_cognito_client_computes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = SrpServer(POOL, USER, PASSWORD)
    session = srp.SrpSession(POOL)
    reference = aws_srp.AWSSRP(USER, PASSWORD, POOL, "client-id", client=object())
    reference.small_a_value = session.a
    reference.large_a_value = session.big_a
    frozen = types.SimpleNamespace(
        datetime=types.SimpleNamespace(utcnow=lambda: MOMENT.replace(tzinfo=None))
    )
    monkeypatch.setattr(aws_srp, "datetime", frozen)
    expected = reference.process_challenge(server.challenge(), {"USERNAME": USER})
    assert session.answer(server.challenge(), PASSWORD, MOMENT) == expected
    assert session.srp_a == reference.get_auth_params()["SRP_A"]
