"""Which columns of a table fit the terminal, and how wide: the most important first (a task's
name, state, lease age and run time), lower ones dropped when there is no room, and a value
wider than its column cut with an ellipsis. Pure: `KeyedTable` applies it on every resize."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.text import Text

#: each shown column's key and the most cells its values may take (None: as wide as they are)
Layout = tuple[tuple[str, int | None], ...]
ELLIPSIS = "\N{HORIZONTAL ELLIPSIS}"


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a keyed table. `priority`: lower is kept longer when the terminal is
    narrow (ties: the earlier column); `min_width`: the narrowest its values are cut to (never
    narrower than its label) before it is dropped instead; `whole`: its values are never cut
    (a cut pid or number names nothing): it shows as wide as its widest value, or not at all."""

    label: str
    key: str
    priority: int = 0
    min_width: int = 0
    whole: bool = False

    @property
    def floor(self) -> int:
        """The narrowest the column is shown at, in cells."""
        return max(self.min_width, cell_len(self.label))


def cell_width(cell: Any) -> int:
    """The cells a value takes on screen (ints and other values as their str)."""
    if isinstance(cell, Text):
        return cell.cell_len
    return cell_len(cell if isinstance(cell, str) else str(cell))


def fit(columns: Sequence[Column], widest: Mapping[str, int], available: int, *,
        padding: int = 2) -> Layout:
    """The columns shown in `available` cells, in their own order, each with its cap.

    `widest` is each column's widest value so far; every column costs `padding` cells more
    than its values. Columns are taken by priority at their floor (or their widest value, if
    narrower; a `whole` column at its widest value) while they fit; the first always shows
    (narrower than its floor on a very narrow terminal). What is left widens them, by priority,
    up to their widest value; a column left narrower than its widest value is capped."""
    order = sorted(range(len(columns)), key=lambda index: (columns[index].priority, index))
    wanted = {column.key: max(cell_len(column.label), widest.get(column.key, 0)) for column in columns}
    widths: dict[str, int] = {}
    used = 0
    for index in order:
        column = columns[index]
        need = wanted[column.key] if column.whole else min(wanted[column.key], column.floor)
        if not widths:  # the first always shows, squeezed if it must be
            need = min(need, max(1, available - padding))
        elif used + need + padding > available:
            continue
        widths[column.key] = need
        used += need + padding
    spare = max(0, available - used)
    for index in order:
        key = columns[index].key
        if key in widths and spare:
            extra = min(spare, wanted[key] - widths[key])
            widths[key] += extra
            spare -= extra
    return tuple((column.key, None if widths[column.key] >= wanted[column.key] else widths[column.key])
                 for column in columns if column.key in widths)


def fit_cell(cell: Any, cap: int | None) -> Any:
    """`cell` cut to `cap` cells with an ellipsis (a `Text`, so it is never read as markup);
    unchanged when it fits. Expects a cell already made literal."""
    if cap is None or cell_width(cell) <= cap:
        return cell
    text = cell.copy() if isinstance(cell, Text) else Text(cell if isinstance(cell, str) else str(cell))
    text.truncate(cap, overflow="ellipsis")
    return text
