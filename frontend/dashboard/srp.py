"""Secure Remote Password (SRP-6a) as Amazon Cognito's USER_SRP_AUTH flow expects it.

With SRP the password never leaves the advisor's session: the dashboard sends a public value
``A``, Cognito answers with its own ``B``, a salt and a secret block, and the dashboard
proves it knows the password by signing that block with a key both sides derive. The app
client therefore does not need ``USER_PASSWORD_AUTH`` (which sends the password itself).

Cognito's group is the 3072-bit prime of RFC 5054 with generator 2, SHA-256 throughout; big
numbers are hashed as hexadecimal strings padded to a whole, positive byte string (a leading
``00`` when the first digit is 8 or more), and the signing key is HKDF-SHA256 of the shared
secret with the label ``Caldera Derived Key``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

#: RFC 5054, 3072-bit group.
N_HEX = (
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A0879"
    "8E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B"
    "0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA4836"
    "1C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804"
    "F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6"
    "955817183995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64"
    "ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D226"
    "1AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2"
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
)
N = int(N_HEX, 16)
G = 2
HKDF_INFO = b"Caldera Derived Key"
#: Bytes of the private value ``a`` (Cognito's own clients use 128).
PRIVATE_BYTES = 128


class SrpError(ValueError):
    """Cognito's challenge is unusable (a value of 0 modulo N): the sign-in must stop."""


def padded_hex(value: int) -> str:
    """Hex digits of ``value`` as a whole, positive byte string (even length, top bit clear)."""
    digits = f"{value:x}"
    if len(digits) % 2:
        return "0" + digits
    if digits[0] in "89abcdef":
        return "00" + digits
    return digits


def hash_hex(hex_digits: str) -> str:
    """SHA-256 of the bytes spelt by ``hex_digits``, as 64 hex digits."""
    return hashlib.sha256(bytes.fromhex(hex_digits)).hexdigest()


def multiplier() -> int:
    """``k = H(N | g)``, both padded."""
    return int(hash_hex(padded_hex(N) + padded_hex(G)), 16)


def scrambler(big_a: int, big_b: int) -> int:
    """``u = H(A | B)``, both padded."""
    return int(hash_hex(padded_hex(big_a) + padded_hex(big_b)), 16)


def private_key(pool_name: str, user_id: str, password: str, salt_hex: str) -> int:
    """``x = H(salt | H(pool name | user id | ":" | password))``."""
    identity = hashlib.sha256(f"{pool_name}{user_id}:{password}".encode()).hexdigest()
    return int(hash_hex(padded_hex(int(salt_hex, 16)) + identity), 16)


def signing_key(secret: int, u: int) -> bytes:
    """16 bytes of HKDF-SHA256: the shared secret as key material, ``u`` as salt."""
    extracted = hmac.new(
        bytes.fromhex(padded_hex(u)), bytes.fromhex(padded_hex(secret)), hashlib.sha256
    ).digest()
    return hmac.new(extracted, HKDF_INFO + b"\x01", hashlib.sha256).digest()[:16]


def cognito_timestamp(moment: datetime | None = None) -> str:
    """``Mon Nov 3 09:05:04 UTC 2026``: Cognito's format (day of the month not padded)."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%a %b} {moment.day} {moment:%H:%M:%S} UTC {moment:%Y}"


def password_signature(
    key: bytes, pool_name: str, user_id: str, secret_block: str, timestamp: str
) -> str:
    """Base64 HMAC-SHA256 of pool name, user id, the secret block's bytes and the time."""
    message = pool_name.encode() + user_id.encode() + base64.b64decode(secret_block)
    message += timestamp.encode()
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


@dataclass
class SrpSession:
    """One sign-in attempt: a fresh private value ``a``, its public ``A``, the answer."""

    pool_id: str
    a: int = field(default_factory=lambda: secrets.randbits(8 * PRIVATE_BYTES))

    def __post_init__(self) -> None:
        if "_" not in self.pool_id:
            raise SrpError(f"not a user pool id: {self.pool_id!r} (expected <region>_<name>)")
        self.big_a = pow(G, self.a, N)
        if self.big_a % N == 0:  # pragma: no cover - probability 2**-1024
            raise SrpError("A is 0 modulo N: draw again")

    @property
    def pool_name(self) -> str:
        """The pool id's part after the region (``eu-west-3_AbC`` -> ``AbC``)."""
        return self.pool_id.split("_", 1)[1]

    @property
    def srp_a(self) -> str:
        """``SRP_A`` of InitiateAuth: the public value, in hex."""
        return f"{self.big_a:x}"

    def answer(
        self, challenge: dict[str, str], password: str, moment: datetime | None = None
    ) -> dict[str, str]:
        """The ChallengeResponses of PASSWORD_VERIFIER (``challenge``: its parameters)."""
        user_id = challenge["USER_ID_FOR_SRP"]
        big_b = int(challenge["SRP_B"], 16)
        if big_b % N == 0:
            raise SrpError("Cognito's B is 0 modulo N")
        u = scrambler(self.big_a, big_b)
        if u == 0:
            raise SrpError("u is 0: the exchange cannot be trusted")
        x = private_key(self.pool_name, user_id, password, challenge["SALT"])
        base = (big_b - multiplier() * pow(G, x, N)) % N
        secret = pow(base, self.a + u * x, N)
        timestamp = cognito_timestamp(moment)
        key = signing_key(secret, u)
        return {
            # Cognito's own name of the user (with an e-mail alias: not the e-mail).
            "USERNAME": challenge.get("USERNAME", user_id),
            "PASSWORD_CLAIM_SECRET_BLOCK": challenge["SECRET_BLOCK"],
            "TIMESTAMP": timestamp,
            "PASSWORD_CLAIM_SIGNATURE": password_signature(
                key, self.pool_name, user_id, challenge["SECRET_BLOCK"], timestamp
            ),
        }
