"""Cognito's side of USER_SRP_AUTH, for tests: the SRP-6a server equations.

Written from the server's formulas (verifier ``v = g^x``, ``B = k v + g^b``, shared secret
``(A v^u)^b``), not from the client's, so a client that signs correctly here agrees with the
protocol, not merely with itself.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass, field

from dashboard import srp


@dataclass
class SrpServer:
    """One PASSWORD_VERIFIER challenge for a user whose password the server knows."""

    pool_id: str
    user_id: str
    password: str
    salt_hex: str = field(default_factory=lambda: secrets.token_hex(16))
    secret_block: str = field(
        default_factory=lambda: base64.b64encode(secrets.token_bytes(64)).decode()
    )
    b: int = field(default_factory=lambda: secrets.randbits(1024))

    def __post_init__(self) -> None:
        pool_name = self.pool_id.split("_", 1)[1]
        x = srp.private_key(pool_name, self.user_id, self.password, self.salt_hex)
        self.verifier = pow(srp.G, x, srp.N)
        self.big_b = (srp.multiplier() * self.verifier + pow(srp.G, self.b, srp.N)) % srp.N

    def challenge(self) -> dict[str, str]:
        """The ChallengeParameters Cognito sends after InitiateAuth."""
        return {
            "SALT": self.salt_hex,
            "SRP_B": f"{self.big_b:x}",
            "SECRET_BLOCK": self.secret_block,
            "USER_ID_FOR_SRP": self.user_id,
            "USERNAME": self.user_id,
        }

    def verify(self, srp_a: str, responses: dict[str, str]) -> bool:
        """Whether the client's PASSWORD_VERIFIER answer proves the password."""
        big_a = int(srp_a, 16)
        if big_a % srp.N == 0 or responses.get("PASSWORD_CLAIM_SECRET_BLOCK") != self.secret_block:
            return False
        u = srp.scrambler(big_a, self.big_b)
        secret = pow(big_a * pow(self.verifier, u, srp.N), self.b, srp.N)
        key = srp.signing_key(secret, u)
        expected = srp.password_signature(
            key,
            self.pool_id.split("_", 1)[1],
            self.user_id,
            self.secret_block,
            responses["TIMESTAMP"],
        )
        return hmac.compare_digest(expected, responses.get("PASSWORD_CLAIM_SIGNATURE", ""))
