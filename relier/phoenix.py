"""The resurrector: finds expired leases and re-queues (or dead-letters) their tasks.

Any number of resurrectors may run; there is no leader. Each pass reads candidates, then each
reap script re-validates everything on server time, so racing or killed resurrectors lose and
duplicate nothing. Errors are logged and retried with backoff; a pass never raises.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import cast

import redis

from relier import admission, slo, telemetry
from relier.config import Settings
from relier.dlq import DeadLetters
from relier.store import Store

logger = logging.getLogger("relier.resurrector")

#: Seconds between dead-letter retention sweeps.
RETENTION_INTERVAL = 60.0
#: Most expired processes examined in one pass.
PROCESSES_PER_PASS = 50
_MAX_BACKOFF = 5.0


@dataclass
class PassResult:
    quiet: bool = False
    processes: int = 0
    requeued: int = 0
    dead_lettered: int = 0
    reconciled: int = 0
    promoted: int = 0
    trimmed: int = 0


class Resurrector:
    def __init__(self, store: Store, settings: Settings, default_front: str) -> None:
        self._store = store
        self._settings = settings
        self._default_front = default_front
        self._dead_letters = DeadLetters(store, default_front)
        self._next_retention = 0.0
        self._legacy_limits_moved = False
        self.totals = PassResult()

    @property
    def _gap_ms(self) -> int:
        return int(max(2.0, 4 * self._settings.resurrector_interval) * 1000)

    def run_pass(self) -> PassResult:
        """One pass over expired leases; raises `redis.RedisError` if Redis is unreachable."""
        store, keys, settings = self._store, self._store.keys, self._settings
        now, quiet_until = store.tick(self._gap_ms)
        if now < quiet_until:
            return PassResult(quiet=True)
        cutoff = now - int((settings.lease_ttl + settings.lease_refresh_interval) * 1000)
        last_seen = {
            member.decode(): score
            for member, score in cast(list[tuple[bytes, float]], store.client.zrangebyscore(
                keys.leases, "-inf", cutoff, start=0, num=PROCESSES_PER_PASS, withscores=True))
        }
        expired = list(last_seen)
        random.shuffle(expired)
        result = PassResult(processes=len(expired))
        for process in expired:
            task_ids = [
                member.decode()
                for member in cast(list[bytes], store.client.srandmember(
                    keys.held(process), settings.reap_batch) or [])
            ]
            tasks = store.placements(task_ids, self._default_front)
            status, requeued, buried = store.reap(process, tasks)
            if status == "ok" and (requeued or buried):
                logger.warning("process %s expired: re-queued %d, dead-lettered %d",
                               process, requeued, buried)
            result.requeued += requeued
            result.dead_lettered += buried
            if requeued:
                telemetry.count("relier.tasks.resurrected", requeued, path="lease")
                telemetry.record("relier.recovery.latency", (now - last_seen[process]) / 1000,
                                 path="lease")
                telemetry.event_span("relier.resurrect", "", worker=process, count=requeued)
        if not self._legacy_limits_moved:  # once per resurrector: a keyspace SCAN
            moved = admission.move_legacy_limits(store)
            if moved:
                logger.warning("moved %d live admission overrides to %s", moved,
                               keys.admission_live)
            self._legacy_limits_moved = True
        result.promoted = self._promote(now)
        reconciled, buried = self._reconcile(now)
        if time.monotonic() >= self._next_retention:
            self._next_retention = time.monotonic() + RETENTION_INTERVAL
            result.trimmed = self._dead_letters.enforce_retention(
                max_entries=settings.dlq_max_entries, max_age=settings.dlq_max_age)
            slo.prune(store)
        result.reconciled = reconciled
        result.dead_lettered += buried
        self.totals.requeued += result.requeued
        self.totals.dead_lettered += result.dead_lettered
        self.totals.reconciled += result.reconciled
        return result

    def _promote(self, now: int) -> int:
        """Push deferred tasks that are due back to their lists."""
        store = self._store
        due = [
            member.decode()
            for member in cast(list[bytes], store.client.zrangebyscore(
                store.keys.delayed, "-inf", now, start=0, num=self._settings.reap_batch))
        ]
        if not due:
            return 0
        pipe = store.client.pipeline(transaction=False)
        for task_id in due:
            pipe.hget(store.keys.record(task_id), "list")
        promoted = 0
        for task_id, target in zip(due, pipe.execute(), strict=True):
            if target is None:
                store.client.zrem(store.keys.delayed, task_id)
                continue
            promoted += store.promote(task_id, target.decode()) == "queued"
        return promoted

    def _reconcile(self, now: int) -> tuple[int, int]:
        """Check tasks queued longer than RELIER_RECONCILE_AFTER are still in their lists."""
        store, settings = self._store, self._settings
        cutoff = now - int(settings.reconcile_after * 1000)
        candidates = [
            member.decode()
            for member in cast(list[bytes], store.client.zrangebyscore(
                store.keys.queued, "-inf", cutoff, start=0, num=settings.reap_batch))
        ]
        if not candidates:
            return 0, 0
        pipe = store.client.pipeline(transaction=False)
        for task_id in candidates:
            pipe.hmget(store.keys.record(task_id), "list", "front", "idem")
        requeued = buried = 0
        for task_id, (current, front, idem) in zip(candidates, pipe.execute(), strict=True):
            if current is None:
                store.client.zrem(store.keys.queued, task_id)
                continue
            outcome = store.reconcile(task_id, current.decode(),
                                      front.decode() if front else self._default_front,
                                      idem.decode() if idem else "")
            if outcome in {"requeued", "dead_lettered"}:
                logger.warning("task %s left its broker list without reaching a worker: %s",
                               task_id, outcome)
            requeued += outcome == "requeued"
            buried += outcome == "dead_lettered"
        return requeued, buried

    def run_forever(self, stop: threading.Event) -> None:
        """Pass after pass until `stop` is set, backing off while Redis is unreachable."""
        backoff = self._settings.resurrector_interval
        while not stop.is_set():
            try:
                self.run_pass()
                backoff = self._settings.resurrector_interval
            except redis.RedisError as exc:
                logger.warning("resurrector pass failed (%s); retrying in %.1f s", exc, backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
                continue
            except Exception:  # keep resurrecting whatever one pass tripped on
                logger.exception("resurrector pass failed unexpectedly")
            interval = self._settings.resurrector_interval
            stop.wait(interval * random.uniform(0.8, 1.2))
