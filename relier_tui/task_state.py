"""A task's state as the console shows it: the word, always, in a colour that says whether it
needs a look (the Inflight table and the task detail view read it the same way)."""

from __future__ import annotations

from rich.text import Text

from relier.display import safe_text
from relier.states import TaskState

#: state -> style; a state not listed (a record written by something else) is shown plain
STATE_STYLES: dict[str, str] = {
    TaskState.SCHEDULED: "cyan",
    TaskState.QUEUED: "cyan",
    TaskState.RESERVED: "blue",
    TaskState.RUNNING: "green",
    TaskState.COMPLETED: "green",
    TaskState.DEAD_LETTERED: "bold red",
    TaskState.CANCELLED: "yellow",
}


def state_cell(state: str) -> Text:
    """The state's word (control characters replaced), in its colour."""
    return Text(safe_text(state or "?"), style=STATE_STYLES.get(state, ""))
