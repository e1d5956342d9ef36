"""Esc gives the keys back (issue 19): every field takes digits, `q`, `?`, `/` and space as text
(the mode line says so), and Esc returns the focus to the pane's home from every field, menu,
open menu, button, log and the tab bar, after which the pane keys work again. A test checks that
these lists cover every widget of the console that can have the focus."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, Select

from relier.testing import RedisServer
from relier_tui.app import RelierConsole
from relier_tui.screens import HelpScreen
from relier_tui.widgets.events import EventsPane
from tests.tui.conftest import until
from tests.tui.keyboard import INPUTS, OTHERS, PANE_IDS, PANE_KEY, console, mode, start, widget_at

MENUS = [(pane_id, focus) for pane_id, focus in OTHERS if focus in {"#chaos-scenario", "#limit-scope"}]


async def _escape_goes_home(app: RelierConsole, pilot: Pilot[None], pane_id: str) -> None:
    """Esc: the pane's home has the focus, the mode line no longer says typing, and a pane key
    shows another pane."""
    await pilot.press("escape")
    await pilot.pause()
    assert app.focused is app.pane(pane_id).home
    assert "typing" not in mode(app)
    other = "workers" if pane_id != "workers" else "inflight"
    await pilot.press(PANE_KEY[other])
    await pilot.pause()
    assert app.active_pane == other


@pytest.mark.parametrize(("pane_id", "input_id"), INPUTS)
async def test_a_field_takes_the_keys_as_text_then_esc_gives_them_back(
        pane_id: str, input_id: str, empty_server: RedisServer) -> None:
    app = console(empty_server)
    async with app.run_test(size=(120, 36)) as pilot:
        field = await start(pilot, app, pane_id, input_id)
        assert isinstance(field, Input)
        await pilot.press("end", "3", "q", "question_mark", "slash", "space")
        await pilot.pause()
        assert field.value.endswith("3q?/ ")  # typed: no pane switch, quit, help, filter or pause
        assert app.active_pane == pane_id
        assert app.return_code is None
        assert type(app.screen) is Screen
        assert not app.query_one(EventsPane).paused
        assert "typing: Esc" in mode(app)
        await _escape_goes_home(app, pilot, pane_id)


@pytest.mark.parametrize(("pane_id", "focus"), OTHERS, ids=[f"{p}{f}" for p, f in OTHERS])
async def test_esc_leaves_every_other_widget(pane_id: str, focus: str, empty_server: RedisServer) -> None:
    app = console(empty_server)
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, app, pane_id, focus)
        await _escape_goes_home(app, pilot, pane_id)


@pytest.mark.parametrize(("pane_id", "focus"), MENUS, ids=[f"{p}{f}" for p, f in MENUS])
async def test_esc_closes_an_open_menu_then_leaves_it(pane_id: str, focus: str,
                                                      empty_server: RedisServer) -> None:
    app = console(empty_server)
    async with app.run_test(size=(120, 36)) as pilot:
        menu = await start(pilot, app, pane_id, focus)
        assert isinstance(menu, Select)
        await pilot.press("enter")
        await until(pilot, lambda: menu.expanded, what="the menu to open")
        await pilot.press("escape")
        await until(pilot, lambda: not menu.expanded, what="the menu to close")
        assert app.focused is menu  # the first Esc closes the menu only
        await _escape_goes_home(app, pilot, pane_id)


async def test_esc_in_a_dialog_closes_it_and_the_keys_work(empty_server: RedisServer) -> None:
    app = console(empty_server)
    async with app.run_test(size=(120, 36)) as pilot:
        await start(pilot, app, "dead-letters")
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        await pilot.press("escape")
        await until(pilot, lambda: type(app.screen) is Screen, what="the help to close")
        assert app.focused is app.pane("dead-letters").home
        await pilot.press("3")
        await pilot.pause()
        assert app.active_pane == "events"


def _focusable(app: RelierConsole) -> list[Widget]:
    """Every widget that can have the focus (an open menu's list is its menu's)."""
    return [widget for widget in app.query("*")
            if widget.can_focus and not isinstance(widget.parent, Select)]


async def test_every_widget_that_takes_the_focus_is_covered(empty_server: RedisServer) -> None:
    app = console(empty_server)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        covered = {app.pane(pane_id).home for pane_id in PANE_IDS}
        covered |= {widget_at(app, focus) for _, focus in [*INPUTS, *OTHERS]}
        assert set(_focusable(app)) == covered
        assert {widget.id for widget in app.query(Input)} == {focus[1:] for _, focus in INPUTS}
