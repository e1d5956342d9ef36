"""Everything the console reads from and does to Redis, through relier's public read and
operations API. Blocking calls: the app runs them in Textual thread workers, never on the UI
thread. Returns plain data the widgets render."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import redis

from relier import consumers, inspection
from relier.admission import LiveLimits, live_limits, set_limits
from relier.binding import Relier
from relier.config import SettingNotice, setting_notices
from relier.display import redact_url
from relier.dlq import DeadLetter, DeadLetterFilter, DeadLetters, ReleaseReport
from relier.eventstream import START, EventStream
from relier.preflight import MemoryHeadroom, Severity, check_server, memory_headroom
from relier.store import Store
from relier_tui.leases import LeaseLimits
from relier_tui.task_view import TaskRead, TaskView, task_view


@dataclass(frozen=True, slots=True)
class Health:
    """The header's answer to "is the system healthy?"."""

    redis_url: str
    preflight_problems: list[str]
    notifications: bool | None
    workers_alive: int
    workers_total: int
    inflight: int
    queue_depths: dict[str, int]
    dead_letters: int
    rejections_per_minute: int
    rejections_estimated: bool
    worst_burn: float
    firing_alerts: list[str]
    #: Redis memory in use and its maxmemory; None when INFO memory cannot be read
    memory: MemoryHeadroom | None = None
    #: the memory fraction (RELIER_MEMORY_WARNING) from which the header warns
    memory_warning: float = 0.8
    #: RELIER_* variables that are misspelt or renamed, as this console's process sees them
    setting_notices: list[SettingNotice] = field(default_factory=list)
    #: Celery workers without relier consuming a relier queue (`relier.consumers`): worker ->
    #: those queues, as the resurrector last found them
    foreign_consumers: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One read of what every pane shows. `complete`: `inflight` is every inflight task;
    otherwise it holds only tasks new to the console and `departed` those no longer held.
    Rejections per queue are per minute (scaled up when the event stream was too busy to read
    the whole minute)."""

    health: Health
    inflight: list[inspection.InflightTask]
    departed: list[str]
    complete: bool
    workers: list[inspection.WorkerView]
    dead_letters: list[DeadLetter]
    limits: list[LiveLimits]
    rejections: dict[str, int]
    slo: list[dict[str, Any]]


def notifications_enabled(client: redis.Redis) -> bool | None:
    """Whether keyspace notifications cover what the console watches (hashes, sorted sets,
    generic commands); None when CONFIG is restricted and nobody can tell."""
    try:
        config = cast(dict[str, str], client.config_get("notify-keyspace-events"))
    except redis.ResponseError:
        return None
    return covers_console(str(config.get("notify-keyspace-events", "")))


def covers_console(flags: str) -> bool:
    """Whether ``notify-keyspace-events`` `flags` publish what the console watches: keyspace
    channels of generic, hash and sorted-set commands."""
    classes = set(flags.replace("A", "g$lshzxetd"))
    return "K" in classes and {"h", "z", "g"} <= classes


class ConsoleSource:
    """The console's window on one relier deployment."""

    def __init__(self, relier: Relier, mask: tuple[str, ...] | None = None, *,
                 store: Store | None = None, dead_letters: DeadLetters | None = None) -> None:
        """With `store` and `dead_letters` (a cell's: `relier_tui.cells`), task records and
        dead letters are read in that cell; the relier's own by default."""
        self.relier = relier
        self.store = relier.store if store is None else store
        #: the words that make a value secret (RELIER_CONSOLE_MASK): `relier.display.mask_secrets`
        self.mask = relier.settings.console_mask if mask is None else mask
        self.dead_letters_api = relier.dead_letters if dead_letters is None else dead_letters

    @property
    def redis_url(self) -> str:
        return redact_url(self.relier.settings.redis_url)

    def ping(self) -> bool:
        return bool(self.store.client.ping())

    def known_queues(self, workers: list[inspection.WorkerView] | None = None) -> list[str]:
        queues = {self.relier.settings.default_queue}
        queues |= {task.spec.queue for task in self.relier.tasks.values()}
        for worker in workers if workers is not None else inspection.workers(self.store):
            queues |= set(worker.queues)
        return sorted(queues)

    def snapshot(self, dead_letter_filter: DeadLetterFilter | None, *,
                 known: set[str] | None = None) -> Snapshot:
        """Everything the panes show, each piece read once. With `known` (the inflight ids the
        console already follows by their events), inflight records are read only for tasks
        that came; `departed` lists those that went. Without it, every record is read."""
        client = self.store.client
        workers = inspection.workers(self.store)
        ttl = self.relier.settings.lease_ttl
        alive = sum(1 for w in workers if w.lease_age is not None and w.lease_age < ttl)
        problems = [f"{check.name}: {check.detail}" for check in check_server(client)
                    if check.severity is Severity.ERROR]
        report = self.relier.slo_report()
        overall = [row for row in report if row["task"] == "all tasks"]
        burn, firing = 0.0, []
        for row in overall:
            burn = max([burn, *(w["burn_rate"] for w in row["windows"].values())])
            firing += [alert["name"] for alert in row["alerts"] if alert["firing"]]
        counts, covered = inspection.admission_rejections(self.store)
        rejections = {queue: round(count * 60 / covered) for queue, count in counts.items()}
        health = Health(
            redis_url=self.redis_url, preflight_problems=problems,
            notifications=notifications_enabled(client), workers_alive=alive,
            workers_total=len(workers), inflight=sum(worker.tasks_held for worker in workers),
            queue_depths=inspection.queue_depths(self.store, self.relier.broker_keys,
                                                 self.known_queues(workers)),
            dead_letters=self.dead_letters_api.count(),
            rejections_per_minute=sum(rejections.values()), rejections_estimated=covered < 60,
            worst_burn=burn, firing_alerts=firing, memory=self.memory(),
            memory_warning=self.relier.settings.memory_warning, setting_notices=setting_notices(),
            foreign_consumers=consumers.published(self.store))
        if known is None:
            inflight, departed, complete = self.inflight(), [], True
        else:
            ids = set(inspection.inflight_ids(self.store))
            came = self.inflight_by_id(sorted(ids - known))
            inflight = [task for task in came.values() if task is not None]
            departed, complete = sorted(known - ids), False
        return Snapshot(health=health, inflight=inflight, departed=departed, complete=complete,
                        workers=workers, dead_letters=self.dead_letter_list(dead_letter_filter),
                        limits=self.limits(), rejections=rejections, slo=report)

    def memory(self) -> MemoryHeadroom | None:
        """Redis memory against maxmemory; None when INFO is refused (a restricted ACL)."""
        try:
            return memory_headroom(self.store.client.info("memory"))
        except redis.ResponseError:
            return None

    def inflight(self, limit: int = 20000) -> list[inspection.InflightTask]:
        return inspection.inflight(self.store, limit=limit)

    def inflight_by_id(self, ids: list[str]) -> dict[str, inspection.InflightTask | None]:
        return inspection.inflight_by_id(self.store, ids)

    def workers(self) -> list[inspection.WorkerView]:
        return inspection.workers(self.store)

    def task_read(self, task_id: str) -> TaskRead | None:
        """The task's record, history and holder's lease as Redis holds them, bytes untouched
        (`relier_tui.task_view` decodes them); None when it has no record (two round trips)."""
        client, keys = self.store.client, self.store.keys
        pipe = client.pipeline(transaction=False)
        pipe.hgetall(keys.record(task_id))
        pipe.lrange(keys.history(task_id), 0, -1)
        pipe.time()
        raw, history, (seconds, micros) = pipe.execute()
        if not raw:
            return None
        record = {name.decode("utf-8", errors="replace"): value
                  for name, value in cast(dict[bytes, bytes], raw).items()}
        holder = record.get("holder")
        renewed = client.zscore(keys.leases, holder) if holder else None
        return TaskRead(id=task_id, record=record, history=cast(list[bytes], history),
                        now_ms=int(seconds) * 1000 + int(micros) // 1000,
                        holder_renewed_ms=renewed)

    def task_view(self, task_id: str) -> TaskView | None:
        """The task decoded for the detail view: its message checked against
        RELIER_SECRET_KEYS, values masked with RELIER_CONSOLE_MASK; None without a record."""
        read = self.task_read(task_id)
        if read is None:
            return None
        return task_view(read, dict(self.relier.settings.verification_keys), self.mask)

    @property
    def lease_limits(self) -> LeaseLimits:
        """What a lease's age means here (RELIER_LEASE_TTL, RELIER_LEASE_REFRESH_INTERVAL)."""
        settings = self.relier.settings
        return LeaseLimits(settings.lease_ttl, settings.lease_refresh_interval)

    def events_after(self, last_id: str, *, count: int = 500,
                     block_ms: int = 1000) -> tuple[str, list[dict[str, str]]]:
        """Events after `last_id` ("$": pinned to the newest existing event first)."""
        return EventStream.of(self.store).read(last_id, count=count, block_ms=block_ms)

    def recent_events(self, count: int = 500) -> tuple[str, list[dict[str, str]]]:
        events = EventStream.of(self.store).latest(count)
        return (events[-1]["event_id"] if events else START), events

    def dead_letter_list(self, where: DeadLetterFilter | None = None,
                         limit: int = 500) -> list[DeadLetter]:
        return self.dead_letters_api.list_entries(where, limit=limit)

    def release(self, task_id: str) -> str:
        return self.dead_letters_api.release(task_id, by="console")

    def cancel(self, task_id: str, *, terminate: bool = False) -> str:
        """Revoke a task, as `rl cancel` does (`Relier.cancel`): ``cancelled``, ``done`` (it
        had already ended) or ``missing``. Raises the Redis or broker error if either fails."""
        return self.relier.cancel(task_id, terminate=terminate)

    def retry_all(self, where: DeadLetterFilter | None) -> ReleaseReport:
        return self.dead_letters_api.retry_all(where, by="console")

    def purge(self, where: DeadLetterFilter | None) -> int:
        return self.dead_letters_api.purge(where, why="purged from the console")

    def count_dead_letters(self, where: DeadLetterFilter | None) -> int:
        return sum(1 for _ in self.dead_letters_api.iter_entries(where))

    def limits(self) -> list[LiveLimits]:
        return live_limits(self.store)

    def set_limit(self, scope: str, name: str, *, rate: float | None, burst: int | None,
                  max_depth: int | None) -> None:
        set_limits(self.store, "task" if scope == "task" else "queue", name, rate=rate,
                   burst=burst, max_depth=max_depth)

    def slo_report(self) -> list[dict[str, Any]]:
        return self.relier.slo_report()

    def task_names(self) -> list[str]:
        return sorted(self.relier.tasks)

    def push(self, task_name: str, args: list[Any], kwargs: dict[str, Any],
             queue: str | None) -> str:
        return self.relier.push_by_name(task_name, args, kwargs, queue=queue).id

    def task_state(self, task_id: str) -> str:
        raw = cast(bytes | None, self.store.client.hget(self.store.keys.record(task_id), "state"))
        return raw.decode() if raw else "missing"
