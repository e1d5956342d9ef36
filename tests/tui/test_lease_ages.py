"""Lease ages from one source (issue 19): the Inflight pane, the Workers pane and the detail view
show how long ago a process renewed its lease as the last read of the workers and leases says
(re-read on every renewal), aged by the clock in between; a task's own record, read only on its
own events, no longer decides it. Driven with the pilot against a real (empty) Redis, with the
reads applied as the app applies them and the console's clock moved by the test."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from relier.inspection import InflightTask, ProcessView, WorkerView
from relier.testing import RedisServer
from relier_tui.app import RelierConsole
from relier_tui.screens import DetailScreen
from relier_tui.task_view import TaskRead, task_view
from relier_tui.widgets.inflight import InflightPane
from relier_tui.widgets.keyed_table import KeyedTable
from relier_tui.widgets.workers import WorkersPane
from tests.tui.conftest import until
from tests.tui.keyboard import console, start
from tests.tui.task_records import KEYS, NOW_MS, history_entries, running_record

HOLDER = "demo1@vm/1234"


class Clock:
    """The console's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _worker(lease_age: float, process_age: float) -> WorkerView:
    return WorkerView(node="demo1@vm/1000", host="vm", pid=1000, queues=["default"], pool="prefork",
                      concurrency=2, lease_age=lease_age, tasks_held=1,
                      processes=[ProcessView(HOLDER, process_age, 1)], draining=False)


def _task(lease_age: float, running_for: float) -> InflightTask:
    return InflightTask(id="3f2c9a1e-0000-4000-8000-000000000001", task="reports.monthly",
                        queue="default", state="running", attempt=1, fence=5, holder=HOLDER,
                        lease_age=lease_age, running_for=running_for)


def cells(table: KeyedTable, key: str) -> dict[str, str]:
    """The row's cells as shown, by column key."""
    return {column: str(getattr(value, "plain", value))
            for (column, _), value in zip(table.layout_shown, table.get_row(key), strict=True)}


async def _console(pilot: Pilot[None], app: RelierConsole) -> Clock:
    await start(pilot, app, "inflight")
    clock = Clock()
    app.leases.clock = clock
    return clock


async def test_inflight_ages_a_lease_from_the_workers_read_not_the_tasks(empty_server: RedisServer) -> None:
    """The task's record was read 6.7 s ago (no event of its own since); its process renewed its
    lease 1 ms before the last workers read: the row says 1ms, green, as Workers does."""
    app = console(empty_server)
    async with app.run_test(size=(160, 40)) as pilot:
        clock = await _console(pilot, app)
        pane = app.query_one(InflightPane)
        task = _task(lease_age=0.5, running_for=1.0)
        pane.replace([task])
        clock.now += 6.7
        app._show_workers([_worker(lease_age=0.3, process_age=0.001)])
        await pilot.pause()
        row = cells(pane.table, task.id)
        assert (row["lease"], row["running"]) == ("1ms", "7.7s")
        clock.now += 2.5  # no read since: the age moves with the clock
        await until(pilot, lambda: cells(pane.table, task.id)["lease"] == "2.5s",
                    what="the inflight lease age moving with the clock")
        await pilot.press("2")
        workers = app.query_one(WorkersPane).table
        await until(pilot, lambda: cells(workers, HOLDER)["lease"] == "2.5s",
                    what="the Workers pane showing the same age")


async def test_a_process_no_worker_read_knows_keeps_its_own_reading(empty_server: RedisServer) -> None:
    """A holder under no registered worker (the workers read does not list it): the lease age
    read with the task, aged since."""
    app = console(empty_server)
    async with app.run_test(size=(160, 40)) as pilot:
        clock = await _console(pilot, app)
        pane = app.query_one(InflightPane)
        task = _task(lease_age=0.5, running_for=1.0)
        pane.replace([task])
        clock.now += 2.0
        await until(pilot, lambda: cells(pane.table, task.id)["lease"] == "2.5s",
                    what="the task's own reading, aged")


async def test_the_detail_view_says_the_lease_age_the_panes_show(empty_server: RedisServer) -> None:
    app = console(empty_server)
    async with app.run_test(size=(160, 40)) as pilot:
        clock = await _console(pilot, app)
        app._show_workers([_worker(lease_age=0.3, process_age=0.004)])
        clock.now += 0.5
        # the view's own read said 9.0s: a moment ago, when the record was read
        read = TaskRead("3f2c9a1e-0000-4000-8000-000000000001", running_record(), history_entries(),
                        NOW_MS, NOW_MS - 9_000)
        app.query_one(InflightPane).show_task(task_view(read, KEYS, app.source.mask))
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), what="the detail view")
        text = "\n".join(str(_plain(body)) for _, body in app.screen.sections)  # type: ignore[attr-defined]
        assert "renewed 504ms ago, alive" in text


def _plain(body: Any) -> Any:
    return getattr(body, "plain", body)
