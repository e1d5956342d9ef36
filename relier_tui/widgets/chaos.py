"""Chaos: pick a scenario, set its options, run it, watch its progress and verdict live."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, RichLog, Select, Static

from relier.chaos.scenarios import SCENARIOS
from relier.display import safe_text
from relier_tui.literal import literal


def parse_options(scenario: str, text: str) -> dict[str, Any]:
    """The options JSON object for `scenario`, or ValueError naming what is wrong."""
    try:
        options = json.loads(text or "{}")
    except json.JSONDecodeError as exc:
        raise ValueError(f"options: not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(options, dict):
        raise ValueError("options: must be a JSON object")
    unknown = set(options) - set(SCENARIOS[scenario].options)
    if unknown:
        raise ValueError(f"{scenario} has no option {', '.join(sorted(unknown))}; it takes "
                         f"{', '.join(sorted(SCENARIOS[scenario].options))}")
    return options


class ChaosPane(Vertical):
    def compose(self) -> ComposeResult:
        first = "worker-kill"
        with Horizontal(classes="row"):
            yield Select([(name, name) for name in sorted(SCENARIOS)], value=first, allow_blank=False,
                         id="chaos-scenario")
            yield Button("Run (ctrl+s)", variant="warning", id="chaos-run")
        yield Static(SCENARIOS[first].proves, id="chaos-proves")
        yield Label("options (JSON; defaults shown)")
        yield Input(value=json.dumps(SCENARIOS[first].options), id="chaos-options")
        yield Static("", id="chaos-verdict")
        yield RichLog(id="chaos-log", wrap=True, markup=False, max_lines=500)

    @property
    def scenario(self) -> str:
        return str(self.query_one("#chaos-scenario", Select).value)

    def on_select_changed(self, event: Select.Changed) -> None:
        name = str(event.value)
        self.query_one("#chaos-options", Input).value = json.dumps(SCENARIOS[name].options)
        self.query_one("#chaos-proves", Static).update(SCENARIOS[name].proves)

    def options(self) -> dict[str, Any]:
        return parse_options(self.scenario, self.query_one("#chaos-options", Input).value)

    def progress(self, event: str, detail: dict[str, Any]) -> None:
        self.query_one(RichLog).write(Text(safe_text(f"{event}: {json.dumps(detail, default=str)}")))

    def verdict(self, held: bool | None, text: str) -> None:
        verdict = self.query_one("#chaos-verdict", Static)
        verdict.update(literal(text, keep_newlines=True))
        verdict.set_class(held is True, "held")
        verdict.set_class(held is False, "violated")
