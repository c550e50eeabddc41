"""Passwords and random tokens: how they are made, hashed and checked.

Passwords are hashed with scrypt (hashlib; a random salt each) and stored as
`scrypt$N$r$p$salt$hash` (base64), so the cost can be raised later without breaking old
hashes. API tokens and session ids are 256-bit random values; the database keeps only
their sha256, which is enough for values of that entropy. Comparisons are constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_KEY_BYTES = 32
TOKEN_PREFIX = "mrt_"  # noqa: S105  (not a secret) makes a leaked token recognisable (secret scanners, logs)
MIN_PASSWORD_LENGTH = 8


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r, dklen=_KEY_BYTES
    )


def hash_password(password: str) -> str:
    """A salted scrypt hash of `password`, with its parameters, as one string."""
    salt = secrets.token_bytes(16)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str | None) -> bool:
    """Whether `password` matches the stored hash (False for no or malformed hash).

    With no stored hash a dummy hash is still computed, so the time taken does not tell
    whether an account exists.
    """
    if not stored:
        _scrypt(password, b"\0" * 16, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        return False
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
        return hmac.compare_digest(computed, base64.b64decode(key))
    except ValueError:
        return False


def new_token() -> str:
    """A new API token (shown once, never stored)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_secret() -> str:
    """A random value for a session id or CSRF token."""
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    """The sha256 (hex) under which a token or session id is stored and looked up."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time string comparison (for CSRF tokens)."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
