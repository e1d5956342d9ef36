"""The console across cells (RELIER_CELLS), against two real Redis servers: every cell's workers
and inflight tasks show with their cell, `cell=` filters, Enter opens a task in its own cell,
and a cell whose Redis is killed reads `unreachable` while the other keeps refreshing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery
from textual.widgets import Static

from relier.binding import Relier
from relier.keys import Keys
from relier.testing import RedisServer
from relier_tui.app import RelierConsole
from relier_tui.filters import Filter
from relier_tui.screens import ConfirmScreen, DetailScreen
from relier_tui.widgets.dead_letters import DeadLettersPane
from relier_tui.widgets.health import HealthBar
from relier_tui.widgets.inflight import InflightPane
from relier_tui.widgets.workers import WorkersPane
from tests.support import settings_for
from tests.tui.conftest import until

NAMES = ("east", "west")


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[dict[str, RedisServer]]:
    """A Redis per cell, of the test's own (loopback)."""
    started = {name: RedisServer(tmp_path / name).start() for name in NAMES}
    yield started
    for server in started.values():
        server.stop()


def console_for(servers: dict[str, RedisServer]) -> RelierConsole:
    relier = Relier(Celery("console-cells", set_as_current=False),
                    settings=settings_for(servers["east"].url),
                    cells={name: server.url for name, server in servers.items()})
    return RelierConsole(relier, reconcile_interval=1.0, poll_interval=0.2)


def hold(server: RedisServer, keys: Keys, node: str, task_id: str, name: str) -> None:
    """A registered worker whose pool process holds a running task, as workers write them."""
    client = server.client()
    seconds, micros = client.time()
    now_ms = int(seconds) * 1000 + int(micros) // 1000
    process = f"{node}/4243"
    client.hset(keys.workers, node, json.dumps({"host": "vm", "pid": 4242, "queues": ["default"],
                                                "pool": "prefork", "concurrency": 1}))
    client.zadd(keys.leases, {node: now_ms, process: now_ms})
    client.sadd(keys.held(process), task_id)
    client.hset(keys.record(task_id), mapping={
        "name": name, "queue": "default", "state": "running", "attempt": "1", "fence": "1",
        "holder": process, "worker": node, "started": str(now_ms), "updated": str(now_ms)})
    client.close()


def header(app: RelierConsole) -> str:
    return str(app.query_one(HealthBar).render())


async def test_every_cell_shows_with_its_cell_and_a_dead_cell_does_not_stop_the_other(
        servers: dict[str, RedisServer]) -> None:
    app = console_for(servers)
    keys = app.relier.keys
    hold(servers["east"], keys, "a@vm", "east~1", "billing.charge")
    hold(servers["west"], keys, "a@vm", "west~2", "images.resize")  # the same node name
    async with app.run_test(size=(120, 30)) as pilot:
        inflight = app.query_one(InflightPane)
        workers = app.query_one(WorkersPane)
        await until(pilot, lambda: set(inflight.table.keys) == {"east~1", "west~2"},
                    what="both cells' tasks")
        assert inflight.table.keys_set["east~1"][:2] == ("east", "billing.charge")
        assert inflight.table.keys_set["west~2"][:2] == ("west", "images.resize")
        await until(pilot, lambda: {"east/a@vm", "west/a@vm"} <= set(workers.table.keys),
                    what="both cells' workers")
        assert workers.table.keys_set["west/a@vm"][:2] == ("west", "a@vm")
        assert workers.table.keys_set["west/a@vm/4243"][0] == ""
        await until(pilot, lambda: re.search(r"cells east ok mem \d+ MiB, no limit · west ok mem",
                                             header(app)) is not None, what="the cells' line")

        await pilot.press("slash", *"cell=west")
        await until(pilot, lambda: inflight.table.keys == ["west~2"], what="the cell filter")
        await pilot.press("ctrl+a", "ctrl+k", "escape")
        await until(pilot, lambda: len(inflight.table.keys) == 2, what="the filter cleared")
        workers.where = Filter.parse("cell=east")
        workers.apply_filter()
        assert set(workers.table.keys) == {"east/a@vm", "east/a@vm/4243"}
        workers.where = Filter()
        workers.apply_filter()

        # Enter opens the row's task from its own cell's Redis (west is not the console's home)
        inflight.table.focus()
        inflight.table.move_cursor(row=inflight.table.get_row_index("west~2"))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), what="the detail view")
        await pilot.pause()
        text = "\n".join(str(widget.render()) for widget in app.screen.query(Static))
        assert "images.resize" in text
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DetailScreen), what="the view to close")

        servers["west"].kill()
        await until(pilot, lambda: "west unreachable" in header(app), what="west unreachable")
        await until(pilot, lambda: "west~2" not in inflight.table.keys, what="west's rows to go")
        assert not any(key.startswith("west/") for key in workers.table.keys)
        hold(servers["east"], keys, "b@vm", "east~3", "mail.send")
        await until(pilot, lambda: "east~3" in inflight.table.keys, what="east still refreshing")
        assert "east ok" in header(app)
        assert set(inflight.table.keys) == {"east~1", "east~3"}


async def test_the_cell_column_is_kept_at_80_columns(servers: dict[str, RedisServer]) -> None:
    app = console_for(servers)
    hold(servers["west"], app.relier.keys, "a@vm", "west~2", "images.resize")
    async with app.run_test(size=(80, 24)) as pilot:
        inflight = app.query_one(InflightPane)
        await until(pilot, lambda: "west~2" in inflight.table.keys, what="west's task")
        shown = [key for key, _ in inflight.table.layout_shown]
        assert shown[:4] == ["cell", "task", "state", "lease"]
        await pilot.press("2")
        workers = app.query_one(WorkersPane)
        await until(pilot, lambda: "west/a@vm" in workers.table.keys, what="west's worker")
        await pilot.pause()
        assert [key for key, _ in workers.table.layout_shown][:3] == ["cell", "node", "lease"]


def bury(server: RedisServer, keys: Keys, task_id: str, name: str) -> None:
    """A dead letter (its record and its entry in the dead-letter index), as relier writes it."""
    client = server.client()
    seconds, _ = client.time()
    client.hset(keys.record(task_id), mapping={
        "name": name, "queue": "default", "state": "dead_lettered",
        "reason": "retries_exhausted", "exc_type": "ValueError", "error": "boom", "attempt": "3"})
    client.zadd(keys.dead_letters, {task_id: int(seconds) * 1000})
    client.close()


async def test_dead_letters_of_every_cell_open_and_purge_in_their_cell(
        servers: dict[str, RedisServer]) -> None:
    app = console_for(servers)
    keys = app.relier.keys
    bury(servers["east"], keys, "east~d1", "billing.charge")
    bury(servers["west"], keys, "west~d2", "images.resize")
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("4")
        pane = app.query_one(DeadLettersPane)
        await until(pilot, lambda: set(pane.table.keys) == {"east~d1", "west~d2"},
                    what="both cells' dead letters")
        assert pane.table.keys_set["west~d2"][:2] == ("west", "images.resize")
        status = str(app.query_one("#dlq-status", Static).render())
        assert status.startswith("2 dead letters")

        pane.table.focus()
        pane.table.move_cursor(row=pane.table.get_row_index("west~d2"))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), what="the detail view")
        await pilot.pause()
        assert "images.resize" in "\n".join(str(w.render()) for w in app.screen.query(Static))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DetailScreen), what="the view to close")

        await pilot.press("slash", *"cell=west", "escape")
        await until(pilot, lambda: pane.table.keys == ["west~d2"], what="the cell filter")
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        question = " ".join(str(w.render()) for w in app.screen.query(Static))
        assert "Delete 1 dead letters matching the filter in cell west" in question
        await pilot.press("y")
        west, east = servers["west"].client(), servers["east"].client()
        await until(pilot, lambda: west.zcard(keys.dead_letters) == 0, what="west's purge")
        assert east.zrange(keys.dead_letters, 0, -1) == [b"east~d1"]
        west.close()
        east.close()
        await until(pilot, lambda: pane.table.keys == [], what="west's row to go")
        await pilot.press("slash", "ctrl+a", "ctrl+k", "escape")
        await until(pilot, lambda: pane.table.keys == ["east~d1"], what="east's row alone")
