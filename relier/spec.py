"""A task's declared options, validated when the decorator runs."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from relier.errors import ConfigurationError

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

    @property
    def time_limits(self) -> tuple[float | None, float | None]:
        """Celery's ``timelimit`` header: ``[hard, soft]`` in seconds (Celery's own order)."""
        return (self.hard_timeout, self.soft_timeout)


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
) -> TaskSpec:
    """Validate the options and return the spec; raises `ConfigurationError` with the fix."""
    task_name = name or task_name_for(func)
    where = f"@rl_task on {task_name}"
    if not callable(func):
        raise ConfigurationError(f"{where}: expected a function, got {type(func).__name__}")
    if "<locals>" in task_name and name is None:
        raise ConfigurationError(
            f"{where}: functions defined inside another function need an explicit name= "
            "so that workers can find them"
        )
    if not queue:
        raise ConfigurationError(f"{where}: queue must be a non-empty name")
    if not isinstance(version, int) or version < 1:
        raise ConfigurationError(f"{where}: version must be a whole number >= 1, got {version!r}")
    if not 0 <= priority <= MAX_PRIORITY:
        raise ConfigurationError(f"{where}: priority must be between 0 and {MAX_PRIORITY}")
    for label, value in (("soft_timeout", soft_timeout), ("hard_timeout", hard_timeout)):
        if value is not None and value <= 0:
            raise ConfigurationError(f"{where}: {label} must be positive seconds, got {value!r}")
    if soft_timeout is not None and hard_timeout is not None and soft_timeout >= hard_timeout:
        raise ConfigurationError(
            f"{where}: soft_timeout ({soft_timeout}) must be below hard_timeout ({hard_timeout}) "
            "so the soft hook runs before the body is stopped"
        )
    if on_soft_timeout is not None and soft_timeout is None:
        raise ConfigurationError(
            f"{where}: on_soft_timeout needs soft_timeout= (seconds after which it runs)"
        )
    if on_soft_timeout is not None and not callable(on_soft_timeout):
        raise ConfigurationError(f"{where}: on_soft_timeout must be a function taking ctx")
    if not isinstance(max_resurrections, int) or max_resurrections < 0:
        raise ConfigurationError(f"{where}: max_resurrections must be a whole number >= 0")
    return TaskSpec(
        name=task_name,
        queue=queue,
        func=func,
        is_async=inspect.iscoroutinefunction(func),
        version=version,
        priority=priority,
        soft_timeout=soft_timeout,
        hard_timeout=hard_timeout,
        max_resurrections=max_resurrections,
        on_soft_timeout=on_soft_timeout,
    )
