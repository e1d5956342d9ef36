"""relier tasks for ``python -m bench leases``, on an app built per server by `make_app`.

The benchmark process builds one app per server it starts (relier's ready app reads its
settings once per process, and ``python -m bench`` runs several benchmarks in one process);
workers load ``lease_worker.app``, built from ``RELIER_REDIS_URL``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from celery import Celery

from bench.apps.common import relier_app
from bench.apps.counting import client, record_attempt
from relier import Relier, current_context
from relier.task import RelierTask

#: kombu redelivers unacked messages after this many seconds; relier makes copies harmless.
VISIBILITY_TIMEOUT = 12 * 3600


def _inflight(seconds: float) -> None:
    """Count the body start, then hold the slot for `seconds`."""
    client().incr("bench:leases:started")
    time.sleep(seconds)


def _killed(seconds: float) -> int:
    """Record (pid, body start) per attempt; attempt 1 sleeps; count executions, completions."""
    started = time.time()
    ctx = current_context()
    record_attempt(ctx.task_id, ctx.attempt, started)
    redis_client = client()
    redis_client.incr(f"bench:exec:{ctx.task_id}")
    if ctx.attempt == 1:
        time.sleep(seconds)
    redis_client.incr(f"bench:done:{ctx.task_id}")
    return ctx.attempt


@dataclass(frozen=True, slots=True)
class LeaseApp:
    app: Celery
    relier: Relier
    inflight: RelierTask
    killed: RelierTask


def make_app(url: str, *, set_as_current: bool = False) -> LeaseApp:
    """A Celery app on `url` with relier bound (prefetch disabled) and the bench tasks."""
    app, relier = relier_app(
        "bench-leases", url, set_as_current=set_as_current,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        worker_disable_prefetch=True,
    )
    return LeaseApp(
        app=app,
        relier=relier,
        inflight=relier.task(name="bench.leases_inflight")(_inflight),
        killed=relier.task(name="bench.leases_killed")(_killed),
    )
