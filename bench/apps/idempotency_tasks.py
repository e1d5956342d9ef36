"""relier tasks for ``python -m bench idempotency``, on an app built per server by `make_app`.

The benchmark process builds its app for the server it starts (relier's ready app reads its
settings once per process, and ``python -m bench`` runs several benchmarks in one process);
workers load ``idempotency_worker.app``, built from ``RELIER_REDIS_URL``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from celery import Celery

from bench.apps.common import relier_app
from bench.apps.counting import client
from relier import Relier
from relier.task import RelierTask

#: Key of the duplicate-submission task's execution counter, per call key.
EXECUTIONS_KEY = "bench:idem:executions:{key}"


def _counted(key: str, seconds: float) -> dict[str, int | str]:
    """Count this execution of the body in Redis, hold for `seconds`, report the count."""
    executions = int(client().incr(EXECUTIONS_KEY.format(key=key)))
    time.sleep(seconds)
    return {"key": key, "execution": executions}


def _noop(index: int) -> int:
    """The overhead figure's body on both variants: nothing, and a small result."""
    return index


@dataclass(frozen=True, slots=True)
class IdempotencyApp:
    app: Celery
    relier: Relier
    counted: RelierTask
    idem_noop: RelierTask
    plain_noop: RelierTask


def make_app(url: str, *, set_as_current: bool = False) -> IdempotencyApp:
    """A Celery app on `url` with relier bound and the bench tasks (two of them idempotent)."""
    app, relier = relier_app("bench-idempotency", url, set_as_current=set_as_current)
    return IdempotencyApp(
        app=app,
        relier=relier,
        counted=relier.task(name="bench.idem_counted", idempotent=True)(_counted),
        idem_noop=relier.task(name="bench.idem_noop", idempotent=True)(_noop),
        plain_noop=relier.task(name="bench.plain_noop")(_noop),
    )
