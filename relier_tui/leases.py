"""What a lease's age means, in colour and number: the Inflight and Workers panes and the task
detail view colour it the same way."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from relier_tui.units import duration


@dataclass(frozen=True, slots=True)
class LeaseLimits:
    """What a lease's age means: `refresh` is how often a live process renews it, `ttl` when
    the resurrector takes its tasks (both in seconds)."""

    ttl: float
    refresh: float

    def style(self, age: float) -> str:
        """Green while renewals arrive (under two refresh intervals), yellow late but within
        the TTL, red past it (its tasks are taken, or about to be)."""
        return "green" if age < 2 * self.refresh else "yellow" if age < self.ttl else "bold red"

    def meaning(self, age: float) -> str:
        """What the colour says, in words (colour is never the only signal)."""
        if age < 2 * self.refresh:
            return "alive"
        if age < self.ttl:
            return f"late (renewed every {duration(self.refresh)})"
        return f"expired (past the {duration(self.ttl)} TTL: its tasks are taken)"


def lease_cell(age: float | None, limits: LeaseLimits) -> Text:
    """Lease age (``4.2s``, ``12m05s``), coloured by `LeaseLimits.style`; ``none`` in red
    without one."""
    if age is None:
        return Text("none", style="bold red", justify="right")
    return Text(duration(age), style=limits.style(age), justify="right")
