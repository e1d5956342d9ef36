"""The resurrector: finds expired leases and re-queues (or dead-letters) their tasks; once a
minute it also enforces retention (dead letters, SLO counters, dead workers).

Any number of resurrectors may run; there is no leader. Each pass reads candidates, then each
reap script re-validates everything on server time, so racing or killed resurrectors lose and
duplicate nothing. Errors are logged and retried with backoff; a pass never raises.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import redis

from relier import admission, slo, telemetry
from relier.config import Settings
from relier.dlq import DeadLetters
from relier.store import Store

logger = logging.getLogger("relier.resurrector")

#: Seconds between retention sweeps (dead letters, SLO counters, dead workers).
RETENTION_INTERVAL = 60.0
#: Most expired processes examined in one pass.
PROCESSES_PER_PASS = 50
#: Most dead workers forgotten in one retention sweep.
WORKERS_PER_SWEEP = 200
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
    workers_pruned: int = 0


@dataclass(frozen=True, slots=True)
class DeadWorkerSweep:
    """What one retention sweep changes: registrations to forget (with their last-seen
    entries), last-seen entries of no dead registered worker to drop, and dead workers with
    no last-seen entry, whose retention is timed from now."""

    forget: list[str]
    discard: list[str]
    time_from_now: list[str]


def plan_dead_worker_sweep(
    leases: Mapping[str, float | None], kept: Mapping[str, float | None], old_entries: list[str],
    *, expired_before: float, forget_before: float, limit: int,
) -> DeadWorkerSweep:
    """Decide a sweep from plain data (times in server ms).

    `leases` and `kept` map each registered node to its lease's last refresh and to the one
    the resurrector kept when it reaped that lease (None when absent); `old_entries` are kept
    entries last seen before `forget_before`. A node whose lease was refreshed since
    `expired_before` is live. A dead one is forgotten (at most `limit`) once its lease is
    reaped and it was last seen before `forget_before`: a worker that was only cut off then
    finds its lease missing at its next refresh and registers again. One with no record of
    when it was last seen (its lease reaped by an older resurrector) is timed from now."""
    forget: list[str] = []
    live: set[str] = set()
    time_from_now: list[str] = []
    for node, lease in leases.items():
        if lease is not None:  # expired leases wait for the reaper, which keeps their time
            if lease >= expired_before:
                live.add(node)
            continue
        last_seen = kept.get(node)
        if last_seen is None:
            time_from_now.append(node)
        elif last_seen < forget_before and len(forget) < limit:
            forget.append(node)
    discard = [node for node in old_entries if node not in leases or node in live]
    return DeadWorkerSweep(forget, discard, time_from_now)


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
        if expired:
            self._remember_dead_workers(last_seen)
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
            result.workers_pruned = self._prune_dead_workers(now)
        result.reconciled = reconciled
        result.dead_lettered += buried
        self.totals.requeued += result.requeued
        self.totals.dead_lettered += result.dead_lettered
        self.totals.reconciled += result.reconciled
        return result

    def _remember_dead_workers(self, last_seen: dict[str, float]) -> None:
        """Keep the last lease refresh of each registered worker among these expired processes:
        reaping deletes the lease, and `rl workers --all` still shows how long ago it was seen
        (pool processes are not registered and are not kept)."""
        store = self._store
        processes = list(last_seen)
        registered = cast(list[bytes | None], store.client.hmget(store.keys.workers, processes))
        dead = {process: last_seen[process]
                for process, info in zip(processes, registered, strict=True) if info is not None}
        if dead:
            store.client.zadd(store.keys.dead_workers, dead)

    def _prune_dead_workers(self, now: int) -> int:
        """Forget up to `WORKERS_PER_SWEEP` workers last seen more than
        RELIER_DEAD_WORKER_RETENTION ago (registration and last-seen entry); returns how many.

        The whole sweep is one optimistic transaction on the registrations: a worker that
        registers again meanwhile (its lease refresh found its lease reaped) aborts it, and the
        next sweep decides again with what it wrote."""
        store, keys, settings = self._store, self._store.keys, self._settings
        expired_before = now - int((settings.lease_ttl + settings.lease_refresh_interval) * 1000)
        forget_before = now - int(settings.dead_worker_retention * 1000)
        with store.client.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(keys.workers)  # type: ignore[no-untyped-call]  # untyped in redis-py
                nodes = sorted(member.decode() for member in cast(
                    list[bytes], pipe.hkeys(keys.workers)))
                old_entries = [member.decode() for member in cast(
                    list[bytes], pipe.zrangebyscore(keys.dead_workers, "-inf", f"({forget_before}",
                                                    start=0, num=WORKERS_PER_SWEEP))]
                if not nodes and not old_entries:
                    return 0
                leases = pipe.zmscore(keys.leases, nodes) if nodes else []
                seen = pipe.zmscore(keys.dead_workers, nodes) if nodes else []
                sweep = plan_dead_worker_sweep(
                    dict(zip(nodes, leases, strict=True)), dict(zip(nodes, seen, strict=True)),
                    old_entries, expired_before=expired_before, forget_before=forget_before,
                    limit=WORKERS_PER_SWEEP)
                if not (sweep.forget or sweep.discard or sweep.time_from_now):
                    return 0
                pipe.multi()
                if sweep.forget:
                    pipe.hdel(keys.workers, *sweep.forget)
                if sweep.forget or sweep.discard:
                    pipe.zrem(keys.dead_workers, *sweep.forget, *sweep.discard)
                if sweep.time_from_now:
                    pipe.zadd(keys.dead_workers, dict.fromkeys(sweep.time_from_now, now), nx=True)
                pipe.execute()
            except redis.WatchError:
                return 0
        for node in sweep.forget:
            logger.info("forgot worker %s: not seen for over %.0f s", node,
                        settings.dead_worker_retention)
        return len(sweep.forget)

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
