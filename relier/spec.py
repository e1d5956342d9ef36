"""A task's declared options, validated when the decorator runs."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from relier.admission import Admission
from relier.errors import ConfigurationError
from relier.retry import RetryPolicy

MAX_PRIORITY = 9


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """Everything `@rl_task(...)` declares about one task."""

    name: str
    queue: str
    func: Callable[..., Any]
    is_async: bool
    version: int = 1
    priority: int = 0
    soft_timeout: float | None = None
    hard_timeout: float | None = None
    max_resurrections: int = 5
    on_soft_timeout: Callable[..., Any] | None = None
    idempotent: bool = False
    idempotency_key: Callable[..., Any] | None = None
    idempotency_ttl: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    admission: Admission | None = None
    slo: float | None = None
    durable: bool = False
    #: ``cell_key(*args, **kwargs)``: the key that places each call in a cell (`relier.placement`).
    cell_key: Callable[..., Any] | None = None
    #: For a task declared without `queue=`: the app's routing (``task_routes``, else
    #: ``task_default_queue``) for one call's arguments, as Celery routes it.
    router: Callable[[Sequence[Any], Mapping[str, Any]], str] | None = None

    @property
    def time_limits(self) -> tuple[float | None, float | None]:
        """Celery's ``timelimit`` header: ``[hard, soft]`` in seconds (Celery's own order)."""
        return (self.hard_timeout, self.soft_timeout)

    def route(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
        """The queue one call goes to when the caller names none."""
        return self.router(args, kwargs) if self.router is not None else self.queue


class TaskOptions(TypedDict, total=False):
    """Every option of `@rl_task(...)` / `Relier.task(...)`.

    name: registered name (default: module and qualified name). queue: default
    RELIER_DEFAULT_QUEUE. version: argument schema version (with `task.migration`). priority:
    0-9 (kombu's Redis steps). soft_timeout, hard_timeout: seconds (hard default
    RELIER_DEFAULT_HARD_TIMEOUT). on_soft_timeout: hook(ctx), sync or async.
    max_resurrections: process deaths before the dead letters (default
    RELIER_MAX_RESURRECTIONS). idempotent, idempotency_key(*args, **kwargs), idempotency_ttl:
    see docs/architecture.md "Idempotency". retries, retry_backoff, retry_backoff_max,
    retry_on: the retry policy. admission: `Admission` limits for this task. durable: a push
    returns only once Redis has fsynced the task to its AOF (and RELIER_DURABLE_REPLICAS
    replicas have it), via WAITAOF; raises `NotDurableError` when that is not confirmed in
    RELIER_DURABLE_TIMEOUT. cell_key(*args, **kwargs): with RELIER_CELLS, the text or whole
    number that places each call in a cell (calls with the same key share a cell; see
    docs/scaling.md). bind: the function gets the task as its first argument (Celery's
    ``bind=True``: ``self.request``, ``self.retry()``).
    """

    name: str
    queue: str
    version: int
    priority: int
    soft_timeout: float
    hard_timeout: float
    on_soft_timeout: Callable[..., Any]
    max_resurrections: int
    idempotent: bool
    idempotency_key: Callable[..., Any]
    idempotency_ttl: float
    retries: int
    retry_backoff: float
    retry_backoff_max: float
    retry_on: tuple[type[BaseException], ...]
    admission: Admission
    slo: float
    durable: bool
    cell_key: Callable[..., Any]
    bind: bool


def idempotency_digest(spec: TaskSpec, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    """The task's idempotency key for one call: SHA-256 of its name and canonical arguments,
    or of its name and the user's `idempotency_key(*args, **kwargs)`. Empty when not idempotent."""
    if not spec.idempotent:
        return ""
    from relier.envelope import canonical_arguments  # noqa: PLC0415 - keep spec import-light

    if spec.idempotency_key is not None:
        material = b"key\x00" + canonical_arguments((spec.idempotency_key(*args, **kwargs),), {})
    else:
        material = b"args\x00" + canonical_arguments(args, kwargs)
    return hashlib.sha256(spec.name.encode() + b"\x00" + material).hexdigest()


def task_name_for(func: Callable[..., Any]) -> str:
    """The default registered name: module and qualified name, as Celery names tasks."""
    return f"{func.__module__}.{func.__qualname__}"


def build_spec(
    func: Callable[..., Any],
    *,
    name: str | None,
    queue: str,
    version: int,
    priority: int,
    soft_timeout: float | None,
    hard_timeout: float | None,
    max_resurrections: int = 5,
    on_soft_timeout: Callable[..., Any] | None = None,
    idempotent: bool = False,
    idempotency_key: Callable[..., Any] | None = None,
    idempotency_ttl: float | None = None,
    retry: RetryPolicy | None = None,
    admission: Admission | None = None,
    slo: float | None = None,
    durable: bool = False,
    router: Callable[[Sequence[Any], Mapping[str, Any]], str] | None = None,
    cell_key: Callable[..., Any] | None = None,
) -> TaskSpec:
    """Validate the options and return the spec; raises `ConfigurationError` with the fix."""
    if not callable(func):
        raise ConfigurationError(f"@rl_task: expected a function, got {type(func).__name__}")
    spec = TaskSpec(
        name=name or task_name_for(func),
        queue=queue,
        func=func,
        is_async=inspect.iscoroutinefunction(func),
        version=version,
        priority=priority,
        soft_timeout=soft_timeout,
        hard_timeout=hard_timeout,
        max_resurrections=max_resurrections,
        on_soft_timeout=on_soft_timeout,
        idempotent=idempotent or idempotency_key is not None,
        idempotency_key=idempotency_key,
        idempotency_ttl=idempotency_ttl,
        retry=retry or RetryPolicy(),
        admission=admission,
        slo=slo,
        durable=durable,
        router=router,
        cell_key=cell_key,
    )
    where = f"@rl_task on {spec.name}"
    _check_identity(spec, where, has_explicit_name=name is not None)
    _check_timeouts(spec, where)
    _check_idempotency(spec, where)
    _check_retry(spec.retry, where)
    if spec.cell_key is not None and not callable(spec.cell_key):
        raise ConfigurationError(f"{where}: cell_key must be a function of the task's arguments")
    if spec.slo is not None and not 0 < spec.slo < 1:
        raise ConfigurationError(f"{where}: slo must be an availability between 0 and 1, e.g. 0.999")
    return spec


def _check_retry(policy: RetryPolicy, where: str) -> None:
    if not isinstance(policy.retries, int) or policy.retries < 0:
        raise ConfigurationError(f"{where}: retries must be a whole number >= 0")
    if policy.backoff <= 0 or policy.backoff_max < policy.backoff:
        raise ConfigurationError(
            f"{where}: retry_backoff must be positive and at most retry_backoff_max"
        )
    if not policy.retry_on or not all(
        isinstance(kind, type) and issubclass(kind, BaseException) for kind in policy.retry_on
    ):
        raise ConfigurationError(f"{where}: retry_on must be a tuple of exception classes")


def _check_identity(spec: TaskSpec, where: str, *, has_explicit_name: bool) -> None:
    if "<locals>" in spec.name and not has_explicit_name:
        raise ConfigurationError(
            f"{where}: functions defined inside another function need an explicit name= "
            "so that workers can find them"
        )
    if not spec.queue:
        raise ConfigurationError(f"{where}: queue must be a non-empty name")
    if not isinstance(spec.version, int) or spec.version < 1:
        raise ConfigurationError(f"{where}: version must be a whole number >= 1, got {spec.version!r}")
    if not 0 <= spec.priority <= MAX_PRIORITY:
        raise ConfigurationError(f"{where}: priority must be between 0 and {MAX_PRIORITY}")
    if not isinstance(spec.max_resurrections, int) or spec.max_resurrections < 0:
        raise ConfigurationError(f"{where}: max_resurrections must be a whole number >= 0")


def _check_timeouts(spec: TaskSpec, where: str) -> None:
    soft, hard = spec.soft_timeout, spec.hard_timeout
    for label, value in (("soft_timeout", soft), ("hard_timeout", hard)):
        if value is not None and value <= 0:
            raise ConfigurationError(f"{where}: {label} must be positive seconds, got {value!r}")
    if soft is not None and hard is not None and soft >= hard:
        raise ConfigurationError(
            f"{where}: soft_timeout ({soft}) must be below hard_timeout ({hard}) "
            "so the soft hook runs before the body is stopped"
        )
    if spec.on_soft_timeout is not None and soft is None:
        raise ConfigurationError(
            f"{where}: on_soft_timeout needs soft_timeout= (seconds after which it runs)"
        )
    if spec.on_soft_timeout is not None and not callable(spec.on_soft_timeout):
        raise ConfigurationError(f"{where}: on_soft_timeout must be a function taking ctx")


def _check_idempotency(spec: TaskSpec, where: str) -> None:
    ttl = spec.idempotency_ttl
    if spec.idempotency_key is not None and not callable(spec.idempotency_key):
        raise ConfigurationError(f"{where}: idempotency_key must be a function of the task's arguments")
    if ttl is not None and ttl <= 0:
        raise ConfigurationError(f"{where}: idempotency_ttl must be positive seconds")
    if ttl is not None and spec.hard_timeout is not None and ttl <= spec.hard_timeout:
        raise ConfigurationError(
            f"{where}: idempotency_ttl ({ttl}) must outlive hard_timeout "
            f"({spec.hard_timeout}), or the key could be forgotten while its result is computed"
        )
