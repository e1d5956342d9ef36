"""Events: the live lifecycle tail, filterable by type, task and queue, pausable (`space`,
an app-wide key: the mode line shows LIVE or PAUSED from every pane)."""

from __future__ import annotations

from collections import deque
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Input, RichLog

from relier.display import safe_text
from relier_tui.widgets.pane import FilteredPane

KEEP = 2000
#: a burst renders only its newest lines; the rest stay in `kept` for filters and redraws
MAX_LINES_PER_BATCH = 200
STYLES = {"completed": "green", "dead_lettered": "bold red", "failed": "red", "resurrected": "magenta",
          "rejected_write": "yellow", "admission_rejected": "yellow", "handed_off": "cyan",
          "timed_out": "red", "started": "blue", "lost": "magenta"}


def event_line(event: dict[str, str], names: dict[str, str]) -> Text:
    """One event as a line; every field from the stream shown with its controls replaced."""
    kind = event.get("type", "?")
    task_id = event.get("id", "")
    name = event.get("task") or names.get(task_id, "")
    stamp = event.get("event_id", "").split("-", 1)[0]
    clock = ""
    if stamp.isdigit():
        import time  # noqa: PLC0415 - formatting only

        clock = time.strftime("%H:%M:%S", time.localtime(int(stamp) / 1000))
    extra = " ".join(f"{key}={value}" for key, value in event.items()
                     if key in {"worker", "reason", "cause", "attempt", "queue", "why"})
    line = Text(f"{clock} ")
    line.append(f"{safe_text(kind):<18}", style=STYLES.get(kind, ""))
    line.append(safe_text(f" {task_id[:8]:<8} {name:<28} {extra}"))
    return line


class EventsPane(FilteredPane):
    """Pane 3: the lifecycle event tail; `/` filters it, `space` (app-wide) pauses it."""

    TITLE = "Events"
    HOME = "#events-log"

    class TailChanged(Message):
        """The tail was paused or resumed, or events arrived while paused (for the mode line)."""

        def __init__(self, paused: bool, missed: int) -> None:
            super().__init__()
            self.paused = paused
            self.missed = missed

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kept: deque[dict[str, str]] = deque(maxlen=KEEP)
        self.names: dict[str, str] = {}
        self.paused = False
        self.missed_while_paused = 0
        #: set by the app: a hidden pane keeps events but renders nothing until shown
        self.in_view = False

    def compose(self) -> ComposeResult:
        """The filter box and the log."""
        yield Input(placeholder="/ filter: type=completed task=billing.charge queue=default  (space pauses)",
                    id="events-filter", classes="filter")
        yield RichLog(id="events-log", max_lines=KEEP, wrap=False, markup=False)

    @property
    def log_view(self) -> RichLog:
        """The log the events are written to."""
        return self.query_one(RichLog)

    def _row(self, event: dict[str, str]) -> dict[str, str]:
        return {**event, "task": event.get("task") or self.names.get(event.get("id", ""), "")}

    def add(self, events: list[dict[str, str]]) -> None:
        """New events: kept for filters and redraws, written when live and shown."""
        for event in events:
            if event.get("task") and event.get("id"):
                self.names[event["id"]] = event["task"]
            self.kept.append(event)
        if len(self.names) > 50000:
            self.names.clear()
        if self.paused:
            self.missed_while_paused += len(events)
            self.post_message(self.TailChanged(True, self.missed_while_paused))
            return
        if not self.in_view:
            return
        shown = [e for e in events if self.where.is_empty or self.where.matches(self._row(e))]
        for event in shown[-MAX_LINES_PER_BATCH:]:
            self.log_view.write(event_line(event, self.names))

    def redraw(self) -> None:
        """Rewrite the log from the kept events the filter matches."""
        self.log_view.clear()
        shown = [e for e in self.kept if self.where.is_empty or self.where.matches(self._row(e))]
        for event in shown[-500:]:
            self.log_view.write(event_line(event, self.names))

    def show(self, visible: bool) -> None:
        """The pane was shown or hidden (a hidden pane renders nothing)."""
        if visible and not self.in_view:
            self.in_view = True
            self.redraw()
        self.in_view = visible

    def toggle_pause(self) -> bool:
        """Pause or resume the tail; returns whether it is paused now."""
        self.paused = not self.paused
        if not self.paused:
            self.missed_while_paused = 0
            self.redraw()
        self.post_message(self.TailChanged(self.paused, self.missed_while_paused))
        return self.paused

    def apply_filter(self) -> None:
        """Redraw with the new filter."""
        self.redraw()
