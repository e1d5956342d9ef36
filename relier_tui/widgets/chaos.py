"""Chaos: pick a scenario, set its options, run it (ctrl+s, in a thread worker), watch its
progress and verdict live."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, Input, Label, RichLog, Select, Static

from relier.binding import Relier
from relier.chaos.scenarios import SCENARIOS
from relier.display import safe_text
from relier_tui.literal import literal
from relier_tui.widgets.pane import Pane


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


class ChaosPane(Pane, can_focus=True):
    """Pane 5: a chaos scenario form; ctrl+s runs the scenario, one at a time. The pane itself
    has the focus when shown, so the console's keys work; Tab moves into the form."""

    TITLE = "Chaos"
    BINDINGS = [Binding("ctrl+s", "run", "Run", tooltip="Run the scenario against workers started here")]

    def __init__(self, relier: Relier, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.relier = relier
        self.running = False

    def compose(self) -> ComposeResult:
        """Scenario menu and Run button, what it proves, its options, the verdict and the log."""
        first = "worker-kill"
        yield Static("Tab: into the form · Esc: out of it · ctrl+s: run", classes="hint")
        with Horizontal(classes="row"):
            yield Select([(name, name) for name in sorted(SCENARIOS)], value=first, allow_blank=False,
                         id="chaos-scenario", compact=True)
            yield Button("Run (ctrl+s)", variant="warning", id="chaos-run", compact=True)
        yield Static(SCENARIOS[first].proves, id="chaos-proves")
        with Horizontal(classes="field"):
            yield Label("options", classes="field-label")
            yield Input(value=json.dumps(SCENARIOS[first].options), id="chaos-options", compact=True,
                        tooltip="JSON object; the scenario's defaults are filled in")
        yield Static("", id="chaos-verdict")
        yield RichLog(id="chaos-log", wrap=True, markup=False, max_lines=500)

    @property
    def scenario(self) -> str:
        """The scenario picked."""
        return str(self.query_one("#chaos-scenario", Select).value)

    def on_select_changed(self, event: Select.Changed) -> None:
        """Another scenario: its default options and what it proves."""
        name = str(event.value)
        self.query_one("#chaos-options", Input).value = json.dumps(SCENARIOS[name].options)
        self.query_one("#chaos-proves", Static).update(SCENARIOS[name].proves)

    def options(self) -> dict[str, Any]:
        """The options typed, checked against the scenario (ValueError says what is wrong)."""
        return parse_options(self.scenario, self.query_one("#chaos-options", Input).value)

    def progress(self, event: str, detail: dict[str, Any]) -> None:
        """One progress event of the run, appended to the log."""
        self.query_one(RichLog).write(Text(safe_text(f"{event}: {json.dumps(detail, default=str)}")))

    def verdict(self, held: bool | None, text: str) -> None:
        """The run's state or verdict: green when it held, red when violated."""
        verdict = self.query_one("#chaos-verdict", Static)
        verdict.update(literal(text, keep_newlines=True))
        verdict.set_class(held is True, "held")
        verdict.set_class(held is False, "violated")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The Run button."""
        if event.button.id == "chaos-run":
            event.stop()
            self.action_run()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the options runs the scenario too."""
        event.stop()
        self.action_run()

    def action_run(self) -> None:
        """Run the scenario with the options typed (one run at a time)."""
        if self.running:
            self.tell("a scenario is already running", severity="warning")
            return
        try:
            options = self.options()
        except ValueError as exc:
            self.verdict(None, str(exc))
            return
        self.running = True
        self.verdict(None, f"running {self.scenario}…")
        self.query_one(RichLog).clear()
        self._run(self.scenario, options)

    @work(thread=True, group="chaos", name="chaos run", exit_on_error=False)
    def _run(self, scenario: str, options: dict[str, Any]) -> None:
        from relier.chaos.engine import ChaosContext, LocalCluster, ScenarioUnavailableError  # noqa: PLC0415
        from relier.chaos.scenarios import run  # noqa: PLC0415

        def report(event: str, detail: dict[str, Any]) -> None:
            self.app.call_from_thread(self.progress, event, detail)

        try:
            with tempfile.TemporaryDirectory(prefix="relier-console-chaos-") as logs:
                ctx = ChaosContext(self.relier, LocalCluster(self.relier, Path(logs)), report)
                verdict = run(scenario, ctx, options)
            numbers = ", ".join(f"{k}={v}" for k, v in verdict.numbers.items())
            text = (f"{scenario}: {'HELD' if verdict.held else 'VIOLATED'}  {numbers}"
                    + "".join(f"\nviolated: {f}" for f in verdict.failures))
            self.app.call_from_thread(self.verdict, verdict.held, text)
        except ScenarioUnavailableError as exc:
            self.app.call_from_thread(self.verdict, None, f"cannot run here: {exc}")
        except Exception as exc:  # noqa: BLE001 - a crashed run is reported, never swallowed silently
            self.app.call_from_thread(self.verdict, False, f"{scenario} crashed: {type(exc).__name__}: {exc}")
        finally:
            self.running = False
