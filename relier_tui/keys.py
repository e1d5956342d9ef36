"""The console's keys as the help screen, the command palette and docs/console.md show them,
read from the `BINDINGS` of the app, the screen and every widget: never a hand-written list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from textual.app import App
from textual.binding import Binding
from textual.dom import DOMNode
from textual.keys import format_key
from textual.screen import Screen

from relier_tui.screens import ConfirmScreen, DetailScreen, HelpScreen, KeySection
from relier_tui.widgets.keyed_table import KeyedTable
from relier_tui.widgets.pane import FilteredPane, Pane

#: names Textual shows as symbols that read better spelled out in a key list
SPELLED = {"enter": "enter"}


def key_label(key: str) -> str:
    """How a key is written for the operator: ``question_mark`` is ``?``, ``escape`` is ``esc``."""
    return SPELLED.get(key, format_key(key))


def declared(cls: type[DOMNode]) -> list[Binding]:
    """The bindings `cls` itself declares (one per key), not those it inherits."""
    return list(Binding.make_bindings(cls.__dict__.get("BINDINGS", [])))


def rows(bindings: Iterable[Binding]) -> list[tuple[str, str]]:
    """(keys, what they do) per action, keys of one action joined by ``, ``; what they do is the
    binding's tooltip, or its description. Bindings without a description (Textual's system
    keys) are left out."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for binding in bindings:
        if binding.description and not binding.system:
            grouped.setdefault((binding.action, binding.description, binding.tooltip), []).append(
                key_label(binding.key))
    return [(", ".join(keys), tooltip or description) for (_, description, tooltip), keys in grouped.items()]


def help_sections(app: type[App[None]], panes: Sequence[type[Pane]]) -> list[KeySection]:
    """Every key of the console, grouped by where it works: the app's and the screen's (every
    pane), every pane's, each pane's own (in `panes` order), tables, then the dialogs."""
    filtered = ", ".join(pane.TITLE for pane in panes if issubclass(pane, FilteredPane))
    sections: list[KeySection] = [
        ("Everywhere", rows([*declared(app), *declared(App), *declared(Screen)])),
        ("In every pane", rows(declared(Pane))),
        (f"In a pane with a filter ({filtered})", rows(declared(FilteredPane))),
    ]
    for number, pane in enumerate(panes, 1):
        sections.append((f"{pane.TITLE} pane ({number})", rows(declared(pane))))
    sections += [("In a table", rows(declared(KeyedTable))),
                 ("In a confirmation", rows(declared(ConfirmScreen))),
                 ("In a detail view", rows(declared(DetailScreen))),
                 ("In this help", rows(declared(HelpScreen)))]
    return [(title, section_rows) for title, section_rows in sections if section_rows]
