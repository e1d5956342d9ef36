"""The keyboard model (issue 19), driven with the pilot against a real (empty) Redis: every
app-wide key works from every pane and from every table, every Input takes digits and `q` as
text and gives the keys back on Esc, and the help lists every binding the console declares."""

from __future__ import annotations

import importlib
import inspect
import io
import os
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery
from rich.console import Console
from textual.app import App
from textual.binding import Binding
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input

import relier_tui.screens
import relier_tui.widgets
from relier.binding import Relier
from relier.testing import RedisServer
from relier_tui.app import PANES, RelierConsole
from relier_tui.keys import key_label
from relier_tui.screens import HelpScreen
from relier_tui.screens.help import key_table
from relier_tui.widgets.events import EventsPane
from relier_tui.widgets.mode_line import ModeLine
from relier_tui.widgets.pane import FilteredPane
from tests.support import settings_for
from tests.tui.conftest import until

PANE_IDS = list(PANES)
PANE_KEY = {pane_id: str(number) for number, pane_id in enumerate(PANE_IDS, 1)}
#: where each case starts: every pane from its home widget (a table for the table panes), and
#: the one table that is not a home (the SLO table)
ALL_STARTS = [(pane_id, "") for pane_id in PANE_IDS] + [("admission", "#slo-table")]
#: the default suite drives every key from a table pane, a form pane and a secondary table;
#: `nox -s console` (FULL_KEY_MATRIX=1) drives them from every pane
STARTS = ALL_STARTS if os.environ.get("FULL_KEY_MATRIX") else [
    ("inflight", ""), ("dispatch", ""), ("admission", "#slo-table")]
APP_KEYS = [*PANE_KEY.values(), "q", "ctrl+q", "question_mark", "slash", "space", "ctrl+r", "ctrl+p", "tab"]
#: every Input of the console, by pane
INPUTS = [("inflight", "inflight-filter"), ("workers", "workers-filter"), ("events", "events-filter"),
          ("dead-letters", "dlq-filter"), ("chaos", "chaos-options"), ("dispatch", "dispatch-task"),
          ("dispatch", "dispatch-args"), ("dispatch", "dispatch-kwargs"), ("dispatch", "dispatch-queue"),
          ("admission", "admission-filter"), ("admission", "limit-name"), ("admission", "limit-rate"),
          ("admission", "limit-burst"), ("admission", "limit-depth")]


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(Path(tmp_path_factory.mktemp("keys-redis"))).start()
    yield server
    server.stop()


def _console(server: RedisServer) -> RelierConsole:
    own = Relier(Celery("keys", set_as_current=False), settings=settings_for(server.url))
    app = RelierConsole(own, reconcile_interval=30.0)
    app.animation_level = "none"  # the tab underline's slide: nothing to wait for
    return app


async def _start(pilot: Pilot[None], app: RelierConsole, pane_id: str, focus: str = "") -> None:
    await pilot.pause()
    await pilot.press(PANE_KEY[pane_id])
    if focus:
        app.query_one(focus).focus()
    await pilot.pause()
    assert app.active_pane == pane_id
    assert app.focused is not None
    assert app.pane(pane_id) in app.focused.ancestors_with_self


def _mode(app: RelierConsole) -> str:
    return str(app.query_one(ModeLine).render())


@pytest.mark.parametrize("key", APP_KEYS)
@pytest.mark.parametrize(("pane_id", "focus"), STARTS, ids=[f"{p}{f}" for p, f in STARTS])
async def test_app_key_works_from_every_pane(pane_id: str, focus: str, key: str,
                                             empty_server: RedisServer) -> None:
    app = _console(empty_server)
    reloads: list[bool] = []
    async with app.run_test(size=(120, 36)) as pilot:
        await _start(pilot, app, pane_id, focus)
        pane = app.pane(pane_id)
        before = app.focused
        if key == "ctrl+r":
            reload = app.action_reload

            def spy() -> None:
                reloads.append(True)
                reload()

            app.action_reload = spy  # type: ignore[method-assign]
        await pilot.press(key)
        await pilot.pause()
        if key.isdigit():
            target = PANE_IDS[int(key) - 1]
            assert app.active_pane == target
            assert app.focused is not None
            assert app.pane(target) in app.focused.ancestors_with_self
        elif key in {"q", "ctrl+q"}:
            assert app.return_code == 0
        elif key == "question_mark":
            assert isinstance(app.screen, HelpScreen)
        elif key == "slash":
            if isinstance(pane, FilteredPane):
                assert app.focused is pane.filter_box
                assert "typing: Esc" in _mode(app)
            else:
                assert app.focused is before
                assert any(f"Nothing to filter on the {pane.TITLE} pane" in n.message
                           for n in app._notifications)
        elif key == "space":
            assert app.query_one(EventsPane).paused
            assert "PAUSED" in _mode(app)
        elif key == "ctrl+r":
            assert reloads == [True]
        elif key == "ctrl+p":
            assert isinstance(app.screen, CommandPalette)
        elif key == "tab":
            assert app.focused is not before
        else:
            pytest.fail(f"no check for {key}")


@pytest.mark.parametrize(("pane_id", "input_id"), INPUTS)
async def test_an_input_takes_digits_and_q_then_esc_gives_the_keys_back(
        pane_id: str, input_id: str, empty_server: RedisServer) -> None:
    app = _console(empty_server)
    async with app.run_test(size=(120, 36)) as pilot:
        await _start(pilot, app, pane_id)
        field = app.query_one(f"#{input_id}", Input)
        field.focus()
        await pilot.pause()
        await pilot.press("3", "q", "question_mark")
        await pilot.pause()
        assert field.value.endswith("3q?")  # typed as text: no pane switch, no quit, no help
        assert app.active_pane == pane_id
        assert app.return_code is None
        assert isinstance(app.screen, Screen)
        assert not isinstance(app.screen, HelpScreen)
        assert "typing: Esc" in _mode(app)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.focused, Input)
        assert app.pane(pane_id).home is app.focused
        assert "typing" not in _mode(app)
        other = "workers" if pane_id != "workers" else "inflight"
        await pilot.press(PANE_KEY[other])
        await pilot.pause()
        assert app.active_pane == other


async def test_every_input_is_covered(empty_server: RedisServer) -> None:
    app = _console(empty_server)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        assert {widget.id for widget in app.query(Input)} == {input_id for _, input_id in INPUTS}


def _console_classes() -> list[type]:
    """Every class of relier_tui's widget and screen modules that declares BINDINGS."""
    classes: list[type] = []
    for package in (relier_tui.widgets, relier_tui.screens):
        for module_info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{module_info.name}")
            classes += [cls for _, cls in inspect.getmembers(module, inspect.isclass)
                        if cls.__module__ == module.__name__ and "BINDINGS" in vars(cls)]
    return classes


def _declared(cls: type) -> list[Binding]:
    return [b for b in Binding.make_bindings(vars(cls)["BINDINGS"]) if b.description and not b.system]


async def test_help_lists_every_binding(empty_server: RedisServer) -> None:
    classes = [RelierConsole, App, Screen, *_console_classes()]
    assert len(classes) > 10  # the panes, the table and the screens were found
    app = _console(empty_server)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("2")  # from any pane
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        rows = [(keys.split(", "), what) for _, section in screen.sections for keys, what in section]
        for cls in classes:
            for binding in _declared(cls):
                label, what = key_label(binding.key), binding.tooltip or binding.description
                assert any(label in keys and text == what for keys, text in rows), (
                    f"{cls.__name__}: {binding.key} ({what}) is not in the help")
        out = io.StringIO()
        Console(file=out, width=200, color_system=None).print(key_table(screen.sections))
        shown = out.getvalue()
        for label in ("ctrl+s", "tab", "esc", "shift+tab", "ctrl+p", "/", "?", "q", "1", "7", "space"):
            assert f"  {label} " in shown or f", {label} " in shown, label
        assert screen.query_one("#help-keys")
