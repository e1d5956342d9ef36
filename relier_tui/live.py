"""Hints about what changed: task records, leases, workers, dead letters and limits.

Keyspace notifications on relier's keys say when leases, the worker registry, the dead-letter
set and admission limits change. Task records are followed through the lifecycle event stream
the console already tails: every transition script appends an event naming its task, and a
stream, unlike notifications, loses nothing across a reconnect and arrives in batches (at 1,000
transitions a second, per-key notifications would be several thousand messages a second).

Both are hints: the console then reads the authoritative state, and it reconciles everything on
a slow timer and after every reconnect anyway.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import redis

from relier.keys import Keys


@dataclass
class Changes:
    """What changed since the last drain."""

    task_ids: set[str] = field(default_factory=set)
    workers: bool = False
    dead_letters: bool = False
    limits: bool = False

    @property
    def any(self) -> bool:
        """Whether anything changed."""
        return bool(self.task_ids) or self.workers or self.dead_letters or self.limits


class ChangeFeed:
    """Collects hints from a keyspace-notification subscription on relier's keys."""

    def __init__(self, keys: Keys, db: int = 0) -> None:
        self.keys = keys
        channel = f"__keyspace@{db}__:"
        # records are followed through the event stream instead (see the module docstring)
        self.patterns = [f"{channel}{keys.leases}",
                         f"{channel}{keys.workers}", f"{channel}{keys.dead_letters}",
                         f"{channel}{keys.prefix}:adm:*"]
        self._channel_prefix = f"__keyspace@{db}__:".encode()
        self._record_prefix = f"{keys.prefix}:t:".encode()
        self._workers_keys = {keys.leases.encode(), keys.workers.encode()}
        self._dead_letters_key = keys.dead_letters.encode()
        self._limits_prefix = f"{keys.prefix}:adm".encode()
        self._changes = Changes()
        self._lock = threading.Lock()
        self.changed = threading.Event()

    def note(self, channel: bytes) -> None:
        """Record the hint carried by one notification's channel name."""
        key = channel[len(self._channel_prefix):] if channel.startswith(self._channel_prefix) else channel
        with self._lock:
            if key.startswith(self._record_prefix):
                rest = key[len(self._record_prefix):]
                if not rest.endswith(b":h"):
                    self._changes.task_ids.add(rest.decode(errors="replace"))
            elif key in self._workers_keys:
                self._changes.workers = True
            elif key == self._dead_letters_key:
                self._changes.dead_letters = True
            elif key.startswith(self._limits_prefix) and not key.endswith(b":tat"):
                self._changes.limits = True
            else:
                return
        self.changed.set()

    def note_tasks(self, task_ids: list[str]) -> None:
        """Tasks named by lifecycle events: their records changed."""
        if not task_ids:
            return
        with self._lock:
            self._changes.task_ids.update(task_ids)
        self.changed.set()

    def mark(self, *, workers: bool = False, dead_letters: bool = False, limits: bool = False) -> None:
        """Hints from the console itself (a pane changed what it reads, or what it shows)."""
        with self._lock:
            self._changes.workers |= workers
            self._changes.dead_letters |= dead_letters
            self._changes.limits |= limits
        self.changed.set()

    def drain(self) -> Changes:
        """The changes collected since the last drain (and start collecting anew)."""
        with self._lock:
            changes, self._changes = self._changes, Changes()
            self.changed.clear()
        return changes

    def listen(self, client: redis.Redis, stop: threading.Event) -> None:
        """Subscribe and collect hints until `stop` is set or the connection fails (raises
        `redis.RedisError`; the caller reconnects and reconciles)."""
        pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        try:
            pubsub.psubscribe(*self.patterns)
            while not stop.is_set():
                message = pubsub.get_message(timeout=0.5)
                while message is not None:
                    channel = message.get("channel")
                    if isinstance(channel, bytes):
                        self.note(channel)
                    message = pubsub.get_message(timeout=0)
        finally:
            pubsub.close()
