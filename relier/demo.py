"""Demo tasks and the traffic generator behind ``rl demo``."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from relier import TaskHandle, rl_task
from relier.states import TaskState

DEMO_QUEUES = ("high_priority", "default", "low_priority")


@rl_task(name="demo.charge_customer", queue="high_priority")
async def charge_customer(customer_id: str, amount_cents: int) -> dict[str, object]:
    await asyncio.sleep(random.uniform(0.05, 0.4))
    return {"customer": customer_id, "charged": amount_cents}


@rl_task(name="demo.resize_image")
def resize_image(path: str) -> str:
    time.sleep(random.uniform(0.05, 0.3))
    return path.replace(".png", "-small.png")


@rl_task(name="demo.send_invoice", queue="low_priority")
def send_invoice(customer_id: str) -> str:
    time.sleep(random.uniform(0.02, 0.1))
    if random.random() < 0.05:
        raise ConnectionError(f"SMTP server timed out sending to {customer_id}")
    return f"invoice sent to {customer_id}"


@dataclass
class Traffic:
    """Pushes a steady trickle of demo tasks and tallies how they end."""

    rate: float = 5.0
    pending: list[TaskHandle] = field(default_factory=list)
    pushed: int = 0
    completed: int = 0
    dead_lettered: int = 0

    def push_one(self) -> None:
        number = self.pushed
        choice = number % 3
        if choice == 0:
            handle = charge_customer.push(f"cus_{number:05d}", random.randrange(100, 10_000))
        elif choice == 1:
            handle = resize_image.push(f"uploads/img_{number:05d}.png")
        else:
            handle = send_invoice.push(f"cus_{number:05d}")
        self.pending.append(handle)
        self.pushed += 1

    def tally(self) -> None:
        if not self.pending:
            return
        relier = charge_customer.relier
        pipe = relier.store.client.pipeline(transaction=False)
        for handle in self.pending:
            pipe.hget(relier.keys.record(handle.id), "state")
        states = pipe.execute()
        still_pending = []
        for handle, raw in zip(self.pending, states, strict=True):
            state = TaskState(raw.decode()) if raw else None
            if state is TaskState.COMPLETED:
                self.completed += 1
            elif state is not None and state.is_terminal:
                self.dead_lettered += 1
            else:
                still_pending.append(handle)
        self.pending = still_pending

    def summary(self) -> str:
        return (f"pushed {self.pushed:>6}  completed {self.completed:>6}  "
                f"dead-lettered {self.dead_lettered:>4}  inflight {len(self.pending):>4}")

    def run(self, duration: float | None, report: Callable[[str], None],
            should_stop: Callable[[], bool]) -> None:
        started = time.monotonic()
        next_report = started + 1.0
        interval = 1.0 / self.rate
        while not should_stop():
            now = time.monotonic()
            if duration is not None and now - started >= duration:
                break
            self.push_one()
            if now >= next_report:
                self.tally()
                report(self.summary())
                next_report = now + 1.0
            time.sleep(interval)
