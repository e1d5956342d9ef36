"""The Workers pane's rows: a dead worker reads `dead` with how long ago it was last seen."""

from __future__ import annotations

from relier.inspection import WorkerState, WorkerView
from relier_tui.leases import LeaseLimits
from relier_tui.widgets.workers import worker_rows

LIMITS = LeaseLimits(ttl=30.0, refresh=10.0)


def _worker(node: str, lease_age: float | None, *, state: WorkerState = WorkerState.LIVE,
            last_seen_age: float | None = None, draining: bool = False) -> WorkerView:
    return WorkerView(node=node, host="vm", pid=1, queues=["default"], pool="prefork",
                      concurrency=2, lease_age=lease_age, tasks_held=0, processes=[],
                      draining=draining, state=state, last_seen_age=last_seen_age)


def test_live_draining_and_dead_workers_read_as_such() -> None:
    rows = worker_rows([
        _worker("live@vm", 1.5),
        _worker("leaving@vm", 1.0, draining=True),
        _worker("expired@vm", 45.0, state=WorkerState.DEAD, last_seen_age=45.0),
        _worker("reaped@vm", None, state=WorkerState.DEAD, last_seen_age=754.0),
    ], LIMITS)
    states = {node: str(row[3]) for node, row in rows.items()}
    assert states == {"live@vm": "serving", "leaving@vm": "draining", "expired@vm": "dead",
                      "reaped@vm": "dead"}
    assert str(rows["reaped@vm"][1]) == "12m34s"  # last seen, though its lease is gone
    assert str(rows["live@vm"][1]) == "1.5s"


def test_a_lease_is_green_while_renewals_arrive_yellow_late_red_past_the_ttl() -> None:
    assert [LIMITS.style(age) for age in (0.0, 19.9, 20.0, 29.9, 30.0)] == [
        "green", "green", "yellow", "yellow", "bold red"]
