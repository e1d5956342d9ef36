"""Percentiles and latency summaries: the one implementation chaos, bench and tests share."""

from __future__ import annotations

import pytest

from relier.stats import percentile, summarize


def test_percentile_interpolates_between_closest_ranks() -> None:
    assert percentile([10, 20, 30, 40], 0.5) == 25.0
    assert percentile([10, 20, 30, 40], 0.0) == 10
    assert percentile([10, 20, 30, 40], 1.0) == 40
    assert percentile([1.5], 0.99) == 1.5
    assert percentile(list(range(101)), 0.99) == pytest.approx(99.0)


def test_percentile_refuses_no_data_and_fractions_outside_zero_to_one() -> None:
    with pytest.raises(ValueError, match="no data"):
        percentile([], 0.5)
    with pytest.raises(ValueError, match="within"):
        percentile([1, 2], 1.5)


def test_summary_of_unsorted_samples() -> None:
    summary = summarize([3.0, 1.0, 2.0])
    assert (summary.count, summary.min, summary.max, summary.p50, summary.mean) == (3, 1.0, 3.0, 2.0, 2.0)
    assert summary.p99 == pytest.approx(2.98)
    assert summary.stdev == pytest.approx(1.0)
    assert summarize([5.0]).stdev == 0.0
    with pytest.raises(ValueError, match="no samples"):
        summarize([])
