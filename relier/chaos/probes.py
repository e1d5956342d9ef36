"""Probe tasks the chaos scenarios seed. `relier.tasks.app` always registers them; a user's own
app opts in with `relier.chaos.probes.register(relier)`.

Each probe records, under ``rl:chaos:<run id>``, when each attempt of each task started and
that it completed, so a scenario can count deliveries, duplicates and recovery latency.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from relier.context import TaskContext, current_context

if TYPE_CHECKING:
    from relier.binding import Relier


def marks_key(relier: Relier, run: str, field: str) -> str:
    """Hash: '<task id>|<attempt>' -> when that attempt started / completed (wall clock)."""
    return f"{relier.keys.prefix}:chaos:{run}:{field}"


def _mark(relier: Relier, ctx: TaskContext, run: str, field: str) -> None:
    relier.store.client.hset(marks_key(relier, run, field), f"{ctx.task_id}|{ctx.attempt}",
                             f"{time.time():.6f}")


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

    return {"sleep": sleep_probe, "overrun": overrun_probe, "overrun_async": overrun_async_probe}
