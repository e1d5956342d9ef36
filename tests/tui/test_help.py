"""The help (`?`) lists every key the console has, read from the bindings themselves: the app's,
Textual's App and Screen keys (tab, shift+tab, ctrl+q, copy), every pane's and dialog's, and
the keys of every kind of widget that can have the focus (tables, logs, menus, buttons, the tab
bar; a field's Enter: its other keys type text)."""

from __future__ import annotations

import importlib
import inspect
import io
import pkgutil

from rich.console import Console
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input
from textual.widgets._select import SelectOverlay

import relier_tui.screens
import relier_tui.widgets
from relier.testing import RedisServer
from relier_tui.app import RelierConsole
from relier_tui.keys import IN_THE_CONSOLE, key_label
from relier_tui.screens import HelpScreen
from relier_tui.screens.help import key_table
from tests.tui.conftest import until
from tests.tui.keyboard import console


def _console_classes() -> list[type]:
    """Every class of relier_tui's widget and screen modules that declares BINDINGS."""
    classes: list[type] = []
    for package in (relier_tui.widgets, relier_tui.screens):
        for module_info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{module_info.name}")
            classes += [cls for _, cls in inspect.getmembers(module, inspect.isclass)
                        if cls.__module__ == module.__name__ and "BINDINGS" in vars(cls)]
    return classes


def _what(binding: Binding) -> str:
    """What the help says the key does: its tooltip, the console's words for Textual's action,
    or its description."""
    return binding.tooltip or IN_THE_CONSOLE.get(binding.action, binding.description)


def _listed(bindings: list[Binding]) -> list[Binding]:
    return [binding for binding in bindings if binding.description and not binding.system]


async def test_help_lists_every_binding(empty_server: RedisServer) -> None:
    app = console(empty_server)
    async with app.run_test(size=(120, 36)) as pilot:
        focusable = {type(widget) for widget in app.query("*") if widget.can_focus}
        assert SelectOverlay in focusable  # an open menu's list: its Esc closes the menu
        expected = [binding for cls in [RelierConsole, App, Screen, *_console_classes()]
                    for binding in _listed(list(Binding.make_bindings(vars(cls)["BINDINGS"])))]
        for cls in focusable:
            bindings = _listed(list(Binding.make_bindings(cls.BINDINGS)))
            # a field's other keys edit its text (Textual's own, as in any text box)
            expected += [b for b in bindings if b.action == "submit"] if issubclass(cls, Input) else bindings
        await pilot.press("2")
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        rows = [(keys.split(", "), what) for _, section in screen.sections for keys, what in section]
        missing = [f"{binding.key} ({binding.action})" for binding in expected
                   if not any(key_label(binding.key) in keys and what == _what(binding)
                              for keys, what in rows)]
        assert not missing, f"not in the help: {missing}"
        out = io.StringIO()
        Console(file=out, width=200, color_system=None).print(key_table(screen.sections))
        shown = out.getvalue()
        for label in ("ctrl+s", "tab", "esc", "shift+tab", "ctrl+p", "/", "?", "q", "1", "7", "space"):
            assert f"  {label} " in shown or f", {label} " in shown, label
        assert "Leave the field, form or tab bar" in shown  # Esc, in the "Everywhere" section
