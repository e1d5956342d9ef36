"""Read-only views of relier's state for the CLI and the console: workers (live, and dead
ones for RELIER_DEAD_WORKER_RETENTION), inflight tasks, task details. Each view costs a
constant number of round trips, however many workers there are; nothing here writes."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from relier.envelope import Envelope, open_sealed
from relier.field_values import as_int, text
from relier.keys import PRIORITY_STEPS, BrokerKeys
from relier.store import Store
from relier.stored_message import sealed_body, stored_value

#: records read per pipeline: a huge inflight set is read in slices, so the server and the
#: reader's other threads are never held up by one giant reply
_READ_CHUNK = 1000
_INFLIGHT_FIELDS = ("name", "queue", "state", "attempt", "fence", "holder", "worker", "started",
                    "updated")


@dataclass(frozen=True, slots=True)
class ProcessView:
    """One process holding a lease: a worker's main process (consumer) or a pool process."""

    id: str
    lease_age: float
    tasks_held: int


class WorkerState(StrEnum):
    """Whether a registered worker's main process still refreshes its lease."""

    LIVE = "live"
    DEAD = "dead"


def worker_state(lease_age: float | None, lease_ttl: float) -> WorkerState:
    """A worker is dead once its lease is older than the lease TTL, or gone (reaped)."""
    return WorkerState.DEAD if lease_age is None or lease_age >= lease_ttl else WorkerState.LIVE


@dataclass(frozen=True, slots=True)
class WorkerView:
    """One registered worker. `state` is dead once its lease is older than the lease TTL or
    reaped; `last_seen_age` is the seconds since its lease was last refreshed (the lease's
    age, or after the resurrector reaped the lease, the refresh time it kept; None when
    nothing recorded it). A dead worker stays registered, and listed, until the resurrector
    forgets it RELIER_DEAD_WORKER_RETENTION after it was last seen."""

    node: str
    host: str
    #: None when the registration's value is not a number (anyone can write Redis)
    pid: int | None
    queues: list[str]
    pool: str
    #: None when the registration's value is not a number
    concurrency: int | None
    lease_age: float | None
    tasks_held: int
    processes: list[ProcessView]
    draining: bool
    state: WorkerState = WorkerState.LIVE
    last_seen_age: float | None = None

    @property
    def is_dead(self) -> bool:
        return self.state is WorkerState.DEAD

    def as_dict(self) -> dict[str, Any]:
        return {
            "node": self.node, "host": self.host, "pid": self.pid, "queues": self.queues,
            "pool": self.pool, "concurrency": self.concurrency, "state": self.state.value,
            "last_seen_age": self.last_seen_age, "lease_age": self.lease_age,
            "tasks_held": self.tasks_held, "draining": self.draining,
            "processes": [{"id": p.id, "lease_age": p.lease_age, "tasks_held": p.tasks_held}
                          for p in self.processes],
        }


@dataclass(frozen=True, slots=True)
class InflightTask:
    id: str
    task: str
    queue: str
    state: str
    #: None when the record's field is not a number (anyone can write Redis)
    attempt: int | None
    #: None when the record's field is not a number
    fence: int | None
    holder: str
    lease_age: float | None
    running_for: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "task": self.task, "queue": self.queue, "state": self.state,
                "attempt": self.attempt, "fence": self.fence, "holder": self.holder,
                "lease_age": self.lease_age, "running_for": self.running_for}


def _server_ms(store: Store) -> int:
    seconds, micros = store.client.time()
    return int(seconds) * 1000 + int(micros) // 1000


def _scores(reply: object) -> dict[str, float]:
    return {text(member): score for member, score in cast(list[tuple[bytes, float]], reply)}


def _leases(store: Store) -> dict[str, float]:
    return _scores(store.client.zrange(store.keys.leases, 0, -1, withscores=True))


def workers(store: Store, *, include_dead: bool = True) -> list[WorkerView]:
    """Every registered worker with its state, last-seen age, lease age and the tasks its
    processes hold, by node name; without `include_dead`, only the live ones (two round
    trips)."""
    pipe = store.client.pipeline(transaction=False)
    pipe.time()
    pipe.hgetall(store.keys.workers)
    pipe.zrange(store.keys.leases, 0, -1, withscores=True)
    pipe.zrange(store.keys.dead_workers, 0, -1, withscores=True)
    clock, registered_raw, lease_scores, dead_scores = pipe.execute()
    now = int(clock[0]) * 1000 + int(clock[1]) // 1000
    registered = {text(key): _registration(value)
                  for key, value in cast(dict[bytes, bytes], registered_raw).items()}
    leases = _scores(lease_scores)
    last_refresh = {**_scores(dead_scores), **leases}
    pipe = store.client.pipeline(transaction=False)
    for process in leases:
        pipe.scard(store.keys.held(process))
    held = dict(zip(leases, cast(list[int], pipe.execute()), strict=True))
    lease_ttl = store.settings.lease_ttl
    views = []
    for node, info in sorted(registered.items()):
        lease_age = (now - leases[node]) / 1000 if node in leases else None
        state = worker_state(lease_age, lease_ttl)
        if state is WorkerState.DEAD and not include_dead:
            continue
        hostname = node.rsplit("/", 1)[0]
        processes = [
            ProcessView(process, (now - leases[process]) / 1000, held[process])
            for process in sorted(leases)
            if process.rsplit("/", 1)[0] == hostname and process != node
        ]
        queues = info.get("queues", [])
        views.append(WorkerView(
            node=node, host=str(info.get("host", "")), pid=as_int(info.get("pid", 0)),
            queues=[str(queue) for queue in queues] if isinstance(queues, list) else [],
            pool=str(info.get("pool", "")), concurrency=as_int(info.get("concurrency", 0)),
            lease_age=lease_age,
            tasks_held=held.get(node, 0) + sum(p.tasks_held for p in processes),
            processes=processes, draining=bool(info.get("draining", False)), state=state,
            last_seen_age=(now - last_refresh[node]) / 1000 if node in last_refresh else None,
        ))
    return views


def _registration(raw: bytes) -> dict[str, Any]:
    """A worker's registration (JSON the worker wrote); when it is not a JSON object, its
    pool reads ``?`` and its numbers None."""
    try:
        info = json.loads(raw)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested too deep
        info = None
    return info if isinstance(info, dict) else {"pool": "?", "pid": None, "concurrency": None}


def inflight(store: Store, *, queue: str | None = None, worker: str | None = None,
             limit: int = 1000) -> list[InflightTask]:
    """Tasks reserved or running in some process, longest running first (three round trips)."""
    leases = _leases(store)
    rows = _inflight_rows(store, _held_ids(store, leases), leases)
    tasks = [task for task in rows.values() if task is not None
             and (queue is None or task.queue == queue)
             and (worker is None or task.holder.startswith(worker))]
    tasks.sort(key=lambda task: -(task.running_for or 0))
    return tasks[:limit]


def inflight_ids(store: Store) -> list[str]:
    """Ids of the tasks some leased process holds: membership only, no records (two round
    trips), to notice tasks that came or went without reading every record."""
    return _held_ids(store, _leases(store))


def _held_ids(store: Store, leases: dict[str, float]) -> list[str]:
    pipe = store.client.pipeline(transaction=False)
    for process in leases:
        pipe.smembers(store.keys.held(process))
    return sorted({text(member) for members in cast(list[set[bytes]], pipe.execute())
                   for member in members})


def inflight_by_id(store: Store, ids: list[str]) -> dict[str, InflightTask | None]:
    """The inflight view of just these tasks (None: no longer reserved or running), for
    updating a view by key when only some tasks changed (two round trips)."""
    return _inflight_rows(store, ids, _leases(store))


def _inflight_rows(store: Store, ids: list[str], leases: dict[str, float]) -> dict[str, InflightTask | None]:
    now = _server_ms(store)
    replies: list[list[bytes | None]] = []
    for start in range(0, len(ids), _READ_CHUNK):
        pipe = store.client.pipeline(transaction=False)
        for task_id in ids[start:start + _READ_CHUNK]:
            pipe.hmget(store.keys.record(task_id), _INFLIGHT_FIELDS)
        replies += cast(list[list[bytes | None]], pipe.execute())
    rows: dict[str, InflightTask | None] = {}
    for task_id, values in zip(ids, replies, strict=True):
        fields = dict(zip(_INFLIGHT_FIELDS, values, strict=True))
        state = text(fields["state"])
        if state not in {"reserved", "running"}:
            rows[task_id] = None
            continue
        holder = text(fields["holder"])
        started = as_int(fields["started"]) if state == "running" else None
        rows[task_id] = InflightTask(
            id=task_id, task=text(fields["name"]), queue=text(fields["queue"]), state=state,
            attempt=as_int(fields["attempt"] or b"0"), fence=as_int(fields["fence"] or b"0"),
            holder=holder,
            lease_age=(now - leases[holder]) / 1000 if holder in leases else None,
            running_for=(now - started) / 1000 if started else None,
        )
    return rows


_BINARY = {"packed", "head", "tail", "raw", "partial", "result"}
#: The record fields a stored message is read from (`relier.stored_message.sealed_body`).
_MESSAGE_FIELDS = ("packed", "head", "tail")


def task_detail(store: Store, task_id: str) -> dict[str, Any] | None:
    """The whole record (result and checkpoint decoded, message bytes summarised) and history."""
    record = store.record(task_id)
    if not record:
        return None
    shown: dict[str, Any] = {"id": task_id}
    for name, value in sorted(record.items()):
        if name in {"result", "partial"}:
            shown[name] = stored_value(value)
        elif name in _BINARY:
            shown[name] = f"<{len(value)} bytes>"
        else:
            shown[name] = value.decode(errors="replace")
    shown["history"] = store.history(task_id)
    shown["read_at"] = time.time()
    return shown


def decode_event(entry_id: bytes, fields: dict[bytes, bytes]) -> dict[str, str]:
    """One lifecycle event from the stream, as text, with its stream id as ``event_id``."""
    event = {text(key): text(value) for key, value in fields.items()}
    event["event_id"] = entry_id.decode()
    return event


def queue_depths(store: Store, broker_keys: BrokerKeys, queues: list[str]) -> dict[str, int]:
    """Messages waiting in each queue, over kombu's priority lists (one round trip)."""
    pipe = store.client.pipeline(transaction=False)
    for queue in queues:
        for step in PRIORITY_STEPS:
            pipe.llen(broker_keys.queue_list(queue, step))
    lengths = cast(list[int], pipe.execute())
    steps = len(PRIORITY_STEPS)
    return {queue: sum(lengths[i * steps:(i + 1) * steps]) for i, queue in enumerate(queues)}


def admission_rejections(store: Store, seconds: float = 60.0, *,
                         cap: int = 2000) -> tuple[dict[str, int], float]:
    """Admission rejections per queue over the last `seconds`, read from the event stream,
    newest first, at most `cap` events; returns the counts and the seconds they cover (less
    than `seconds` when the stream was busier than `cap` events in that time)."""
    now = _server_ms(store)
    since = now - int(seconds * 1000)
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]],
                   store.client.xrevrange(store.keys.events, max="+", min=f"{since}-0", count=cap))
    counts: dict[str, int] = {}
    for _, fields in entries:
        if fields.get(b"type") == b"admission_rejected":
            queue = text(fields.get(b"queue"))
            counts[queue] = counts.get(queue, 0) + 1
    covered = seconds
    if len(entries) >= cap:
        oldest = int(entries[-1][0].split(b"-", 1)[0])
        covered = max(0.001, (now - oldest) / 1000)
    return counts, covered


def stored_envelope(store: Store, keys: Mapping[str, bytes], task_id: str) -> Envelope | None:
    """The task's envelope as its producer sealed it, verified with `keys`; None when the
    record holds no message or it does not verify."""
    fields = cast(list[bytes | None], store.client.hmget(store.keys.record(task_id),
                                                         *_MESSAGE_FIELDS))
    body = sealed_body({name: value for name, value in zip(_MESSAGE_FIELDS, fields, strict=True)
                        if value is not None})
    if body is None:
        return None
    opened = open_sealed(body, keys)
    return opened if isinstance(opened, Envelope) else None
