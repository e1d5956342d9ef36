"""The Workers pane's rows: a dead worker reads `dead` with how long ago it was last seen, and
every lease age is the shared `LeaseBook`'s, moving with the clock between reads."""

from __future__ import annotations

import pytest

from relier.inspection import ProcessView, WorkerState, WorkerView
from relier_tui.filters import Filter
from relier_tui.leases import LeaseBook, LeaseLimits
from relier_tui.widgets.workers import worker_rows

LIMITS = LeaseLimits(ttl=30.0, refresh=10.0)


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _worker(node: str, lease_age: float | None, *, state: WorkerState = WorkerState.LIVE,
            last_seen_age: float | None = None, draining: bool = False,
            processes: list[ProcessView] | None = None) -> WorkerView:
    return WorkerView(node=node, host="vm", pid=1, queues=["default"], pool="prefork",
                      concurrency=2, lease_age=lease_age, tasks_held=0, processes=processes or [],
                      draining=draining, state=state, last_seen_age=last_seen_age)


def _rows(workers: list[WorkerView], book: LeaseBook) -> dict[str, tuple[str, str]]:
    """Each row's state and lease cell, as text."""
    return {key: (str(row[3]), str(row[1])) for key, row in worker_rows(workers, LIMITS, book).items()}


def test_live_draining_and_dead_workers_read_as_such() -> None:
    workers = [
        _worker("live@vm", 1.5),
        _worker("leaving@vm", 1.0, draining=True),
        _worker("expired@vm", 45.0, state=WorkerState.DEAD, last_seen_age=45.0),
        _worker("reaped@vm", None, state=WorkerState.DEAD, last_seen_age=754.0),
    ]
    book = LeaseBook(Clock())
    book.record_workers(workers)
    rows = _rows(workers, book)
    assert {node: state for node, (state, _) in rows.items()} == {
        "live@vm": "serving", "leaving@vm": "draining", "expired@vm": "dead", "reaped@vm": "dead"}
    assert rows["reaped@vm"][1] == "12m34s"  # last seen, though its lease is gone
    assert rows["live@vm"][1] == "1.5s"


def test_ages_move_between_reads_and_a_silent_worker_turns_dead() -> None:
    """Nothing renews a dead worker's lease, so nothing re-reads it but the reconcile: its age
    still moves every second, and it reads `dead` the moment the age passes the TTL."""
    clock = Clock()
    book = LeaseBook(clock)
    workers = [_worker("silent@vm/1", 28.0, processes=[ProcessView("silent@vm/7", 28.5, 1)]),
               _worker("reaped@vm/2", None, state=WorkerState.DEAD, last_seen_age=40.0)]
    book.record_workers(workers)
    assert _rows(workers, book)["silent@vm/1"] == ("serving", "28.0s")
    clock.now += 2.5
    rows = _rows(workers, book)
    assert rows["silent@vm/1"] == ("dead", "30.5s")
    assert rows["silent@vm/7"][1] == "31.0s"
    assert rows["reaped@vm/2"] == ("dead", "42.5s")


def test_the_filter_selects_by_the_state_now() -> None:
    clock = Clock()
    book = LeaseBook(clock)
    workers = [_worker("silent@vm/1", 29.0), _worker("busy@vm/2", 0.5)]
    book.record_workers(workers)
    clock.now += 5.0
    assert list(worker_rows(workers, LIMITS, book, Filter.parse("state=dead"))) == ["silent@vm/1"]


def test_a_newer_reading_wins_whichever_read_is_applied_last() -> None:
    clock = Clock()
    book = LeaseBook(clock)
    book.record_workers([_worker("w@vm/1", 0.1)])
    book.record_workers([_worker("w@vm/1", 8.0)])  # a slow read, begun before the first
    assert book.lease_age("w@vm/1") == pytest.approx(0.1)
    book.record_workers([])
    assert book.lease_age("w@vm/1") is None  # its lease is gone


def test_a_lease_is_green_while_renewals_arrive_yellow_late_red_past_the_ttl() -> None:
    assert [LIMITS.style(age) for age in (0.0, 19.9, 20.0, 29.9, 30.0)] == [
        "green", "green", "yellow", "yellow", "bold red"]


def test_a_registration_holding_garbage_numbers_reads_question_marks() -> None:
    garbled = WorkerView(node="garbled@vm", host="vm", pid=None, queues=["default"],
                         pool="prefork", concurrency=None, lease_age=1.0, tasks_held=0,
                         processes=[], draining=False, state=WorkerState.LIVE,
                         last_seen_age=None)
    book = LeaseBook(Clock())
    book.record_workers([garbled])
    row = worker_rows([garbled], LIMITS, book)["garbled@vm"]
    assert row[4] == "prefork x?"
    assert row[7] == "?"
