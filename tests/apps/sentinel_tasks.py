"""A task for the Sentinel failover test: the worker reaches Redis only through Sentinel."""

from __future__ import annotations

from relier import rl_task


@rl_task(name="sentinel.record", queue="sentinel")
def record(n: int) -> int:
    return n
