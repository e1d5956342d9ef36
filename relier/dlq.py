"""Dead-letter operations: list, show, release, retry-all, purge, export, retention.

Entries live in the sorted set `rl:dlq` (id -> dead-letter time, ms) and keep their task record
(`rl:t:<id>`: envelope, reason, error, traceback, checkpoint) and attempt history. A release is
one script: the entry leaves the dead letters as the task is re-queued with a new ticket and
fence. Entries that failed to decode or verify cannot be released: there is no trusted envelope.
`show` decodes an entry's message (task, arguments, signature status: `relier.stored_message`)
and its checkpoint; the stored bytes themselves only on request (``raw=True``).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from relier.field_values import as_float, as_int, text
from relier.reasons import DeadLetterReason
from relier.store import Store
from relier.stored_message import StoredMessage, decode_stored, stored_value

_FIELDS = ("name", "queue", "reason", "exc_type", "error", "attempt", "ended", "packed",
           "head", "claimed_id", "partial", "releases")
_PAGE = 200
#: Record fields that hold bytes: the message (packed; split around its tag in a record written
#: before packing; or kept raw), the checkpoint and the result (msgpack).
_BINARY = frozenset({"packed", "head", "tail", "raw", "partial", "result"})
_VALUES = frozenset({"partial", "result"})


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One dead letter, as operators see it."""

    id: str
    task: str
    queue: str
    reason: str
    exc_type: str
    error: str
    #: None when the record's field is not a number (anyone can write Redis)
    attempts: int | None
    dead_lettered_ms: int
    releasable: bool
    has_checkpoint: bool
    #: None when the record's field is not a number
    releases: int | None = 0
    claimed_id: str = ""

    def age_seconds(self, now_ms: int | None = None) -> float:
        now = now_ms if now_ms is not None else time.time_ns() // 1_000_000
        return max(0.0, (now - self.dead_lettered_ms) / 1000)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "task": self.task, "queue": self.queue, "reason": self.reason,
            "exc_type": self.exc_type, "error": self.error, "attempts": self.attempts,
            "dead_lettered_ms": self.dead_lettered_ms, "releasable": self.releasable,
            "has_checkpoint": self.has_checkpoint, "releases": self.releases,
            "claimed_id": self.claimed_id,
        }


@dataclass(frozen=True, slots=True)
class DeadLetterFilter:
    """Which entries an operation applies to; every given field must match."""

    reason: str | None = None
    task: str | None = None
    queue: str | None = None
    older_than: float | None = None
    newer_than: float | None = None

    def matches(self, entry: DeadLetter, now_ms: int) -> bool:
        age = entry.age_seconds(now_ms)
        return (
            (self.reason is None or entry.reason == self.reason)
            and (self.task is None or entry.task == self.task)
            and (self.queue is None or entry.queue == self.queue)
            and (self.older_than is None or age >= self.older_than)
            and (self.newer_than is None or age <= self.newer_than)
        )


@dataclass
class ReleaseReport:
    released: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


def _entry(task_id: str, score: float, values: list[bytes | None]) -> DeadLetter:
    fields = dict(zip(_FIELDS, values, strict=True))
    reason = text(fields["reason"])
    has_message = fields["packed"] is not None or fields["head"] is not None
    try:
        releasable = DeadLetterReason(reason).is_releasable and has_message
    except ValueError:
        releasable = has_message
    return DeadLetter(
        id=task_id,
        task=text(fields["name"]),
        queue=text(fields["queue"]),
        reason=reason,
        exc_type=text(fields["exc_type"]),
        error=text(fields["error"]),
        attempts=as_int(fields["attempt"] or b"0"),
        dead_lettered_ms=int(as_float(score) or 0),  # a score of inf: 0
        releasable=releasable,
        has_checkpoint=fields["partial"] is not None,
        releases=as_int(fields["releases"] or b"0"),
        claimed_id=text(fields["claimed_id"]),
    )


class DeadLetters:
    """Operations on one relier's dead letters."""

    def __init__(self, store: Store, default_front: str) -> None:
        self._store = store
        self._default_front = default_front

    def count(self) -> int:
        return int(self._store.client.zcard(self._store.keys.dead_letters))

    def iter_entries(self, where: DeadLetterFilter | None = None, *,
                     newest_first: bool = True) -> Iterator[DeadLetter]:
        """Matching entries, read a page at a time (never the whole set at once)."""
        client, keys = self._store.client, self._store.keys
        where = where or DeadLetterFilter()
        now = time.time_ns() // 1_000_000
        start = 0
        while True:
            page = cast(list[tuple[bytes, float]], client.zrange(
                keys.dead_letters, start, start + _PAGE - 1, desc=newest_first, withscores=True))
            if not page:
                return
            pipe = client.pipeline(transaction=False)
            for member, _ in page:
                pipe.hmget(keys.record(text(member)), _FIELDS)
            for (member, score), values in zip(page, pipe.execute(), strict=True):
                entry = _entry(text(member), score, values)
                if where.matches(entry, now):
                    yield entry
            start += _PAGE

    def list_entries(self, where: DeadLetterFilter | None = None, *, limit: int = 50,
             offset: int = 0) -> list[DeadLetter]:
        entries = []
        for index, entry in enumerate(self.iter_entries(where)):
            if index >= offset + limit:
                break
            if index >= offset:
                entries.append(entry)
        return entries

    def show(self, task_id: str, *, raw: bool = False) -> dict[str, Any] | None:
        """The entry's whole record and attempt history as JSON-ready data, or None.

        ``message`` is its message decoded (`StoredMessage.as_dict`: the signature status,
        the task, ``args`` and ``kwargs``), ``partial`` (the checkpoint) and ``result`` are
        decoded; the message's bytes appear only as their size. With `raw`, every binary
        field is given as ``{"base64": ..., "bytes": n}`` instead.
        """
        store = self._store
        if store.client.zscore(store.keys.dead_letters, task_id) is None:
            return None
        record = store.record(task_id)
        shown: dict[str, Any] = {}
        for name, value in sorted(record.items()):
            if name not in _BINARY:
                shown[name] = value.decode(errors="replace")
            elif raw:
                shown[name] = {"base64": base64.b64encode(value).decode(), "bytes": len(value)}
            elif name in _VALUES:
                shown[name] = stored_value(value)
            else:
                shown[name] = {"bytes": len(value)}
        shown["message"] = self._decode(record).as_dict()
        shown["history"] = store.history(task_id)
        return shown

    def message(self, task_id: str) -> StoredMessage | None:
        """The entry's message decoded, with its signature checked against this process's
        RELIER_SECRET_KEYS; None when `task_id` is not a dead letter."""
        store = self._store
        if store.client.zscore(store.keys.dead_letters, task_id) is None:
            return None
        return self._decode(store.record(task_id))

    def _decode(self, record: dict[str, bytes]) -> StoredMessage:
        return decode_stored(record, dict(self._store.settings.verification_keys))

    def release(self, task_id: str, by: str = "operator") -> str:
        """Re-queue one entry; returns ``queued`` or why it was not released (``unreleasable``
        for an entry without a verified message: see `DeadLetterReason.is_releasable`)."""
        store = self._store
        front, reason = cast(list[bytes | None], store.client.hmget(
            store.keys.record(task_id), "front", "reason"))
        if reason is not None and not _is_releasable_reason(reason.decode()):
            return "unreleasable"
        return _release(store, task_id, front.decode() if front else self._default_front, by)

    def retry_all(self, where: DeadLetterFilter | None = None, *, rate: float = 50.0,
                  dry_run: bool = False, by: str = "operator") -> ReleaseReport:
        """Release every matching entry, at most `rate` per second (bulk releases never
        flood the queues). With `dry_run`, only report what would be released."""
        report = ReleaseReport()
        matching = list(self.iter_entries(where, newest_first=False))
        interval = 1.0 / rate
        for entry in matching:
            if not entry.releasable:
                report.refused[entry.id] = "unreleasable"
                continue
            if dry_run:
                report.released.append(entry.id)
                continue
            began = time.monotonic()
            outcome = self.release(entry.id, by)
            if outcome == "queued":
                report.released.append(entry.id)
            else:
                report.refused[entry.id] = outcome
            time.sleep(max(0.0, interval - (time.monotonic() - began)))
        return report

    def purge(self, where: DeadLetterFilter | None = None, *, why: str = "purge") -> int:
        """Delete matching entries for good; returns how many."""
        ids = [entry.id for entry in self.iter_entries(where, newest_first=False)]
        return self.delete(ids, why=why)

    def delete(self, ids: list[str], *, why: str) -> int:
        deleted = 0
        for start in range(0, len(ids), _PAGE):
            deleted += self._store.purge(ids[start:start + _PAGE], why)
        return deleted

    def export(self, where: DeadLetterFilter | None = None) -> Iterator[str]:
        """JSON lines: each matching entry's ``show(raw=True)`` (its bytes kept, and decoded)."""
        for entry in self.iter_entries(where, newest_first=False):
            shown = self.show(entry.id, raw=True)
            if shown is not None:
                yield json.dumps({"id": entry.id, **shown}, sort_keys=True)

    def enforce_retention(self, *, max_entries: int, max_age: float) -> int:
        """Delete entries older than `max_age` seconds and the oldest beyond `max_entries`."""
        client, keys = self._store.client, self._store.keys
        cutoff = time.time_ns() // 1_000_000 - int(max_age * 1000)
        old = [member.decode() for member in cast(list[bytes], client.zrangebyscore(
            keys.dead_letters, "-inf", cutoff, start=0, num=_PAGE))]
        excess = self.count() - len(old) - max_entries
        if excess > 0:
            old += [member.decode() for member in cast(list[bytes], client.zrange(
                keys.dead_letters, len(old), len(old) + min(excess, _PAGE) - 1))]
        return self.delete(old, why="retention") if old else 0


def _is_releasable_reason(reason: str) -> bool:
    try:
        return DeadLetterReason(reason).is_releasable
    except ValueError:
        return True


def _release(store: Store, task_id: str, front: str, by: str) -> str:
    return store.release(task_id, front, by)
