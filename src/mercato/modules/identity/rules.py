"""Pure rules of identity: sign-in throttling and password policy. No I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ThrottlePolicy:
    free_failures: int = 3
    lock_after: int = 10
    lock: timedelta = timedelta(minutes=15)
    max_delay: timedelta = timedelta(seconds=60)


@dataclass(frozen=True)
class ThrottleState:
    failures: int
    last_failure_at: datetime | None
    blocked_until: datetime | None


# 2**40 s is far beyond any sensible max_delay and still fits a timedelta (whose limit is ~2**46 s).
_MAX_EXPONENT = 40


def required_delay(failures: int, policy: ThrottlePolicy) -> timedelta:
    """The wait after the latest failure before another attempt is heard. The first
    `free_failures` failures are free: the attempts up to and including them need no wait. From
    then on the wait doubles (1 s, 2 s, 4 s, ...) up to `max_delay`.

    The count never resets on its own, so the exponent is capped: an attacker who keeps failing
    for days must not overflow timedelta (that was a permanent lock-out by 500)."""
    extra = failures - policy.free_failures
    if extra < 0:
        return timedelta(0)
    return min(policy.max_delay, timedelta(seconds=2 ** min(extra, _MAX_EXPONENT)))


def wait_before_attempt(state: ThrottleState | None, now: datetime, policy: ThrottlePolicy) -> timedelta:
    """How long the caller must still wait (zero means: go ahead)."""
    if state is None:
        return timedelta(0)
    if state.blocked_until is not None and state.blocked_until > now:
        return state.blocked_until - now
    if state.last_failure_at is None:
        return timedelta(0)
    remaining = state.last_failure_at + required_delay(state.failures, policy) - now
    return max(timedelta(0), remaining)


def after_failure(state: ThrottleState | None, now: datetime, policy: ThrottlePolicy) -> ThrottleState:
    """The state after one more failure. Every `lock_after` consecutive failures lock the account for
    `lock`; the lock always ends (no permanent lock-out), and the count carries on afterwards."""
    failures = (state.failures if state else 0) + 1
    blocked_until = state.blocked_until if state else None
    if failures % policy.lock_after == 0:
        blocked_until = now + policy.lock
    return ThrottleState(failures, now, blocked_until)


def normalise_email(email: str) -> str:
    """The one spelling of an email we store and look up (customers and staff alike)."""
    return email.strip().lower()


MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256


def password_problems(password: str, *, common: frozenset[str], personal: tuple[str, ...] = ()) -> list[str]:
    """NIST SP 800-63B style: long enough, not a known-common password, not the user's own email
    or name; no composition rules."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"Use at most {MAX_PASSWORD_LENGTH} characters.")
    lowered = password.lower()
    if lowered in common:
        problems.append("This password is too common; choose another.")
    if any(part and len(part) >= 4 and part.lower() in lowered for part in personal):
        problems.append("Do not use your email address or name in your password.")
    return problems


_LOCAL_PART_SEPARATORS = re.compile(r"[._+-]+")


def personal_words(email: str, *names: str) -> tuple[str, ...]:
    """Words a password must not contain: the whole address, its local part and that part's
    pieces ("jane.doe+shop" gives "jane.doe+shop", "jane", "doe", "shop"), and the names.
    `password_problems` ignores the ones shorter than 4 characters."""
    local = email.partition("@")[0]
    return (email, local, *_LOCAL_PART_SEPARATORS.split(local), *names)
