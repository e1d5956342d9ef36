"""Dead letters: reason, task, age; Enter for the traceback and history; release, retry-all and
purge act on the selection or the filter, after a confirmation."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input

from relier.dlq import DeadLetter, DeadLetterFilter
from relier_tui.filters import Filter
from relier_tui.widgets.inflight import seconds_cell
from relier_tui.widgets.keyed_table import Cells, KeyedTable

COLUMNS = [("task", "task"), ("id", "id"), ("reason", "reason"), ("queue", "queue"),
           ("age", "age"), ("att", "attempts"), ("releasable", "releasable"), ("error", "error")]
FILTER_KEYS = {"reason", "task", "queue", "older_than", "newer_than"}


def dead_letter_filter(where: Filter) -> DeadLetterFilter | None:
    """The relier filter for the box's key=value terms (free words are not supported by the
    server-side operations, so they only narrow what is shown)."""
    fields = {key: value for key, value in where.fields.items() if key in FILTER_KEYS}
    if not fields:
        return None
    return DeadLetterFilter(
        reason=fields.get("reason"), task=fields.get("task"), queue=fields.get("queue"),
        older_than=float(fields["older_than"]) if "older_than" in fields else None,
        newer_than=float(fields["newer_than"]) if "newer_than" in fields else None)


def row_of(entry: DeadLetter) -> Cells:
    releasable = Text("yes", style="green") if entry.releasable else Text("no", style="red")
    return (entry.task, entry.id[:8], Text(entry.reason, style="bold"), entry.queue,
            seconds_cell(entry.age_seconds()), entry.attempts, releasable, entry.error[:60])


class DeadLettersPane(Vertical):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.where = Filter()
        self.entries: dict[str, DeadLetter] = {}

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter: reason=hard_timeout task=billing.charge queue=default",
                    id="dlq-filter", classes="filter")
        yield KeyedTable(COLUMNS, id="dlq-table")

    @property
    def table(self) -> KeyedTable:
        return self.query_one(KeyedTable)

    @property
    def server_filter(self) -> DeadLetterFilter | None:
        return dead_letter_filter(self.where)

    def show(self, entries: list[DeadLetter], total: int) -> None:
        self.entries = {entry.id: entry for entry in entries}
        words = Filter(words=self.where.words)
        self.table.sync({entry.id: row_of(entry) for entry in entries
                         if words.is_empty or words.matches(entry.as_dict())})
        self.border_subtitle = f"{len(self.table.keys)} shown of {total}"

    def selected(self) -> DeadLetter | None:
        key = self.table.selected_key()
        return None if key is None else self.entries.get(key)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.where = Filter.parse(event.value)
