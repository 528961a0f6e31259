"""Pure sign-in throttle and password-policy rules, checked as properties over many cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from mercato.modules.identity.rules import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    ThrottlePolicy,
    ThrottleState,
    after_failure,
    password_problems,
    personal_words,
    required_delay,
    wait_before_attempt,
)

T0 = datetime(2030, 1, 1, tzinfo=UTC)

policies = st.builds(
    ThrottlePolicy,
    free_failures=st.integers(1, 20),
    lock_after=st.integers(2, 50),
    lock=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=2)),
    max_delay=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(hours=6)),
)
# Gaps between consecutive failures: often immediate, sometimes long.
gaps = st.lists(st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=3)), min_size=1, max_size=120)
failure_counts = st.integers(0, 10_000_000)


def replay(policy: ThrottlePolicy, steps: list[timedelta]) -> ThrottleState:
    state: ThrottleState | None = None
    now = T0
    for gap in steps:
        now += gap
        state = after_failure(state, now, policy)
    assert state is not None
    return state


@given(policies, gaps, st.timedeltas(min_value=timedelta(days=-3), max_value=timedelta(days=3)))
def test_wait_is_never_negative(policy: ThrottlePolicy, steps: list[timedelta], offset: timedelta) -> None:
    state = replay(policy, steps)
    assert state.last_failure_at is not None
    assert wait_before_attempt(state, state.last_failure_at + offset, policy) >= timedelta(0)


@given(policies, gaps, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)))
def test_every_lock_and_delay_ends(policy: ThrottlePolicy, steps: list[timedelta], later: timedelta) -> None:
    """Whatever happened before, max(lock, max_delay) after the last failure the account is open:
    there is no permanent lock-out."""
    state = replay(policy, steps)
    assert state.last_failure_at is not None
    opens_at = state.last_failure_at + max(policy.lock, policy.max_delay)
    assert wait_before_attempt(state, opens_at + later, policy) == timedelta(0)
    if state.blocked_until is not None:
        assert state.blocked_until <= state.last_failure_at + policy.lock
        assert wait_before_attempt(state, max(state.blocked_until, opens_at), policy) == timedelta(0)


@given(policies, gaps)
def test_wait_never_exceeds_the_larger_of_lock_and_max_delay(policy: ThrottlePolicy, steps: list[timedelta]) -> None:
    state = replay(policy, steps)
    assert state.last_failure_at is not None
    assert wait_before_attempt(state, state.last_failure_at, policy) <= max(policy.lock, policy.max_delay)


@given(policies, failure_counts)
def test_required_delay_is_monotone_and_capped(policy: ThrottlePolicy, failures: int) -> None:
    # Also for counts far beyond anything real: a huge count must not overflow (it once did: 500s).
    delay, next_delay = required_delay(failures, policy), required_delay(failures + 1, policy)
    assert timedelta(0) <= delay <= next_delay <= policy.max_delay


@given(policies)
def test_free_failures_need_no_wait_and_the_next_one_does(policy: ThrottlePolicy) -> None:
    for failures in range(policy.free_failures):
        assert required_delay(failures, policy) == timedelta(0)
    assert required_delay(policy.free_failures, policy) == min(timedelta(seconds=1), policy.max_delay)


@given(policies, st.integers(1, 200))
def test_immediate_failures_wait_exactly_as_the_policy_says(policy: ThrottlePolicy, count: int) -> None:
    """`count` failures in a row, all at one instant: open while under the free allowance, locked
    at every multiple of lock_after, otherwise delayed."""
    state = replay(policy, [timedelta(0)] * count)
    wait = wait_before_attempt(state, T0, policy)
    locks = count // policy.lock_after
    if locks:
        assert state.blocked_until == T0 + policy.lock
        assert wait == policy.lock
    elif count < policy.free_failures:
        assert wait == timedelta(0)
    else:
        assert wait == required_delay(count, policy) > timedelta(0)


@given(policies, gaps)
def test_failures_only_count_up(policy: ThrottlePolicy, steps: list[timedelta]) -> None:
    assert replay(policy, steps).failures == len(steps)


def test_no_state_means_no_wait() -> None:
    assert wait_before_attempt(None, T0, ThrottlePolicy()) == timedelta(0)


# ---- password policy --------------------------------------------------------------------------

COMMON = frozenset({"password1234", "qwertyuiop"})
printable = st.text(st.characters(codec="utf-8"), max_size=300)


@given(printable)
def test_length_rules(password: str) -> None:
    problems = password_problems(password, common=frozenset())
    assert (f"Use at least {MIN_PASSWORD_LENGTH} characters." in problems) == (len(password) < MIN_PASSWORD_LENGTH)
    assert (f"Use at most {MAX_PASSWORD_LENGTH} characters." in problems) == (len(password) > MAX_PASSWORD_LENGTH)


@given(st.sampled_from(sorted(COMMON)), st.lists(st.booleans(), min_size=12, max_size=12))
def test_common_passwords_are_refused_in_any_case(word: str, upper: list[bool]) -> None:
    mixed = "".join(ch.upper() if up else ch for ch, up in zip(word, upper, strict=False))
    assert "This password is too common; choose another." in password_problems(mixed, common=COMMON)


@given(st.text("abcdefghijklmnopqrstuvwxyz", min_size=4, max_size=20), printable, printable)
def test_personal_words_are_refused(part: str, before: str, after: str) -> None:
    password = before + part.upper() + after
    assert "Do not use your email address or name in your password." in password_problems(
        password, common=frozenset(), personal=(part,)
    )


@given(printable, st.text(max_size=3))
def test_short_personal_parts_are_ignored(password: str, part: str) -> None:
    assert "Do not use your email address or name in your password." not in password_problems(
        password, common=frozenset(), personal=(part, "")
    )


@given(st.text("abcdefghijklmnopqrstuvwxyz0123456789 ", min_size=MIN_PASSWORD_LENGTH, max_size=MAX_PASSWORD_LENGTH))
def test_long_uncommon_impersonal_passwords_pass(password: str) -> None:
    # The alphabet has no "-", so the personal word can never occur.
    assert password_problems(password, common=COMMON - {password.lower()}, personal=("zzzzz-not-there",)) == []


def test_personal_words_of_an_address() -> None:
    assert personal_words("jane.doe+shop@example.com", "Jane", "") == (
        "jane.doe+shop@example.com", "jane.doe+shop", "jane", "doe", "shop", "Jane", "",
    )
    problems = password_problems("jd jd jd jd jd", common=frozenset(), personal=personal_words("jd@x.org"))
    assert problems == []  # "jd" is too short to count on its own
    problems = password_problems("write to jd@x.org now", common=frozenset(), personal=personal_words("jd@x.org"))
    assert problems == ["Do not use your email address or name in your password."]
