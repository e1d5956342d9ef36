"""Tasks for the quickstart: plain functions made reliable by one decorator.

Run a worker for them (from this folder, or with it on PYTHONPATH):

    celery -A relier.tasks.app worker -l info -Q high_priority,default --include=quickstart_tasks
"""

from __future__ import annotations

import asyncio
from pathlib import PurePosixPath

from relier import current_context, rl_task


@rl_task(name="quickstart.charge_customer", queue="high_priority")
async def charge_customer(customer_id: str, amount_cents: int) -> dict[str, object]:
    """An async body: it runs on the worker process's own event loop."""
    await asyncio.sleep(0.01)  # stands in for a call to your payment provider
    return {"customer": customer_id, "charged": amount_cents}


@rl_task(name="quickstart.resize_image")
def resize_image(path: str) -> str:
    """A sync body: sync tasks are first-class too."""
    source = PurePosixPath(path)
    return str(source.with_name(f"{source.stem}-small{source.suffix}"))


@rl_task(
    name="quickstart.fetch_rates",
    retries=3,
    retry_backoff=0.5,
    retry_on=(ConnectionError,),
)
def fetch_rates(currency: str) -> dict[str, object]:
    """Retried up to 3 times on ConnectionError; here the first attempt fails, as a flaky
    network would. Retries wait in Redis and need `rl run-resurrector` to be pushed again."""
    ctx = current_context()
    if ctx.attempt == 1:
        raise ConnectionError("rates service unreachable")
    return {"currency": currency, "rate": 1.08, "attempt": ctx.attempt}
