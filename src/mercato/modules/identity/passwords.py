"""argon2id hashing with OWASP-recommended parameters (RFC 9106 second choice is also fine)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP (2024): argon2id, m=19 MiB, t=2, p=1 as a minimum; we use 64 MiB, t=3, p=1 (RFC 9106 low-memory).
_hasher = PasswordHasher(time_cost=3, memory_cost=65_536, parallelism=1)
# Verified against when the email is unknown so both paths cost the same time.
_DUMMY_HASH = _hasher.hash("mercato-dummy-password-for-timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
