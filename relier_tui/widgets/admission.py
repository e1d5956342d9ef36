"""Admission and SLO: live limits and rejections per queue, a form to change a limit
(confirmed), and burn rates per task with firing alerts highlighted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Select, Static

from relier.admission import LiveLimits
from relier_tui.literal import literal
from relier_tui.widgets.keyed_table import Cells, KeyedTable

LIMIT_COLUMNS = [("scope", "scope"), ("name", "name"), ("rate/s", "rate"), ("burst", "burst"),
                 ("max depth", "max_depth"), ("rejected/min", "rejected")]
SLO_WINDOWS = ("5m", "30m", "1h", "6h", "3d")
SLO_COLUMNS = [("task", "task"), ("objective", "objective"),
               *((f"burn {w}", f"burn_{w}") for w in SLO_WINDOWS), ("alerts", "alerts")]


@dataclass(frozen=True, slots=True)
class LimitChange:
    scope: str
    name: str
    rate: float | None
    burst: int | None
    max_depth: int | None

    def describe(self) -> str:
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


class AdmissionPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("Admission limits (live)", classes="section-title")
        yield KeyedTable(LIMIT_COLUMNS, id="limits-table")
        with Horizontal(classes="row", id="limit-form"):
            yield Select([("queue", "queue"), ("task", "task")], value="queue", allow_blank=False,
                         id="limit-scope")
            yield Input(placeholder="name", id="limit-name")
            yield Input(placeholder="rate/s", id="limit-rate")
            yield Input(placeholder="burst", id="limit-burst")
            yield Input(placeholder="max depth", id="limit-depth")
            yield Button("Apply", variant="warning", id="limit-apply")
        yield Label("", id="limit-status")
        yield Static("SLO burn rates (alerts highlighted)", classes="section-title")
        yield KeyedTable(SLO_COLUMNS, id="slo-table")

    def change(self) -> LimitChange:
        return parse_limit(str(self.query_one("#limit-scope", Select).value),
                           self.query_one("#limit-name", Input).value,
                           self.query_one("#limit-rate", Input).value,
                           self.query_one("#limit-burst", Input).value,
                           self.query_one("#limit-depth", Input).value)

    def say(self, text: str, *, error: bool = False) -> None:
        label = self.query_one("#limit-status", Label)
        label.update(literal(text))
        label.set_class(error, "error")

    rejected: dict[str, int] = {}
    report: list[dict[str, Any]] = []

    def show(self, limits: list[LiveLimits], rejected: dict[str, int] | None = None,
             report: list[dict[str, Any]] | None = None) -> None:
        """Limits now; rejections and burn rates as last read when not given."""
        self.rejected = self.rejected if rejected is None else rejected
        self.report = self.report if report is None else report
        self.query_one("#limits-table", KeyedTable).sync(limit_rows(limits, self.rejected))
        self.query_one("#slo-table", KeyedTable).sync(slo_rows(self.report))
