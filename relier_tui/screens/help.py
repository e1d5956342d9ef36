"""Help: every key of the console, generated from the bindings, then what needs attention now."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from relier_tui.literal import literal

#: a titled group of (keys, what they do) rows
KeySection = tuple[str, list[tuple[str, str]]]

ABOUT = """\
Digits, q, ? and / typed in a filter box or a form field are text there; Esc leaves the field
(or a form, a menu, the tab bar) and the keys above work again. The mode line above the footer
says whether the event tail is LIVE or PAUSED, which filter is in force, whether Redis is
reachable, how full Redis memory is (as last read) and where the keys go.

The header answers "is the system healthy?": Redis and preflight, keyspace notifications (off:
the console polls), workers alive, inflight, queue depths, dead letters, admission rejections
in the last minute, the worst SLO burn rate with any firing alert, Redis memory against
maxmemory (yellow from RELIER_MEMORY_WARNING, red from 95%) and misspelt RELIER_* settings.
Lease ages say whether a worker is alive: green while renewals arrive (under two
RELIER_LEASE_REFRESH_INTERVALs), yellow late but within RELIER_LEASE_TTL, red past it (its
tasks are taken); the number is always shown. Narrow terminals drop a table's last columns
first; Enter opens the selected row whole."""


def key_table(sections: Sequence[KeySection]) -> Group:
    """The key sections: a bold title each, then its keys and what they do, in two columns."""
    width = max((len(keys) for _, rows in sections for keys, _ in rows), default=0)
    parts: list[Text | Table] = []
    for index, (title, rows) in enumerate(sections):
        parts.append(Text(("\n" if index else "") + title, style="bold"))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(min_width=width + 2, no_wrap=True, style="bold")
        grid.add_column(ratio=1)
        for keys, what in rows:
            grid.add_row(f"  {keys}", what)
        parts.append(grid)
    return Group(*parts)


class HelpScreen(ModalScreen[None]):
    """The keys (from the bindings themselves), then what needs attention now (preflight,
    memory, misspelt settings)."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", tooltip="Close the help")]

    def __init__(self, sections: Sequence[KeySection] = (), notes: Sequence[str] = ()) -> None:
        super().__init__()
        self.sections = list(sections)
        self.notes = list(notes)

    def compose(self) -> ComposeResult:
        """The keys, the notes that need attention, then what the header and colours mean."""
        with VerticalScroll(id="help"):
            yield Static("relier console: keys (Esc, q or ? closes; arrows and PgUp/PgDn scroll)",
                         classes="detail-title")
            yield Static(key_table(self.sections), id="help-keys")
            if self.notes:
                yield Static("Needs attention now", classes="section-title")
                yield Static(literal("\n".join(f"  {note}" for note in self.notes),
                                     keep_newlines=True), id="help-notes")
            yield Static("Reading the console", classes="section-title")
            yield Static(ABOUT, markup=False)

    def action_close(self) -> None:
        """Back to the console."""
        self.dismiss(None)
