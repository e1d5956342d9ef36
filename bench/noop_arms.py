"""The footprint benchmarks' workload: per arm, a worker running a no-op task and its sender.

Every arm runs the same kind of worker (``celery worker -P prefork -c 2 -l info``, queue
``default``) and the same body (nothing). relier's worker loads ``noop_worker.app`` (relier
bound, its defaults: prefetch disabled); the vanilla arms load ``vanilla_tasks.app`` with
Celery's defaults or ``task_acks_late=True`` + ``task_reject_on_worker_lost=True``. The
benchmark process sends with relier's ``push()`` or Celery's ``send_task()`` (what ``delay()``
does) from an app on the same server.

`result_arm` is the same workload read back through Celery's result API (``delay()`` then
``AsyncResult.get()``), for ``python -m bench results``: vanilla Celery with a Redis result
backend, and relier's app without and with one configured.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from celery.result import AsyncResult

from bench.apps.noop_tasks import make_app
from bench.senders import sending_app
from bench.workers import ARMS, bench_worker, stop_worker, vanilla_worker
from relier.testing import CeleryWorker

CONCURRENCY = 2
QUEUE = "default"
#: The workers in a few words, for methods.
WORKERS = f"one prefork -c {CONCURRENCY} worker per arm, -l info, no-op task"
#: The arms `result_arm` builds: vanilla Celery with a Redis result backend (the baseline), and
#: relier's app without, then with, a Redis result backend configured.
RESULT_ARMS = ("vanilla+backend", "relier", "relier+backend")
#: The vanilla side's task name (``vanilla_tasks``).
VANILLA_TASK = "bench.vanilla_noop"


@dataclass(frozen=True, slots=True)
class NoopArm:
    """How to start `arm`'s worker (logging to a given file) and send it one no-op task."""

    arm: str
    task_name: str
    worker: Callable[[Path], CeleryWorker]
    push: Callable[[], object]


def noop_arm(arm: str, url: str) -> NoopArm:
    """`arm` (one of `ARMS`) on the server at `url`."""
    if arm not in ARMS:
        raise ValueError(f"unknown arm {arm!r}")
    if arm == "relier":
        bound = make_app(url)
        return NoopArm(
            arm=arm, task_name=bound.noop.name,
            worker=lambda log: bench_worker("noop_worker.app", url, log,
                                            concurrency=CONCURRENCY),
            push=bound.noop.push,
        )
    sender = sending_app(f"bench-noop-{arm}", url)
    return NoopArm(
        arm=arm, task_name=VANILLA_TASK,
        worker=lambda log: vanilla_worker(arm, url, log, concurrency=CONCURRENCY),
        push=lambda: sender.send_task(VANILLA_TASK, queue=QUEUE),
    )


@dataclass(frozen=True, slots=True)
class ResultArm:
    """How to start `arm`'s worker (logging to a given file) and call its no-op task the Celery
    way: ``delay()``, returning the `AsyncResult` to ``get()``."""

    arm: str
    worker: Callable[[Path], CeleryWorker]
    delay: Callable[[], AsyncResult]


def _noop() -> None:
    """The sending side's declaration of ``bench.vanilla_noop`` (the worker runs its own)."""


def result_arm(arm: str, url: str) -> ResultArm:
    """`arm` (one of `RESULT_ARMS`) on the server at `url`; result backends on it too."""
    if arm not in RESULT_ARMS:
        raise ValueError(f"unknown arm {arm!r}")
    if arm == "vanilla+backend":
        sender = sending_app("bench-results-vanilla", url, result_backend=url,
                             task_default_queue=QUEUE)
        noop = sender.task(name=VANILLA_TASK, shared=False)(_noop)
        return ResultArm(
            arm=arm,
            worker=lambda log: vanilla_worker("vanilla-defaults", url, log,
                                              concurrency=CONCURRENCY, result_backend=url),
            delay=noop.delay,
        )
    backend = url if arm == "relier+backend" else None
    bound = make_app(url, result_backend=backend)
    return ResultArm(
        arm=arm,
        worker=lambda log: bench_worker("noop_worker.app", url, log, concurrency=CONCURRENCY,
                                        env={"BENCH_RESULT_BACKEND": backend or ""}),
        delay=bound.noop.delay,
    )


@contextlib.contextmanager
def started(worker: CeleryWorker, *, ready: bool = True) -> Iterator[CeleryWorker]:
    """`worker` started (and ready, unless told not to wait), stopped with its pool on exit."""
    worker.start()
    try:
        if ready:
            worker.wait_ready()
        yield worker
    finally:
        stop_worker(worker)
