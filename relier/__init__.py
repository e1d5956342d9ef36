"""relier: a reliability layer for Celery on Redis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Unpack, overload

from relier.admission import Admission
from relier.binding import Relier
from relier.context import TaskContext, current_context
from relier.errors import (
    AdmissionRejectedError,
    CellDrainingError,
    CellUnavailableError,
    CheckpointTooLargeError,
    ConfigurationError,
    FencedOffError,
    IdempotencyLockHeldError,
    IdempotencyLockLostError,
    IdempotencyResultNotSetError,
    NoCellAcceptedError,
    NotDurableError,
    PreflightError,
    PushOutcomeUnknownError,
    RelierError,
    ResultEncodingError,
    TaskFailedError,
    TaskNotFoundError,
    UnsupportedCanvasError,
)
from relier.handle import TaskHandle
from relier.idempotency import IdempotencyLock
from relier.reasons import DeadLetterReason
from relier.schema import Arguments
from relier.spec import TaskOptions
from relier.states import TaskState
from relier.task import RelierTask

__all__ = [
    "Admission",
    "AdmissionRejectedError",
    "Arguments",
    "CellDrainingError",
    "CellUnavailableError",
    "CheckpointTooLargeError",
    "ConfigurationError",
    "DeadLetterReason",
    "FencedOffError",
    "IdempotencyLock",
    "IdempotencyLockHeldError",
    "IdempotencyLockLostError",
    "IdempotencyResultNotSetError",
    "NoCellAcceptedError",
    "NotDurableError",
    "PreflightError",
    "PushOutcomeUnknownError",
    "Relier",
    "RelierError",
    "RelierTask",
    "ResultEncodingError",
    "TaskContext",
    "TaskFailedError",
    "TaskHandle",
    "TaskNotFoundError",
    "TaskState",
    "UnsupportedCanvasError",
    "current_context",
    "idempotency_lock",
    "rl_task",
]


@overload
def rl_task(func: Callable[..., Any], /, **options: Unpack[TaskOptions]) -> RelierTask: ...


@overload
def rl_task(
    func: None = None, /, **options: Unpack[TaskOptions]
) -> Callable[[Callable[..., Any]], RelierTask]: ...


def rl_task(
    func: Callable[..., Any] | None = None, /, **options: Unpack[TaskOptions]
) -> RelierTask | Callable[[Callable[..., Any]], RelierTask]:
    """Declare a task on the current Celery app's relier binding (create ``Relier(app)``
    before importing task modules), else on the ready app `relier.tasks.app`; see
    `Relier.task` for the options. Declaring a task never changes ``current_app``."""
    binding = Relier.current() or _ready_binding()
    return binding.task(func, **options) if func is not None else binding.task(**options)


def _ready_binding() -> Relier:
    from relier.tasks import relier  # noqa: PLC0415 - create the ready app only when used

    return relier


def idempotency_lock(key: str, ttl: float = 60.0) -> IdempotencyLock:
    """A manual once-only section on the ready app's Redis; see `relier.idempotency`."""
    from relier.tasks import relier  # noqa: PLC0415 - create the default app only when used

    return relier.idempotency_lock(key, ttl)
