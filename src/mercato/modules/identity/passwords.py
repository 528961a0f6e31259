"""argon2id password hashing with the OWASP Password Storage Cheat Sheet's parameters, and the
password policy's list of common passwords (zxcvbn's bundled frequency list)."""

from __future__ import annotations

import asyncio
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from mercato.modules.identity.errors import WeakPassword
from mercato.modules.identity.rules import password_problems

# OWASP: argon2id with m=19 MiB, t=2, p=1 (~30 ms here). Stronger settings pushed login p50 past
# 150 ms on a 2-core machine; hashes made with other parameters are upgraded at the next login.
_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
# Verified against when the email is unknown so both paths cost the same time.
_DUMMY_HASH = _hasher.hash("mercato-dummy-password-for-timing")
# Stored for erased accounts: not an argon2 hash, so nothing ever verifies against it.
UNUSABLE_PASSWORD = "!unusable"  # noqa: S105


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    usable = password_hash is not None and password_hash.startswith("$argon2")
    try:
        return _hasher.verify(password_hash if usable else _DUMMY_HASH, password) and usable  # type: ignore[arg-type]
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def hash_password_async(password: str) -> str:
    """hash_password in a worker thread: argon2 takes ~30 ms of CPU (it releases the GIL), which
    on the event loop would stall every other request of the process for as long."""
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    """verify_password in a worker thread (see hash_password_async)."""
    return await asyncio.to_thread(verify_password, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.lower() for word in FREQUENCY_LISTS["passwords"])


def check_policy(password: str, *, personal: tuple[str, ...] = ()) -> None:
    problems = password_problems(password, common=common_passwords(), personal=personal)
    if problems:
        from mercato.kit.errors import FieldError

        raise WeakPassword(
            "The password does not meet the policy.",
            errors=[FieldError("password", "weak_password", problem) for problem in problems],
        )
