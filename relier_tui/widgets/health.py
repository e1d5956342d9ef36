"""The header: one line that answers "is the system healthy?"."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from relier_tui.source import Health


def health_line(health: Health | None, connected: bool) -> Text:
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
    notes = {True: ("notif on", "green"), False: ("notif OFF: polling", "yellow"),
             None: ("notif ?: polling", "yellow")}[health.notifications]
    line.append(f" {notes[0]} ", style=notes[1])
    all_alive = health.workers_alive and health.workers_alive == health.workers_total
    workers_style = "green" if all_alive else "red"
    line.append(f"│ workers {health.workers_alive}/{health.workers_total} ", style=workers_style)
    line.append(f"│ inflight {health.inflight} ")
    depth = sum(health.queue_depths.values())
    deepest = max(health.queue_depths.items(), key=lambda item: item[1], default=("-", 0))
    line.append(f"│ queued {depth}" + (f" (max {deepest[0]} {deepest[1]})" if depth else "") + " ")
    line.append(f"│ DLQ {health.dead_letters} ", style="bold red" if health.dead_letters else "")
    approx = "~" if health.rejections_estimated else ""
    line.append(f"│ rejected/min {approx}{health.rejections_per_minute} ",
                style="yellow" if health.rejections_per_minute else "")
    burn_style = "bold red" if health.firing_alerts else "yellow" if health.worst_burn > 1 else "green"
    line.append(f"│ burn {health.worst_burn:.1f}" + (f" ALERT {','.join(health.firing_alerts)}"
                                                    if health.firing_alerts else ""), style=burn_style)
    if health.preflight_problems:
        line.append("\n preflight: " + "; ".join(health.preflight_problems), style="yellow")
    return line


class HealthBar(Static):
    def show(self, health: Health | None, connected: bool) -> None:
        self.update(health_line(health, connected))
