"""Raw dead letters: messages that must never run, kept with their bytes and reason.

An element a worker refuses (not a kombu message, unsigned, tampered, for no known task) has
no trustworthy task record to end, so it is stored as its own entry ``x-<random>`` in the dead
letters (`dead_letter_raw.lua`). `DeadLetterKeeper` writes them, and keeps them in memory while
Redis does not answer, so a refusal is never dropped by an outage.
"""

from __future__ import annotations

import collections
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import redis

from relier.display import safe_text
from relier.reasons import DeadLetterReason
from relier.store import Store

logger = logging.getLogger("relier.worker")

#: Dead letters kept in memory while Redis does not answer; beyond this the oldest are logged
#: with their bytes and dropped (Redis has been unreachable for that many refusals).
MAX_PENDING = 10_000


@dataclass(frozen=True, slots=True)
class Refusal:
    """An element that must not reach kombu or Celery."""

    reason: DeadLetterReason
    error: str
    headers: dict[str, Any] = field(default_factory=dict)

    @property
    def claimed_id(self) -> str:
        value = self.headers.get("id")
        return value if isinstance(value, str) else ""

    @property
    def claimed_name(self) -> str:
        value = self.headers.get("task")
        return value if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class RawDeadLetter:
    """An element (or body) that must never run, kept with its bytes and reason."""

    item: bytes
    queue: str
    refusal: Refusal


class DeadLetterKeeper:
    """Writes raw dead letters; while Redis does not answer, keeps them in memory and writes
    them at the next chance, so a refused element is never dropped by an outage."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._pending: collections.deque[RawDeadLetter] = collections.deque()

    def keep(self, letter: RawDeadLetter) -> None:
        """Never raises."""
        self.flush()
        try:
            self._write(letter)
        except redis.RedisError as exc:
            logger.warning("dead letter for an element of %s not written yet (%s); kept in "
                           "memory until Redis answers", letter.queue, exc)
            if len(self._pending) >= MAX_PENDING:
                dropped = self._pending.popleft()
                logger.critical("dropping a refused element of %s after %d unwritten dead "
                                "letters: %r", dropped.queue, MAX_PENDING, dropped.item)
            self._pending.append(letter)

    def flush(self) -> None:
        while self._pending:
            try:
                self._write(self._pending[0])
            except redis.RedisError:
                return
            self._pending.popleft()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _write(self, letter: RawDeadLetter) -> None:
        refusal = letter.refusal
        entry = f"x-{uuid.uuid4().hex}"
        self._store.dead_letter_raw(
            entry, reason=refusal.reason, error=refusal.error, raw=letter.item,
            headers=refusal.headers, claimed_id=refusal.claimed_id,
            claimed_name=refusal.claimed_name, queue=letter.queue)
        logger.error("an element of queue %s is dead letter %s (%s): %s", letter.queue, entry,
                     refusal.reason, safe_text(refusal.error))


