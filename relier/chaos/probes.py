"""Probe tasks the chaos scenarios seed. `relier.tasks.app` always registers them; a user's own
app opts in with `relier.chaos.probes.register(relier)`.

Each probe records, under ``rl:chaos:<run id>``, when each attempt of each task started and
that it completed, so a scenario can count deliveries, duplicates and recovery latency.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING, Any

import redis

from relier.context import TaskContext, current_context
from relier.schema import Arguments

#: The code version of the `relier.chaos.versioned` probe in this process; the rolling-deploy
#: scenario runs "old" workers with RELIER_CHAOS_PROBE_VERSION=1 beside new ones.
PROBE_VERSION = int(os.environ.get("RELIER_CHAOS_PROBE_VERSION", "2"))

if TYPE_CHECKING:
    from relier.binding import Relier


def marks_key(relier: Relier, run: str, field: str) -> str:
    """Hash: '<task id>|<attempt>' -> when that attempt started / completed (wall clock)."""
    return f"{relier.keys.prefix}:chaos:{run}:{field}"


def _mark(relier: Relier, ctx: TaskContext, run: str, field: str) -> None:
    relier.store.client.hset(marks_key(relier, run, field), f"{ctx.task_id}|{ctx.attempt}",
                             f"{time.time():.6f}")


# What a user's own storage does with `ctx.fence`: accept a write only from the attempt that
# holds the task's current fence, so a partitioned or paused attempt's late side effect is refused.
_FENCED_MARK = """
if redis.call('HGET', KEYS[1], 'fence') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
"""


def _fenced_mark(relier: Relier, ctx: TaskContext, run: str, field: str) -> bool:
    accepted = relier.store.client.eval(
        _FENCED_MARK, 2, relier.keys.record(ctx.task_id), marks_key(relier, run, field),
        str(ctx.fence), f"{ctx.task_id}|{ctx.attempt}", f"{time.time():.6f}")
    return bool(accepted)


def _checkpoint(ctx: TaskContext) -> None:
    ctx.set_partial({"checkpointed_at": time.time()})


def register(relier: Relier) -> dict[str, Any]:
    """Declare the probe tasks on `relier`'s app; returns them by short name."""

    @relier.task(name="relier.chaos.sleep", queue="chaos")
    def sleep_probe(run: str, seconds: float) -> int:
        ctx = current_context()
        _mark(relier, ctx, run, "started")
        time.sleep(seconds)
        _mark(relier, ctx, run, "completed")
        return ctx.attempt

    def fenced_body(run: str, seconds: float) -> TaskContext:
        ctx = current_context()
        _mark(relier, ctx, run, "started")
        time.sleep(seconds)
        _mark(relier, ctx, run, "finished")  # unfenced: this body ran to its end on this side
        _fenced_mark(relier, ctx, run, "completed")
        return ctx

    # the probes' own Redis writes fail while Redis is away, as any task's side effects would:
    # like a user's task, they retry rather than dead-letter on a connection error
    outage = (redis.ConnectionError, redis.TimeoutError)

    @relier.task(name="relier.chaos.fenced_sleep", queue="chaos", retries=8, retry_backoff=0.25,
                 retry_backoff_max=2.0, retry_on=outage)
    def fenced_sleep_probe(run: str, seconds: float) -> int:
        """Sleep, then record completion as a fenced side effect."""
        return fenced_body(run, seconds).attempt

    @relier.task(name="relier.chaos.versioned", queue="chaos", version=PROBE_VERSION,
                 retries=8, retry_backoff=0.25, retry_backoff_max=2.0, retry_on=outage)
    def versioned_probe(run: str, seconds: float, sent_version: int = 1) -> int:
        """`fenced_sleep` that also records which probe code version ran which envelope version."""
        ctx = fenced_body(run, seconds)
        relier.store.client.hset(marks_key(relier, run, "ran_by"), ctx.task_id,
                                 f"{PROBE_VERSION}:{sent_version}")
        return ctx.attempt

    if PROBE_VERSION > 1:
        @versioned_probe.migration(from_version=PROBE_VERSION - 1)
        def _keep_arguments(arguments: Arguments) -> Arguments:
            return arguments

    @relier.task(name="relier.chaos.overrun", queue="chaos", soft_timeout=0.5, hard_timeout=1.5,
                 on_soft_timeout=_checkpoint)
    def overrun_probe(run: str) -> None:
        _mark(relier, current_context(), run, "started")
        time.sleep(3600)

    @relier.task(name="relier.chaos.overrun_async", queue="chaos", soft_timeout=0.5,
                 hard_timeout=1.5, on_soft_timeout=_checkpoint)
    async def overrun_async_probe(run: str) -> None:
        _mark(relier, current_context(), run, "started")
        await asyncio.sleep(3600)

    return {"sleep": sleep_probe, "fenced_sleep": fenced_sleep_probe, "versioned": versioned_probe,
            "overrun": overrun_probe, "overrun_async": overrun_async_probe}
