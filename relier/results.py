"""Celery's result API over relier's records: `AsyncResult` works for relier tasks.

relier's task record is the source of truth (a task that ``self.replace()``-d itself reads as
its replacement, `relier.replacing`). `Relier(app)` makes the app's result backend
`RelierBackend`: for a task id that has a relier record, every read (``state``, ``get()``,
``ready()``, ``traceback``, ``result``) comes from that record; for any other id, the backend
the app configured (or none) answers, unchanged. Nothing is written per task to make this work:
the cost is one HMGET per read (see ``python -m bench results``).

States: scheduled (a retry's backoff) -> RETRY, other scheduled and queued -> PENDING,
reserved -> RECEIVED, running -> STARTED, completed -> SUCCESS, dead_lettered -> FAILURE,
cancelled -> REVOKED.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Mapping
from typing import Any, cast

from celery import states
from celery.app.backends import by_url
from celery.backends.base import E_CHORD_NO_BACKEND, BaseBackend, DisabledBackend
from celery.exceptions import ChordError, TaskRevokedError, TimeLimitExceeded
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult

from relier.cells import cells_of
from relier.envelope import decode_value
from relier.errors import TaskFailedError, UnsupportedCanvasError
from relier.reasons import DeadLetterReason
from relier.runtime import Runtime, runtime_of

#: The app setting that keeps the backend the app configured (relier's wraps it).
INNER_SETTING = "relier_result_backend"
_FIELDS = ("state", "result", "reason", "exc_type", "error", "traceback", "ended", "failures",
           "failed_fence", "name", "queue", "attempt", "replaced_by")
#: How many ``self.replace()`` links a read follows (each replacement may replace itself).
_MAX_REPLACEMENTS = 100
_FIRST_POLL, _MAX_POLL = 0.002, 0.05


_STATES: dict[str, str] = {
    "queued": states.PENDING, "reserved": states.RECEIVED, "running": states.STARTED,
    "completed": states.SUCCESS, "dead_lettered": states.FAILURE, "cancelled": states.REVOKED,
}


def celery_state(record: Mapping[str, bytes | None]) -> str:
    """Celery's state for a relier record's fields."""
    state = (record.get("state") or b"").decode()
    if state == "scheduled":
        return str(states.RETRY if record.get("failed_fence") else states.PENDING)
    return str(_STATES.get(state, states.PENDING))


def _text(value: bytes | None) -> str:
    return value.decode(errors="replace") if value else ""


#: Reasons whose record keeps the task's own exception (a chain step ends with the one that
#: failed before it, as Celery stores it).
_OWN_ERRORS = frozenset({DeadLetterReason.RETRIES_EXHAUSTED, DeadLetterReason.CHAIN_FAILED})


def _failure(task_id: str, record: Mapping[str, bytes | None]) -> BaseException:
    """The exception a dead-lettered task ended with, as Celery would re-raise it."""
    reason, exc_type, error = _text(record.get("reason")), _text(record.get("exc_type")), _text(
        record.get("error"))
    if reason == DeadLetterReason.HARD_TIMEOUT:
        limit: BaseException = TimeLimitExceeded(error)
        return limit
    if reason == DeadLetterReason.CHORD_FAILED:
        chord: BaseException = ChordError(error)
        return chord
    if reason in _OWN_ERRORS and exc_type:
        module, _, name = exc_type.rpartition(".")
        return _rebuilt(module or "builtins", name, error) or TaskFailedError(
            task_id, "dead_lettered", reason, exc_type, error)
    return TaskFailedError(task_id, "dead_lettered", reason, exc_type, error)


def _rebuilt(module: str, name: str, message: str) -> BaseException | None:
    """The task's own exception class, if this process has its module (never imported here)."""
    import sys  # noqa: PLC0415 - only for this lookup

    cls = getattr(sys.modules.get(module), name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except Exception:  # noqa: BLE001 - a constructor that wants other arguments
            return None
    return None


def record_meta(task_id: str, record: Mapping[str, bytes | None]) -> dict[str, Any]:
    """Celery's task meta for a relier record."""
    status = celery_state(record)
    result: Any = None
    if status == states.SUCCESS and record.get("result") is not None:
        result = decode_value(cast(bytes, record["result"]))
    elif status == states.FAILURE:
        result = _failure(task_id, record)
    elif status == states.REVOKED:
        result = TaskRevokedError(_text(record.get("reason")) or "revoked")
    ended = record.get("ended")
    return {
        "task_id": task_id, "status": status, "result": result,
        "traceback": _text(record.get("traceback")) or None, "children": [],
        "date_done": datetime.datetime.fromtimestamp(int(ended) / 1000, datetime.UTC)
        if ended else None,
        "name": _text(record.get("name")) or None, "queue": _text(record.get("queue")) or None,
        "retries": int(record.get("failures") or 0),
    }


class RelierAsyncResult(AsyncResult):  # type: ignore[misc]  # celery ships no type information
    """Celery's `AsyncResult` for a relier task's id (what `RelierTask.AsyncResult` and the
    canvas' frozen steps return): read from relier's record even before it exists (a chain's
    later step, a chord's body)."""

    relier_task = True


class RelierResultsMixin:
    """Answers for relier task ids from their records; delegates every other id."""

    app: Any
    _relier_runtime: Runtime | None = None

    def _runtime(self) -> Runtime | None:
        runtime = self._relier_runtime or runtime_of(self.app)
        self._relier_runtime = runtime
        return runtime

    def _runtime_of_task(self, task_id: str) -> Runtime | None:
        """The runtime of the cell holding `task_id` (`relier.cells`)."""
        cells = cells_of(self.app)
        return cells.locate(task_id) if cells is not None else self._runtime()

    def _is_relier(self, result: Any) -> bool:
        """Whether `result` is a relier task's: its task said so (a chain's later step or a
        chord's body has no record yet), or its id has a record."""
        if self._runtime() is None:
            return False
        return isinstance(result, RelierAsyncResult) or self._relier_record(result.id) is not None

    def _relier_record(self, task_id: str) -> dict[str, bytes | None] | None:
        runtime = self._runtime_of_task(task_id)
        if runtime is None:
            return None
        values = cast(list[bytes | None], runtime.store.client.hmget(
            runtime.keys.record(task_id), *_FIELDS))
        record = dict(zip(_FIELDS, values, strict=True))
        return record if record["state"] is not None else None

    def get_task_meta(self, task_id: str, cache: bool = True) -> dict[str, Any]:
        """The record's meta; a task that replaced itself reads as its replacement."""
        record, read_id = self._relier_record(task_id), task_id
        for _ in range(_MAX_REPLACEMENTS):
            if record is None or not record.get("replaced_by"):
                break
            read_id = _text(record["replaced_by"])
            record = self._relier_record(read_id)
        if record is not None:
            return {**record_meta(read_id, record), "task_id": task_id}
        meta = cast(dict[str, Any], super().get_task_meta(read_id, cache=cache))  # type: ignore[misc]
        return {**meta, "task_id": task_id} if read_id != task_id else meta

    def wait_for_pending(self, result: Any, timeout: float | None = None,  # noqa: PLR0917 - Celery's signature
                         interval: float = 0.5,
                         no_ack: bool = True, on_message: Any = None, on_interval: Any = None,
                         callback: Any = None, propagate: bool = True) -> Any:
        if not self._is_relier(result):
            return super().wait_for_pending(  # type: ignore[misc]
                result, timeout=timeout, interval=interval, no_ack=no_ack,
                on_message=on_message, on_interval=on_interval, callback=callback,
                propagate=propagate)
        result._maybe_set_cache(self.relier_wait_for(result.id, timeout, on_interval))
        return result.maybe_throw(propagate=propagate, callback=callback)

    def relier_wait_for(self, task_id: str, timeout: float | None,
                        on_interval: Any = None) -> dict[str, Any]:
        """Poll a relier task's record (2 ms, growing to 50 ms) until it is ready."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = _FIRST_POLL
        while True:
            meta = self.get_task_meta(task_id)
            if meta["status"] in states.READY_STATES:
                if on_interval:  # a parent's error first (a chord's header task before the
                    on_interval()  # body's ChordError), whichever poll saw the end
                return meta
            if on_interval:
                on_interval()
            if deadline is not None and time.monotonic() >= deadline:
                raise CeleryTimeoutError("The operation timed out.")
            time.sleep(pause if deadline is None else max(0.0, min(pause, deadline - time.monotonic())))
            pause = min(pause * 2, _MAX_POLL)

    def add_pending_result(self, result: Any, weak: bool = False) -> Any:
        if self._is_relier(result):  # polled, never subscribed
            self._relier_pending().add(result.id)
            return result
        return super().add_pending_result(result, weak=weak)  # type: ignore[misc]

    def remove_pending_result(self, result: Any) -> Any:
        """No I/O: also runs from `AsyncResult.__del__`, possibly at interpreter exit."""
        pending = self._relier_pending()
        if result.id in pending:
            pending.discard(result.id)
            return result
        return super().remove_pending_result(result)  # type: ignore[misc]

    def _relier_pending(self) -> set[str]:
        pending: set[str] | None = self.__dict__.get("_relier_pending_ids")
        if pending is None:
            pending = self.__dict__["_relier_pending_ids"] = set()
        return pending

    def iter_native(  # noqa: PLR0917 - Celery's signature
        self, result: Any, timeout: float | None = None, interval: float = 0.5,
        no_ack: bool = True, on_message: Any = None, on_interval: Any = None, **kwargs: Any,
    ) -> Any:
        """A group's results as they are ready (`GroupResult.join_native`); polled when
        any of them is a relier task's."""
        if not any(self._is_relier(node) for node in result.results):
            yield from super().iter_native(  # type: ignore[misc]
                result, timeout=timeout, interval=interval, no_ack=no_ack,
                on_message=on_message, on_interval=on_interval, **kwargs)
            return
        for node in result.results:
            if not hasattr(node, "_cache"):  # a nested group: Celery's join reads its children
                yield node.id, node.children
                continue
            meta = self.relier_wait_for(node.id, timeout, on_interval)
            if on_message is not None:
                on_message(meta)
            yield node.id, meta

    def apply_chord(self, header_result_args: Any, body: Any, *args: Any, **kwargs: Any) -> Any:
        """A chord over relier tasks is relier's (`relier.canvas`): nothing to set up here
        beyond its size (`set_chord_size`). A header mixing relier and plain tasks is refused:
        their results would be counted in two places."""
        group_id, parts = header_result_args[0], list(header_result_args[1])
        if any(not hasattr(part, "_cache") and _relier_leaves(part) for part in parts):
            raise UnsupportedCanvasError(
                "a chord's header part ends in a group (chain(..., group(...)) in a chord, or "
                "before a task in a chain): relier counts a chord's parts one task each; end "
                "that chain with a task (e.g. a chord of its own) instead")
        kinds = {self._is_relier(part) for part in parts}
        if kinds == {True}:
            self._relier_chords().add(group_id)
            return None
        if True in kinds:
            raise UnsupportedCanvasError(
                "a chord's header mixes relier tasks and plain Celery tasks: make them all "
                "relier tasks (Relier(app, all_tasks=True), or @relier.task on each)")
        return self._apply_plain_chord(header_result_args, body, *args, **kwargs)

    def _apply_plain_chord(self, *args: Any, **kwargs: Any) -> Any:
        return super().apply_chord(*args, **kwargs)  # type: ignore[misc]

    def set_chord_size(self, group_id: str, chord_size: int) -> None:
        cells = cells_of(self.app)
        # the chord's members were placed by their group id: its counter goes with them
        runtime = cells.first_for(group_id) if cells is not None else self._runtime()
        if runtime is not None and group_id in self._relier_chords():
            self._relier_chords().discard(group_id)
            runtime.store.set_chord_size(group_id, chord_size)
            return
        super().set_chord_size(group_id, chord_size)  # type: ignore[misc]

    def _relier_chords(self) -> set[str]:
        chords: set[str] | None = self.__dict__.get("_relier_chord_ids")
        if chords is None:
            chords = self.__dict__["_relier_chord_ids"] = set()
        return chords

    def store_result(self, task_id: str, result: Any, state: str, *args: Any,
                     **kwargs: Any) -> Any:
        """A relier task's record is its result: Celery writes nothing for it."""
        if self._relier_record(task_id) is not None:
            return result
        return super().store_result(task_id, result, state, *args, **kwargs)  # type: ignore[misc]

    def forget(self, task_id: str) -> None:
        if self._relier_record(task_id) is None:
            super().forget(task_id)  # type: ignore[misc]


def _relier_leaves(result: Any) -> bool:
    """Whether a group's result (nested groups included) has a relier task's result."""
    return any(_relier_leaves(node) if not hasattr(node, "_cache")
               else isinstance(node, RelierAsyncResult) for node in result.results)


class _RelierOnly(RelierResultsMixin, BaseBackend):  # type: ignore[misc]
    """No backend configured: relier's records answer. An id without a record reads as
    ``PENDING`` (a chain's later step or a chord's body is created only when the step before
    it ends); waiting on a plain Celery task raises NotImplementedError, as Celery's disabled
    backend does."""

    def _get_task_meta_for(self, task_id: str) -> Any:
        return {"status": states.PENDING, "result": None}

    def _store_result(self, *args: Any, **kwargs: Any) -> None:
        """A plain task's result: nothing is stored, as with Celery's disabled backend."""

    def _apply_plain_chord(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(E_CHORD_NO_BACKEND.strip())

    def wait_for(self, *args: Any, **kwargs: Any) -> Any:
        return DisabledBackend._is_disabled(self)

    def as_uri(self, *args: Any, **kwargs: Any) -> str:
        return "relier://"


_combined: dict[type, type] = {}


def _wrapping(inner: type) -> type:
    if inner is DisabledBackend:
        return _RelierOnly
    if inner not in _combined:
        _combined[inner] = type(f"Relier{inner.__name__}", (RelierResultsMixin, inner), {})
    return _combined[inner]


class RelierBackend:
    """The result backend `Relier(app)` installs: the app's own backend class (or none),
    extended to answer relier task ids from their records."""

    def __new__(cls, app: Any, url: str | None = None, **kwargs: Any) -> Any:
        inner, inner_url = by_url(app.conf.get(INNER_SETTING) or app.conf.result_backend or None,
                                  app.loader)
        combined: Any = _wrapping(inner)
        return combined(app=app, url=inner_url, **kwargs)


def install(app: Any) -> None:
    """Make `app`'s result backend answer for relier tasks (keeping the one it configured)."""
    if app.backend_cls is not None and app.backend_cls != "relier.results:RelierBackend":
        app.conf[INNER_SETTING] = app.backend_cls
    app.backend_cls = "relier.results:RelierBackend"
    local = getattr(app, "_local", None)
    if local is not None and hasattr(local, "backend"):
        del local.backend  # read before relier was bound: build it again
