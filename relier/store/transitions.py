"""`Store`: one method per transition script, plus plain reads of records.

Each method names its script's keys and arguments once (`Contract.call` orders them as the
script's header lists them) and returns a typed reply (`Reply`, `StartGrant`...).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis

from relier.config import Settings
from relier.connection import Connections
from relier.errors import ConfigurationError
from relier.field_values import as_int, text, unreadable
from relier.keys import BrokerKeys, Keys
from relier.scripts import ScriptSet
from relier.store.contract import Contract, NewTask, Reply, ScriptCall, created

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


def _history_entry(raw: bytes) -> dict[str, Any]:
    """One entry of a history list (a JSON object the scripts wrote), or its size when it
    is anything else (anyone who can reach Redis can write one)."""
    try:
        entry = json.loads(raw)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested too deep
        entry = None
    return entry if isinstance(entry, dict) else {"event": "undecodable", "bytes": len(raw)}


def _reply(value: Any) -> Reply:
    return Reply(_text(value))


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


@dataclass(frozen=True, slots=True)
class ChordPart:
    """A chord header task's place in its chord, and the join its end may create."""

    group_id: str
    index: int
    join: NewTask


@dataclass(frozen=True, slots=True)
class StartGrant:
    """What a successful start hands the pool process."""

    fence: int
    attempt: int
    checkpoint: bytes | None = None
    #: Failures recorded before this attempt (Celery's ``request.retries``).
    failures: int = 0


@dataclass(frozen=True, slots=True)
class Placement:
    """A task to re-queue: its id, the list its new copy goes to, its idempotency digest."""

    task_id: str
    front: str
    idem: str = ""


@dataclass(frozen=True, slots=True)
class StartRefusal:
    """Why a copy may not start: ``stale``, ``missing``, ``done`` or ``deferred``, with the
    record's state (or the key's owner)."""

    status: Reply
    state: str


#: The record fields the history's last attempt is read from.
_CURRENT_ATTEMPT = ("state", "attempt", "started_fence", "holder", "process", "started", "ended",
                    "runtime_ms", "deduplicated")


def current_attempt(fields: Mapping[str, bytes | None]) -> list[dict[str, Any]]:
    """The history entries of a record's running attempt, or of its completion. Never
    raises: a number field that holds anything else reads ``undecodable (N bytes)``."""
    state = text(fields.get("state"))
    if state not in ("running", "completed") or fields.get("deduplicated") or not fields.get(
            "started"):
        return []

    def number(name: str) -> int | str | None:
        value = fields.get(name)
        if not value:
            return None
        parsed = as_int(value)
        return unreadable(len(value)) if parsed is None else parsed

    process = fields.get("holder" if state == "running" else "process")
    entries: list[dict[str, Any]] = [{
        "event": "started", "attempt": number("attempt"), "fence": number("started_fence"),
        "worker": text(process) if process else None, "ts": number("started")}]
    if state == "completed":
        entries.append({"event": "completed", "attempt": number("attempt"),
                        "fence": number("started_fence"), "ts": number("ended"),
                        "runtime_ms": number("runtime_ms")})
    return entries


class Store:
    """Runs transition scripts and reads records through this process's sync client."""

    def __init__(
        self, connections: Connections, settings: Settings, broker: BrokerKeys | None = None
    ) -> None:
        self._connections = connections
        self._settings = settings
        self.broker = broker or BrokerKeys()
        self.keys = Keys(settings.key_prefix)
        self.contract = Contract(self.keys, self.broker, settings.events_maxlen)
        self._scripts: ScriptSet | None = None
        self._scripts_client: redis.Redis | None = None

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def client(self) -> redis.Redis:
        return self._connections.sync()

    def run(self, call: ScriptCall, *, retrying: bool = False) -> Any:
        """Run one script call; with `retrying`, through connection errors, timeouts and OOM
        replies for RELIER_REDIS_RETRY_WINDOW. Only for scripts whose repeat is harmless:
        start, complete, fail and reject recognise their own earlier write; checkpoint,
        hard_timeout and bounce answer a repeat with ``stale`` and change nothing."""
        if not retrying:
            return self._script_set().run(call.name, call.keys, call.args)
        deadline = time.monotonic() + self._settings.redis_retry_window
        delay = 0.05
        while True:
            try:
                return self._script_set().run(call.name, call.keys, call.args)
            except _TRANSIENT as exc:
                if time.monotonic() + delay > deadline:
                    raise
                logger.warning("%s failed (%s); retrying in %.2f s", call.name, exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def run_durably(self, call: ScriptCall, *, replicas: int,
                    timeout: float) -> tuple[Any, tuple[int, int]]:
        """`run`, then WAITAOF on the same connection (one round trip): the reply and
        (local fsyncs, replica fsyncs) confirmed within `timeout` seconds."""
        pipe = self.client.pipeline(transaction=False)
        self._script_set().run(call.name, call.keys, call.args, client=pipe)
        pipe.execute_command("WAITAOF", 1, replicas, max(1, _ms(timeout)))  # type: ignore[no-untyped-call]
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

    def _task_keys(self, task_id: str) -> dict[str, str]:
        return {"record": self.keys.record(task_id), "history": self.keys.history(task_id)}

    def receive(self, task_id: str, tag: str, holder: str, worker: str) -> Reply:
        return _reply(self.run(self.contract.call(
            "receive",
            keys={"record": self.keys.record(task_id), "holder_held": self.keys.held(holder)},
            args={"tag": tag, "holder": holder, "worker": worker, "task_id": task_id})))

    def start(
        self, task_id: str, tag: str, worker: str, process: str, *, idem: str = ""
    ) -> StartGrant | StartRefusal:
        """Start the copy `tag`; refusals: ``stale``, ``missing``, ``cancelled`` (it expired
        before it started), and for idempotent tasks ``done`` (completed from another task's
        result) or ``deferred`` (key busy)."""
        status, *rest = self.run(self.contract.call(
            "start",
            keys={**self._task_keys(task_id), "process_held": self.keys.held(process),
                  "reserver_held": self.keys.held(worker), "idem": self.keys.idempotency(idem)},
            args={"tag": tag, "worker": worker, "process": process, "task_id": task_id,
                  "start_token": uuid.uuid4().hex, "idempotent": "1" if idem else "",
                  "defer_ms": _ms(self._settings.defer_delay),
                  "result_ttl_ms": _ms(self._settings.result_ttl)}), retrying=True)
        if _reply(status) is Reply.OK:
            return StartGrant(fence=int(rest[0]), attempt=int(rest[1]), checkpoint=rest[2] or None,
                              failures=int(rest[3]))
        return StartRefusal(status=_reply(status), state=_text(rest[0]))

    def complete(
        self, task_id: str, process: str, fence: int, result: bytes, runtime_ms: int, *,
        idem: str = "", idem_ttl: float | None = None, creates: Sequence[NewTask] = (),
        chord: ChordPart | None = None, replaced_by: str = "",
    ) -> Reply:
        """Store the result and create `creates` (the continuations) with it; an idempotent
        task's key keeps the result for `idem_ttl` seconds. A chord header task records its
        part, and the last one creates `chord.join`. A task that ``self.replace()``-d itself
        names the task whose result is its own (`replaced_by`, among `creates`)."""
        ttl = max(self._settings.result_ttl, idem_ttl or 0)
        groups, rest = created([*creates, *([chord.join] if chord else [])])
        status, _ = self.run(self.contract.call(
            "complete",
            keys={**self._task_keys(task_id), "process_held": self.keys.held(process),
                  "idem": self.keys.idempotency(idem), **self._chord_key(chord)},
            args={"fence": fence, "result": result, "result_ttl_ms": _ms(ttl),
                  "task_id": task_id, "runtime_ms": runtime_ms,
                  "idem_ttl_ms": _ms(idem_ttl or self._settings.idempotency_ttl) if idem else "",
                  "chord_index": chord.index if chord else "", "creates": len(creates),
                  "replaced_by": replaced_by},
            groups=groups, rest=rest),
            retrying=True)
        return _reply(status)

    def _chord_key(self, chord: ChordPart | None) -> dict[str, str]:
        return {"chord": self.keys.chord(chord.group_id if chord else "")}

    def fail(
        self, task_id: str, process: str, fence: int, *, reason: str, exc_type: str,
        message: str, traceback: str, runtime_ms: int, idem: str = "", retries: int = 0,
        retry_delay: float = 0.0, creates: Sequence[NewTask] = (),
        chord: ChordPart | None = None,
    ) -> Reply:
        """Record a failure: ``scheduled`` (a retry) while fewer than `retries` failures, else
        ``dead_lettered``, creating `creates` (errbacks) and, for a chord header task, the
        chord's join; ``stale`` when a newer attempt holds the fence."""
        groups, rest = created([*creates, *([chord.join] if chord else [])])
        status, outcome = self.run(self.contract.call(
            "fail",
            keys={**self._task_keys(task_id), "process_held": self.keys.held(process),
                  "idem": self.keys.idempotency(idem), **self._chord_key(chord)},
            args={"fence": fence, "reason": reason, "exc_type": exc_type, "message": message,
                  "traceback": traceback, "task_id": task_id, "runtime_ms": runtime_ms,
                  "retries": retries, "retry_delay_ms": _ms(retry_delay),
                  "chord_index": chord.index if chord else "",
                  "result_ttl_ms": _ms(self._settings.result_ttl), "creates": len(creates)},
            groups=groups, rest=rest), retrying=True)
        return _reply(outcome) if _reply(status) is Reply.OK else _reply(status)

    def checkpoint(self, task_id: str, fence: int, encoded: bytes) -> Reply:
        return _reply(self.run(self.contract.call(
            "checkpoint", keys={"record": self.keys.record(task_id)},
            args={"fence": fence, "encoded": encoded, "task_id": task_id}), retrying=True))

    def hard_timeout(
        self, task_id: str, tag: str, process: str, seconds: float, *, idem: str = "",
        retry: bool = True, creates: Sequence[NewTask] = (), chord: ChordPart | None = None,
    ) -> Reply:
        """Dead-letter the running copy `tag` as ``hard_timeout``, fencing its body off, and
        create its errbacks and chord part with it; `retry=False` in a worker's main process,
        which must not block on an outage."""
        groups, rest = created([*creates, *([chord.join] if chord else [])])
        return _reply(self.run(self.contract.call(
            "hard_timeout",
            keys={**self._task_keys(task_id), "process_held": self.keys.held(process),
                  "idem": self.keys.idempotency(idem), **self._chord_key(chord)},
            args={"tag": tag, "task_id": task_id, "timeout_ms": _ms(seconds),
                  "process": process, "chord_index": chord.index if chord else "",
                  "result_ttl_ms": _ms(self._settings.result_ttl), "creates": len(creates)},
            groups=groups, rest=rest), retrying=retry))

    def reject(
        self, task_id: str, tag: str, worker: str, reason: str, error: str, *,
        retry: bool = True, idem: str = "",
    ) -> Reply:
        """Dead-letter a copy before it starts; `retry=False` in the consumer, which must not
        block on an outage (the copy stays queued and reconciliation finds it)."""
        return _reply(self.run(self.contract.call(
            "reject",
            keys={**self._task_keys(task_id), "holder_held": self.keys.held(worker),
                  "idem": self.keys.idempotency(idem)},
            args={"tag": tag, "reason": reason, "error": error, "task_id": task_id}),
            retrying=retry))

    def dead_letter_raw(
        self, entry_id: str, *, reason: str, error: str, raw: bytes, headers: dict[str, Any],
        claimed_id: str, claimed_name: str, queue: str,
    ) -> Reply:
        return _reply(self.run(self.contract.call(
            "dead_letter_raw", keys={"entry": self.keys.record(entry_id)},
            args={"entry_id": entry_id, "reason": reason, "error": error, "raw": raw,
                  "headers": json.dumps(headers, default=repr), "claimed_id": claimed_id,
                  "claimed_name": claimed_name, "queue": queue})))

    def lost(self, task_id: str, tag: str, *, queue_list: str, process: str, worker: str,
             cause: str, idem: str = "") -> Reply:
        """Fast path: the copy `tag` lost its process; re-queue it at the front or bury it."""
        return _reply(self.run(self.contract.call(
            "lost",
            keys={**self._task_keys(task_id), "front": queue_list,
                  "process_held": self.keys.held(process), "worker_held": self.keys.held(worker),
                  "idem": self.keys.idempotency(idem)},
            args={"tag": tag, "task_id": task_id, "process": process, "cause": cause[:500]})))

    def refresh_leases(self, processes: list[str]) -> list[str]:
        """Renew these processes' leases; returns those whose lease had been removed."""
        if not processes:
            return []
        missing = self.run(self.contract.call("refresh", rest=list(processes)))
        return [_text(item) for item in missing]

    def tick(self, gap_ms: int) -> tuple[int, int]:
        """Start a resurrector pass: (server now, quiet until) in ms."""
        now, quiet = self.run(self.contract.call(
            "tick", keys={"resurrector": self.keys.resurrector},
            args={"lease_ttl_ms": _ms(self._settings.lease_ttl), "gap_ms": gap_ms}))
        return int(now), int(quiet)

    def reap(
        self, process: str, tasks: list[Placement], *, mode: str = "expired"
    ) -> tuple[Reply, int, int]:
        """Take `tasks` from `process` if its lease expired;
        with ``mode="reserved"``, re-queue those it still holds reserved (consumer restart)."""
        status, requeued, buried = self.run(self.contract.call(
            "reap",
            keys={"held": self.keys.held(process), "resurrector": self.keys.resurrector},
            args={"process": process, "lease_ttl_ms": _ms(self._settings.lease_ttl),
                  "refresh_ms": _ms(self._settings.lease_refresh_interval), "mode": mode},
            groups=[{**self._task_keys(task.task_id), "front": task.front,
                     "idem": self.keys.idempotency(task.idem)} for task in tasks],
            rest=[task.task_id for task in tasks]))
        return _reply(status), int(requeued), int(buried)

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

    def reconcile(self, task_id: str, current_list: str, front: str, idem: str = "") -> Reply:
        """Check a long-queued task's message is in `current_list`; re-queue it if lost."""
        return _reply(self.run(self.contract.call(
            "reconcile",
            keys={**self._task_keys(task_id), "list": current_list, "front": front,
                  "idem": self.keys.idempotency(idem)},
            args={"task_id": task_id,
                  "reconcile_after_ms": _ms(self._settings.reconcile_after),
                  "scan": self._settings.reconcile_scan})))

    def bounce(self, task_id: str, tag: str, worker: str, reason: str, error: str, *,
               idem: str = "", retry: bool = True) -> Reply:
        """Send a copy this worker cannot run back through the delayed set (or to the DLQ)."""
        return _reply(self.run(self.contract.call(
            "bounce",
            keys={**self._task_keys(task_id), "worker_held": self.keys.held(worker),
                  "idem": self.keys.idempotency(idem)},
            args={"tag": tag, "reason": reason, "error": error,
                  "delay_ms": _ms(self._settings.bounce_delay),
                  "max_bounces": self._settings.max_bounces, "task_id": task_id,
                  "worker": worker}), retrying=retry))

    def mark_handoff(self, task_id: str, tag: str, worker: str) -> Reply:
        return _reply(self.run(self.contract.call(
            "mark_handoff", keys={"record": self.keys.record(task_id)},
            args={"tag": tag, "task_id": task_id, "worker": worker})))

    def promote(self, task_id: str, target_list: str) -> Reply:
        """Push a due deferred task to its list again."""
        return _reply(self.run(self.contract.call(
            "promote", keys={"record": self.keys.record(task_id), "list": target_list},
            args={"task_id": task_id})))

    def cancel(self, task_id: str, reason: str, *, by: str = "operator") -> Reply:
        """Revoke a task that has not ended (``cancelled``); ``done`` if it had, ``missing``
        if there is no record. Persistent: nothing can run it again."""
        idem = self.client.hget(self.keys.record(task_id), "idem")
        return _reply(self.run(self.contract.call(
            "cancel", keys={**self._task_keys(task_id),
                            "idem": self.keys.idempotency(_text(idem) if idem else "")},
            args={"task_id": task_id, "reason": reason,
                  "result_ttl_ms": _ms(self._settings.result_ttl), "by": by})))

    def release(self, task_id: str, front: str, by: str) -> Reply:
        """Send a dead letter back to work (new ticket and fence, front of its queue)."""
        return _reply(self.run(self.contract.call(
            "release", keys={**self._task_keys(task_id), "front": front},
            args={"task_id": task_id, "by": by})))

    def purge(self, entry_ids: list[str], why: str) -> int:
        """Delete these dead letters for good; how many were deleted."""
        if not entry_ids:
            return 0
        return int(self.run(self.contract.call(
            "purge", groups=[self._task_keys(entry) for entry in entry_ids],
            args={"why": why}, rest=list(entry_ids))))

    def chord_state(self, group_id: str) -> dict[str, bytes]:
        """A chord's hash (`Keys.chord`), field names decoded."""
        raw = cast(dict[bytes, bytes], self.client.hgetall(self.keys.chord(group_id)))
        return {_text(field): value for field, value in raw.items()}

    def set_chord_size(self, group_id: str, size: int) -> None:
        """How many header tasks the chord waits for (Celery's ``set_chord_size``; written
        before the last header task is pushed, so it is known when that one ends)."""
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.keys.chord(group_id), "size", size)
        pipe.pexpire(self.keys.chord(group_id), _ms(self._settings.result_ttl))
        pipe.execute()

    def record(self, task_id: str) -> dict[str, bytes]:
        """The task's record, field names decoded (invalid UTF-8 replaced)."""
        raw = cast(dict[bytes, bytes], self.client.hgetall(self.keys.record(task_id)))
        return {text(key): value for key, value in raw.items()}

    def history(self, task_id: str) -> list[dict[str, Any]]:
        """The task's attempt history: the closed attempts' entries from its list, then the
        running attempt or the completion, which the record itself holds (the happy path
        writes no history entry). Never raises on what the list holds: an entry that is not
        a JSON object reads ``{"event": "undecodable", "bytes": n}``."""
        pipe = self.client.pipeline(transaction=True)
        pipe.lrange(self.keys.history(task_id), 0, -1)
        pipe.hmget(self.keys.record(task_id), *_CURRENT_ATTEMPT)
        entries, values = cast(tuple[list[bytes], list[bytes | None]], tuple(pipe.execute()))
        history = [_history_entry(entry) for entry in entries]
        return history + current_attempt(dict(zip(_CURRENT_ATTEMPT, values, strict=True)))
