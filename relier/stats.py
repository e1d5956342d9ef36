"""Percentiles and latency summaries, for the chaos verdicts, the benchmarks and the tests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default) over sorted data.

    Raises `ValueError` for no data or a `fraction` outside [0, 1].
    """
    if not ordered:
        raise ValueError("percentile of no data")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within [0, 1], got {fraction}")
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """One series of samples, all in the samples' own unit (seconds, nanoseconds...)."""

    count: int
    mean: float
    p50: float
    p99: float
    min: float
    max: float
    stdev: float


def summarize(samples: Sequence[float]) -> LatencySummary:
    """Count, mean, p50, p99, min, max and sample standard deviation; `ValueError` if empty."""
    ordered = sorted(samples)
    count = len(ordered)
    if count == 0:
        raise ValueError("no samples to summarize")
    mean = math.fsum(ordered) / count
    variance = math.fsum((value - mean) ** 2 for value in ordered) / max(count - 1, 1)
    return LatencySummary(count=count, mean=mean, p50=percentile(ordered, 0.50),
                          p99=percentile(ordered, 0.99), min=ordered[0], max=ordered[-1],
                          stdev=math.sqrt(variance))
