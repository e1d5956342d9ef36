"""Exceptions relier raises to its callers."""

from __future__ import annotations


class RelierError(Exception):
    """Base class of every relier error."""


class ConfigurationError(RelierError):
    """A setting or a task declaration is invalid."""


class PreflightError(RelierError):
    """Redis or the worker is configured in a way relier refuses to run on."""


class TaskFailedError(RelierError):
    """The task ended without a result: it failed, was dead-lettered or cancelled."""

    def __init__(self, task_id: str, state: str, reason: str, exc_type: str, message: str) -> None:
        self.task_id = task_id
        self.state = state
        self.reason = reason
        self.exc_type = exc_type
        self.message = message
        detail = f"{exc_type}: {message}" if exc_type else message
        super().__init__(f"task {task_id} {state} ({reason}): {detail}")


class TaskNotFoundError(RelierError):
    """No record exists for this task id (never pushed, or expired after its result TTL)."""


class ResultEncodingError(RelierError):
    """A task returned a value msgspec cannot encode."""


class UnsupportedCanvasError(RelierError):
    """Celery canvas features (links, chords, groups) that relier tasks do not support."""


class FencedOffError(RelierError):
    """This attempt no longer holds the task's fence: a newer attempt owns it."""


class CheckpointTooLargeError(RelierError):
    """A checkpoint larger than RELIER_MAX_CHECKPOINT_BYTES."""


class IdempotencyLockHeldError(RelierError):
    """Another caller holds this idempotency lock; try again later."""


class IdempotencyLockLostError(RelierError):
    """The lock expired (or passed to another caller) before the block finished."""


class IdempotencyResultNotSetError(RelierError):
    """An `idempotency_lock` block ended cleanly without ``lock.set_result(value)``: nothing
    was stored and the lock was released (``set_result(None)`` records work with no value)."""


class AdmissionRejectedError(RelierError):
    """Admission control refused the push; try again after `retry_after` seconds."""

    def __init__(self, task: str, scope: str, reason: str, retry_after: float) -> None:
        self.task = task
        self.scope = scope
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(
            f"push of {task} rejected by the {scope} {reason} limit; retry after "
            f"{retry_after:.3f} s"
        )


class PushOutcomeUnknownError(RelierError, TimeoutError):
    """A push got no answer from Redis within RELIER_PUSH_RETRY_WINDOW: the task **may** be
    queued. Pushing again with the same ``task_id`` is safe: it returns the existing task if
    the first push landed, and queues it if not."""

    def __init__(self, task: str, task_id: str, window: float, cause: BaseException) -> None:
        self.task = task
        self.task_id = task_id
        self.cause = cause
        super().__init__(
            f"push of {task} {task_id} got no answer from Redis in {window:g} s ({cause}); the "
            f"task may be queued: push again with task_id={task_id!r} (it returns the existing "
            "task if the first push landed) or read handle(task_id).state"
        )


class NotDurableError(RelierError):
    """A `durable` task was queued, but Redis did not confirm its fsync (and its replicas) in
    time: it may be lost if Redis crashes now. Pushing the same task id again is safe (it
    returns the existing task) and waits again."""

    def __init__(self, task_id: str, fsynced: int, replicas: int, wanted_replicas: int) -> None:
        self.task_id = task_id
        self.fsynced = fsynced
        self.replicas = replicas
        self.wanted_replicas = wanted_replicas
        super().__init__(
            f"task {task_id} is queued but not confirmed durable: fsynced locally {bool(fsynced)}, "
            f"{replicas} of {wanted_replicas} replica(s) within RELIER_DURABLE_TIMEOUT")


class CellUnavailableError(RelierError):
    """A task that must go to one cell (a `cell_key`, a canvas, an idempotency key or its own
    task id place it) could not be pushed there: the cell's Redis is down or refused the write.
    Nothing was queued; the error names the cell and the cause."""

    def __init__(self, task: str, cell: str, placed_by: str, cause: BaseException) -> None:
        self.task = task
        self.cell = cell
        self.placed_by = placed_by
        self.cause = cause
        super().__init__(
            f"push of {task} failed: its {placed_by} places it in cell {cell!r}, which is "
            f"unavailable ({type(cause).__name__}: {cause}); nothing was queued")


class CellDrainingError(RelierError):
    """A task that must go to one cell was placed in a cell being drained (`rl cells drain`):
    it takes no new tasks. Nothing was queued; the error names the cell and how it is placed."""

    def __init__(self, task: str, cell: str, placed_by: str) -> None:
        self.task = task
        self.cell = cell
        self.placed_by = placed_by
        super().__init__(
            f"push of {task} refused: its {placed_by} places it in cell {cell!r}, which is "
            f"being drained (rl cells drain {cell}); nothing was queued. Remove {cell!r} from "
            f"RELIER_CELLS once the drain completes, or run `rl cells undrain {cell}`")


class NoCellAcceptedError(RelierError):
    """No cell accepted a push that could go to any: each one tried was down or refused it.
    `refusals` lists (cell, why) in the order they were tried; nothing was queued."""

    def __init__(self, task: str, refusals: list[tuple[str, str]]) -> None:
        self.task = task
        self.refusals = refusals
        tried = "; ".join(f"{cell}: {why}" for cell, why in refusals)
        super().__init__(f"push of {task} failed: no cell accepted it (tried {tried}); "
                         "nothing was queued")
