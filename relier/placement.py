"""Which cell a task goes to: rendezvous hashing over the cell names, and task ids that say
their cell. Pure functions over plain data (no Redis).

Rendezvous (highest random weight) hashing scores every (cell, key) pair and ranks the cells
by score. The ranking of a key over the cells it had does not change when a cell is added:
only the keys whose new cell scores highest move to it (about 1/n of them), and removing a
cell moves only that cell's keys. The rest of the ranking is where a task goes when a cell is
down.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass

#: Between a cell's name and the unique part of a task id placed there: ``east~<uuid>``.
CELL_SEPARATOR = "~"

#: What a cell key may be: text or a whole number (hashed as its decimal text).
CellKey = str | int


def ranked_cells(key: str, cells: Sequence[str]) -> tuple[str, ...]:
    """`cells` from the best to the worst home for `key`; the same on every process."""
    return tuple(sorted(cells, key=lambda cell: _score(cell, key), reverse=True))


def _score(cell: str, key: str) -> tuple[int, str]:
    digest = hashlib.blake2b(f"{cell}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big"), cell


def cell_key_text(cell_key: object) -> str:
    """A cell key as the text that is hashed; raises `TypeError` for anything but text or a
    whole number (other values have no text that is the same on every process)."""
    if isinstance(cell_key, bool) or not isinstance(cell_key, str | int):
        raise TypeError(f"cell_key must be a str or an int, got {type(cell_key).__name__}")
    return str(cell_key)


def new_task_id(cell: str, unique: str | None = None) -> str:
    """A task id placed in `cell`: ``<cell>~<uuid>``, a valid Celery id and Redis key part."""
    return f"{cell}{CELL_SEPARATOR}{unique or uuid.uuid4()}"


def cell_in_task_id(task_id: str, cells: Collection[str]) -> str | None:
    """The cell named by `task_id`'s prefix, when it has one of `cells`' names."""
    cell, separator, _ = task_id.partition(CELL_SEPARATOR)
    return cell if separator and cell in cells else None


@dataclass(frozen=True, slots=True)
class Placement:
    """What one push is placed by: the hashed `key`, and whether the task must stay on that
    key's first cell (`is_pinned`: a down cell fails the push instead of moving it)."""

    key: str
    is_pinned: bool
    #: What the key is, for error messages: cell_key, canvas, idempotency key, task id.
    source: str

    def cells(self, cells: Sequence[str]) -> tuple[str, ...]:
        """The cells to try, in order: only the first for a pinned task."""
        ranked = ranked_cells(self.key, cells)
        return ranked[:1] if self.is_pinned else ranked


def placement_for(*, cell_key: object = None, canvas_root: str | None = None,
                  idempotency_digest: str = "", task_id: str | None = None,
                  unique: str = "") -> Placement:
    """How one call is placed, first match wins:

    1. an explicit `cell_key` (tasks that must share a cell, e.g. one customer's);
    2. its canvas' root id: a chain, group or chord stays in one cell, where Lua creates its
       continuations and counts its chord;
    3. an idempotent task's key, so the same call always reaches the same cell (idempotency
       is per cell);
    4. a `task_id` the caller chose (found again by the hash of the id);
    5. else the `unique` part of the id relier generates, which may move to the next cell.

    Only the last is free to move: the others would lose what they promise in another cell.
    """
    if cell_key is not None:
        return Placement(cell_key_text(cell_key), is_pinned=True, source="cell_key")
    if canvas_root:
        return Placement(canvas_root, is_pinned=True, source="canvas")
    if idempotency_digest:
        return Placement(idempotency_digest, is_pinned=True, source="idempotency key")
    if task_id:
        return Placement(task_id, is_pinned=True, source="task id")
    return Placement(unique, is_pinned=False, source="task id")
