"""The base of every console pane: it owns its keys and actions, names the widget the focus
returns to (on Esc, an app-wide key, and when the pane is shown), and tells the app (by message)
when Redis should be re-read or its filter changed."""

from __future__ import annotations

from typing import ClassVar, Literal

from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.widget import Widget
from textual.widgets import Input
from textual.worker import Worker

from relier.display import safe_text
from relier_tui.failures import report_failure
from relier_tui.filters import Filter

#: what a pane asks the app to re-read: everything, or just the dead letters or the limits
Stale = Literal["all", "dead_letters", "limits"]


class Pane(Vertical):
    """One tab of the console. `HOME` (a selector; empty: the pane itself) has the focus when
    the pane is shown and after Esc, so the pane's keys and the app's keys both work."""

    TITLE: ClassVar[str] = ""
    #: the tab's label when shorter than the title (all seven tabs fit in 80 columns)
    TAB: ClassVar[str] = ""
    HOME: ClassVar[str] = ""

    class ReloadRequested(Message):
        """The pane changed something in Redis, or what it reads: the app re-reads `what` now."""

        def __init__(self, what: Stale = "all") -> None:
            super().__init__()
            self.what: Stale = what

    class FilterChanged(Message):
        """The pane's filter box changed (for the mode line)."""

        def __init__(self, pane: Pane, text: str) -> None:
            super().__init__()
            self.pane = pane
            self.text = text

    @property
    def home(self) -> Widget:
        """The widget that has the focus when the pane is shown (a table, a menu or the pane)."""
        return self.query_one(self.HOME) if self.HOME else self

    @property
    def filter_text(self) -> str:
        """The filter in force on this pane ("" when there is none)."""
        return ""

    def focus_home(self) -> None:
        """Give the focus to the pane's home widget (leaving any field)."""
        self.home.focus()

    def tell(self, message: str, *, severity: SeverityLevel = "information",
             timeout: float | None = None) -> None:
        """A notification shown literally (its text often names tasks or errors from Redis)."""
        self.notify(safe_text(message), severity=severity, timeout=timeout, markup=False)

    def tell_from_thread(self, message: str, *, severity: SeverityLevel = "information") -> None:
        """`tell`, from a thread worker."""
        self.app.call_from_thread(self.tell, message, severity=severity)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """An action of this pane that failed with an error it did not catch is reported (a
        notification and a log line), never silently dropped."""
        report_failure(self.app, event.worker, event.state)


class FilteredPane(Pane):
    """A pane with a filter box (``key=value`` terms and words): `/` focuses it, Enter or Esc
    returns to the table, and every change re-applies it through `apply_filter`."""

    FILTER: ClassVar[str] = ".filter"

    BINDINGS = [
        Binding("slash", "filter", "Filter",
                tooltip="Focus the pane's filter box (key=value terms and words)"),
    ]

    where: Filter = Filter()

    @property
    def filter_box(self) -> Input:
        """The pane's filter box."""
        return self.query_one(self.FILTER, Input)

    @property
    def filter_text(self) -> str:
        """The filter in force on this pane ("" when there is none)."""
        return " ".join(self.filter_box.value.split())

    def action_filter(self) -> None:
        """Focus the filter box (typing goes there until Enter or Esc)."""
        self.filter_box.focus()

    def apply_filter(self) -> None:
        """Show what the new `where` selects (each pane says how)."""

    def filter_submitted(self) -> None:
        """Enter in the filter box (before the focus returns to the table)."""

    def on_input_changed(self, event: Input.Changed) -> None:
        """The filter box changed: parse it, re-apply it, tell the app."""
        if event.input is not self.filter_box:
            return
        self.where = Filter.parse(event.value)
        self.apply_filter()
        self.post_message(self.FilterChanged(self, self.filter_text))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the filter box: back to the table."""
        if event.input is not self.filter_box:
            return
        event.stop()
        self.filter_submitted()
        self.focus_home()
