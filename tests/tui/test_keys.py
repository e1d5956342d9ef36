"""The app-wide keys (issue 19), driven with the pilot against a real (empty) Redis: every one of
them from every pane's home widget (its table, its log or the form pane itself) and from the
table that is not a home; the pane keys, `q`, `?` and `/` from every other widget that can have
the focus (menus, buttons, the chaos log, the tab bar). The keys come from the bindings, so a
new app-wide key without a check here fails."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from textual.app import App
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.screen import Screen
from textual.selection import Selection
from textual.widget import Widget

from relier.testing import RedisServer
from relier_tui.app import RelierConsole
from relier_tui.keys import declared
from relier_tui.screens import HelpScreen
from relier_tui.source import Health
from relier_tui.widgets.events import EventsPane
from relier_tui.widgets.health import HealthBar
from relier_tui.widgets.pane import FilteredPane, Pane
from tests.tui.conftest import until
from tests.tui.keyboard import OTHERS, PANE_IDS, PANE_KEY, console, key_matrix, mode, start, told

#: every key the app and Textual's App and Screen bind (one per key)
APP_KEYS = list(dict.fromkeys(binding.key for cls in (RelierConsole, App, Screen)
                              for binding in declared(cls)))
#: every pane from its home widget, and the one table that is not a home
HOMES = [(pane_id, "") for pane_id in PANE_IDS] + [("admission", "#slo-table")]


@dataclass(frozen=True)
class Before:
    """The console before the key: the widget with the focus, and the last read's health."""

    focused: Widget
    health: Health | None


AppCheck = Callable[[Pilot[None], RelierConsole, Pane, Before], Awaitable[None]]


def _shows(target: str) -> AppCheck:
    async def check(pilot: Pilot[None], app: RelierConsole, pane: Pane, before: Before) -> None:
        assert app.active_pane == target
        assert app.focused is app.pane(target).home

    return check


async def _quits(pilot: Pilot[None], app: RelierConsole, pane: Pane, before: Before) -> None:
    assert app.return_code == 0


async def _helps(pilot: Pilot[None], app: RelierConsole, pane: Pane, before: Before) -> None:
    assert isinstance(app.screen, HelpScreen)


async def _filters(pilot: Pilot[None], app: RelierConsole, pane: Pane, before: Before) -> None:
    if isinstance(pane, FilteredPane):
        assert app.focused is pane.filter_box
        assert "typing: Esc" in mode(app)
    else:
        assert app.focused is before.focused
        assert told(app, f"Nothing to filter on the {pane.TITLE} pane")


async def _pauses(pilot: Pilot[None], app: RelierConsole, pane: Pane, before: Before) -> None:
    assert app.query_one(EventsPane).paused
    assert "PAUSED" in mode(app)
    await pilot.press("space")
    await pilot.pause()
    assert "LIVE" in mode(app)


async def _reloads(pilot: Pilot[None], app: RelierConsole, pane: Pane, before: Before) -> None:
    # the first read was at start; the next is 30 s away unless ctrl+r asks for it now (with
    # keyspace notifications off the console would poll every second, and this proves nothing)
    assert app.notifications is True
    await until(pilot, lambda: app.health is not before.health, timeout=10, what="a new read")


async def _palette(pilot: Pilot[None], app: RelierConsole, pane: Pane, before: Before) -> None:
    assert isinstance(app.screen, CommandPalette)


async def _moves_focus(pilot: Pilot[None], app: RelierConsole, pane: Pane, before: Before) -> None:
    assert app.focused is not before.focused


async def _goes_home(pilot: Pilot[None], app: RelierConsole, pane: Pane, before: Before) -> None:
    assert app.focused is pane.home  # on a home the focus stays; from the SLO table it goes home


async def _copies(pilot: Pilot[None], app: RelierConsole, pane: Pane, before: Before) -> None:
    assert app.return_code is None
    assert app.clipboard.startswith(" redis ok")  # the header, selected by the test


APP_CHECKS: dict[str, AppCheck] = {
    **{key: _shows(pane_id) for pane_id, key in PANE_KEY.items()}, "q": _quits, "ctrl+q": _quits,
    "question_mark": _helps, "slash": _filters, "space": _pauses, "ctrl+r": _reloads,
    "ctrl+p": _palette, "tab": _moves_focus, "shift+tab": _moves_focus, "escape": _goes_home,
    "ctrl+c": _copies, "super+c": _copies,
}


def test_every_app_key_has_a_check() -> None:
    assert set(APP_KEYS) == set(APP_CHECKS)


@pytest.mark.parametrize(("pane_id", "focus", "key"), key_matrix(HOMES, APP_KEYS),
                         ids=[f"{p}{f}-{k}" for p, f, k in key_matrix(HOMES, APP_KEYS)])
async def test_app_key_works_from_every_pane(pane_id: str, focus: str, key: str,
                                             empty_server: RedisServer) -> None:
    app = console(empty_server)
    async with app.run_test(size=(120, 36)) as pilot:
        before = Before(await start(pilot, app, pane_id, focus), app.health)
        if APP_CHECKS[key] is _copies:
            app.screen.selections = {app.query_one(HealthBar): Selection(None, None)}
        await pilot.press(key)
        await pilot.pause()
        await APP_CHECKS[key](pilot, app, app.pane(pane_id), before)


_OTHER_KEYS = ["pane", "q", "question_mark", "slash"]


def _check_from_other(key: str) -> Callable[[RelierConsole, str], None]:
    def pane_key(app: RelierConsole, pane_id: str) -> None:
        target = "events" if pane_id != "events" else "workers"
        assert app.active_pane == target
        assert app.focused is app.pane(target).home

    def quit_key(app: RelierConsole, pane_id: str) -> None:
        assert app.return_code == 0

    def help_key(app: RelierConsole, pane_id: str) -> None:
        assert isinstance(app.screen, HelpScreen)

    def filter_key(app: RelierConsole, pane_id: str) -> None:
        pane = app.pane(pane_id)
        if isinstance(pane, FilteredPane):
            assert app.focused is pane.filter_box
        else:
            assert told(app, f"Nothing to filter on the {pane.TITLE} pane")

    return {"pane": pane_key, "q": quit_key, "question_mark": help_key, "slash": filter_key}[key]


@pytest.mark.parametrize(("pane_id", "focus", "key"), key_matrix(OTHERS, _OTHER_KEYS),
                         ids=[f"{p}{f}-{k}" for p, f, k in key_matrix(OTHERS, _OTHER_KEYS)])
async def test_pane_keys_q_help_and_filter_work_from_every_other_widget(
        pane_id: str, focus: str, key: str, empty_server: RedisServer) -> None:
    app = console(empty_server)
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, app, pane_id, focus)
        await pilot.press(PANE_KEY["events" if pane_id != "events" else "workers"] if key == "pane" else key)
        await pilot.pause()
        _check_from_other(key)(app, pane_id)
