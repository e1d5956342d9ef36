"""Retry policy: which failures are retried, and how long a retry waits. Pure functions."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``retries`` more attempts after a failure whose exception is one of ``retry_on``,
    waiting ``backoff * 2**(n-1)`` seconds before retry n, at most ``backoff_max``, with
    jitter (each wait drawn between half and all of that)."""

    retries: int = 0
    backoff: float = 1.0
    backoff_max: float = 600.0
    retry_on: tuple[type[BaseException], ...] = (Exception,)

    def allows(self, exc: BaseException) -> bool:
        return self.retries > 0 and isinstance(exc, self.retry_on)

    def delay(self, retry_number: int, uniform: Callable[[float, float], float] = random.uniform) -> float:
        """Seconds to wait before retry `retry_number` (1 for the first retry)."""
        ceiling = min(self.backoff_max, self.backoff * 2 ** max(0, retry_number - 1))
        return uniform(ceiling / 2, ceiling)
