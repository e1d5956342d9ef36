"""Celery's canvas on relier tasks: chain, group, chord, link and link_error, exactly once.

A relier task's canvas (`Envelope.canvas`: the chain's next steps, ``link``/``link_error``
signatures, the chord it is a header task of) is signed with it. When its body returns, the
pool process applies what follows as Celery's tracer does: each ``link`` callback and the
chain's next step get the result as their first argument. The relier tasks among them are not
pushed: `capturing` collects them and ``complete.lua`` creates them in the same script that
stores the result (`Store.complete`'s ``creates``). A crash before the completion re-runs the
step, whose continuation is computed again; a crash after it loses nothing; a fenced-off
attempt creates nothing. Plain Celery tasks among them are sent by Celery, with Celery's
guarantees.

When a task is dead-lettered by its worker, its ``link_error`` errbacks follow Celery's rules:
an errback taking ``(request, exc, traceback)`` is called in the worker after the dead letter
is recorded; any other gets the task id as a task, created by ``fail.lua`` with the dead letter.

A chord's header tasks carry the body. Each completion records its result in the chord's hash
(``rl:chord:<group id>``, sized by `set_chord_size`); the last one, or the first dead letter,
creates the chord's join task (`JOIN_TASK`, one per chord). The join applies the body to the
results in header order, again created with the join's completion; after a failure it records
the body as dead-lettered with reason ``chord_failed`` (Celery's ``ChordError``) and calls the
body's errbacks.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import traceback as traceback_module
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from celery import group, signature
from celery.app.task import Context
from celery.canvas import Signature, chunks
from celery.exceptions import ChordError
from celery.utils.functional import arity_greater

from relier.dispatch import PreparedDispatch, prepare_dispatch
from relier.envelope import Envelope, decode_value
from relier.options import CallOptions
from relier.reasons import DeadLetterReason
from relier.store import ChordPart, NewTask

if TYPE_CHECKING:
    from relier.runtime import Runtime
    from relier.spec import TaskSpec

logger = logging.getLogger("relier.canvas")

#: The task that joins a chord's results and applies its body.
JOIN_TASK = "relier.chord_join"
#: relier's ``celery.starmap`` and ``celery.map``: one relier task calling another's body per
#: item (``task.starmap``, ``task.map``, and each part of ``task.chunks``).
STARMAP_TASK, MAP_TASK = "relier.starmap", "relier.map"
_JOIN_NAMESPACE = uuid.UUID("7d0c4c1e-2b51-4f0e-9d3a-6f7b1c2a9e10")

_captured: contextvars.ContextVar[list[NewTask] | None] = contextvars.ContextVar(
    "relier_captured", default=None)


@contextlib.contextmanager
def capturing() -> Iterator[list[NewTask]]:
    """Collect the relier tasks applied inside (`capture`) instead of pushing them."""
    created: list[NewTask] = []
    token = _captured.set(created)
    try:
        yield created
    finally:
        _captured.reset(token)


def capturing_now() -> bool:
    """Whether a transition is being built (`capturing`)."""
    return _captured.get() is not None


def capture(prepared: PreparedDispatch) -> bool:
    """Keep `prepared` for the transition being built, if one is; False when it must be
    pushed now. Celery's publish signals are sent as it is kept, just before the transition
    that creates it."""
    created = _captured.get()
    if created is None or prepared.new_task is None:
        return False
    with prepared.publish_signals():
        created.append(prepared.new_task)
    return True


def join_id(group_id: str) -> str:
    """The id of a chord's join task (one per chord, whichever header task ends last)."""
    return str(uuid.uuid5(_JOIN_NAMESPACE, group_id))


def _lineage(envelope: Envelope) -> dict[str, Any]:
    return {"parent_id": envelope.id, "root_id": envelope.canvas.get("root_id") or envelope.id}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a task's end creates with it, and what runs after the transition is recorded."""

    creates: list[NewTask]
    chord: ChordPart | None = None
    after: Callable[[], None] | None = None


class Canvas:
    """The canvas hooks of one Celery app's relier binding (used by the worker's pipeline)."""

    def __init__(self, app: Any, runtime: Runtime, join_spec: Callable[[], TaskSpec]) -> None:
        self._app = app
        self._runtime = runtime
        self._join_spec = join_spec

    def on_success(self, envelope: Envelope, result: Any) -> Outcome:
        """The continuations of a completed task (Celery's tracer order: callbacks, then the
        chain's next step), and its chord part."""
        canvas = envelope.canvas
        with capturing() as created:
            if envelope.task == JOIN_TASK:
                self._apply_chord_body(envelope, result)
            for callback in canvas.get("link") or ():
                signature(callback, app=self._app).apply_async((result,), **_lineage(envelope))
            chain = list(canvas.get("chain") or ())
            if chain:
                step = signature(chain.pop(), app=self._app)
                step.apply_async((result,), chain=chain, **_lineage(envelope))
        return Outcome(created, self._chord_part(envelope))

    def on_dead_letter(self, envelope: Envelope, exc: BaseException) -> Outcome:
        """The errbacks of a task its worker dead-letters, and its chord part."""
        request = Context({
            "id": envelope.id, "task": envelope.task, "args": list(envelope.args),
            "kwargs": dict(envelope.kwargs), "root_id": _lineage(envelope)["root_id"],
            "parent_id": envelope.canvas.get("parent_id"), "group": envelope.canvas.get("group_id"),
            "errbacks": envelope.canvas.get("link_error") or [], "delivery_info": {},
        })
        created, inline = self._errbacks(envelope.id, request, exc)
        chain_parts = self._fail_chain(envelope.canvas.get("chain") or (), exc, created, envelope)
        chord = self._chord_part(envelope) or next(iter(chain_parts), None)
        return Outcome(created, chord, after=inline)

    def _fail_chain(self, steps: Any, exc: BaseException, created: list[NewTask],
                    envelope: Envelope) -> list[ChordPart]:
        """Celery's rule for the rest of a failed chain: each later relier step is created
        dead-lettered with this step's error (``chain_failed``), so whatever waits on the
        chain's last step gets the error; the chord parts among them, whose chord must count
        the failure. Plain Celery steps are left to Celery's backend. `steps` are the chain's
        signatures after the failed step; `envelope` the task whose end creates them."""
        exc_type = f"{type(exc).__module__}.{type(exc).__qualname__}"
        parts: list[ChordPart] = []
        for element in steps:
            step = signature(element, app=self._app)
            if step.task == "celery.chord" and step.kwargs.get("body"):  # its body's result
                step = signature(step.kwargs["body"], app=self._app)
            step_id = step.options.get("task_id")
            queue = self._runtime.task_queues.get(step.task) if step.task else None
            if not step_id or queue is None:
                continue
            created.append(failed_task(
                self._runtime, step.options.get("queue") or queue, step_id,
                reason=DeadLetterReason.CHAIN_FAILED, error=str(exc), name=step.task,
                exc_type=exc_type))
            part = self._chord_part_of(step.options, step.options.get("queue") or queue,
                                       envelope)
            if part is not None:
                parts.append(part)
        return parts

    def _errbacks(self, task_id: str, request: Context, exc: BaseException,
                  ) -> tuple[list[NewTask], Callable[[], None]]:
        """Celery's errback rules: ``(request, exc, traceback)`` errbacks are called inline,
        after the dead letter is recorded; the others are applied with the task id."""
        inline: list[Any] = []
        with capturing() as created:
            for option in request.errbacks or ():
                errback = signature(option, app=self._app)
                if _takes_request(errback):
                    inline.append(errback)
                else:
                    errback.apply_async((task_id,), parent_id=task_id,
                                        root_id=request.root_id or task_id)
        text = "".join(traceback_module.format_exception(exc))

        def call_inline() -> None:
            for errback in inline:
                try:
                    errback(request, exc, text)
                except Exception:
                    logger.exception("errback %s of task %s raised", errback.task, task_id)

        return created, call_inline

    def _chord_part(self, envelope: Envelope) -> ChordPart | None:
        return self._chord_part_of(envelope.canvas, envelope.queue, envelope)

    def _chord_part_of(self, options: Mapping[str, Any], queue: str | None,
                       envelope: Envelope) -> ChordPart | None:
        """The chord part of a task whose canvas (or a chain step's options) is `options`."""
        body = options.get("chord")
        group_id = options.get("group_id")
        if body is None or not group_id:
            return None
        join = prepare_dispatch(
            self._runtime, self._join_spec(), (group_id, body), {}, task_id=join_id(group_id),
            queue=queue or None, call=CallOptions(canvas=_lineage(envelope)))
        if join.new_task is None:
            raise RuntimeError("prepare_dispatch returned no task to create")
        return ChordPart(group_id, int(options.get("group_index") or 0), join.new_task)

    def _apply_chord_body(self, envelope: Envelope, joined: Mapping[str, Any]) -> None:
        """The join's continuation: the body applied to the results, or failed."""
        body = signature(envelope.args[1], app=self._app)
        if "failed" not in joined:
            body.apply_async((list(joined["results"]),), parent_id=envelope.id,
                             root_id=_lineage(envelope)["root_id"])
            return
        error = ChordError(f"Dependency {joined['failed']} raised {joined['error']}")
        body_id = body.id or body.freeze().id
        runtime = self._runtime
        queue = runtime.task_queues.get(body.task) if body.task else None
        created = _captured.get()
        if queue is None or created is None:  # a plain Celery task: Celery's backend records it
            try:  # Celery records the failure from the current exception's traceback
                raise error
            except ChordError:
                self._app.backend.chord_error_from_stack(body, error)
            return
        created.append(failed_task(runtime, queue, body_id, reason=DeadLetterReason.CHORD_FAILED,
                                   error=str(error), name=body.task))
        request = Context({"id": body_id, "root_id": _lineage(envelope)["root_id"],
                           "errbacks": _as_list(body.options.get("link_error")),
                           "delivery_info": {}})
        more, inline = self._errbacks(body_id, request, error)
        created.extend(more)
        # the chain after the chord (its body's continuation) fails as the body did
        self._fail_chain(body.options.get("chain") or (), error, created, envelope)
        inline()


def _as_list(signatures: Any) -> list[Any]:
    """A ``link_error`` option as a list: Celery accepts one signature or several."""
    if not signatures:
        return []
    return [signatures] if isinstance(signatures, Mapping) else list(signatures)


def _takes_request(errback: Any) -> bool:
    """Celery 5.7's test: an errback whose function takes more than one argument beyond those
    stored on its signature gets ``(request, exc, traceback)``; the others get the task id."""
    try:
        header = errback.type.__header__
    except Exception:  # noqa: BLE001 - not registered here: applied as a task
        return False
    if isinstance(header, functools.partial):
        return False
    if not errback.immutable and (errback.args or errback.kwargs):
        try:  # the stored arguments bind from the left, as Celery counts them
            return bool(arity_greater(functools.partial(header, *errback.args, **errback.kwargs), 1))
        except (TypeError, ValueError):
            pass
    return bool(arity_greater(header, 1))


def run_starmap(app: Any, task: Mapping[str, Any], items: Any) -> list[Any]:
    """The body of `STARMAP_TASK`: Celery's ``celery.starmap``, `task`'s body per item."""
    body = signature(task, app=app).type
    return [body(*item) for item in items]


def starmap_signature(task: Any, items: Any, *, mapped: bool = False) -> Signature:
    """`STARMAP_TASK` (or `MAP_TASK`: one argument per item) over relier task `task`, on its
    queue, as Celery's ``task.starmap(items)`` is over ``celery.starmap``."""
    return Signature(MAP_TASK if mapped else STARMAP_TASK, (),
                     {"task": dict(task.s()), "it": [list(item) if not mapped else item
                                                     for item in items]},
                     immutable=True, app=task.app, queue=task.spec.queue)


class RelierChunks(chunks):  # type: ignore[misc]  # celery ships no type information
    """Celery's ``task.chunks(items, n)`` whose parts are `STARMAP_TASK`s."""

    def group(self) -> Any:
        task, items, size = self._unpack_args(self.kwargs)
        target = self._app.tasks[task["task"]]
        return group((starmap_signature(target, part) for part in _chunked(items, size)),
                     app=self._app)


def _chunked(items: Any, size: int) -> Iterator[list[Any]]:
    part: list[Any] = []
    for item in items:
        part.append(item)
        if len(part) == size:
            yield part
            part = []
    if part:
        yield part


def failed_task(runtime: Runtime, queue: str, task_id: str, *, reason: str, error: str,
                name: str | None = None, exc_type: str = "") -> NewTask:
    """A task created dead-lettered, never run (a chord body whose header task failed, the
    rest of a chain whose step failed)."""
    keys, broker = runtime.keys, runtime.broker_keys
    return NewTask(
        {"record": keys.record(task_id), "list": broker.queue_list(queue, 0),
         "idem": keys.idempotency("")},
        {"task_id": task_id, "task_name": name or "", "queue": queue, "message": "",
         "version": 1, "idem_digest": "", "max_resurrections": 0,
         "front": broker.queue_list(queue, 0), "nonce": "", "due_ms": "", "delay_ms": "",
         "expires_ms": "", "expires_in_ms": "", "fail_reason": reason, "fail_error": error,
         "fail_exc_type": exc_type})


def join_results(runtime: Runtime, group_id: str) -> dict[str, Any]:
    """The join task's body: the header tasks' results in header order, or the failure."""
    state = runtime.store.chord_state(group_id)
    if "failed" in state:
        return {"failed": state["failed"].decode(errors="replace"),
                "error": state.get("failed_error", b"").decode(errors="replace")}
    parts = sorted((int(field[1:]), value) for field, value in state.items()
                   if field.startswith("r") and field[1:].isdigit())
    return {"results": [decode_value(value) for _, value in parts]}
