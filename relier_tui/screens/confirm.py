"""The confirmation asked before a destructive or live-changing action."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from relier_tui.literal import literal


class ConfirmScreen(ModalScreen[bool]):
    """Ask before a destructive or live-changing action; y confirms, n or Esc cancels."""

    BINDINGS = [Binding("y", "confirm", "Yes", tooltip="Confirm: do it"),
                Binding("n,escape", "cancel", "No", tooltip="Cancel: change nothing")]

    def __init__(self, question: str, *, confirm_label: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        """The question and its two buttons."""
        with Vertical(id="dialog"):
            yield Static(literal(self.question), id="question")
            with Horizontal(id="buttons"):
                yield Button(f"{self.confirm_label} (y)", variant="error", id="confirm")
                yield Button("Cancel (n)", variant="primary", id="cancel")

    def on_mount(self) -> None:
        """Cancel has the focus: Enter alone never confirms."""
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """A button answers the question."""
        self.dismiss(event.button.id == "confirm")

    def action_confirm(self) -> None:
        """Answer yes."""
        self.dismiss(True)

    def action_cancel(self) -> None:
        """Answer no."""
        self.dismiss(False)
