"""The console shows what Redis holds literally: a task name carrying an escape sequence or
Rich markup renders as typed, with U+FFFD for the control characters, in every pane; and the
header shows Redis memory headroom and misspelt RELIER_* settings."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from celery import Celery
from rich.text import Text
from textual.widgets import RichLog, Static

from relier.binding import Relier
from relier.config import Settings, setting_notices
from relier.display import REPLACEMENT, safe_text
from relier.preflight import MemoryHeadroom
from relier.testing import RedisServer
from relier_tui.app import RelierConsole
from relier_tui.screens import DetailScreen, HelpScreen
from relier_tui.widgets.dead_letters import DeadLettersPane
from relier_tui.widgets.health import MIB, HealthBar, memory_cell
from relier_tui.widgets.inflight import InflightPane
from relier_tui.widgets.keyed_table import KeyedTable
from relier_tui.widgets.workers import WorkersPane
from tests.integration.test_cli_display import BIDI, HOSTILE_NAME, MARKUP, Hostile, seed_hostile_state
from tests.tui.conftest import until

ESC, BEL = "\x1b", "\x07"


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(Path(tmp_path_factory.mktemp("console-hostile-redis"))).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hostile(hostile_server: RedisServer) -> Hostile:
    return seed_hostile_state(hostile_server)


def _console(server: RedisServer) -> RelierConsole:
    settings = Settings.from_env({"RELIER_ENV": "test", "RELIER_REDIS_URL": server.url})
    return RelierConsole(Relier(Celery("display-safety", set_as_current=False), settings=settings),
                         reconcile_interval=0.5, poll_interval=0.5)


def _rendered(table: KeyedTable) -> str:
    """The table's lines as drawn on screen."""
    return "\n".join(table.render_line(y).text for y in range(table.size.height))


def _assert_literal(text: str) -> None:
    assert MARKUP in text  # never read as markup: the tags show as typed
    assert ESC not in text
    assert BEL not in text
    assert BIDI not in text
    assert f"evil{REPLACEMENT}]0;pwned{REPLACEMENT}" in text


async def test_hostile_names_render_literally_in_every_pane(hostile: Hostile,
                                                            hostile_server: RedisServer) -> None:
    app = _console(hostile_server)
    async with app.run_test(size=(220, 40)) as pilot:
        inflight = app.query_one(InflightPane)
        await until(pilot, lambda: hostile.task_id in inflight.table.keys, what="the hostile task")
        await pilot.pause()
        _assert_literal(_rendered(inflight.table))
        cell = inflight.table.get_cell(hostile.task_id, "task")
        assert isinstance(cell, Text)
        assert cell.plain == safe_text(HOSTILE_NAME)

        await pilot.press("2")
        workers = app.query_one(WorkersPane).table
        await until(pilot, lambda: hostile.node in workers.keys, what="the hostile worker")
        await pilot.pause()
        rendered = _rendered(workers)
        assert f"q{REPLACEMENT}]0;pwned{REPLACEMENT}{MARKUP}" in rendered
        assert ESC not in rendered

        await pilot.press("3")
        log = app.query_one("#events-log", RichLog)

        def logged() -> str:
            return "\n".join(strip.text for strip in log.lines)

        await until(pilot, lambda: "started" in logged() and "dead_lettered" in logged(),
                    what="the hostile events")
        _assert_literal(logged())

        await pilot.press("4")
        dead_letters = app.query_one(DeadLettersPane)
        await until(pilot, lambda: hostile.dead_letter_id in dead_letters.table.keys,
                    what="the hostile dead letter")
        await pilot.pause()
        _assert_literal(_rendered(dead_letters.table))
        dead_letters.table.focus()
        dead_letters.table.move_cursor(row=dead_letters.table.get_row_index(hostile.dead_letter_id))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), what="the detail screen")
        texts = "\n".join(str(widget.render()) for widget in app.screen.query(Static))
        assert MARKUP in texts
        assert ESC not in texts
        assert BIDI not in texts
        assert f'  File "{REPLACEMENT}]0;pwned{REPLACEMENT}"\nValueError:' in texts
        await pilot.press("escape")


async def test_header_shows_memory_headroom_and_setting_warnings(
    hostile_server: RedisServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RELIER_REDIS_URLL", "redis://typo:6379/0")
    warnings = len(setting_notices())
    app = _console(hostile_server)
    with closing(hostile_server.client()) as client:
        try:
            async with app.run_test(size=(160, 40)) as pilot:
                bar = app.query_one(HealthBar)
                await until(pilot, lambda: app.health is not None, what="the first read")
                header = str(bar.render())
                assert re.search(r"mem \d+ MiB, no limit", header), header
                assert f"{warnings} setting warning" in header
                assert "RELIER_REDIS_URLL is not a relier setting" in header
                used = int(client.info("memory")["used_memory"])
                client.config_set("maxmemory", str(used * 10))
                await until(pilot, lambda: re.search(r"mem \d+/\d+ MiB \d+%", str(bar.render()))
                            is not None, what="the memory limit in the header")
                await pilot.press("question_mark")
                await until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help screen")
                notes = str(app.screen.query_one("#help-notes", Static).render())
                assert "RELIER_REDIS_URLL is not a relier setting" in notes
                await pilot.press("escape")
        finally:
            client.config_set("maxmemory", "0")


@pytest.mark.parametrize(("used", "limit", "text", "style"), [
    (3 * MIB, 0, "mem 3 MiB, no limit", ""),
    (256 * MIB, 512 * MIB, "mem 256/512 MiB 50%", "green"),
    (412 * MIB, 512 * MIB, "mem 412/512 MiB 80%", "yellow"),
    (500 * MIB, 512 * MIB, "mem 500/512 MiB 98%", "bold red"),
])
def test_memory_is_coloured_by_headroom_and_always_numbered(used: int, limit: int, text: str,
                                                            style: str) -> None:
    cell = memory_cell(MemoryHeadroom(used, limit), warning=0.8)
    assert cell.plain == text
    assert str(cell.style) == style
