"""Every relier setting, read from ``RELIER_*`` environment variables.

`SETTINGS` below is the single list of settings; docs/configuration.md documents each one and
a test keeps the two in step.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from relier.cell_settings import home_cell_url, parse_cell, parse_cells
from relier.errors import ConfigurationError

DEVELOPMENT_SECRET_KEY = "relier-development-key-do-not-use-in-production"  # noqa: S105 - public on purpose
DEVELOPMENT_KEY_ID = "dev"

MISSING_KEYS = (
    "RELIER_SECRET_KEYS is empty and RELIER_ENV is production (the default): set signing keys "
    "on every producer and worker (RELIER_SECRET_KEYS=k1:$(openssl rand -hex 32)), or "
    "RELIER_ENV=development to use the public development key on a trial machine"
)


def _setting(default: str, parse: Callable[[str], Any], help: str) -> Any:  # noqa: A002 - the field's help text
    """A `Settings` field: its environment default (text), parser and one-line meaning."""
    return field(metadata={"default": default, "parse": parse, "help": help})


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


#: Shortest secret accepted in RELIER_SECRET_KEYS (32 random hex characters are 128 bits).
MIN_SECRET_LENGTH = 16


def _secret_keys(raw: str) -> tuple[tuple[str, bytes], ...]:
    """Parse ``kid:secret,kid2:secret2`` (or bare secrets, numbered k0, k1, ...).

    Refuses a key id given twice (a verifier would use one secret for both, and every message
    signed with the other would be dead-lettered), secrets under `MIN_SECRET_LENGTH`, and the
    public development secret.
    """
    keys: list[tuple[str, bytes]] = []
    for index, item in enumerate(part.strip() for part in raw.split(",")):
        if not item:
            continue
        kid, sep, secret = item.partition(":")
        if not sep:
            kid, secret = f"k{index}", item
        kid = kid.strip()
        if not kid or not secret:
            raise ValueError("each key must be 'id:secret' or a bare secret")
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"secret for key id {kid!r} is shorter than {MIN_SECRET_LENGTH} characters "
                "(use `openssl rand -hex 32`)")
        if secret == DEVELOPMENT_SECRET_KEY:
            raise ValueError(f"key id {kid!r} uses the public development secret; generate one "
                             "with `openssl rand -hex 32`")
        if any(kid == seen for seen, _ in keys):
            raise ValueError(f"key id {kid!r} is given twice: every key id must be unique")
        keys.append((kid, secret.encode()))
    return tuple(keys)


def _words(raw: str) -> tuple[str, ...]:
    return tuple(word.strip().lower() for word in raw.split(",") if word.strip())


DEFAULT_CONSOLE_MASK = "password,passwd,secret,token,api_key,apikey,auth,card,cvv,ssn,sk_live_,sk_test_"



@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved settings for one process: each field is the setting ``RELIER_<FIELD>``, with
    its default (as the environment would give it), parser and meaning in the field's metadata.
    This class is the one declaration of every setting; `SETTINGS` is derived from it."""

    redis_url: str = _setting(
        "redis://127.0.0.1:6379/0", str,
        "Redis for relier's state and the broker lists (one server, one db); default: "
        "the app's broker.")
    cells: tuple[tuple[str, str], ...] = _setting(
        "", parse_cells,
        "Comma-separated `name=url` cells, one Redis each (`east=redis://a:6379/0,"
        "west=redis://b:6379/0`); empty: one Redis (RELIER_REDIS_URL).")
    cell: str = _setting(
        "", parse_cell,
        "The cell a worker or resurrector serves (one of RELIER_CELLS); producers may leave "
        "it empty.")
    secret_keys: tuple[tuple[str, bytes], ...] = _setting(
        "", _secret_keys,
        "Comma-separated `id:secret` signing keys; the first signs, all verify.")
    env: str = _setting(
        "production", _environment,
        "`development` or `test` allow the public development signing key when "
        "RELIER_SECRET_KEYS is empty; `production` (the default) refuses it: workers do "
        "not start and pushes raise.")
    unsafe_skip_preflight: bool = _setting(
        "0", _bool,
        "Start workers even when preflight checks fail (logged as CRITICAL; guarantees "
        "void).")
    result_ttl: int = _setting(
        "604800", _positive_int,
        "Seconds a completed task's record and result are kept.")
    events_maxlen: int = _setting(
        "100000", _positive_int,
        "Approximate cap on the lifecycle event stream's length.")
    key_prefix: str = _setting(
        "rl", str,
        "Prefix of every relier key in Redis.")
    socket_timeout: float = _setting(
        "5", _positive_float,
        "Seconds before a Redis command from relier times out.")
    max_connections: int = _setting(
        "64", _positive_int,
        "Connections in each process's Redis pool (push blocks for one, never fails "
        "open).")
    default_queue: str = _setting(
        "default", str,
        "Queue of tasks declared without `queue=`.")
    default_hard_timeout: float | None = _setting(
        "", _optional_positive_float,
        "Hard timeout in seconds for tasks that set none; empty means no limit.")
    max_result_bytes: int = _setting(
        "1048576", _positive_int,
        "Largest encoded result a task may store; larger results fail the task.")
    max_checkpoint_bytes: int = _setting(
        "1048576", _positive_int,
        "Largest encoded checkpoint `ctx.set_partial` may store.")
    idempotency_ttl: float = _setting(
        "86400", _positive_float,
        "Seconds a completed idempotency key (and its result) is remembered.")
    defer_delay: float = _setting(
        "1", _positive_float,
        "Seconds a copy waits before re-checking an idempotency key held by another "
        "task.")
    bounce_delay: float = _setting(
        "5", _positive_float,
        "Seconds before a copy a worker could not run (newer version, unknown name) is "
        "retried.")
    max_bounces: int = _setting(
        "60", _positive_int,
        "Bounces before such a copy is dead-lettered (schema_unsupported / "
        "unknown_task).")
    dlq_max_entries: int = _setting(
        "100000", _positive_int,
        "Most dead letters kept; the resurrector deletes the oldest beyond it.")
    dlq_max_age: float = _setting(
        "2592000", _positive_float,
        "Seconds a dead letter is kept (default 30 days).")
    drain_timeout: float = _setting(
        "20", _positive_float,
        "Seconds running tasks may finish after SIGTERM before they are handed off.")
    handoff_hook_timeout: float = _setting(
        "3", _positive_float,
        "Seconds a handed-off task's soft hook gets to checkpoint before its process is "
        "killed.")
    slo_objective: float = _setting(
        "0.999", _fraction,
        "Availability objective for burn rates of tasks that declare no `slo=`.")
    prometheus_port: int = _setting(
        "9464", _positive_int,
        "Port of the /metrics endpoint when OTEL_METRICS_EXPORTER=prometheus.")
    prometheus_addr: str = _setting(
        "127.0.0.1", str,
        "Address the /metrics endpoint listens on (0.0.0.0 to expose it).")
    lease_ttl: float = _setting(
        "5", _positive_float,
        "Seconds a worker process's lease lasts without a refresh before its tasks are "
        "taken.")
    lease_refresh_interval: float = _setting(
        "1", _positive_float,
        "Seconds between lease refreshes; a lease expires at last refresh + TTL + this.")
    max_resurrections: int = _setting(
        "5", _positive_int,
        "Default number of times a task's process may die before the task is "
        "dead-lettered.")
    reap_batch: int = _setting(
        "100", _positive_int,
        "Most tasks one reap script takes from one expired process.")
    resurrector_interval: float = _setting(
        "0.5", _positive_float,
        "Seconds between resurrector passes (jittered by up to 20%).")
    dead_worker_retention: float = _setting(
        "3600", _positive_float,
        "Seconds a worker whose lease expired stays listed as `dead` (with its last-seen "
        "age) before the resurrector forgets it.")
    reconcile_after: float = _setting(
        "30", _positive_float,
        "Seconds a task may stay queued before the resurrector checks its message is in "
        "its list.")
    reconcile_scan: int = _setting(
        "5000", _positive_int,
        "Most list elements one reconcile check scans from the consuming end.")
    redis_retry_window: float = _setting(
        "30", _positive_float,
        "Seconds a pool process retries its transitions (start, complete, fail, reject, "
        "checkpoint, bounce) through a Redis outage.")
    push_retry_window: float = _setting(
        "10", _positive_float,
        "Seconds push/apush retry, under the same task id, a dispatch that got no "
        "answer (timeout, connection reset); past it they raise "
        "PushOutcomeUnknownError.")
    durable_replicas: int = _setting(
        "0", _non_negative_int,
        "Replicas that must have fsynced a `durable=True` task's push before it "
        "returns.")
    durable_timeout: float = _setting(
        "1", _positive_float,
        "Seconds a `durable=True` push waits for those fsyncs before `NotDurableError`.")
    console_mask: tuple[str, ...] = _setting(
        DEFAULT_CONSOLE_MASK, _words,
        "Comma-separated words: the console and `rl dlq show` mask values whose key, or "
        "whose text, contains one.")
    memory_warning: float = _setting(
        "0.8", _fraction,
        "Fraction of Redis `maxmemory` in use at which `rl doctor`, workers and the "
        "console warn (at 100% Redis refuses writes: pushes fail and transitions wait).")
    health_file: str = _setting(
        "", str,
        "File a worker's main process touches every lease refresh interval while its "
        "lease thread runs, whether or not Redis answers (for `rl health` liveness "
        "probes); empty: off.")

    @property
    def uses_development_key(self) -> bool:
        return not self.secret_keys

    @property
    def allows_development_key(self) -> bool:
        """Whether this process may sign and verify with the public development key."""
        return not self.secret_keys and self.env in {"development", "test"}

    @property
    def verification_keys(self) -> tuple[tuple[str, bytes], ...]:
        """Keys a worker accepts: the configured ones; the development key only when none is
        configured and RELIER_ENV is development or test; otherwise none at all."""
        if self.secret_keys:
            return self.secret_keys
        if self.allows_development_key:
            return ((DEVELOPMENT_KEY_ID, DEVELOPMENT_SECRET_KEY.encode()),)
        return ()

    @property
    def signing_keys(self) -> tuple[tuple[str, bytes], ...]:
        """Keys in signing order (the first signs); raises `ConfigurationError` when there is
        none to sign with (no RELIER_SECRET_KEYS outside development and test)."""
        keys = self.verification_keys
        if not keys:
            raise ConfigurationError(MISSING_KEYS)
        return keys

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every setting; a bad value raises `ConfigurationError` naming the variable."""
        source = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        aliases = {replacement: legacy for legacy, (replacement, _) in LEGACY_SETTINGS.items()
                   if replacement is not None and legacy in source}
        for setting in SETTINGS:
            raw = source.get(setting.env)
            if raw is None and setting.env in aliases:
                raw = source[aliases[setting.env]]
            if raw is None:
                raw = setting.default
            try:
                values[setting.env.removeprefix("RELIER_").lower()] = setting.parse(raw)
            except ValueError as exc:
                raise ConfigurationError(f"{setting.env}: {exc}") from None
        settings = cls(**values)
        if settings.cells:
            try:
                settings = replace(settings, redis_url=home_cell_url(
                    settings.cells, settings.cell, source.get("RELIER_REDIS_URL")))
            except ValueError as exc:
                raise ConfigurationError(str(exc)) from None
        elif settings.cell:
            raise ConfigurationError(
                f"RELIER_CELL={settings.cell} but RELIER_CELLS is empty: set RELIER_CELLS="
                f"{settings.cell}=redis://...,other=redis://... (the same on every process)")
        if settings.lease_refresh_interval * 2 > settings.lease_ttl:
            raise ConfigurationError(
                f"RELIER_LEASE_REFRESH_INTERVAL ({settings.lease_refresh_interval}) must be at most "
                f"half of RELIER_LEASE_TTL ({settings.lease_ttl}) so one missed refresh is survived"
            )
        return settings


#: Every setting, in declaration order (docs/configuration.md lists them in this order).
SETTINGS: tuple[Setting, ...] = tuple(
    Setting(f"RELIER_{item.name.upper()}", item.metadata["default"], item.metadata["parse"],
            item.metadata["help"])
    for item in fields(Settings)
)
_BY_ENV = {setting.env: setting for setting in SETTINGS}

#: ``RELIER_*`` variables that are not settings but are read by relier's own tools.
TOOL_VARIABLES = frozenset({"RELIER_TEST_SERVER", "RELIER_CHAOS_PROBE_VERSION"})

#: Setting names of relier 0.1.7 (the earlier project this one replaces) that were renamed
#: here. A name mapped to a setting has the same meaning and is read, with a deprecation
#: warning, when the new name is not set; a name mapped to None has no equivalent, and the
#: text says what to do instead.
LEGACY_SETTINGS: dict[str, tuple[str | None, str]] = {
    "RELIER_SECRET_KEY": ("RELIER_SECRET_KEYS", "a single secret is a one-key list"),
    "RELIER_HEARTBEAT_TTL": ("RELIER_LEASE_TTL", "leases are per process, not per task"),
    "RELIER_HEARTBEAT_INTERVAL": ("RELIER_LEASE_REFRESH_INTERVAL",
                                  "leases are refreshed per process"),
    "RELIER_SOFT_TIMEOUT": (None, "there is no process-wide soft timeout: declare "
                                  "@rl_task(soft_timeout=...) on the tasks that need one"),
}


@dataclass(frozen=True, slots=True)
class SettingNotice:
    """An environment variable that relier does not read as written."""

    name: str
    message: str
    replacement: str | None = None

    @property
    def is_deprecated_alias(self) -> bool:
        return self.replacement is not None


def setting_notices(environ: Mapping[str, str] | None = None) -> list[SettingNotice]:
    """Every ``RELIER_*`` variable that is not a setting: renamed ones (read under their new
    name, see `LEGACY_SETTINGS`) and unknown ones with the nearest known name."""
    import difflib  # noqa: PLC0415 - only when reporting

    source = os.environ if environ is None else environ
    known = set(_BY_ENV)
    notices: list[SettingNotice] = []
    for name in sorted(source):
        if not name.startswith("RELIER_") or name in known or name in TOOL_VARIABLES:
            continue
        if name in LEGACY_SETTINGS:
            replacement, why = LEGACY_SETTINGS[name]
            if replacement is None:
                notices.append(SettingNotice(name, f"{name} (relier 0.1.7) is not read: {why}"))
            elif replacement in source:
                notices.append(SettingNotice(
                    name, f"{name} (relier 0.1.7) is ignored because {replacement} is set; "
                    "remove it"))
            else:
                notices.append(SettingNotice(
                    name, f"{name} (relier 0.1.7) is deprecated, read as {replacement} ({why}); "
                    f"rename it", replacement))
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
        hint = f"; did you mean {close[0]}?" if close else "; see docs/configuration.md"
        notices.append(SettingNotice(name, f"{name} is not a relier setting{hint}"))
    return notices


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
