"""The retry policy: which exceptions are retried and the exponential backoff with jitter."""

from __future__ import annotations

from relier.retry import RetryPolicy


def test_only_listed_exceptions_are_retried() -> None:
    policy = RetryPolicy(retries=3, retry_on=(ConnectionError,))
    assert policy.allows(ConnectionError())
    assert policy.allows(ConnectionResetError())
    assert not policy.allows(ValueError())
    assert not RetryPolicy(retries=0).allows(ConnectionError())


def test_backoff_doubles_is_capped_and_jittered() -> None:
    policy = RetryPolicy(retries=10, backoff=0.5, backoff_max=3.0)
    upper = [policy.delay(n, uniform=lambda low, high: high) for n in range(1, 6)]
    lower = [policy.delay(n, uniform=lambda low, high: low) for n in range(1, 6)]
    assert upper == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert lower == [0.25, 0.5, 1.0, 1.5, 1.5]
    assert all(0.25 <= policy.delay(1) <= 0.5 for _ in range(100))
