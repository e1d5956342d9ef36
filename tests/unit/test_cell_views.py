"""Merging each cell's rows for the operator, and the fleet-wide admission limits."""

from __future__ import annotations

from relier.admission import Admission, LiveLimits
from relier.cell_views import FleetLimit, fleet_limits, longest_running, newest_dead_letters
from relier.dlq import DeadLetter
from relier.inspection import InflightTask


def letter(task_id: str, at_ms: int) -> DeadLetter:
    return DeadLetter(id=task_id, task="t", queue="q", reason="retries_exhausted", exc_type="E",
                      error="", attempts=1, dead_lettered_ms=at_ms, releasable=True,
                      has_checkpoint=False)


def running(task_id: str, seconds: float | None) -> InflightTask:
    return InflightTask(id=task_id, task="t", queue="q", state="started", attempt=1, fence=1,
                        holder="w", lease_age=0.1, running_for=seconds)


def test_dead_letters_merge_newest_first_with_their_cell_and_page() -> None:
    per_cell = [("east", [letter("e2", 300), letter("e1", 100)]), ("west", [letter("w1", 200)])]
    merged = newest_dead_letters(per_cell, limit=10)
    assert [(cell, entry.id) for cell, entry in merged] == [
        ("east", "e2"), ("west", "w1"), ("east", "e1")]
    assert [entry.id for _, entry in newest_dead_letters(per_cell, limit=1, offset=1)] == ["w1"]


def test_inflight_merges_longest_running_first_not_started_last() -> None:
    per_cell = [("east", [running("a", 1.0), running("b", None)]), ("west", [running("c", 5.0)])]
    assert [(cell, task.id) for cell, task in longest_running(per_cell, limit=10)] == [
        ("west", "c"), ("east", "a"), ("east", "b")]
    assert len(longest_running(per_cell, limit=2)) == 2


def test_fleet_limits_sum_each_cells_override_else_the_declared_limit() -> None:
    declared = {("queue", "billing"): Admission(rate=10, burst=1, max_depth=100)}
    live = {"east": [LiveLimits("queue", "billing", rate=5.0, burst=None, max_depth=None)],
            "west": []}
    assert fleet_limits(live, declared) == [FleetLimit("queue", "billing", 15.0, 200, 2)]


def test_a_cell_without_a_limit_makes_the_fleet_unlimited_on_it() -> None:
    live = {"east": [LiveLimits("task", "t.x", rate=5.0, burst=None, max_depth=None)],
            "west": []}
    assert fleet_limits(live, {}) == []  # west admits t.x at any rate: so does the fleet
    live = {"east": [LiveLimits("task", "t.x", rate=5.0, burst=None, max_depth=3)],
            "west": [LiveLimits("task", "t.x", rate=0.0, burst=None, max_depth=7)]}
    assert fleet_limits(live, {}) == [FleetLimit("task", "t.x", None, 10, 2)]
