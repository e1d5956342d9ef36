"""Failed background work reported, wherever it ran: an action (release, apply a limit, cancel,
open a task) or one of the console's own loops. Textual workers started with
``exit_on_error=False`` end silently on an exception nobody caught; the app and every pane hand
their workers' failures here, which tells the operator (a notification naming the action and
the error) and logs it with its traceback (logger ``relier_tui``)."""

from __future__ import annotations

import logging
from typing import Any

from textual.app import App
from textual.worker import Worker, WorkerState

from relier.display import safe_text

logger = logging.getLogger("relier_tui")

#: how long the notice stays (seconds): long enough to read during an incident
NOTICE_SECONDS = 15.0


def failure_notice(worker: Worker[Any]) -> str:
    """What the operator reads: the action (the worker's name) and the error."""
    error = worker.error
    what = worker.name.strip("_").replace("_", " ") or "a background action"
    detail = f"{type(error).__name__}: {error}" if error is not None else "unknown error"
    return f"{what} failed: {detail}"


def report_failure(app: App[Any], worker: Worker[Any], state: WorkerState) -> bool:
    """Tell the operator and log it when `worker` ended in error; whether it did."""
    if state is not WorkerState.ERROR:
        return False
    notice = failure_notice(worker)
    logger.error("console: %s", notice, exc_info=worker.error)
    app.log.error(notice)
    app.notify(safe_text(notice), title="Action failed", severity="error", timeout=NOTICE_SECONDS,
               markup=False)
    return True
