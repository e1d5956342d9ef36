"""The header: one line that answers "is the system healthy?"."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from relier.consumers import describe
from relier.display import safe_text
from relier.preflight import MemoryHeadroom
from relier_tui.source import Health

MIB = 2**20
#: memory in use, as a fraction of maxmemory, from which the header is red whatever the setting
MEMORY_CRITICAL = 0.95


def memory_style(memory: MemoryHeadroom, warning: float) -> str:
    """Green, yellow from the `warning` fraction of maxmemory, red from 95% (none without a limit)."""
    if not memory.limit:
        return ""
    fraction = memory.fraction
    return "bold red" if fraction >= MEMORY_CRITICAL else "yellow" if fraction >= warning else "green"


def memory_cell(memory: MemoryHeadroom | None, warning: float) -> Text:
    """``mem 412/512 MiB 80%``: yellow from `warning`, red from 95%; the number always shown."""
    if memory is None:
        return Text("mem ?")
    if not memory.limit:
        return Text(f"mem {memory.used / MIB:.0f} MiB, no limit")
    return Text(f"mem {memory.used / MIB:.0f}/{memory.limit / MIB:.0f} MiB {memory.fraction:.0%}",
                style=memory_style(memory, warning))


def health_notes(health: Health | None) -> list[str]:
    """What needs the operator's attention now, one line each (for the help screen)."""
    if health is None:
        return []
    notes = [f"preflight: {problem}" for problem in health.preflight_problems]
    memory = health.memory
    if memory is not None and memory.limit and memory.fraction >= health.memory_warning:
        notes.append(f"memory: {memory.used / MIB:.1f} of {memory.limit / MIB:.1f} MiB used "
                     f"({memory.fraction:.0%}); at maxmemory Redis refuses writes")
    for notice in health.setting_notices:
        fix = f" (rename it to {notice.replacement})" if notice.replacement else ""
        notes.append(f"settings: {notice.message}{fix}")
    notes += [f"consumers: {describe(worker, queues)}"
              for worker, queues in sorted(health.foreign_consumers.items())]
    return [safe_text(note) for note in notes]


def _items(health: Health) -> list[Text]:
    """The header's readings after the Redis badge, each one unbreakable."""
    notes = {True: ("notif on", "green"), False: ("notif OFF: polling", "yellow"),
             None: ("notif ?: polling", "yellow")}[health.notifications]
    all_alive = health.workers_alive and health.workers_alive == health.workers_total
    depth = sum(health.queue_depths.values())
    deepest = max(health.queue_depths.items(), key=lambda item: item[1], default=("-", 0))
    queued = f"queued {depth}" + (f" (max {safe_text(deepest[0], limit=24)} {deepest[1]})"
                                  if depth else "")
    approx = "~" if health.rejections_estimated else ""
    burn_style = "bold red" if health.firing_alerts else "yellow" if health.worst_burn > 1 else "green"
    alerts = safe_text(",".join(health.firing_alerts))
    items = [
        Text(notes[0], style=notes[1]),
        Text(f"workers {health.workers_alive}/{health.workers_total}",
             style="green" if all_alive else "red"),
        Text(f"inflight {health.inflight}"),
        Text(queued),
        Text(f"DLQ {health.dead_letters}", style="bold red" if health.dead_letters else ""),
        Text(f"rejected/min {approx}{health.rejections_per_minute}",
             style="yellow" if health.rejections_per_minute else ""),
        Text(f"burn {health.worst_burn:.1f}" + (f" ALERT {alerts}" if alerts else ""),
             style=burn_style),
        memory_cell(health.memory, health.memory_warning),
    ]
    count = len(health.setting_notices)
    if count:
        items.append(Text(f"{count} setting warning{'s' if count != 1 else ''}", style="yellow"))
    return items


def health_line(health: Health | None, connected: bool, width: int | None = None) -> Text:
    """The header; with `width`, lines break between readings, never inside one."""
    line = Text()
    if not connected:
        line.append(" REDIS DOWN ", style="bold white on red")
    elif health is None:
        line.append(" connecting… ", style="bold black on yellow")
        return line
    else:
        style = "bold white on green" if not health.preflight_problems else "bold black on yellow"
        line.append(" redis ok " if not health.preflight_problems else " preflight! ", style=style)
    if health is None:
        return line
    column = line.cell_len
    for index, item in enumerate(_items(health)):
        separator = " " if index == 0 else " │ "
        if width and column + len(separator) + item.cell_len > width:
            line.append("\n")
            separator, column = " ", 0
        line.append(separator)
        line.append_text(item)
        column += len(separator) + item.cell_len
    details = []
    if health.preflight_problems:
        details.append("preflight: " + "; ".join(health.preflight_problems))
    if health.setting_notices:
        details.append("settings: " + "; ".join(notice.message for notice in health.setting_notices))
    if health.foreign_consumers:
        details.append("workers without relier on relier queues: "
                       + ", ".join(sorted(health.foreign_consumers)))
    if details:
        line.append("\n " + safe_text(" │ ".join(details)) + "  (? lists them)", style="yellow")
    return line


class HealthBar(Static):
    """The header, redrawn when the health is read and when the terminal is resized."""

    shown: tuple[Health | None, bool] = (None, True)
    #: with RELIER_CELLS, each cell's state on a line of its own, first (`relier_tui.cells`)
    cells: Text | None = None

    def show(self, health: Health | None, connected: bool) -> None:
        """Redraw the header for this health read and connection state."""
        self.shown = (health, connected)
        self._draw()

    def show_cells(self, line: Text) -> None:
        """Redraw the header with this line of the cells' states above the rest."""
        if self.cells is None:
            self.styles.max_height = 4  # the cells' line comes on top of the usual three
        self.cells = line
        self._draw()

    def _draw(self) -> None:
        line = health_line(*self.shown, self.size.width or None)
        if self.cells is not None:
            line = Text("\n").join([self.cells, line])
        self.update(line)

    def on_resize(self) -> None:
        """Re-break the header's lines for the new width."""
        self._draw()
