"""``self.replace(sig)`` on a relier task: the task ends, and `sig` gives its result.

Celery freezes the replacement with the replaced task's own id. A relier task id is recorded
once, so the replacement's last task gets a new id instead, and the replaced task's record
completes naming it (``replaced_by``): its `AsyncResult` reads the replacement's state and
result, as Celery's does. Everything else follows Celery's ``Task.replace``: the replaced task's
callbacks and errbacks move to the replacement, the rest of its chain runs after it, and its
chord membership passes to it (a group is uplifted to a chord with an accumulating body). The
relier tasks of the replacement are created by the transition that completes the replaced task
(`Store.complete`), so a crash before it replaces nothing and the attempt that runs again
replaces once; plain Celery tasks in it are sent by Celery.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from celery import group, signature
from celery.canvas import _chain
from celery.exceptions import Ignore, ImproperlyConfigured

from relier.canvas import capturing
from relier.context import current_context
from relier.store import NewTask

#: relier's ``celery.accumulate`` (a group replacing a task is uplifted to a chord with it).
ACCUMULATE_TASK = "relier.accumulate"


class Replaced(Ignore):  # type: ignore[misc]  # celery ships no type information
    """Raised by ``self.replace()``: the body ends, its result is `final_id`'s."""

    def __init__(self, final_id: str, creates: list[NewTask]) -> None:
        super().__init__("Replaced by new task")
        self.final_id = final_id
        self.creates = creates

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (a pool process to its parent) as Celery's plain `Ignore`."""
        return Ignore, (str(self),)


def accumulate(*args: Any, index: int | None = None) -> Any:
    """Celery's ``celery.accumulate``: the chord's results, or the one at `index`."""
    return args[index] if index is not None else args


def replace(task: Any, sig: Any) -> NoReturn:
    """Replace the running relier task `task` with `sig` (Celery's ``Task.replace``)."""
    ctx = current_context()
    canvas: Mapping[str, Any] = ctx.canvas
    app = task.app
    if "chord" in sig.options:
        raise ImproperlyConfigured("A signature replacing a task must not be part of a chord")
    if isinstance(sig, _chain) and not getattr(sig, "tasks", True):
        raise ImproperlyConfigured("Cannot replace with an empty chain")
    accumulating = app.tasks[ACCUMULATE_TASK].s(index=0)
    if isinstance(sig, group):
        sig |= accumulating
    if isinstance(sig, _chain) and isinstance(sig.tasks[-1], group):
        sig.tasks = list(sig.tasks)
        sig.tasks[-1] |= accumulating
    for callback in canvas.get("link") or ():
        sig.link(signature(callback, app=app))
    for errback in canvas.get("link_error") or ():
        sig.link_error(signature(errback, app=app))
    if isinstance(sig, _chain) and "link" in sig.options:
        sig.tasks[-1].options.setdefault("link", []).extend(_as_list(sig.options.pop("link")))
    final_id = sig.freeze().id
    sig.set(chord=canvas.get("chord"), group_id=canvas.get("group_id"),
            group_index=canvas.get("group_index"),
            root_id=canvas.get("root_id") or ctx.task_id)
    for step in reversed(canvas.get("chain") or ()):
        sig |= signature(step, app=app)
    with capturing() as created:
        sig.apply_async(parent_id=ctx.task_id)
    raise Replaced(final_id, created)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]
