"""A read-only view of one task or dead letter."""

from __future__ import annotations

import json
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from relier_tui.literal import literal


def pretty(value: Any) -> str:
    """`value` as indented JSON (anything JSON cannot hold as its str)."""
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)


class DetailScreen(ModalScreen[None]):
    """A read-only view of one task or dead letter, in titled sections."""

    BINDINGS = [Binding("escape,q", "close", "Close", tooltip="Close the detail view")]

    def __init__(self, title: str, sections: list[tuple[str, str]]) -> None:
        super().__init__()
        self.heading = title
        self.sections = sections

    def compose(self) -> ComposeResult:
        """The title, then each section's name and body."""
        with VerticalScroll(id="detail"):
            yield Static(literal(self.heading), classes="detail-title")
            for name, body in self.sections:
                yield Static(literal(name), classes="section-title")
                yield Static(literal(body, keep_newlines=True), classes="section-body")

    def action_close(self) -> None:
        """Back to the console."""
        self.dismiss(None)
