"""A read-only view of one task or dead letter."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import RenderableType
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from relier_tui.literal import literal

#: a titled part of a detail view: text (shown literally, newlines kept), or a renderable whose
#: every piece of text from Redis was made literal where it was built (`relier_tui.literal`)
Section = tuple[str, RenderableType]


class DetailScreen(ModalScreen[None]):
    """A read-only view of one task or dead letter, in titled sections."""

    BINDINGS = [Binding("escape,q", "close", "Close", tooltip="Close the detail view")]

    def __init__(self, title: str, sections: Sequence[Section]) -> None:
        super().__init__()
        self.heading = title
        self.sections = list(sections)

    def compose(self) -> ComposeResult:
        """The title, then each section's name and body."""
        with VerticalScroll(id="detail"):
            yield Static(literal(self.heading), classes="detail-title")
            for name, body in self.sections:
                yield Static(literal(name), classes="section-title")
                shown = literal(body, keep_newlines=True) if isinstance(body, str) else body
                yield Static(shown, classes="section-body")

    def action_close(self) -> None:
        """Back to the console."""
        self.dismiss(None)
