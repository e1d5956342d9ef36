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

`cost_arm` gives the Redis cost benchmarks (``redis-cost``, ``ceiling``) their three arms as
`NoopArm`: relier (`noop_arm`), vanilla Celery with a Redis result backend (`result_arm`'s
``vanilla+backend``: ``delay()``, the worker stores each result) and vanilla Celery with its
defaults (no result backend).

Any arm's worker may run another pool or concurrency than the default prefork ``-c 2``
(``python -m bench throughput --pool``, ``ceiling``).
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
from relier.handle import TaskHandle
from relier.testing import CeleryWorker

CONCURRENCY = 2
#: The worker pools ``-P`` the benchmarks may run (``solo`` runs one task at a time).
POOLS = ("prefork", "threads", "solo")
QUEUE = "default"
#: The workers in a few words, for methods.
WORKERS = f"one prefork -c {CONCURRENCY} worker per arm, -l info, no-op task"
#: The arms `result_arm` builds: vanilla Celery with a Redis result backend (the baseline), and
#: relier's app without, then with, a Redis result backend configured.
RESULT_ARMS = ("vanilla+backend", "relier", "relier+backend")
#: The vanilla side's task name (``vanilla_tasks``).
VANILLA_TASK = "bench.vanilla_noop"
#: The arms `cost_arm` builds: relier, vanilla Celery with a Redis result backend on the same
#: server (the fair comparison: it stores results too), vanilla Celery with its defaults.
COST_ARMS = ("relier", "vanilla+backend", "vanilla")
#: The arm the Redis cost figures divide by first.
FAIR_BASELINE = "vanilla+backend"
#: `COST_ARMS`' vanilla arms in a few words.
COST_BASELINES = {"vanilla+backend": "with a Redis result backend",
                  "vanilla": "defaults, no result backend"}


def concurrency_of(pool: str, concurrency: int = CONCURRENCY) -> int:
    """The ``-c`` a `pool` worker runs with: `concurrency`, 1 for ``solo``."""
    return 1 if pool == "solo" else concurrency


def workers_text(pool: str = "prefork", concurrency: int = CONCURRENCY) -> str:
    """`WORKERS` for another pool or concurrency."""
    return f"one {pool} -c {concurrency_of(pool, concurrency)} worker per arm, -l info, no-op task"


@dataclass(frozen=True, slots=True)
class NoopArm:
    """How to start `arm`'s worker (logging to a given file) and send it one no-op task."""

    arm: str
    task_name: str
    worker: Callable[[Path], CeleryWorker]
    push: Callable[[], object]
    #: Whether the task `push` returned is finished with its outcome stored (relier's record,
    #: the result backend's result), read from the server; always true without a result kept.
    stored: Callable[[object], bool] = lambda _sent: True


def _record_finished(sent: object) -> bool:
    if not isinstance(sent, TaskHandle):
        raise TypeError(f"relier's push() returned {sent!r}")
    return sent.state.is_terminal


def _result_ready(sent: object) -> bool:
    if not isinstance(sent, AsyncResult):
        raise TypeError(f"delay() returned {sent!r}")
    return bool(sent.ready())


def noop_arm(arm: str, url: str, *, pool: str = "prefork",
             concurrency: int = CONCURRENCY) -> NoopArm:
    """`arm` (one of `ARMS`) on the server at `url`, its workers `pool` ``-c`` `concurrency`
    (1 for ``solo``)."""
    if arm not in ARMS:
        raise ValueError(f"unknown arm {arm!r}")
    size = concurrency_of(pool, concurrency)
    if arm == "relier":
        bound = make_app(url)
        return NoopArm(
            arm=arm, task_name=bound.noop.name,
            worker=lambda log: bench_worker("noop_worker.app", url, log, concurrency=size,
                                            pool=pool),
            push=bound.noop.push, stored=_record_finished,
        )
    sender = sending_app(f"bench-noop-{arm}", url)
    return NoopArm(
        arm=arm, task_name=VANILLA_TASK,
        worker=lambda log: vanilla_worker(arm, url, log, concurrency=size, pool=pool),
        push=lambda: sender.send_task(VANILLA_TASK, queue=QUEUE),
    )


def cost_arm(arm: str, url: str, *, concurrency: int = CONCURRENCY) -> NoopArm:
    """`arm` (one of `COST_ARMS`) on the server at `url`, its workers prefork ``-c``
    `concurrency`: relier's `noop_arm` (``push()``), vanilla's with its defaults
    (``send_task()``, no result backend), or vanilla with a Redis result backend on the same
    server (``delay()``, which also subscribes to the result; the worker stores it)."""
    if arm not in COST_ARMS:
        raise ValueError(f"unknown arm {arm!r}")
    if arm == "vanilla+backend":
        subject = result_arm(arm, url, concurrency=concurrency)
        return NoopArm(arm=arm, task_name=VANILLA_TASK, worker=subject.worker,
                       push=subject.delay, stored=_result_ready)
    return noop_arm("vanilla-defaults" if arm == "vanilla" else arm, url,
                    concurrency=concurrency)


@dataclass(frozen=True, slots=True)
class ResultArm:
    """How to start `arm`'s worker (logging to a given file) and call its no-op task the Celery
    way: ``delay()``, returning the `AsyncResult` to ``get()``."""

    arm: str
    worker: Callable[[Path], CeleryWorker]
    delay: Callable[[], AsyncResult]


def _noop() -> None:
    """The sending side's declaration of ``bench.vanilla_noop`` (the worker runs its own)."""


def result_arm(arm: str, url: str, *, concurrency: int = CONCURRENCY) -> ResultArm:
    """`arm` (one of `RESULT_ARMS`) on the server at `url`; result backends on it too; its
    workers prefork ``-c`` `concurrency`."""
    if arm not in RESULT_ARMS:
        raise ValueError(f"unknown arm {arm!r}")
    if arm == "vanilla+backend":
        sender = sending_app("bench-results-vanilla", url, result_backend=url,
                             task_default_queue=QUEUE)
        noop = sender.task(name=VANILLA_TASK, shared=False)(_noop)
        return ResultArm(
            arm=arm,
            worker=lambda log: vanilla_worker("vanilla-defaults", url, log,
                                              concurrency=concurrency, result_backend=url),
            delay=noop.delay,
        )
    backend = url if arm == "relier+backend" else None
    bound = make_app(url, result_backend=backend)
    return ResultArm(
        arm=arm,
        worker=lambda log: bench_worker("noop_worker.app", url, log, concurrency=concurrency,
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
