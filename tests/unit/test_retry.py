"""Retry policies: how many tries, and the wait before each."""

from __future__ import annotations

from email.utils import formatdate

from hookhub.core.retry import DEFAULT_SCHEDULE, MAX_RETRY_AFTER, RetryPolicy, retry_after


def test_zero_and_one_attempt_mean_a_single_try() -> None:
    assert RetryPolicy(max_attempts=0).delay_after(1) is None
    assert RetryPolicy(max_attempts=1).delay_after(1) is None


def test_fixed_waits_the_interval_until_attempts_run_out() -> None:
    policy = RetryPolicy(max_attempts=3, strategy="fixed", interval=2)
    assert [policy.delay_after(n) for n in (1, 2, 3)] == [2, 2, None]


def test_exponential_doubles_with_jitter_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=20, strategy="exponential", interval=1, max_interval=10)
    for attempt, base in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (12, 10)]:
        delay = policy.delay_after(attempt)
        assert delay is not None
        assert base * 0.8 <= delay <= base * 1.2


def test_schedule_steps_then_repeats_its_last_step() -> None:
    policy = RetryPolicy(max_attempts=5, strategy="schedule", schedule=(1, 10))
    assert [policy.delay_after(n) for n in (1, 2, 3, 4, 5)] == [1, 10, 10, 10, None]
    default = RetryPolicy.from_json({"strategy": "schedule", "max_attempts": 8})
    assert [default.delay_after(n) for n in range(1, 8)] == list(DEFAULT_SCHEDULE)


def test_json_round_trip() -> None:
    policy = RetryPolicy(max_attempts=2, strategy="fixed", interval=3)
    assert RetryPolicy.from_json(policy.to_json()) == policy
    assert RetryPolicy.from_json(None) == RetryPolicy()


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = 1_700_000_000.0
    assert retry_after("120", now) == 120.0
    assert retry_after(" 0 ", now) == 0.0
    assert retry_after(formatdate(now + 90, usegmt=True), now) == 90.0
    # A date in the past means "now"; absurd waits are capped; garbage is ignored.
    assert retry_after(formatdate(now - 90, usegmt=True), now) == 0.0
    assert retry_after("99999999", now) == MAX_RETRY_AFTER
    assert retry_after("soon", now) is None
    assert retry_after(None, now) is None
