"""Keyspace notifications as hints: which task records, leases, workers and dead letters changed.

Notifications are lossy (a dropped connection loses them, and Redis does not buffer), so they
only say *that* something changed; the console then reads the authoritative state, and it
reconciles everything on a slow timer and after every reconnect anyway.
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
        return bool(self.task_ids) or self.workers or self.dead_letters or self.limits


class ChangeFeed:
    """Collects hints from a keyspace-notification subscription on relier's keys."""

    def __init__(self, keys: Keys, db: int = 0) -> None:
        self.keys = keys
        self.pattern = f"__keyspace@{db}__:{keys.prefix}:*"
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
            elif key in self._workers_keys or key.startswith(f"{self.keys.prefix}:held:".encode()):
                self._changes.workers = True
            elif key == self._dead_letters_key:
                self._changes.dead_letters = True
            elif key.startswith(self._limits_prefix) and not key.endswith(b":tat"):
                self._changes.limits = True
            else:
                return
        self.changed.set()

    def drain(self) -> Changes:
        with self._lock:
            changes, self._changes = self._changes, Changes()
            self.changed.clear()
        return changes

    def listen(self, client: redis.Redis, stop: threading.Event) -> None:
        """Subscribe and collect hints until `stop` is set or the connection fails (raises
        `redis.RedisError`; the caller reconnects and reconciles)."""
        pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        try:
            pubsub.psubscribe(self.pattern)
            while not stop.is_set():
                message = pubsub.get_message(timeout=0.5)
                while message is not None:
                    channel = message.get("channel")
                    if isinstance(channel, bytes):
                        self.note(channel)
                    message = pubsub.get_message(timeout=0)
        finally:
            pubsub.close()
