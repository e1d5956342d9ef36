"""What operators see across cells: each cell's rows merged into one view, and the fleet-wide
admission limits. Pure functions over plain data (the reads are the caller's)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from relier.admission import LiveLimits
from relier.dlq import DeadLetter
from relier.inspection import InflightTask

T = TypeVar("T")
#: One row read in one cell: (cell name, row).
InCell = tuple[str, T]


def flatten(per_cell: Iterable[tuple[str, Iterable[T]]]) -> list[InCell[T]]:
    """Every cell's rows, each with its cell, in cell order."""
    return [(cell, row) for cell, rows in per_cell for row in rows]


def newest_dead_letters(per_cell: Iterable[tuple[str, Iterable[DeadLetter]]], *, limit: int,
                        offset: int = 0) -> list[InCell[DeadLetter]]:
    """The dead letters of every cell, newest first (ties: by cell, then id), one page."""
    rows = sorted(flatten(per_cell), key=lambda item: (-item[1].dead_lettered_ms, item[0], item[1].id))
    return rows[offset:offset + limit]


def longest_running(per_cell: Iterable[tuple[str, Iterable[InflightTask]]], *,
                    limit: int) -> list[InCell[InflightTask]]:
    """Every cell's inflight tasks, the longest running first (not started yet last)."""
    rows = sorted(flatten(per_cell), key=lambda item: (
        item[1].running_for is None, -(item[1].running_for or 0.0), item[0], item[1].id))
    return rows[:limit]


class _Declared(Protocol):
    @property
    def rate(self) -> float | None: ...
    @property
    def max_depth(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class FleetLimit:
    """One queue's or task's admission limits summed over the cells that answered: each cell
    admits its own rate and depth, so the fleet admits their sum. None: unlimited in some cell."""

    scope: str
    name: str
    rate: float | None
    max_depth: int | None
    cells: int

    def as_dict(self) -> dict[str, object]:
        return {"scope": self.scope, "name": self.name, "rate": self.rate,
                "max_depth": self.max_depth, "cells": self.cells}


def _limit(live: LiveLimits | None, declared: _Declared | None, field: str) -> float | None:
    value = getattr(live, field, None) if live is not None else None
    if value is None and declared is not None:
        value = getattr(declared, field)
    return None if not value else float(value)  # 0 and None: no limit


def fleet_limits(live_per_cell: Mapping[str, Sequence[LiveLimits]],
                 declared: Mapping[tuple[str, str], _Declared]) -> list[FleetLimit]:
    """Per (scope, name) limited anywhere: the rate and depth the whole fleet admits, from
    each cell's live override, else the limit declared in code."""
    names = set(declared) | {(item.scope, item.name) for rows in live_per_cell.values()
                             for item in rows}
    totals = []
    for scope, name in sorted(names):
        rates: list[float | None] = []
        depths: list[float | None] = []
        for rows in live_per_cell.values():
            live = next((item for item in rows if (item.scope, item.name) == (scope, name)), None)
            rates.append(_limit(live, declared.get((scope, name)), "rate"))
            depths.append(_limit(live, declared.get((scope, name)), "max_depth"))
        rate = None if None in rates else sum(r for r in rates if r is not None)
        depth = None if None in depths else int(sum(d for d in depths if d is not None))
        if rate is None and depth is None:
            continue
        totals.append(FleetLimit(scope, name, rate, depth, len(live_per_cell)))
    return totals
