"""Inflight tasks: what every worker process holds right now, with lease ages in colour and
number, filterable and sortable; Enter opens a task."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input

from relier.inspection import InflightTask
from relier_tui.filters import Filter
from relier_tui.widgets.keyed_table import Cells, KeyedTable

COLUMNS = [("task", "task"), ("id", "id"), ("queue", "queue"), ("worker", "worker"),
           ("att", "attempt"), ("fence", "fence"), ("lease", "lease"), ("running", "running")]


def lease_cell(age: float | None, ttl: float) -> Text:
    """Lease age in seconds, green below half the TTL, yellow below it, red past it."""
    if age is None:
        return Text("none", style="bold red")
    style = "green" if age < ttl / 2 else "yellow" if age < ttl else "bold red"
    return Text(f"{age:5.1f}s", style=style)


def seconds_cell(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 120:
        return f"{value:.1f}s"
    return f"{value / 60:.1f}m"


def row_of(task: InflightTask, ttl: float) -> Cells:
    worker = task.holder.split("@", 1)[-1] if "@" in task.holder else task.holder
    return (task.task, task.id[:8], task.queue, worker, task.attempt, task.fence,
            lease_cell(task.lease_age, ttl), seconds_cell(task.running_for))


class InflightPane(Vertical):
    def __init__(self, lease_ttl: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lease_ttl = lease_ttl
        self.tasks: dict[str, InflightTask] = {}
        self.where = Filter()

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter: queue=default worker=w1 charge  (/ to focus)", id="inflight-filter",
                    classes="filter")
        yield KeyedTable(COLUMNS, id="inflight-table")

    @property
    def table(self) -> KeyedTable:
        return self.query_one(KeyedTable)

    def _visible(self, task: InflightTask) -> bool:
        return self.where.is_empty or self.where.matches(
            {"task": task.task, "id": task.id, "queue": task.queue, "worker": task.holder,
             "state": task.state, "attempt": task.attempt})

    def replace(self, tasks: list[InflightTask]) -> None:
        self.tasks = {task.id: task for task in tasks}
        self.table.sync({task.id: row_of(task, self.lease_ttl)
                         for task in tasks if self._visible(task)})
        self.border_subtitle = f"{len(self.tasks)} inflight"

    def update_rows(self, rows: dict[str, InflightTask | None]) -> None:
        for task_id, task in rows.items():
            if task is None:
                self.tasks.pop(task_id, None)
                self.table.discard(task_id)
            else:
                self.tasks[task_id] = task
                if self._visible(task):
                    self.table.upsert(task_id, row_of(task, self.lease_ttl))
                else:
                    self.table.discard(task_id)
        self.border_subtitle = f"{len(self.tasks)} inflight"

    def on_input_changed(self, event: Input.Changed) -> None:
        self.where = Filter.parse(event.value)
        self.replace(list(self.tasks.values()))
