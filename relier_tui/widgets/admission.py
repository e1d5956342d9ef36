"""Admission and SLO: live limits and rejections per queue, a form to change a limit
(confirmed, applied in a thread worker), and burn rates per task with firing alerts
highlighted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, Input, Label, Select, Static

from relier.admission import LiveLimits
from relier_tui.literal import literal
from relier_tui.screens import ConfirmScreen
from relier_tui.source import ConsoleSource
from relier_tui.widgets.columns import Column
from relier_tui.widgets.keyed_table import Cells, KeyedTable
from relier_tui.widgets.pane import FilteredPane

LIMIT_COLUMNS = [Column("scope", "scope", priority=1), Column("name", "name", priority=0, min_width=16),
                 Column("rate/s", "rate", priority=2), Column("burst", "burst", priority=4),
                 Column("max depth", "max_depth", priority=5),
                 Column("rejected/min", "rejected", priority=3)]
SLO_WINDOWS = ("5m", "30m", "1h", "6h", "3d")
#: the task and its alerts first, then the short windows that page before the long ones
SLO_COLUMNS = [Column("task", "task", priority=0, min_width=16),
               Column("objective", "objective", priority=len(SLO_WINDOWS) + 2),
               *(Column(f"burn {w}", f"burn_{w}", priority=index + 2)
                 for index, w in enumerate(SLO_WINDOWS)),
               Column("alerts", "alerts", priority=1, min_width=12)]


@dataclass(frozen=True, slots=True)
class LimitChange:
    """A change of one admission limit; None leaves that setting as it is."""

    scope: str
    name: str
    rate: float | None
    burst: int | None
    max_depth: int | None

    def describe(self) -> str:
        """The change in one line, for the confirmation and the status line."""
        parts = [f"rate={self.rate:g}/s" if self.rate is not None else "",
                 f"burst={self.burst}" if self.burst is not None else "",
                 f"max_depth={self.max_depth}" if self.max_depth is not None else ""]
        return f"{self.scope} {self.name}: " + ", ".join(p for p in parts if p)


def _number(text: str, what: str, kind: type[float] | type[int]) -> float | int | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a {'whole ' if kind is int else ''}number") from None
    if value < 0:
        raise ValueError(f"{what}: must be >= 0")
    return value


def parse_limit(scope: str, name: str, rate: str, burst: str, max_depth: str) -> LimitChange:
    """The change the form describes, or ValueError saying what is wrong."""
    if not name.strip():
        raise ValueError("name: give the queue (or task) the limit applies to")
    change = LimitChange(scope, name.strip(), _number(rate, "rate", float),
                         _number(burst, "burst", int),  # type: ignore[arg-type]
                         _number(max_depth, "max depth", int))  # type: ignore[arg-type]
    if change.rate is None and change.burst is None and change.max_depth is None:
        raise ValueError("give at least one of rate, burst, max depth")
    if change.burst == 0:
        raise ValueError("burst: must be at least 1")
    return change


def limit_rows(limits: list[LiveLimits], rejected: dict[str, int]) -> dict[str, Cells]:
    """The limits table: one row per limit, plus queues with rejections but no limit row."""
    rows: dict[str, Cells] = {}
    for limit in limits:
        count = rejected.get(limit.name, 0) if limit.scope == "queue" else "-"
        rows[f"{limit.scope}:{limit.name}"] = (
            limit.scope, limit.name, f"{limit.rate:g}" if limit.rate else "none",
            limit.burst if limit.burst else "-", limit.max_depth if limit.max_depth else "none",
            Text(str(count), style="yellow" if count not in (0, "-") else ""))
    for queue, count in rejected.items():
        rows.setdefault(f"queue:{queue}", ("queue", queue, "(declared)", "-", "-",
                                           Text(str(count), style="yellow")))
    return rows


def slo_rows(report: list[dict[str, Any]]) -> dict[str, Cells]:
    """The SLO table: burn rate per window (red past 14.4, yellow past 1) and firing alerts."""
    rows: dict[str, Cells] = {}
    for row in report:
        firing = [alert["name"] for alert in row["alerts"] if alert["firing"]]
        burns = []
        for window in SLO_WINDOWS:
            values = row["windows"].get(window)
            rate = 0.0 if values is None else float(values["burn_rate"])
            style = "bold red" if rate > 14.4 else "yellow" if rate > 1 else ""
            burns.append(Text(f"{rate:.2f}", style=style))
        rows[row["task"]] = (row["task"], f"{row['objective']:.3%}", *burns,
                             Text(", ".join(firing) or "none", style="bold red" if firing else "green"))
    return rows


class AdmissionPane(FilteredPane):
    """Pane 7: admission limits with a form to change one (ctrl+s, asks first), and SLO burn
    rates; `/` narrows both tables by name."""

    TITLE = "Admission & SLO"
    TAB = "Admission/SLO"
    HOME = "#limits-table"
    BINDINGS = [Binding("e", "edit_limit", "Edit limit",
                        tooltip="Into the limit form (its name field; tab to rate, burst, max depth)"),
                Binding("ctrl+s", "apply", "Apply limit",
                        tooltip="Change the limit the form describes (asks first)")]

    def __init__(self, source: ConsoleSource, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.limits: list[LiveLimits] = []
        self.rejected: dict[str, int] = {}
        self.report: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        """The filter box, the limits table and form, the SLO table."""
        yield Input(placeholder="/ filter: queue or task name, scope=queue", id="admission-filter",
                    classes="filter")
        yield KeyedTable(LIMIT_COLUMNS, id="limits-table")
        with Horizontal(classes="row", id="limit-form"):
            yield Select([("queue", "queue"), ("task", "task")], value="queue", allow_blank=False,
                         id="limit-scope", compact=True)
            yield Input(placeholder="name", id="limit-name", compact=True)
            yield Input(placeholder="rate/s", id="limit-rate", compact=True)
            yield Input(placeholder="burst", id="limit-burst", compact=True)
            yield Input(placeholder="max depth", id="limit-depth", compact=True)
            yield Button("Apply (ctrl+s)", variant="warning", id="limit-apply", compact=True)
        yield Label("", id="limit-status")
        yield Static("SLO burn rates (alerts highlighted)", classes="section-title")
        yield KeyedTable(SLO_COLUMNS, id="slo-table")

    def change(self) -> LimitChange:
        """The change the form describes (ValueError says what is wrong)."""
        return parse_limit(str(self.query_one("#limit-scope", Select).value),
                           self.query_one("#limit-name", Input).value,
                           self.query_one("#limit-rate", Input).value,
                           self.query_one("#limit-burst", Input).value,
                           self.query_one("#limit-depth", Input).value)

    def say(self, text: str, *, error: bool = False) -> None:
        """The status line under the form."""
        label = self.query_one("#limit-status", Label)
        label.update(literal(text))
        label.set_class(error, "error")

    def show(self, limits: list[LiveLimits], rejected: dict[str, int] | None = None,
             report: list[dict[str, Any]] | None = None) -> None:
        """Limits now; rejections and burn rates as last read when not given."""
        self.limits = limits
        self.rejected = self.rejected if rejected is None else rejected
        self.report = self.report if report is None else report
        limit_cells = limit_rows(limits, self.rejected)
        slo_cells = slo_rows(self.report)
        if not self.where.is_empty:
            limit_cells = {key: cells for key, cells in limit_cells.items()
                           if self.where.matches({"scope": cells[0], "name": cells[1]})}
            slo_cells = {key: cells for key, cells in slo_cells.items()
                         if self.where.matches({"name": key, "task": key})}
        self.query_one("#limits-table", KeyedTable).sync(limit_cells)
        self.query_one("#slo-table", KeyedTable).sync(slo_cells)

    def apply_filter(self) -> None:
        """Re-select the rows the new filter matches."""
        self.show(self.limits)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The Apply button."""
        if event.button.id == "limit-apply":
            event.stop()
            self.action_apply()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in a field of the form applies it (after the confirmation)."""
        if event.input.id and event.input.id.startswith("limit-"):
            event.stop()
            self.action_apply()

    def action_edit_limit(self) -> None:
        """Into the form: its name field has the focus (shift+tab reaches the scope menu, tab
        the rate, burst and max depth; Esc leaves it)."""
        self.query_one("#limit-name", Input).focus()

    def action_apply(self) -> None:
        """Change the limit the form describes, after a confirmation."""
        try:
            change = self.change()
        except ValueError as exc:
            self.say(str(exc), error=True)
            return

        def apply_if_confirmed(yes: bool | None) -> None:
            if yes:
                self._apply(change)
            else:
                self.say("not changed")

        self.app.push_screen(ConfirmScreen(f"Change admission limits now? {change.describe()}",
                                           confirm_label="Apply"), apply_if_confirmed)

    @work(thread=True, group="admission", name="apply limit", exit_on_error=False)
    def _apply(self, change: LimitChange) -> None:
        try:
            self.source.set_limit(change.scope, change.name, rate=change.rate, burst=change.burst,
                                  max_depth=change.max_depth)
        except redis.RedisError as exc:
            self.app.call_from_thread(self.say, f"not changed: {exc}", error=True)
            return
        self.app.call_from_thread(self.say, f"applied: {change.describe()}")
        self.post_message(self.ReloadRequested("limits"))
