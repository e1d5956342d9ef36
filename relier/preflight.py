"""Checks that Redis and the worker are configured so relier's guarantees can hold.

Each check returns a `Check` with the fix an operator should apply. `rl doctor` prints them
all; workers and the resurrector refuse to start while any error-level check fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import redis

from relier.config import Settings, setting_notices
from relier.devserver import CONSOLE_KEYSPACE_EVENTS
from relier.display import redact_url
from relier.message import CONTENT_TYPE, SERIALIZER_NAME
from relier.names import queue_name_problem
from relier.sentinel import from_broker, is_sentinel_url
from relier.sentinel import parse as parse_sentinel

SUPPORTED_POOLS = ("prefork", "threads", "solo", "gevent", "eventlet")
_MIN_REDIS = (7, 0)
_MIN_VALKEY = (7, 2)


class Severity(StrEnum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    severity: Severity
    detail: str
    fix: str = ""

    @property
    def is_blocking(self) -> bool:
        return self.severity is Severity.ERROR


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3] if part.isdigit())


def check_server(client: redis.Redis) -> list[Check]:
    """Reachability, version, persistence, eviction policy and keyspace notifications."""
    try:
        client.ping()
        server: dict[str, Any] = client.info("server")
        persistence: dict[str, Any] = client.info("persistence")
        memory: dict[str, Any] = client.info("memory")
    except redis.RedisError as exc:
        return [Check("reachable", Severity.ERROR, f"cannot reach Redis: {exc}",
                      "start Redis (or `rl dev`) and check RELIER_REDIS_URL")]
    checks = [Check("reachable", Severity.OK, "PING answered")]
    checks.append(_check_version(server))
    aof = str(persistence.get("aof_enabled", "0")) == "1"
    checks.append(
        Check("appendonly", Severity.OK, "appendonly yes")
        if aof else
        Check("appendonly", Severity.ERROR,
              "appendonly is off: a Redis restart would lose every queued and running task",
              "run CONFIG SET appendonly yes and put `appendonly yes` in redis.conf")
    )
    policy = str(memory.get("maxmemory_policy", "unknown"))
    checks.append(
        Check("maxmemory-policy", Severity.OK, "maxmemory-policy noeviction")
        if policy == "noeviction" else
        Check("maxmemory-policy", Severity.ERROR,
              f"maxmemory-policy is {policy}: Redis may evict task records and queues",
              "run CONFIG SET maxmemory-policy noeviction and put it in redis.conf")
    )
    checks.append(_check_notifications(client))
    return checks


def _check_version(server: dict[str, Any]) -> Check:
    valkey = server.get("valkey_version")
    if valkey:
        found, minimum, label = _version(str(valkey)), _MIN_VALKEY, f"Valkey {valkey}"
    else:
        raw = str(server.get("redis_version", "0"))
        found, minimum, label = _version(raw), _MIN_REDIS, f"Redis {raw}"
    if found >= minimum:
        return Check("version", Severity.OK, label)
    wanted = ".".join(map(str, minimum))
    return Check("version", Severity.ERROR, f"{label} is too old",
                 f"upgrade to {'Valkey' if valkey else 'Redis'} {wanted} or newer")


def _check_notifications(client: redis.Redis) -> Check:
    try:
        flags = str(client.config_get("notify-keyspace-events").get("notify-keyspace-events", ""))
    except redis.RedisError:
        return Check("keyspace-notifications", Severity.WARNING,
                     "cannot read notify-keyspace-events (CONFIG is restricted)",
                     f"the console will poll; ask your provider to set notify-keyspace-events "
                     f"{CONSOLE_KEYSPACE_EVENTS}")
    if flags:
        return Check("keyspace-notifications", Severity.OK, f"notify-keyspace-events {flags}")
    return Check("keyspace-notifications", Severity.WARNING,
                 "keyspace notifications are off: `rl tui` falls back to polling",
                 f"CONFIG SET notify-keyspace-events {CONSOLE_KEYSPACE_EVENTS} (optional)")


def same_redis(first: str, second: str) -> bool:
    """Whether two redis:// (or redis+sentinel://) URLs name the same server and database."""
    return _identity(first) == _identity(second)


def _identity(url: str) -> tuple[object, ...]:
    if is_sentinel_url(url):
        address = parse_sentinel(url)
        return ("sentinel", frozenset(address.sentinels), address.master, address.db)
    parts = urlsplit(url)
    return (parts.hostname or "localhost", parts.port or 6379, parts.path.strip("/") or "0")


def check_app(app: Any, pool: str | None = None, redis_url: str | None = None) -> list[Check]:
    """The app accepts relier's content type, uses relier's Redis as broker, and a known pool."""
    accepted = {str(item) for item in (app.conf.accept_content or ())}
    checks = [
        Check("content-type", Severity.OK, f"{CONTENT_TYPE} accepted")
        if accepted & {CONTENT_TYPE, SERIALIZER_NAME} else
        Check("content-type", Severity.ERROR,
              f"accept_content {sorted(accepted)} lacks {CONTENT_TYPE}: Celery would drop "
              "every relier message",
              f"add {SERIALIZER_NAME!r} to accept_content, or create Relier(app) after "
              "configuring it")
    ]
    broker = str(app.conf.broker_url or "")
    sentinel_broker = from_broker(broker, app.conf.broker_transport_options or {})
    if sentinel_broker is not None:
        broker = sentinel_broker.url
    if redis_url is not None and broker:
        checks.append(
            Check("broker", Severity.OK, "broker is relier's Redis")
            if same_redis(broker, redis_url) else
            Check("broker", Severity.ERROR,
                  f"the app's broker {redact_url(broker)} is not relier's Redis "
                  f"{redact_url(redis_url)}: re-queues must reach the broker lists",
                  "point RELIER_REDIS_URL and broker_url at the same server and database")
        )
    visibility = float((app.conf.broker_transport_options or {}).get("visibility_timeout", 3600))
    checks.append(
        Check("visibility-timeout", Severity.OK, f"kombu visibility_timeout {visibility:g} s")
        if visibility >= 3600 else
        Check("visibility-timeout", Severity.WARNING,
              f"kombu visibility_timeout is {visibility:g} s: kombu redelivers unacked copies that "
              "often (relier drops them as stale, but each costs a delivery)",
              "set broker_transport_options={'visibility_timeout': 43200} (12 h)")
    )
    if pool is not None:
        checks.append(
            Check("pool", Severity.OK, f"pool {pool}")
            if pool in SUPPORTED_POOLS else
            Check("pool", Severity.ERROR, f"pool {pool} is not supported by relier",
                  f"run the worker with -P one of {', '.join(SUPPORTED_POOLS)}")
        )
    return checks


def check_settings(settings: Settings, environ: Mapping[str, str] | None = None) -> list[Check]:
    """Signing keys, and every ``RELIER_*`` variable that is misspelt or renamed."""
    if settings.secret_keys:
        checks = [Check("signing-key", Severity.OK,
                        f"{len(settings.secret_keys)} signing key(s); signing with "
                        f"{settings.secret_keys[0][0]!r}")]
    elif settings.allows_development_key:
        checks = [Check("signing-key", Severity.WARNING,
                        f"RELIER_SECRET_KEYS is empty: RELIER_ENV={settings.env} signs and accepts "
                        "the public development key, so anyone who can write to Redis can run "
                        "tasks", "set RELIER_SECRET_KEYS=k1:<random 32+ characters> on every "
                        "producer and worker")]
    else:
        checks = [Check("signing-key", Severity.ERROR,
                        "RELIER_SECRET_KEYS is empty in production (RELIER_ENV defaults to "
                        "production): nothing can be signed or verified",
                        "set RELIER_SECRET_KEYS=k1:$(openssl rand -hex 32) on every producer and "
                        "worker, or RELIER_ENV=development on a trial machine")]
    for notice in setting_notices(environ):
        checks.append(Check("settings", Severity.WARNING, notice.message,
                            f"rename it to {notice.replacement}" if notice.replacement else
                            "fix or remove the variable"))
    return checks


def check_cell(settings: Settings) -> list[Check]:
    """A worker or resurrector serves one cell: with RELIER_CELLS, RELIER_CELL must name it."""
    if not settings.cells:
        return []
    names = ", ".join(name for name, _ in settings.cells)
    if settings.cell:
        return [Check("cell", Severity.OK, f"serving cell {settings.cell!r} of {names}")]
    return [Check("cell", Severity.ERROR,
                  f"RELIER_CELLS names the cells {names} but RELIER_CELL is unset: a worker or "
                  "resurrector serves one cell",
                  f"set RELIER_CELL to one of {names} (the same RELIER_CELLS everywhere)")]


def check_memory(client: redis.Redis, warning: float) -> Check:
    """Redis memory in use against ``maxmemory``: at the limit Redis refuses every write."""
    try:
        memory: dict[str, Any] = client.info("memory")
    except redis.RedisError as exc:
        return Check("memory", Severity.WARNING, f"cannot read INFO memory: {exc}")
    headroom = memory_headroom(memory)
    if headroom.limit == 0:
        return Check("memory", Severity.OK,
                     f"{headroom.used / 2**20:.1f} MiB used, no maxmemory (limited by the host)")
    text = (f"{headroom.used / 2**20:.1f} of {headroom.limit / 2**20:.1f} MiB used "
            f"({headroom.fraction:.0%})")
    if headroom.fraction < warning:
        return Check("memory", Severity.OK, text)
    return Check("memory", Severity.WARNING,
                 f"{text}: at maxmemory Redis refuses writes (pushes fail, transitions wait)",
                 "raise maxmemory, purge old dead letters (`rl dlq purge`) or lower RELIER_RESULT_TTL")


@dataclass(frozen=True, slots=True)
class MemoryHeadroom:
    """Bytes Redis uses and its ``maxmemory`` (0: none set)."""

    used: int
    limit: int

    @property
    def fraction(self) -> float:
        return self.used / self.limit if self.limit else 0.0


def memory_headroom(memory: Mapping[str, Any]) -> MemoryHeadroom:
    """From an ``INFO memory`` reply."""
    return MemoryHeadroom(int(memory.get("used_memory", 0) or 0),
                          int(memory.get("maxmemory", 0) or 0))


def check_queue_names(queues: Iterable[str], key_prefix: str, global_prefix: str) -> list[Check]:
    """Queues whose Redis list would collide with relier's or kombu's keys."""
    problems = [problem for queue in queues
                if (problem := queue_name_problem(queue, key_prefix, global_prefix))]
    if not problems:
        return [Check("queue-names", Severity.OK, "no queue name collides with relier's keys")]
    return [Check("queue-names", Severity.ERROR, problem, "rename the queue (-Q, task_queues)")
            for problem in problems]


def refusal_message(url: str, failures: Iterable[Check]) -> str:
    """One paragraph naming every blocking check and its fix."""
    items = "; ".join(f"{check.detail} (fix: {check.fix})" for check in failures)
    return (
        f"relier: refusing to start against {redact_url(url)}: {items}. "
        "Run `rl doctor` to see every check. RELIER_UNSAFE_SKIP_PREFLIGHT=1 starts anyway, "
        "without these guarantees."
    )
