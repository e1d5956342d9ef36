"""A task's detail view, section by section: what it is and where it stands (state, lease and
its age, local times with their ages), its arguments decoded, its checkpoint and result, its
error, its attempts as a table, and the rest of its record. Every piece of text from Redis is
shown literally (`relier_tui.literal`); what did not decode says ``undecodable (N bytes)``."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group, JustifyMethod
from rich.table import Table
from rich.text import Text

from relier.display import MASK, safe_text
from relier.stored_message import shown
from relier_tui.leases import LeaseLimits
from relier_tui.literal import literal
from relier_tui.screens import Section
from relier_tui.task_state import state_cell
from relier_tui.task_view import TIME_FIELDS, Attempt, Number, Stored, TaskView, Undecodable
from relier_tui.units import duration, local_time, moment, size

#: width of the labels before each value
_LABEL = 10
#: the attempts table: label, justification, and the most cells a value takes (None: the rest)
_ATTEMPT_COLUMNS: tuple[tuple[str, JustifyMethod, int | None], ...] = (
    ("att", "right", 4), ("fence", "right", 6), ("worker / process", "left", 22),
    ("started", "left", 19), ("ended", "left", 19), ("ran", "right", 6), ("outcome", "left", None))


def line(label: str, value: str | Text) -> Text:
    """``     label  value``: the label bold, the value literal unless already `Text`."""
    body = value if isinstance(value, Text) else literal(value)
    return Text.assemble((f"{safe_text(label):>{_LABEL}}  ", "bold"), body)


def value_text(value: Any) -> str:
    """One decoded value as a Python literal (cut at 2,000 characters); the mask as itself."""
    if isinstance(value, Undecodable):
        return str(value)
    return MASK if value == MASK else shown(value)


def number_text(value: Number) -> str:
    """A record number; ``-`` when absent, ``undecodable (N bytes)`` when not a number."""
    return "-" if value is None else str(value)


def when(value: Number, now_ms: int) -> str:
    """A record moment as ``14:03:12 (4.2s ago)``."""
    return value_text(value) if isinstance(value, Undecodable) else moment(value, now_ms)


def lease_text(view: TaskView, limits: LeaseLimits) -> Text:
    """Which process holds the task, of which worker, and how fresh that process's lease is
    (coloured by `LeaseLimits`, with the number and its meaning in words too)."""
    if not view.holder:
        return literal(f"not held ({view.state})")
    node = view.holder.rsplit("/", 1)[0] if "/" in view.holder else ""  # node/pid: its worker
    holder = literal(f"held by {view.holder}" + (f" (worker {node})" if node else ""))
    if view.lease_age is None:
        holder.append(": no lease (its process is gone; the resurrector takes the task)",
                      style="bold red")
        return holder
    style = limits.style(view.lease_age)
    holder.append(": renewed ")
    holder.append(f"{duration(view.lease_age)} ago, {limits.meaning(view.lease_age)}", style=style)
    return holder


def lines_text(lines: list[Text]) -> Text:
    """Lines as one text (its plain text is what the screen shows)."""
    return Text("\n").join(lines)


def summary(view: TaskView, limits: LeaseLimits) -> Text:
    """Name, state, queue, attempt and fence, lease, the record's moments and the run time."""
    state = state_cell(view.state)
    if view.reason:
        state.append(f" ({safe_text(view.reason)})")
    lines = [line("task", view.name or "?"), line("state", state), line("queue", view.queue or "-"),
             line("attempt", f"{number_text(view.attempt)}, fence {number_text(view.fence)}"),
             line("lease", lease_text(view, limits))]
    lines += [line(name, when(view.times[name], view.now_ms)) for name in TIME_FIELDS
              if name in view.times]
    if view.runtime is not None:
        lines.append(line("runtime", duration(view.runtime)
                          + (" so far" if view.state == "running" else "")))
    return lines_text(lines)


def arguments(view: TaskView) -> Text:
    """The signature status, then each argument decoded (what an unverified message claims)."""
    message = view.message
    if message.envelope is None:
        if not view.message_size:
            return lines_text([line("signature", message.signature_text)])
        lines = [line("message", Text(str(Undecodable(view.message_size)), style="bold red"))]
        if message.error:
            lines.append(line("", message.error))
        return lines_text(lines)
    signature = literal(message.signature_text)
    if not message.is_verified:
        signature.stylize("bold red")
    lines = [line("signature", signature), line("message", size(view.message_size))]
    if message.error:
        lines.append(line("", message.error))
    if not message.is_verified:
        lines.append(line("warning", Text("NOT verified: the arguments below are what the "
                                          "message claims", style="bold red")))
    args, kwargs = view.args or [], view.kwargs or {}
    lines.append(line("args", str(len(args)) if args else "(none)"))
    lines += [line("", f"[{index}] {value_text(value)}") for index, value in enumerate(args)]
    lines.append(line("kwargs", str(len(kwargs)) if kwargs else "(none)"))
    lines += [line("", f"{safe_text(key, limit=200)} = {value_text(value)}")
              for key, value in kwargs.items()]
    return lines_text(lines)


def stored_value(value: Stored | None) -> str:
    """A checkpoint or result: its value decoded, with its size; ``(none)`` when not stored."""
    if value is None:
        return "(none)"
    if isinstance(value.value, Undecodable):
        return str(value.value)
    return f"{value_text(value.value)}  ({size(value.size)})"


def checkpoint(view: TaskView) -> Text:
    """The last checkpoint saved, when and by which fence."""
    lines = [line("value", stored_value(view.checkpoint))]
    if view.checkpoint is not None:
        lines.append(line("saved", when(view.checkpoint_ms, view.now_ms)))
        lines.append(line("by fence", number_text(view.checkpoint_fence)))
    return lines_text(lines)


def _cell(value: Number) -> str:
    """A number in the attempts table: ``?`` when it did not decode (a line below says so)."""
    return "?" if isinstance(value, Undecodable) else number_text(value)


def _clock(value: Number, now_ms: int) -> str:
    if isinstance(value, Undecodable):
        return "?"
    if value is None:
        return "-"
    try:
        return local_time(value, now_ms)
    except (OverflowError, OSError, ValueError):
        return f"{value} (not a time)"


def attempts_table(attempts: list[Attempt], now_ms: int) -> Table:
    """One row per attempt: attempt, fence, worker / process, started, ended (local times),
    runtime, outcome; ``?`` for a value that did not decode."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1), pad_edge=False,
                  expand=False)
    for label, justify, widest in _ATTEMPT_COLUMNS:
        table.add_column(label, justify=justify, max_width=widest, no_wrap=widest is not None,
                         overflow="ellipsis" if widest is not None else "fold",
                         min_width=12 if widest is None else None)
    for row in attempts:
        table.add_row(literal(_cell(row.attempt)), literal(_cell(row.fence)),
                      literal(row.worker or "-"), literal(_clock(row.started_ms, now_ms)),
                      literal(_clock(row.ended_ms, now_ms)), literal(duration(row.runtime)),
                      literal(row.outcome))
    return table


def task_sections(view: TaskView, limits: LeaseLimits) -> list[Section]:
    """The detail view's sections for one task."""
    sections: list[Section] = [("status", summary(view, limits)), ("arguments", arguments(view)),
                               ("checkpoint", checkpoint(view))]
    if view.result is not None:
        sections.append(("result", line("value", stored_value(view.result))))
    if view.error or view.exc_type or view.traceback:
        error = ": ".join(part for part in (view.exc_type, view.error) if part)
        sections.append(("error", "\n\n".join(part for part in (error, view.traceback) if part)))
    history: list[Any] = [attempts_table(view.attempts, view.now_ms)] if view.attempts else [
        literal("(no attempt yet)")]
    history += [literal(problem) for problem in view.problems]
    sections.append(("attempts", Group(*history)))
    if view.other:
        sections.append(("record", lines_text([line(name, value) for name, value in view.other.items()])))
    return sections
