"""Every relier setting, read from ``RELIER_*`` environment variables.

`SETTINGS` below is the single list of settings; docs/configuration.md documents each one and
a test keeps the two in step.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from relier.errors import ConfigurationError

DEVELOPMENT_SECRET_KEY = "relier-development-key-do-not-use-in-production"  # noqa: S105 - public on purpose
DEVELOPMENT_KEY_ID = "dev"


@dataclass(frozen=True, slots=True)
class Setting:
    """One environment setting: its name, default, parser and meaning."""

    env: str
    default: str
    parse: Callable[[str], Any]
    help: str


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected a boolean (1/0, true/false), got {raw!r}")


def _positive_float(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError(f"expected a positive number, got {raw!r}")
    return value


def _optional_positive_float(raw: str) -> float | None:
    return None if raw.strip() == "" else _positive_float(raw)


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(f"expected a positive whole number, got {raw!r}")
    return value


def _non_negative_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"expected a whole number >= 0, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"expected a whole number >= 0, got {raw!r}")
    return value


def _fraction(raw: str) -> float:
    value = float(raw)
    if not 0 < value < 1:
        raise ValueError(f"expected a fraction between 0 and 1 (like 0.999), got {raw!r}")
    return value


def _environment(raw: str) -> str:
    value = raw.strip().lower()
    if value not in {"development", "production", "test"}:
        raise ValueError(f"expected development, production or test, got {raw!r}")
    return value


def _secret_keys(raw: str) -> tuple[tuple[str, bytes], ...]:
    """Parse ``kid:secret,kid2:secret2`` (or bare secrets, numbered k0, k1, ...)."""
    keys: list[tuple[str, bytes]] = []
    for index, item in enumerate(part.strip() for part in raw.split(",")):
        if not item:
            continue
        kid, sep, secret = item.partition(":")
        if not sep:
            kid, secret = f"k{index}", item
        if not kid or not secret:
            raise ValueError("each key must be 'id:secret' or a bare secret")
        if len(secret) < 16:
            raise ValueError(f"secret for key id {kid!r} is shorter than 16 characters")
        keys.append((kid, secret.encode()))
    return tuple(keys)


def _words(raw: str) -> tuple[str, ...]:
    return tuple(word.strip().lower() for word in raw.split(",") if word.strip())


DEFAULT_CONSOLE_MASK = "password,passwd,secret,token,api_key,apikey,auth,card,cvv,ssn,sk_live_,sk_test_"

SETTINGS: tuple[Setting, ...] = (
    Setting("RELIER_REDIS_URL", "redis://127.0.0.1:6379/0", str,
            "Redis for relier's state and the broker lists (one server, one db); default: the app's broker."),
    Setting("RELIER_SECRET_KEYS", "", _secret_keys,
            "Comma-separated `id:secret` signing keys; the first signs, all verify."),
    Setting("RELIER_ENV", "development", _environment,
            "`production` refuses to start without RELIER_SECRET_KEYS."),
    Setting("RELIER_UNSAFE_SKIP_PREFLIGHT", "0", _bool,
            "Start workers even when preflight checks fail (logged as CRITICAL; guarantees void)."),
    Setting("RELIER_RESULT_TTL", "604800", _positive_int,
            "Seconds a completed task's record and result are kept."),
    Setting("RELIER_EVENTS_MAXLEN", "100000", _positive_int,
            "Approximate cap on the lifecycle event stream's length."),
    Setting("RELIER_KEY_PREFIX", "rl", str,
            "Prefix of every relier key in Redis."),
    Setting("RELIER_SOCKET_TIMEOUT", "5", _positive_float,
            "Seconds before a Redis command from relier times out."),
    Setting("RELIER_MAX_CONNECTIONS", "64", _positive_int,
            "Connections in each process's Redis pool (push blocks for one, never fails open)."),
    Setting("RELIER_DEFAULT_QUEUE", "default", str,
            "Queue of tasks declared without `queue=`."),
    Setting("RELIER_DEFAULT_HARD_TIMEOUT", "", _optional_positive_float,
            "Hard timeout in seconds for tasks that set none; empty means no limit."),
    Setting("RELIER_MAX_RESULT_BYTES", "1048576", _positive_int,
            "Largest encoded result a task may store; larger results fail the task."),
    Setting("RELIER_MAX_CHECKPOINT_BYTES", "1048576", _positive_int,
            "Largest encoded checkpoint `ctx.set_partial` may store."),
    Setting("RELIER_IDEMPOTENCY_TTL", "86400", _positive_float,
            "Seconds a completed idempotency key (and its result) is remembered."),
    Setting("RELIER_DEFER_DELAY", "1", _positive_float,
            "Seconds a copy waits before re-checking an idempotency key held by another task."),
    Setting("RELIER_BOUNCE_DELAY", "5", _positive_float,
            "Seconds before a copy a worker could not run (newer version, unknown name) is retried."),
    Setting("RELIER_MAX_BOUNCES", "60", _positive_int,
            "Bounces before such a copy is dead-lettered (schema_unsupported / unknown_task)."),
    Setting("RELIER_DLQ_MAX_ENTRIES", "100000", _positive_int,
            "Most dead letters kept; the resurrector deletes the oldest beyond it."),
    Setting("RELIER_DLQ_MAX_AGE", "2592000", _positive_float,
            "Seconds a dead letter is kept (default 30 days)."),
    Setting("RELIER_DRAIN_TIMEOUT", "20", _positive_float,
            "Seconds running tasks may finish after SIGTERM before they are handed off."),
    Setting("RELIER_HANDOFF_HOOK_TIMEOUT", "3", _positive_float,
            "Seconds a handed-off task's soft hook gets to checkpoint before its process is killed."),
    Setting("RELIER_SLO_OBJECTIVE", "0.999", _fraction,
            "Availability objective for burn rates of tasks that declare no `slo=`."),
    Setting("RELIER_PROMETHEUS_PORT", "9464", _positive_int,
            "Port of the /metrics endpoint when OTEL_METRICS_EXPORTER=prometheus."),
    Setting("RELIER_PROMETHEUS_ADDR", "127.0.0.1", str,
            "Address the /metrics endpoint listens on (0.0.0.0 to expose it)."),
    Setting("RELIER_LEASE_TTL", "5", _positive_float,
            "Seconds a worker process's lease lasts without a refresh before its tasks are taken."),
    Setting("RELIER_LEASE_REFRESH_INTERVAL", "1", _positive_float,
            "Seconds between lease refreshes; a lease expires at last refresh + TTL + this."),
    Setting("RELIER_MAX_RESURRECTIONS", "5", _positive_int,
            "Default number of times a task's process may die before the task is dead-lettered."),
    Setting("RELIER_REAP_BATCH", "100", _positive_int,
            "Most tasks one reap script takes from one expired process."),
    Setting("RELIER_RESURRECTOR_INTERVAL", "0.5", _positive_float,
            "Seconds between resurrector passes (jittered by up to 20%)."),
    Setting("RELIER_RECONCILE_AFTER", "30", _positive_float,
            "Seconds a task may stay queued before the resurrector checks its message is in its list."),
    Setting("RELIER_RECONCILE_SCAN", "5000", _positive_int,
            "Most list elements one reconcile check scans from the consuming end."),
    Setting("RELIER_REDIS_RETRY_WINDOW", "30", _positive_float,
            "Seconds a pool process retries start/complete/fail/reject through a Redis outage."),
    Setting("RELIER_DURABLE_REPLICAS", "0", _non_negative_int,
            "Replicas that must have fsynced a `durable=True` task's push before it returns."),
    Setting("RELIER_DURABLE_TIMEOUT", "1", _positive_float,
            "Seconds a `durable=True` push waits for those fsyncs before `NotDurableError`."),
    Setting("RELIER_CONSOLE_MASK", DEFAULT_CONSOLE_MASK, _words,
            "Comma-separated words: the console masks values whose key, or whose text, contains one."),
    Setting("RELIER_HEALTH_FILE", "", str,
            "File a worker's main process touches every lease refresh interval while its lease "
            "thread runs, whether or not Redis answers (for `rl health` liveness probes); empty: off."),
)

_BY_ENV = {setting.env: setting for setting in SETTINGS}


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved settings for one process."""

    redis_url: str
    secret_keys: tuple[tuple[str, bytes], ...]
    env: str
    unsafe_skip_preflight: bool
    result_ttl: int
    events_maxlen: int
    key_prefix: str
    socket_timeout: float
    max_connections: int
    default_queue: str
    default_hard_timeout: float | None
    max_result_bytes: int
    max_checkpoint_bytes: int
    idempotency_ttl: float
    defer_delay: float
    bounce_delay: float
    dlq_max_entries: int
    dlq_max_age: float
    drain_timeout: float
    slo_objective: float
    prometheus_port: int
    prometheus_addr: str
    handoff_hook_timeout: float
    max_bounces: int
    lease_ttl: float
    lease_refresh_interval: float
    max_resurrections: int
    reap_batch: int
    resurrector_interval: float
    reconcile_after: float
    reconcile_scan: int
    redis_retry_window: float
    durable_replicas: int
    durable_timeout: float
    console_mask: tuple[str, ...]
    health_file: str

    @property
    def uses_development_key(self) -> bool:
        return not self.secret_keys

    @property
    def signing_keys(self) -> tuple[tuple[str, bytes], ...]:
        """Keys in signing order; the development key when none is configured."""
        if self.secret_keys:
            return self.secret_keys
        return ((DEVELOPMENT_KEY_ID, DEVELOPMENT_SECRET_KEY.encode()),)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every setting; a bad value raises `ConfigurationError` naming the variable."""
        source = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = source.get(setting.env, setting.default)
            try:
                values[setting.env.removeprefix("RELIER_").lower()] = setting.parse(raw)
            except ValueError as exc:
                raise ConfigurationError(f"{setting.env}: {exc}") from None
        settings = cls(**values)
        if settings.lease_refresh_interval * 2 > settings.lease_ttl:
            raise ConfigurationError(
                f"RELIER_LEASE_REFRESH_INTERVAL ({settings.lease_refresh_interval}) must be at most "
                f"half of RELIER_LEASE_TTL ({settings.lease_ttl}) so one missed refresh is survived"
            )
        if settings.env == "production" and settings.uses_development_key:
            raise ConfigurationError(
                "RELIER_ENV=production but RELIER_SECRET_KEYS is empty: set signing keys "
                "(for example RELIER_SECRET_KEYS=k1:$(openssl rand -hex 32)) so envelopes are "
                "not signed with the public development key."
            )
        return settings


def setting_names() -> list[str]:
    """Names of every ``RELIER_*`` setting, in declaration order."""
    return [setting.env for setting in SETTINGS]


def describe(env: str) -> Setting:
    return _BY_ENV[env]


_current: Settings | None = None


def get_settings() -> Settings:
    """The settings of this process, read once from the environment."""
    global _current  # noqa: PLW0603 - one cached settings object per process
    if _current is None:
        _current = Settings.from_env()
    return _current


def reset_settings() -> None:
    """Forget the cached settings (tests, and processes that change their environment)."""
    global _current  # noqa: PLW0603 - see get_settings
    _current = None
