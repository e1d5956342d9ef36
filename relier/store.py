"""Python side of the state machine: one method per transition script, plus plain reads."""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any, cast

import redis

from relier.config import Settings
from relier.connection import Connections
from relier.errors import ConfigurationError
from relier.keys import BrokerKeys, Keys
from relier.scripts import ScriptSet

logger = logging.getLogger("relier.store")

#: Errors a retried transition waits out: connection loss, timeouts, a replica that is not yet
#: promoted, a server out of memory or busy running a slow script.
_TRANSIENT = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.OutOfMemoryError,
    redis.exceptions.BusyLoadingError,
)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True, slots=True)
class StartGrant:
    """What a successful start hands the pool process."""

    fence: int
    attempt: int
    checkpoint: bytes | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """A task to re-queue: its id, the list its new copy goes to, its idempotency digest."""

    task_id: str
    front: str
    idem: str = ""


@dataclass(frozen=True, slots=True)
class StartRefusal:
    """Why a copy may not start: ``stale`` or ``missing``, with the record's state."""

    status: str
    state: str


class Store:
    """Runs transition scripts and reads records through this process's sync client."""

    def __init__(
        self, connections: Connections, settings: Settings, broker: BrokerKeys | None = None
    ) -> None:
        self._connections = connections
        self._settings = settings
        self.broker = broker or BrokerKeys()
        self.keys = Keys(settings.key_prefix)
        self._scripts: ScriptSet | None = None
        self._scripts_client: redis.Redis | None = None

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def client(self) -> redis.Redis:
        return self._connections.sync()

    def run_script_retrying(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """`run_script` through connection errors and timeouts, for RELIER_REDIS_RETRY_WINDOW.

        Only for scripts that recognise their own earlier write (start, complete, fail,
        reject), since a timed-out call may have run.
        """
        deadline = time.monotonic() + self._settings.redis_retry_window
        delay = 0.05
        while True:
            try:
                return self.run_script(name, keys, args)
            except _TRANSIENT as exc:
                if time.monotonic() + delay > deadline:
                    raise
                logger.warning("%s failed (%s); retrying in %.2f s", name, exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def run_script(self, name: str, keys: list[str], args: list[Any]) -> Any:
        return self._script_set().run(name, keys, args)

    def run_script_durably(self, name: str, keys: list[str], args: list[Any], *, replicas: int,
                           timeout: float) -> tuple[Any, tuple[int, int]]:
        """`run_script`, then WAITAOF on the same connection (one round trip): the reply and
        (local fsyncs, replica fsyncs) confirmed within `timeout` seconds."""
        pipe = self.client.pipeline(transaction=False)
        self._script_set().run(name, keys, args, client=pipe)
        pipe.execute_command("WAITAOF", 1, replicas, max(1, int(timeout * 1000)))  # type: ignore[no-untyped-call]
        try:
            reply, confirmed = pipe.execute()
        except redis.ResponseError as exc:
            if "unknown command" in str(exc).lower():
                raise ConfigurationError(
                    "durable=True needs WAITAOF: Redis 7.2+ or Valkey 7.2+") from None
            raise
        return reply, (int(confirmed[0]), int(confirmed[1]))

    def _script_set(self) -> ScriptSet:
        client = self.client
        if self._scripts is None or self._scripts_client is not client:
            self._scripts = ScriptSet(client)
            self._scripts_client = client
        return self._scripts

    @property
    def _maxlen(self) -> int:
        return self._settings.events_maxlen

    def receive(self, task_id: str, tag: str, holder: str, worker: str) -> str:
        reply = self.run_script(
            "receive",
            [
                self.keys.record(task_id),
                self.keys.events,
                self.keys.held(holder),
                self.keys.leases,
                self.keys.queued,
            ],
            [tag, holder, worker, self._maxlen, task_id],
        )
        return _text(reply)

    def start(
        self, task_id: str, tag: str, worker: str, process: str, *, idem: str = ""
    ) -> StartGrant | StartRefusal:
        """Start the copy `tag`; refusals: ``stale``, ``missing``, and for idempotent tasks
        ``done`` (completed from another task's result) or ``deferred`` (key busy)."""
        status, *rest = self.run_script_retrying(
            "start",
            [
                self.keys.record(task_id),
                self.keys.history(task_id),
                self.keys.events,
                self.keys.held(process),
                self.keys.leases,
                self.keys.held(worker),
                self.keys.queued,
                self.keys.idempotency(idem),
                self.keys.delayed,
                self.keys.slo,
            ],
            [tag, worker, process, self._maxlen, task_id, uuid.uuid4().hex, "1" if idem else "",
             int(self._settings.defer_delay * 1000), int(self._settings.result_ttl)],
        )
        if _text(status) == "ok":
            return StartGrant(fence=int(rest[0]), attempt=int(rest[1]), checkpoint=rest[2] or None)
        return StartRefusal(status=_text(status), state=_text(rest[0]))

    def complete(
        self, task_id: str, process: str, fence: int, result: bytes, runtime_ms: int, *,
        idem: str = "", idem_ttl: float | None = None,
    ) -> str:
        """Store the result; an idempotent task's key keeps it for `idem_ttl` seconds."""
        ttl = int(max(self._settings.result_ttl, idem_ttl or 0))
        status, _ = self.run_script_retrying(
            "complete",
            [
                self.keys.record(task_id),
                self.keys.history(task_id),
                self.keys.events,
                self.keys.held(process),
                self.keys.idempotency(idem),
                self.keys.slo,
            ],
            [fence, result, ttl, self._maxlen, task_id, runtime_ms,
             int(idem_ttl or self._settings.idempotency_ttl) if idem else ""],
        )
        return _text(status)

    def fail(
        self,
        task_id: str,
        process: str,
        fence: int,
        *,
        reason: str,
        exc_type: str,
        message: str,
        traceback: str,
        runtime_ms: int,
        idem: str = "",
        retries: int = 0,
        retry_delay: float = 0.0,
    ) -> str:
        """Record a failure: ``scheduled`` (a retry) while fewer than `retries` failures, else
        ``dead_lettered``; ``stale`` when a newer attempt holds the fence."""
        status, outcome = self.run_script_retrying(
            "fail",
            [
                self.keys.record(task_id),
                self.keys.history(task_id),
                self.keys.dead_letters,
                self.keys.events,
                self.keys.held(process),
                self.keys.idempotency(idem),
                self.keys.delayed,
                self.keys.slo,
            ],
            [fence, reason, exc_type, message, traceback, self._maxlen, task_id, runtime_ms,
             retries, int(retry_delay * 1000)],
        )
        return _text(outcome) if _text(status) == "ok" else _text(status)

    def checkpoint(self, task_id: str, fence: int, encoded: bytes) -> str:
        reply = self.run_script_retrying(
            "checkpoint",
            [self.keys.record(task_id), self.keys.events],
            [fence, encoded, self._maxlen, task_id],
        )
        return _text(reply)

    def hard_timeout(
        self, task_id: str, tag: str, process: str, seconds: float, *, idem: str = ""
    ) -> str:
        """Dead-letter the running copy `tag` as ``hard_timeout``, fencing its body off."""
        reply = self.run_script_retrying(
            "hard_timeout",
            [
                self.keys.record(task_id),
                self.keys.history(task_id),
                self.keys.dead_letters,
                self.keys.events,
                self.keys.held(process),
                self.keys.idempotency(idem),
                self.keys.slo,
            ],
            [tag, self._maxlen, task_id, f"{seconds:g}", process],
        )
        return _text(reply)

    def reject(
        self, task_id: str, tag: str, worker: str, reason: str, error: str, *,
        retry: bool = True, idem: str = "",
    ) -> str:
        """Dead-letter a copy before it starts; `retry=False` in the consumer, which must not
        block on an outage (the copy stays queued and reconciliation finds it)."""
        run = self.run_script_retrying if retry else self.run_script
        reply = run(
            "reject",
            [
                self.keys.record(task_id),
                self.keys.history(task_id),
                self.keys.dead_letters,
                self.keys.events,
                self.keys.held(worker),
                self.keys.queued,
                self.keys.idempotency(idem),
                self.keys.slo,
            ],
            [tag, reason, error, self._maxlen, task_id],
        )
        return _text(reply)

    def dead_letter_raw(
        self,
        entry_id: str,
        *,
        reason: str,
        error: str,
        raw: bytes,
        headers: dict[str, Any],
        claimed_id: str,
        claimed_name: str,
        queue: str,
    ) -> str:
        reply = self.run_script(
            "dead_letter_raw",
            [self.keys.record(entry_id), self.keys.dead_letters, self.keys.events],
            [
                entry_id,
                reason,
                error,
                raw,
                json.dumps(headers, default=repr),
                claimed_id,
                claimed_name,
                queue,
                self._maxlen,
            ],
        )
        return _text(reply)

    def lost(self, task_id: str, tag: str, *, queue_list: str, process: str, worker: str,
             cause: str, idem: str = "") -> str:
        """Fast path: the copy `tag` lost its process; re-queue it at the front or bury it."""
        reply = self.run_script(
            "lost",
            [
                self.keys.record(task_id),
                self.keys.history(task_id),
                queue_list,
                self.keys.dead_letters,
                self.keys.events,
                self.keys.held(process),
                self.keys.held(worker),
                self.keys.queued,
                self.broker.unacked_hash,
                self.broker.unacked_index_zset,
                self.keys.idempotency(idem),
                self.keys.slo,
            ],
            [tag, self._maxlen, task_id, process, cause[:500]],
        )
        return _text(reply)

    def refresh_leases(self, processes: list[str]) -> list[str]:
        """Renew these processes' leases; returns those whose lease had been removed."""
        if not processes:
            return []
        missing = self.run_script("refresh", [self.keys.leases], list(processes))
        return [_text(item) for item in missing]

    def tick(self, gap_ms: int) -> tuple[int, int]:
        """Start a resurrector pass: (server now, quiet until) in ms."""
        now, quiet = self.run_script(
            "tick", [self.keys.resurrector], [int(self._settings.lease_ttl * 1000), gap_ms]
        )
        return int(now), int(quiet)

    def reap(
        self, process: str, tasks: list[Placement], *, mode: str = "expired"
    ) -> tuple[str, int, int]:
        """Take `tasks` from `process` if its lease expired;
        with ``mode="reserved"``, re-queue those it still holds reserved (consumer restart)."""
        keys = [
            self.keys.leases,
            self.keys.held(process),
            self.keys.events,
            self.keys.dead_letters,
            self.keys.resurrector,
            self.keys.queued,
            self.broker.unacked_hash,
            self.broker.unacked_index_zset,
            self.keys.slo,
        ]
        for task in tasks:
            keys += [self.keys.record(task.task_id), self.keys.history(task.task_id), task.front,
                     self.keys.idempotency(task.idem)]
        status, requeued, buried = self.run_script(
            "reap",
            keys,
            [
                process,
                int(self._settings.lease_ttl * 1000),
                int(self._settings.lease_refresh_interval * 1000),
                self._maxlen,
                mode,
                *(task.task_id for task in tasks),
            ],
        )
        return _text(status), int(requeued), int(buried)

    def placements(self, task_ids: list[str], default_front: str) -> list[Placement]:
        """Where each task's recovered copy goes, and its idempotency key, from its record."""
        if not task_ids:
            return []
        pipe = self.client.pipeline(transaction=False)
        for task_id in task_ids:
            pipe.hmget(self.keys.record(task_id), "front", "idem")
        rows = cast(list[list[bytes | None]], pipe.execute())
        return [
            Placement(task_id, front.decode() if front else default_front,
                      idem.decode() if idem else "")
            for task_id, (front, idem) in zip(task_ids, rows, strict=True)
        ]

    def return_reserved(self, holder: str, exclude: set[str], default_front: str) -> int:
        """Re-queue the tasks `holder` reserved that are not in `exclude`; how many."""
        members = cast(set[bytes], self.client.smembers(self.keys.held(holder)))
        task_ids = sorted(member.decode() for member in members)
        candidates = [task_id for task_id in task_ids if task_id not in exclude]
        returned = 0
        for start in range(0, len(candidates), self._settings.reap_batch):
            batch = self.placements(candidates[start:start + self._settings.reap_batch],
                                    default_front)
            _, requeued, buried = self.reap(holder, batch, mode="reserved")
            returned += requeued + buried
        return returned

    def reconcile(self, task_id: str, current_list: str, front: str, idem: str = "") -> str:
        """Check a long-queued task's message is in `current_list`; re-queue it if lost."""
        reply = self.run_script(
            "reconcile",
            [
                self.keys.record(task_id),
                self.keys.history(task_id),
                current_list,
                front,
                self.keys.dead_letters,
                self.keys.events,
                self.keys.queued,
                self.broker.unacked_hash,
                self.broker.unacked_index_zset,
                self.keys.idempotency(idem),
                self.keys.slo,
            ],
            [task_id, self._maxlen, int(self._settings.reconcile_after * 1000),
             self._settings.reconcile_scan],
        )
        return _text(reply)

    def bounce(self, task_id: str, tag: str, worker: str, reason: str, error: str, *,
               idem: str = "", retry: bool = True) -> str:
        """Send a copy this worker cannot run back through the delayed set (or to the DLQ)."""
        run = self.run_script_retrying if retry else self.run_script
        reply = run(
            "bounce",
            [self.keys.record(task_id), self.keys.history(task_id), self.keys.delayed,
             self.keys.queued, self.keys.dead_letters, self.keys.events, self.keys.held(worker),
             self.keys.idempotency(idem), self.keys.slo],
            [tag, reason, error, int(self._settings.bounce_delay * 1000),
             self._settings.max_bounces, self._maxlen, task_id, worker],
        )
        return _text(reply)

    def mark_handoff(self, task_id: str, tag: str, worker: str) -> str:
        reply = self.run_script("mark_handoff", [self.keys.record(task_id), self.keys.events],
                                [tag, task_id, self._maxlen, worker])
        return _text(reply)

    def promote(self, task_id: str, target_list: str) -> str:
        """Push a due deferred task to its list again."""
        reply = self.run_script(
            "promote",
            [self.keys.record(task_id), target_list, self.keys.delayed, self.keys.queued,
             self.keys.events],
            [task_id, self._maxlen],
        )
        return _text(reply)

    def record(self, task_id: str) -> dict[str, bytes]:
        raw = cast(dict[bytes, bytes], self.client.hgetall(self.keys.record(task_id)))
        return {key.decode(): value for key, value in raw.items()}

    def history(self, task_id: str) -> list[dict[str, Any]]:
        entries = cast(list[bytes], self.client.lrange(self.keys.history(task_id), 0, -1))
        return [json.loads(entry) for entry in entries]
