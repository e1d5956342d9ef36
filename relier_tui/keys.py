"""The console's keys as the help screen, the command palette and docs/console.md show them,
read from the `BINDINGS` of the app, the screen, every pane and dialog, and the Textual widgets
the panes hold (tables, logs, menus, buttons, fields, the tab bar): never a hand-written list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from textual.app import App
from textual.binding import Binding
from textual.dom import DOMNode
from textual.keys import format_key
from textual.screen import Screen
from textual.widgets import Button, Input, RichLog, Select, Tabs
from textual.widgets._select import SelectOverlay  # the open menu's own key (Esc); not re-exported

from relier_tui.screens import ConfirmScreen, DetailScreen, HelpScreen, KeySection
from relier_tui.widgets.keyed_table import KeyedTable
from relier_tui.widgets.pane import FilteredPane, Pane

#: names Textual shows as symbols that read better spelled out in a key list
SPELLED = {"enter": "enter"}

#: what Textual's own actions do in this console, where Textual's words ("Focus Next") say less
#: than the operator needs; keyed by action, so the keys still come from the bindings
IN_THE_CONSOLE = {
    "app.focus_next": "Move the focus forward: into a form and through its fields, onto the tab bar",
    "app.focus_previous": "Move the focus back",
    "submit": "Leave a filter box for the table; in a form, push, run or apply it (as ctrl+s)",
}


def key_label(key: str) -> str:
    """How a key is written for the operator: ``question_mark`` is ``?``, ``escape`` is ``esc``."""
    return SPELLED.get(key, format_key(key))


def declared(cls: type[DOMNode]) -> list[Binding]:
    """The bindings `cls` itself declares (one per key), not those it inherits."""
    return list(Binding.make_bindings(cls.__dict__.get("BINDINGS", [])))


def bindings_of(cls: type[DOMNode]) -> list[Binding]:
    """The bindings `cls` has: its own, or those of the nearest base class that declares some
    (Textual's widgets declare theirs on a base: a RichLog scrolls with ScrollableContainer's)."""
    return list(Binding.make_bindings(cls.BINDINGS))


def rows(bindings: Iterable[Binding]) -> list[tuple[str, str]]:
    """(keys, what they do) per action, keys of one action joined by ``, ``; what they do is the
    binding's tooltip, what `IN_THE_CONSOLE` says of its action, or its description. Bindings
    without a description (Textual's system keys) are left out."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for binding in bindings:
        if binding.description and not binding.system:
            grouped.setdefault((binding.action, binding.description, binding.tooltip), []).append(
                key_label(binding.key))
    return [(", ".join(keys), tooltip or IN_THE_CONSOLE.get(action, description))
            for (action, description, tooltip), keys in grouped.items()]


def help_sections(app: type[App[None]], panes: Sequence[type[Pane]]) -> list[KeySection]:
    """Every key of the console, grouped by where it works: the app's and the screen's (every
    pane), every filtered pane's, each pane's own (in `panes` order), the widgets inside the
    panes, then the dialogs."""
    filtered = ", ".join(pane.TITLE for pane in panes if issubclass(pane, FilteredPane))
    sections: list[KeySection] = [
        ("Everywhere", rows([*declared(app), *declared(App), *declared(Screen)])),
        ("In every pane", rows(declared(Pane))),
        (f"In a pane with a filter ({filtered})", rows(declared(FilteredPane))),
    ]
    for number, pane in enumerate(panes, 1):
        sections.append((f"{pane.TITLE} pane ({number})", rows(declared(pane))))
    submit = [binding for binding in bindings_of(Input) if binding.action == "submit"]
    sections += [("In a table", rows(declared(KeyedTable))),
                 ("In a log (Events, Chaos)", rows(bindings_of(RichLog))),
                 ("In a field (a filter box, a form): other keys are typed", rows(submit)),
                 ("On a menu (Chaos scenario, Admission scope)",
                  rows([*bindings_of(Select), *bindings_of(SelectOverlay)])),
                 ("On a button", rows(bindings_of(Button))),
                 ("On the tab bar", rows(bindings_of(Tabs))),
                 ("In a confirmation", rows(declared(ConfirmScreen))),
                 ("In a detail view", rows(declared(DetailScreen))),
                 ("In this help", rows(declared(HelpScreen)))]
    return [(title, section_rows) for title, section_rows in sections if section_rows]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def key_markdown(sections: Sequence[KeySection]) -> str:
    """The key sections as the Markdown table docs/console.md carries (where, keys, what they
    do), each key in backticks; the section's name on its first row only."""
    lines = ["| where | keys | what they do |", "| --- | --- | --- |"]
    for title, section_rows in sections:
        for index, (keys, what) in enumerate(section_rows):
            where = _cell(title) if index == 0 else ""
            labels = ", ".join(f"`{_cell(key)}`" for key in keys.split(", "))
            lines.append(f"| {where} | {labels} | {_cell(what)} |")
    return "\n".join(lines) + "\n"
