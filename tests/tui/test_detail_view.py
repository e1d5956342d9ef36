"""The task detail view in the running console (issue 19): a held task opened from the Inflight
pane reads as its state, the lease holder and how fresh its lease is, local times with ages,
its arguments decoded and its attempts as a table; a dead letter opens the same way; a record
of garbage shows `undecodable (N bytes)` lines, never an escape sequence, and the console goes
on; Esc closes the view and gives the keys back to the table."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from types import ModuleType

import pytest
import redis
from textual.widgets import Static

from relier.connection import Connections
from relier.display import REPLACEMENT
from relier.store import Store
from relier.testing import CeleryWorker, RedisServer
from relier_tui.app import RelierConsole
from relier_tui.screens import DetailScreen
from relier_tui.widgets.dead_letters import DeadLettersPane
from relier_tui.widgets.inflight import InflightPane
from tests.support import settings_for
from tests.tui.conftest import until
from tests.tui.keyboard import console, start
from tests.tui.task_records import GARBAGE_HISTORY, GARBAGE_RECORD

#: a local time with its age, as the view shows every moment
MOMENT = re.compile(r"\d\d:\d\d:\d\d \(\d+(\.\d)?(ms|s) ago\)")


def _console() -> RelierConsole:
    from relier.tasks import relier  # after the session server set RELIER_REDIS_URL

    return RelierConsole(relier, reconcile_interval=1.0, poll_interval=0.5)


def shown_text(app: RelierConsole) -> str:
    """The detail view's text, as drawn, section after section."""
    screen = app.screen
    assert isinstance(screen, DetailScreen)
    return "\n".join(line.rstrip() for widget in screen.query(Static)
                     for line in (widget.render_line(y).text for y in range(widget.size.height)))


async def test_a_held_task_opens_formatted_and_esc_closes_it(basic_tasks: ModuleType,
                                                             console_worker: CeleryWorker,
                                                             redis_client: redis.Redis) -> None:
    held = basic_tasks.hold.push(30.0)
    app = _console()
    async with app.run_test(size=(160, 48)) as pilot:
        inflight = app.query_one(InflightPane)
        await until(pilot, lambda: held.id in inflight.table.keys and inflight.tasks[held.id].state
                    == "running", what="the held task running")
        inflight.table.focus()
        inflight.table.move_cursor(row=inflight.table.get_row_index(held.id))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), what="the detail view")
        await pilot.pause()
        text = shown_text(app)
        holder = inflight.tasks[held.id].holder
        assert f"task {held.id}" in text
        assert "task  tests.hold" in text
        assert "state  running" in text
        node = holder.rsplit("/", 1)[0]
        assert node == console_worker.hostname
        assert re.search(rf"lease  held by {re.escape(holder)} \(worker {re.escape(node)}\): "
                         r"renewed \d+(\.\d)?(ms|s) ago, alive", text), text
        assert re.search(rf"started  {MOMENT.pattern}", text), text
        assert re.search(r"runtime  \d+(\.\d)?(ms|s) so far", text)
        assert "signature  verified" in text
        assert "[0] 30.0" in text
        assert "value  (none)" in text  # no checkpoint yet
        row = next(line for line in text.splitlines() if holder in line and "held by" not in line)
        assert row.split()[0] == "1"
        assert row.split()[-1] == "running"
        assert str(held.id) not in row
        assert not re.search(r"\b1\d{12}\b", text)  # no raw epoch milliseconds anywhere
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DetailScreen), what="the view to close")
        assert app.focused is inflight.table
        await pilot.press("2")  # the keys are the console's again
        assert app.active_pane == "workers"
    redis_client.delete(f"rl:t:{held.id}")


async def test_a_dead_letter_opens_as_the_same_view(basic_tasks: ModuleType,
                                                    console_worker: CeleryWorker) -> None:
    failed = basic_tasks.explode.push("detail view")
    app = _console()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("4")
        pane = app.query_one(DeadLettersPane)
        await until(pilot, lambda: failed.id in pane.table.keys, what="the dead letter")
        pane.table.focus()
        pane.table.move_cursor(row=pane.table.get_row_index(failed.id))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), what="the detail view")
        await pilot.pause()
        text = shown_text(app)
        assert f"dead letter {failed.id}" in text
        assert "state  dead_lettered (retries_exhausted)" in text
        assert "lease  not held (dead_lettered)" in text
        assert "[0] 'detail view'" in text
        assert re.search(rf"ended  {MOMENT.pattern}", text), text
        assert "Traceback (most recent call last)" in text
        outcomes = [line for line in text.splitlines() if "failed:" in line]
        assert outcomes, text
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DetailScreen), what="the view to close")
        assert app.focused is pane.table


@pytest.fixture(scope="module")
def garbage(empty_server: RedisServer) -> Iterator[tuple[str, str]]:
    """Two records of garbage held by a leased process: one whose numbers the Inflight table
    reads (so it is listed), one with nothing decodable (opened by id)."""
    settings = settings_for(empty_server.url)
    store = Store(Connections(settings), settings)
    keys, client = store.keys, store.client
    seconds, micros = client.time()
    now = int(seconds) * 1000 + int(micros) // 1000
    process = "evil\x1b[2J@host/1"
    client.zadd(keys.leases, {process: now})
    listed, hidden = "t-garbage-listed", "t-garbage-whole"
    client.sadd(keys.held(process), listed)
    client.hset(keys.record(listed), mapping={**GARBAGE_RECORD, "attempt": "1", "fence": "1",
                                              "started": str(now), "holder": process})
    client.hset(keys.record(hidden), mapping=GARBAGE_RECORD)
    for task_id in (listed, hidden):
        client.rpush(keys.history(task_id), *GARBAGE_HISTORY)
    yield listed, hidden
    with closing(client):
        client.delete(keys.record(listed), keys.record(hidden), keys.held(process))
        client.zrem(keys.leases, process)


def _assert_inert(text: str) -> None:
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "\x9b" not in text
    assert f"evil{REPLACEMENT}]0;pwned{REPLACEMENT}" in text


async def test_a_record_of_garbage_reads_undecodable_and_the_console_goes_on(
        garbage: tuple[str, str], empty_server: RedisServer) -> None:
    listed, hidden = garbage
    app = console(empty_server)
    async with app.run_test(size=(120, 40)) as pilot:
        await start(pilot, app, "inflight")
        inflight = app.query_one(InflightPane)
        await until(pilot, lambda: listed in inflight.table.keys, what="the garbage row")
        inflight.table.move_cursor(row=inflight.table.get_row_index(listed))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), what="the detail view")
        await pilot.pause()
        text = shown_text(app)
        _assert_inert(text)
        stored = len(GARBAGE_RECORD["packed"]) + len(GARBAGE_RECORD["raw"])
        assert f"message  undecodable ({stored} bytes)" in text
        assert "value  undecodable (3 bytes)" in text  # the checkpoint
        assert "history entry 1: undecodable (11 bytes)" in text
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DetailScreen), what="the view to close")

        inflight.open_task(hidden)  # every field garbage, numbers too
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), what="the second view")
        await pilot.pause()
        text = shown_text(app)
        _assert_inert(text)
        assert "attempt  undecodable (3 bytes), fence undecodable (2 bytes)" in text
        assert "started  undecodable (9 bytes)" in text
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DetailScreen), what="the view to close")
        await pilot.press("2")
        assert app.active_pane == "workers"
        read = app.health
        await pilot.press("ctrl+r")
        await until(pilot, lambda: app.health is not read, what="a read after the views")
        assert app.connected is True
