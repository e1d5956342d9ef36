"""Draining a cell: the mark producers honour, what is left in the cell, and moving its dead
letters to another cell.

The mark is one hash in the drained cell's own Redis (`Keys.cell_drain`). Producers read it at
most every `DRAIN_RECHECK_SECONDS` per cell (`relier.cells.Cells.is_draining`) and place no new
task there: a task free to move goes to the next cell, a pinned one fails with
`CellDrainingError`. So a drain waits that long after setting the mark before it trusts an
empty cell to stay empty.

A dead letter moves whole, as a dead letter: its record (message, reason, error, checkpoint,
attempts) and history are copied to the target cell under the same id and entered in its
dead letters with the same time, then the source's entry leaves its dead letters and its
record gains ``moved_to``. Nothing runs: releasing a moved entry is the operator's choice, in
its new cell. Copying first makes a move safe to repeat after a crash (the copy overwrites
itself).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from relier import inspection
from relier.keys import BrokerKeys
from relier.store import Store

#: Longest a producer trusts what it last read of a cell's drain mark (seconds).
DRAIN_RECHECK_SECONDS = 1.0
#: Dead letters copied per round trip.
_PAGE = 100


@dataclass(frozen=True, slots=True)
class DrainMark:
    """A cell's drain mark: when it was set (server ms), by whom, and where its dead letters
    went once moved ("" before)."""

    since_ms: int
    by: str
    moved_to: str = ""


def text(raw: bytes | None) -> str:
    return raw.decode(errors="replace") if raw else ""


def _server_ms(store: Store) -> int:
    seconds, micros = store.client.time()
    return int(seconds) * 1000 + int(micros) // 1000


def mark_draining(store: Store, by: str) -> DrainMark:
    """Set the cell's drain mark (kept as it is when already set); returns it."""
    client, key = store.client, store.keys.cell_drain
    client.hsetnx(key, "since", _server_ms(store))
    client.hsetnx(key, "by", by)
    mark = drain_mark(store)
    assert mark is not None  # just set, and only `clear_drain` deletes it
    return mark


def note_moved(store: Store, target: str) -> None:
    """Record on the drain mark where the cell's dead letters went."""
    store.client.hset(store.keys.cell_drain, "moved_to", target)


def clear_drain(store: Store) -> bool:
    """Remove the cell's drain mark; whether there was one."""
    return bool(store.client.delete(store.keys.cell_drain))


def is_marked(store: Store) -> bool:
    """Whether the cell is being drained (one EXISTS)."""
    return bool(store.client.exists(store.keys.cell_drain))


def drain_mark(store: Store) -> DrainMark | None:
    """The cell's drain mark, or None when it takes new tasks."""
    fields = cast(dict[bytes, bytes], store.client.hgetall(store.keys.cell_drain))
    if not fields:
        return None
    since = text(fields.get(b"since"))
    return DrainMark(since_ms=int(since) if since.isdigit() else 0, by=text(fields.get(b"by")),
                     moved_to=text(fields.get(b"moved_to")))


@dataclass(frozen=True, slots=True)
class CellLoad:
    """What a cell still holds: relier tasks waiting in a queue, messages in the broker lists
    of its known queues, tasks scheduled for later, and tasks a live process holds."""

    queued: int
    depth: int
    scheduled: int
    inflight: int
    dead_letters: int

    @property
    def is_idle(self) -> bool:
        """Whether nothing waits, is scheduled or runs (dead letters aside)."""
        return not (self.queued or self.depth or self.scheduled or self.inflight)

    def summary(self) -> str:
        return (f"{self.queued} queued, {self.depth} in broker lists, {self.scheduled} "
                f"scheduled, {self.inflight} inflight, {self.dead_letters} dead letters")


def cell_queues(store: Store, declared: Iterable[str]) -> list[str]:
    """The queues a cell's lists may hold: `declared` and every queue its registered
    workers consume."""
    queues = set(declared)
    for view in inspection.workers(store, include_dead=True):
        queues.update(view.queues)
    return sorted(queues)


def cell_load(store: Store, broker_keys: BrokerKeys, declared: Iterable[str]) -> CellLoad:
    """What the cell holds now (a few round trips)."""
    client, keys = store.client, store.keys
    depths = inspection.queue_depths(store, broker_keys, cell_queues(store, declared))
    pipe = client.pipeline(transaction=False)
    pipe.zcard(keys.queued)
    pipe.zcard(keys.delayed)
    pipe.zcard(keys.dead_letters)
    queued, scheduled, dead = (int(value) for value in pipe.execute())
    return CellLoad(queued=queued, depth=sum(depths.values()), scheduled=scheduled,
                    inflight=len(inspection.inflight_ids(store)), dead_letters=dead)


def move_dead_letters(source: Store, target: Store, source_cell: str, target_cell: str) -> int:
    """Move every dead letter of `source` to `target` (same ids, records, history and
    dead-letter times); returns how many moved. Safe to run again after an interruption."""
    moved = 0
    while True:
        page = cast(list[tuple[bytes, float]], source.client.zrange(
            source.keys.dead_letters, 0, _PAGE - 1, withscores=True))
        if not page:
            return moved
        for member, score in page:
            _move_one(source, target, text(member), score, (source_cell, target_cell))
            moved += 1


def _move_one(source: Store, target: Store, task_id: str, score: float,
              cells: tuple[str, str]) -> None:
    record_key, history_key = source.keys.record(task_id), source.keys.history(task_id)
    read = source.client.pipeline(transaction=False)
    read.hgetall(record_key)
    read.lrange(history_key, 0, -1)
    read.pttl(record_key)
    record, history, ttl = read.execute()
    write = target.client.pipeline(transaction=True)
    target_record, target_history = target.keys.record(task_id), target.keys.history(task_id)
    write.delete(target_record, target_history)
    if record:
        write.hset(target_record, mapping={**record, b"moved_from": cells[0].encode()})
        if ttl and int(ttl) > 0:
            write.pexpire(target_record, int(ttl))
    if history:
        write.rpush(target_history, *history)
    write.zadd(target.keys.dead_letters, {task_id: score})
    write.execute()
    leave = source.client.pipeline(transaction=True)
    leave.zrem(source.keys.dead_letters, task_id)
    if record:
        leave.hset(record_key, "moved_to", cells[1])
    leave.execute()
