"""The footprint benchmarks' workload: per arm, a worker running a no-op task and its sender.

Every arm runs the same kind of worker (``celery worker -P prefork -c 2 -l info``, queue
``default``) and the same body (nothing). relier's worker loads ``noop_worker.app`` (relier
bound, its defaults: prefetch disabled); the vanilla arms load ``vanilla_tasks.app`` with
Celery's defaults or ``task_acks_late=True`` + ``task_reject_on_worker_lost=True``. The
benchmark process sends with relier's ``push()`` or Celery's ``send_task()`` (what ``delay()``
does) from an app on the same server.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.apps.noop_tasks import make_app
from bench.senders import sending_app
from bench.workers import ARMS, bench_worker, stop_worker, vanilla_worker
from relier.testing import CeleryWorker

CONCURRENCY = 2
QUEUE = "default"
#: The workers in a few words, for methods.
WORKERS = f"one prefork -c {CONCURRENCY} worker per arm, -l info, no-op task"


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
        arm=arm, task_name="bench.vanilla_noop",
        worker=lambda log: vanilla_worker(arm, url, log, concurrency=CONCURRENCY),
        push=lambda: sender.send_task("bench.vanilla_noop", queue=QUEUE),
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
