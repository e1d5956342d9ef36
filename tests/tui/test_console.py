"""The console against a real Redis and real Celery workers: each pane shows what is in Redis,
and its actions really act."""

from __future__ import annotations

import uuid
from types import ModuleType

import redis
from textual.pilot import Pilot
from textual.widgets import Input, RichLog, Static

from relier.procinfo import is_gone
from relier.testing import CeleryWorker, RedisServer
from relier_tui.app import RelierConsole
from relier_tui.screens import ConfirmScreen
from relier_tui.widgets.dead_letters import DeadLettersPane
from relier_tui.widgets.events import EventsPane
from relier_tui.widgets.health import HealthBar
from relier_tui.widgets.inflight import InflightPane
from relier_tui.widgets.keyed_table import KeyedTable
from relier_tui.widgets.workers import WorkersPane
from tests.support import executions, running_pid, settings_for
from tests.tui.conftest import until


def _console() -> RelierConsole:
    from relier.tasks import relier  # after the session server set RELIER_REDIS_URL

    return RelierConsole(relier, reconcile_interval=1.0, poll_interval=0.5)


def _state(client: redis.Redis, task_id: str) -> str:
    raw = client.hget(f"rl:t:{task_id}", "state")
    return raw.decode() if raw else "missing"


async def test_panes_show_what_is_in_redis(basic_tasks: ModuleType, console_worker: CeleryWorker,
                                           redis_client: redis.Redis) -> None:
    held = basic_tasks.hold.push(30.0)
    failed = basic_tasks.explode.push("console")
    app = _console()
    async with app.run_test(size=(140, 40)) as pilot:
        inflight = app.query_one(InflightPane)
        await until(pilot, lambda: held.id in inflight.tasks, what="the held task in the inflight pane")
        assert held.id in inflight.table.keys
        await pilot.press("2")
        workers = app.query_one(WorkersPane).table
        await until(pilot, lambda: any(key.startswith(console_worker.hostname) for key in workers.keys),
                    what="the worker in the workers pane")
        await pilot.press("4")
        dead_letters = app.query_one(DeadLettersPane)
        await until(pilot, lambda: failed.id in dead_letters.entries, what="the dead letter")
        assert dead_letters.entries[failed.id].reason == "retries_exhausted"
        await pilot.press("3")
        events = app.query_one(EventsPane)
        await until(pilot, lambda: any(e.get("id") == failed.id and e["type"] == "dead_lettered"
                                       for e in events.kept), what="the dead_lettered event")
        assert app.health is not None
        assert app.health.dead_letters >= 1
        assert app.health.workers_alive >= 1
        header = str(app.query_one(HealthBar).render())
        assert "redis ok" in header
        assert "notif on" in header
        # Enter opens the task's detail with its arguments
        await pilot.press("1")
        table = app.query_one("#inflight-table", KeyedTable)
        table.focus()
        table.move_cursor(row=table.get_row_index(held.id))
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.__class__.__name__ == "DetailScreen", what="the detail screen")
        texts = " ".join(str(widget.render()) for widget in app.screen.query(Static))
        assert "[0] 30.0" in texts  # its argument, decoded
        assert "attempts" in texts
        await pilot.press("escape")
    redis_client.delete(f"rl:t:{held.id}")


async def test_a_task_pushed_from_the_dispatch_form_runs(console_worker: CeleryWorker,
                                                         redis_client: redis.Redis) -> None:
    app = _console()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("6")
        app.query_one("#dispatch-task", Input).value = "tests.add"
        app.query_one("#dispatch-args", Input).value = "[2, 40]"
        app.query_one("#dispatch-kwargs", Input).value = "not json"
        await pilot.press("ctrl+s")
        status = app.query_one("#dispatch-status", Static)
        await until(pilot, lambda: "kwargs: not JSON" in str(status.render()), what="the validation error")
        app.query_one("#dispatch-kwargs", Input).value = "{}"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: ": completed" in str(status.render()), what="the pushed task to complete")
        task_id = str(status.render()).split()[2].rstrip(":")
        assert _state(redis_client, task_id) == "completed"
        assert redis_client.hget(f"rl:t:{task_id}", "name") == b"tests.add"


async def test_a_dead_letter_released_from_the_console_runs_and_disappears(
        basic_tasks: ModuleType, console_worker: CeleryWorker, redis_client: redis.Redis) -> None:
    key = uuid.uuid4().hex
    handle = basic_tasks.fails_first.push(key)
    app = _console()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("4")
        pane = app.query_one(DeadLettersPane)
        await until(pilot, lambda: handle.id in pane.table.keys, what="the dead letter row")
        pane.table.focus()
        pane.table.move_cursor(row=pane.table.get_row_index(handle.id))
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("y")
        await until(pilot, lambda: handle.id not in pane.table.keys, what="the row to disappear")
        await until(pilot, lambda: _state(redis_client, handle.id) == "completed", what="the re-run")
    assert handle.result(timeout=10) == "second time lucky"


async def test_purge_needs_confirmation(basic_tasks: ModuleType, console_worker: CeleryWorker,
                                        redis_client: redis.Redis) -> None:
    marker = f"purge-{uuid.uuid4().hex[:6]}"
    doomed = basic_tasks.explode_async.push(marker)
    app = _console()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("4")
        pane = app.query_one(DeadLettersPane)
        await until(pilot, lambda: doomed.id in pane.entries, what="the dead letter")
        app.query_one("#dlq-filter", Input).value = "task=tests.explode_async"
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="the dialog to close")
        assert redis_client.zscore("rl:dlq", doomed.id) is not None  # declined: nothing deleted
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        question = str(app.screen.query_one("#question", Static).render())
        assert "matching the filter" in question
        await pilot.press("y")
        await until(pilot, lambda: redis_client.zscore("rl:dlq", doomed.id) is None, what="the purge")
        await until(pilot, lambda: doomed.id not in pane.table.keys, what="the row to go")


async def test_a_chaos_run_from_the_console_reaches_its_verdict(console_worker: CeleryWorker) -> None:
    app = _console()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("5")
        app.query_one("#chaos-scenario").value = "task-corrupt"  # type: ignore[attr-defined]
        await pilot.pause()
        app.query_one("#chaos-options", Input).value = '{"rounds": 1}'
        await pilot.press("ctrl+s")
        verdict = app.query_one("#chaos-verdict", Static)
        await until(pilot, lambda: "HELD" in str(verdict.render()) or "VIOLATED" in str(verdict.render()),
                    timeout=120, what="the verdict")
        assert "task-corrupt: HELD" in str(verdict.render())
        log = app.query_one("#chaos-log", RichLog)
        assert len(log.lines) >= 2  # progress events arrived live


async def test_the_banner_follows_redis(redis_server: RedisServer) -> None:
    import pathlib
    import tempfile

    from celery import Celery

    from relier.binding import Relier

    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(pathlib.Path(tmp)).start()
        try:
            own = Relier(Celery("console-test", set_as_current=False), settings=settings_for(server.url))
            app = RelierConsole(own, reconcile_interval=1.0, poll_interval=0.3)
            async with app.run_test(size=(120, 30)) as pilot:
                banner = app.query_one("#banner", Static)
                await until(pilot, lambda: app.connected is True, what="connected")
                assert not banner.display
                server.kill()
                await until(pilot, lambda: banner.display, what="the banner")
                assert "Redis unreachable" in str(banner.render())
                assert "REDIS DOWN" in str(app.query_one(HealthBar).render())
                server.start()
                await until(pilot, lambda: not banner.display, timeout=30, what="the banner to clear")
                assert app.connected is True
        finally:
            server.stop()


async def test_notifications_off_shows_and_polls(redis_server: RedisServer) -> None:
    import pathlib
    import tempfile

    from celery import Celery

    from relier.binding import Relier

    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(pathlib.Path(tmp), notify_keyspace_events="").start()
        try:
            own = Relier(Celery("console-test", set_as_current=False), settings=settings_for(server.url))
            app = RelierConsole(own, reconcile_interval=30.0, poll_interval=0.3)
            async with app.run_test(size=(120, 30)) as pilot:
                await until(pilot, lambda: app.health is not None, what="the first read")
                assert app.notifications is False
                assert "notif OFF: polling" in str(app.query_one(HealthBar).render())
                # polling still sees a change made behind the console's back
                server.client().zadd("rl:dlq", {"polled-entry": 1})
                await until(pilot, lambda: app.health is not None and app.health.dead_letters == 1,
                            what="the polled dead-letter count")
        finally:
            server.stop()


async def test_every_action_is_in_the_command_palette(console_worker: CeleryWorker) -> None:
    app = _console()
    async with app.run_test(size=(120, 36)) as pilot:
        commands = {command.title: command for command in app.get_system_commands(app.screen)}
        assert {"Show Inflight", "Show Dead letters", "Show Chaos", "Reload", "Help", "Filter", "Sort",
                "Open", "Pause events"} <= set(commands)
        assert "key: ctrl+r" in commands["Reload"].help
        assert "Release" not in commands  # a dead-letter action, offered on that pane only
        assert {"Cancel", "Cancel + terminate"} <= set(commands)
        assert "key: C" in commands["Cancel + terminate"].help
        await pilot.press("4")
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Release", "Retry all", "Purge"} <= titles
        assert "Cancel" not in titles  # an inflight action
        await pilot.press("6")
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert "Push" in titles
        assert "Sort" not in titles
        show_chaos = next(c for c in app.get_system_commands(app.screen) if c.title == "Show Chaos")
        show_chaos.callback()
        await until(pilot, lambda: app.active_pane == "chaos", what="the chaos pane")
        assert app.focused is app.pane("chaos")


async def _select_running(pilot: Pilot[None], app: RelierConsole, client: redis.Redis,
                          task_id: str) -> InflightPane:
    """Wait for the task's body to run and its row to show; put the cursor on it."""
    pane = app.query_one(InflightPane)
    await until(pilot, lambda: _state(client, task_id) == "running", what="the body to start")
    await until(pilot, lambda: task_id in pane.table.keys, what="the task's row")
    pane.table.focus()
    pane.table.move_cursor(row=pane.table.get_row_index(task_id))
    await pilot.pause()
    return pane


def _told(app: RelierConsole, text: str) -> bool:
    return any(text in notification.message for notification in app._notifications)


async def test_cancel_asks_first_then_revokes_the_selected_task(
        basic_tasks: ModuleType, console_worker: CeleryWorker, redis_client: redis.Redis) -> None:
    held = basic_tasks.hold.push(300.0)
    app = _console()
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            pane = await _select_running(pilot, app, redis_client, held.id)
            fence = redis_client.hget(f"rl:t:{held.id}", "fence")
            await pilot.press("c")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
            question = str(app.screen.query_one("#question", Static).render())
            assert held.id in question
            assert "tests.hold" in question
            assert "never run again" in question
            await pilot.press("n")
            await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="the dialog to close")
            await pilot.pause(0.5)
            # declined: the record is as it was, and the row is still there
            assert _state(redis_client, held.id) == "running"
            assert redis_client.hget(f"rl:t:{held.id}", "fence") == fence
            assert held.id in pane.table.keys
            assert not _told(app, "cancel ")
            await pilot.press("c")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
            await pilot.press("y")
            await until(pilot, lambda: _state(redis_client, held.id) == "cancelled", what="the cancel")
            await until(pilot, lambda: _told(app, f"cancel tests.hold {held.id[:8]}: cancelled"),
                        what="the outcome notification")
            await until(pilot, lambda: held.id not in pane.table.keys, what="the row to go")
            assert redis_client.hget(f"rl:t:{held.id}", "fence") != fence  # the running attempt is fenced off
    finally:
        from relier.tasks import relier

        relier.cancel(held.id, terminate=True)  # the body ran on (no terminate): free the worker's slot


async def test_cancel_and_terminate_stops_the_running_body(
        basic_tasks: ModuleType, console_worker: CeleryWorker, redis_client: redis.Redis) -> None:
    held = basic_tasks.hold.push(300.0)
    pid = running_pid(redis_client, held.id)
    app = _console()
    async with app.run_test(size=(140, 40)) as pilot:
        pane = await _select_running(pilot, app, redis_client, held.id)
        await pilot.press("C")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        question = str(app.screen.query_one("#question", Static).render())
        assert held.id in question
        assert "terminate" in question
        await pilot.press("y")
        await until(pilot, lambda: _state(redis_client, held.id) == "cancelled", what="the cancel")
        await until(pilot, lambda: is_gone(pid), timeout=30, what="the body's process to stop")
        await until(pilot, lambda: _told(app, f"{held.id[:8]}: cancelled (terminate sent"),
                    what="the outcome notification")
        await until(pilot, lambda: held.id not in pane.table.keys, what="the row to go")
    assert executions(redis_client, held.id) == 1
    assert _state(redis_client, held.id) == "cancelled"
