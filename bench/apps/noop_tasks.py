"""relier's no-op task for the footprint benchmarks, on an app built per server by `make_app`.

``python -m bench coldstart|memory|fds|commands|throughput`` compare this task with vanilla
Celery's ``bench.vanilla_noop`` (``vanilla_tasks``): same body, same queue (``default``), same
worker options. The benchmark process builds its app for the server it starts; workers load
``noop_worker.app``, built from ``RELIER_REDIS_URL`` (and ``BENCH_RESULT_BACKEND``, the result
backend its Celery app configures, for ``python -m bench results``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from celery import Celery

from bench.apps.common import relier_app
from relier import Relier
from relier.task import RelierTask

#: The task's name on the relier side (``bench.vanilla_noop`` on the vanilla side).
TASK_NAME = "bench.relier_noop"


def _noop() -> None:
    """Nothing: the figures are the machinery around the body."""


@dataclass(frozen=True, slots=True)
class NoopApp:
    app: Celery
    relier: Relier
    noop: RelierTask


def make_app(url: str, *, set_as_current: bool = False, result_backend: str | None = None,
             cells: Mapping[str, str] | None = None) -> NoopApp:
    """A Celery app on `url` with relier bound (its defaults) and the no-op task; the app
    configures `result_backend` when given (relier wraps it), else no result backend; with
    `cells` (name -> URL, `url` one of them) relier places its pushes across them."""
    conf = {} if result_backend is None else {"result_backend": result_backend}
    app, relier = relier_app("bench-noop", url, set_as_current=set_as_current, cells=cells,
                             **conf)
    return NoopApp(app=app, relier=relier, noop=relier.task(name=TASK_NAME)(_noop))
