"""Modal screens: confirmation, detail views and help. Their text often comes from Redis, so
each is shown literally: control characters replaced, never read as markup."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from relier_tui.literal import literal


class ConfirmScreen(ModalScreen[bool]):
    """Ask before a destructive or live-changing action; y confirms, n or Esc cancels."""

    BINDINGS = [Binding("y", "confirm", "Yes"), Binding("n,escape", "cancel", "No")]

    def __init__(self, question: str, *, confirm_label: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(literal(self.question), id="question")
            with Horizontal(id="buttons"):
                yield Button(f"{self.confirm_label} (y)", variant="error", id="confirm")
                yield Button("Cancel (n)", variant="primary", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)


class DetailScreen(ModalScreen[None]):
    """A read-only view of one task or dead letter, in titled sections."""

    BINDINGS = [Binding("escape,q", "close", "Close")]

    def __init__(self, title: str, sections: list[tuple[str, str]]) -> None:
        super().__init__()
        self.heading = title
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield Static(literal(self.heading), classes="detail-title")
            for name, body in self.sections:
                yield Static(literal(name), classes="section-title")
                yield Static(literal(body, keep_newlines=True), classes="section-body")

    def action_close(self) -> None:
        self.dismiss(None)


HELP = """\
relier console — keys

  1-7        switch pane: inflight, workers, events, dead letters, chaos, dispatch, admission & SLO
  /          focus the pane's filter (key=value terms and words; Esc returns to the table)
  enter      open the selected task or dead letter
  s          sort the table by the next column (inflight, workers, dead letters)
  space      pause / resume the event tail
  r          release the selected dead letter (asks first)
  a          retry every dead letter matching the filter (asks first)
  x          purge every dead letter matching the filter (asks first)
  ctrl+r     reload everything from Redis now
  ctrl+p     command palette (every action, searchable)
  ?          this help
  q          quit

The header answers "is the system healthy?": Redis and preflight, keyspace notifications (off:
the console polls), workers alive, inflight, queue depths, dead letters, admission rejections
in the last minute, the worst SLO burn rate with any firing alert, Redis memory against
maxmemory (yellow from RELIER_MEMORY_WARNING, red from 95%) and misspelt RELIER_* settings.
Lease ages are green below half the lease TTL, yellow below the TTL, red past it.
"""


class HelpScreen(ModalScreen[None]):
    """The keys, then what needs attention now (preflight, memory, misspelt settings)."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, notes: Sequence[str] = ()) -> None:
        super().__init__()
        self.notes = list(notes)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(HELP, markup=False)
            if self.notes:
                yield Static("Needs attention now", classes="section-title")
                yield Static(literal("\n".join(f"  {note}" for note in self.notes),
                                     keep_newlines=True), id="help-notes")

    def action_close(self) -> None:
        self.dismiss(None)
