"""Celery workers without relier that consume a relier queue: found in seconds, not minutes.

A stock worker pops a relier message, refuses its content type and drops it; relier only
learns of it when reconciliation finds the message missing (``RELIER_RECONCILE_AFTER``), and
after a few rounds dead-letters the task ``lost_in_broker``. Instead, Celery's own
``inspect().active_queues()`` broadcast lists every worker and its queues; one without a
``rl:workers`` registration that consumes a queue relier workers consume is *foreign*.

`rl doctor` asks live. Resurrectors ask every `CHECK_INTERVAL` seconds (one of them per
interval, by a Redis lock; not the workers: a worker's broker connection runs on its event
loop, which a thread's broadcast cannot wait on) and publish the answer in ``rl:foreign``
(`Keys.foreign_consumers`), where `push` (a read at most once per interval per process) and
the console find it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

import redis

from relier.store import Store

logger = logging.getLogger("relier")

#: Seconds between two checks by the workers, and between two reads by a producer.
CHECK_INTERVAL = 30.0
#: How long Celery's broadcast waits for replies.
REPLY_TIMEOUT = 1.0


def registered_workers(store: Store) -> dict[str, list[str]]:
    """relier workers (their Celery node names, ``celery@host``) -> the queues they consume."""
    raw = cast(dict[bytes, bytes], store.client.hgetall(store.keys.workers))
    found: dict[str, list[str]] = {}
    for node, info in raw.items():
        try:
            queues = json.loads(info).get("queues", [])
        except (ValueError, AttributeError):
            queues = []
        found[node.decode(errors="replace").rsplit("/", 1)[0]] = [str(queue) for queue in queues]
    return found


def find_foreign(answers: Mapping[str, Iterable[Mapping[str, Any]]],
                 relier_nodes: Iterable[str], relier_queues: Iterable[str]) -> dict[str, list[str]]:
    """From ``active_queues()`` answers (worker -> queue declarations): the workers that are
    not relier's and consume any of `relier_queues`, with those queues."""
    mine, wanted = set(relier_nodes), set(relier_queues)
    foreign: dict[str, list[str]] = {}
    for worker, declared in answers.items():
        if worker in mine:
            continue
        overlap = sorted({str(queue.get("name")) for queue in declared or ()} & wanted)
        if overlap:
            foreign[worker] = overlap
    return foreign


def foreign_consumers(app: Any, store: Store, also: Iterable[str] = (),
                      timeout: float = REPLY_TIMEOUT) -> dict[str, list[str]]:
    """Ask every worker (Celery's broadcast) and compare with ``rl:workers``: the workers
    without relier consuming a queue relier workers consume, or one of `also`."""
    registered = registered_workers(store)
    queues = {queue for consumed in registered.values() for queue in consumed} | set(also)
    try:
        answers = app.control.inspect(timeout=timeout).active_queues() or {}
    except (OSError, redis.ConnectionError, redis.TimeoutError):
        # a pooled broker connection the server closed (a restart, a client kill): kombu
        # drops it on the error, so the second broadcast takes a fresh one
        answers = app.control.inspect(timeout=timeout).active_queues() or {}
    return find_foreign(answers, registered, queues)


def publish(store: Store, foreign: Mapping[str, list[str]]) -> None:
    """Replace ``rl:foreign`` with `foreign`, kept for three intervals."""
    key = store.keys.foreign_consumers
    pipe = store.client.pipeline(transaction=True)
    pipe.delete(key)
    if foreign:
        pipe.hset(key, mapping={worker: json.dumps(queues) for worker, queues in foreign.items()})
        pipe.pexpire(key, int(CHECK_INTERVAL * 3 * 1000))
    pipe.execute()


def published(store: Store) -> dict[str, list[str]]:
    """What the workers last found (``rl:foreign``): worker -> relier queues it consumes."""
    raw = cast(dict[bytes, bytes], store.client.hgetall(store.keys.foreign_consumers))
    return {worker.decode(errors="replace"): [str(q) for q in json.loads(queues)]
            for worker, queues in raw.items()}


def describe(worker: str, queues: Iterable[str]) -> str:
    return (f"worker {worker} consumes relier queue(s) {', '.join(queues)} without relier: it "
            "drops relier messages (Celery refuses their content type); bind Relier(app) in "
            "its app, or take those queues off its -Q")


class ForeignCheck:
    """A resurrector's periodic check (a daemon thread); one process per interval runs it."""

    def __init__(self, app: Any, store: Store, node: str,
                 interval: float = CHECK_INTERVAL, first_after: float = 2.0) -> None:
        self._app, self._store, self._node = app, store, node
        self._interval, self._first_after = interval, first_after
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="relier-foreign-check", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        wait = self._first_after
        while not self._stopped.wait(wait):
            wait = self._interval
            try:
                self.check_once()
            except Exception:  # never fatal to the worker; the next interval tries again
                logger.exception("relier: the check for workers without relier failed")

    def check_once(self) -> dict[str, list[str]] | None:
        """Run the check if no other worker did this interval; what it found, else None."""
        lock = f"{self._store.keys.foreign_consumers}:lock"
        if not self._store.client.set(lock, self._node, nx=True,
                                      px=int(self._interval * 1000)):
            return None
        foreign = foreign_consumers(self._app, self._store)
        publish(self._store, foreign)
        for worker, queues in foreign.items():
            logger.error("relier: %s", describe(worker, queues))
        return foreign


class ForeignWarnings:
    """A producer's view of ``rl:foreign``: read at most once per interval, a warning per push
    to a queue a foreign worker consumes (at most once per interval and queue)."""

    def __init__(self, store: Store, interval: float = CHECK_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._store, self._interval, self._clock = store, interval, clock
        self._read_at = -interval
        self._foreign: dict[str, list[str]] = {}
        self._warned: dict[str, float] = {}

    @property
    def stale(self) -> bool:
        """Whether `refresh` is due (`check` does it; async callers run it in a thread)."""
        return self._clock() - self._read_at >= self._interval

    def refresh(self) -> None:
        self._read_at = self._clock()
        try:
            self._foreign = published(self._store)
        except (redis.RedisError, ValueError):
            self._foreign = {}

    def check(self, queue: str) -> None:
        if self.stale:
            self.refresh()
        now = self._clock()
        for worker, queues in self._foreign.items():
            if queue in queues and now - self._warned.get(queue, -self._interval) >= self._interval:
                self._warned[queue] = now
                logger.warning("relier: pushed to %s, but %s", queue, describe(worker, [queue]))
