"""Demo tasks, the traffic generator behind ``rl demo``, and the watch that reports its
processes' deaths."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import subprocess
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import redis

from relier import AdmissionRejectedError, RelierError, RelierTask, TaskHandle, rl_task
from relier.states import TaskState

if TYPE_CHECKING:
    from relier.devserver import RedisServer
    from relier.testing import CeleryWorker

DEMO_QUEUES = ("high_priority", "default", "low_priority")
#: a push that failed for want of Redis waits this long before the next one (seconds)
PUSH_ERROR_BACKOFF = 1.0


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


def demo_call(number: int) -> tuple[RelierTask, tuple[Any, ...]]:
    """The `number`-th push of the demo mix: a charge, a resize, an invoice, in turn."""
    choice = number % 3
    if choice == 0:
        return charge_customer, (f"cus_{number:05d}", random.randrange(100, 10_000))
    if choice == 1:
        return resize_image, (f"uploads/img_{number:05d}.png",)
    return send_invoice, (f"cus_{number:05d}",)


@dataclass
class Traffic:
    """Pushes a steady trickle of demo tasks and tallies how they end.

    `pushed` counts admitted pushes; `rejected` counts the pushes admission control refused,
    by queue, and `push_errors` those Redis did not answer: `run` counts both and goes on."""

    rate: float = 5.0
    pending: list[TaskHandle] = field(default_factory=list)
    offered: int = 0
    pushed: int = 0
    completed: int = 0
    dead_lettered: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    push_errors: int = 0
    last_error: str = ""

    def push_one(self) -> TaskHandle:
        """Push the next task of the mix; raises what the push raises
        (`AdmissionRejectedError`, `redis.RedisError`, ...). A refused task is not pushed
        again: the next call pushes the next task of the mix."""
        task, args = demo_call(self.offered)
        self.offered += 1
        handle = task.push(*args)
        self.pending.append(handle)
        self.pushed += 1
        return handle

    def offer_one(self) -> tuple[str, float]:
        """Push the next task, counting a refusal or a Redis error instead of raising;
        returns a notice for the operator ("" when there is none) and how many seconds to
        wait before the next push."""
        task, _ = demo_call(self.offered)
        queue = task.spec.queue
        try:
            self.push_one()
        except AdmissionRejectedError as exc:
            first = queue not in self.rejected
            self.rejected[queue] = self.rejected.get(queue, 0) + 1
            notice = (f"admission refused a {exc.task} push on queue {queue} ({exc.scope} "
                      f"{exc.reason} limit, retry after {exc.retry_after:.2f} s): the demo "
                      "counts refusals and goes on") if first else ""
            return notice, 0.0
        except (RelierError, redis.RedisError, OSError) as exc:
            self.push_errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            notice = f"a push failed ({self.last_error}); retrying" if self.push_errors == 1 else ""
            return notice, PUSH_ERROR_BACKOFF
        return "", 0.0

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

    def status(self) -> str:
        """`summary` plus the refused and failed pushes: the demo's status line."""
        line = f"{self.summary()}  rejected {sum(self.rejected.values()):>4}"
        if self.rejected:
            line += " (" + ", ".join(f"{queue} {count}"
                                     for queue, count in sorted(self.rejected.items())) + ")"
        if self.push_errors:
            line += f"  push errors {self.push_errors} (last: {self.last_error})"
        return line

    def run(self, duration: float | None, report: Callable[[str], None],
            should_stop: Callable[[], bool], *,
            notice: Callable[[str], None] | None = None) -> None:
        """Push `rate` tasks a second until `should_stop()` or `duration` seconds; `report`
        gets the status line once a second, `notice` (default: `report`) each event an
        operator should see (the first refusal on a queue, the first failed push). Refusals
        and Redis errors are counted, never raised."""
        tell = notice or report
        interval = 1.0 / self.rate
        started = time.monotonic()
        next_push = started
        next_report = started + 1.0
        while not should_stop():
            now = time.monotonic()
            if duration is not None and now - started >= duration:
                break
            if now >= next_push:
                message, backoff = self.offer_one()
                if message:
                    tell(message)
                next_push = max(next_push + interval, now + backoff, now - 1.0)
            if now >= next_report:
                with contextlib.suppress(redis.RedisError):  # Redis away: the pushes say so
                    self.tally()
                report(self.status())
                next_report = now + 1.0
            time.sleep(max(0.0, min(0.1, min(next_push, next_report) - time.monotonic())))


def exit_text(code: int) -> str:
    """How a process ended, from its return code: "exit status 1", "killed by SIGKILL"."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit status {code}"


class ProcessWatch:
    """Tells once of each demo process that exited; the server's exit ends the demo."""

    def __init__(self, server: RedisServer, workers: list[CeleryWorker],
                 resurrector: subprocess.Popen[bytes]) -> None:
        self.server = server
        self.workers = workers
        self.resurrector = resurrector
        self.gone: set[str] = set()

    @property
    def is_server_down(self) -> bool:
        return "server" in self.gone

    def news(self) -> list[str]:
        lines = []
        code = self.server.process.poll() if self.server.process is not None else None
        if code is not None and "server" not in self.gone:
            self.gone.add("server")
            lines.append(f"the demo server exited ({exit_text(code)}); the demo stops. "
                         f"Its log ends:\n{self.server.log_tail(5)}")
        for number, worker in enumerate(self.workers, 1):
            code = worker.process.poll() if worker.process is not None else None
            if code is None or f"demo{number}" in self.gone:
                continue
            self.gone.add(f"demo{number}")
            alive = sum(1 for w in self.workers if w.process is not None and w.process.poll() is None)
            lines.append(f"worker demo{number} (pid {worker.pid}) exited ({exit_text(code)}); {alive} "
                         f"worker(s) left; the resurrector re-queues its tasks once its lease "
                         f"expires. Its log: {worker.log_path}")
            if not alive:
                lines.append("no demo worker is left: the tasks pushed wait in their queues")
        code = self.resurrector.poll()
        if code is not None and "resurrector" not in self.gone:
            self.gone.add("resurrector")
            lines.append(f"the resurrector exited ({exit_text(code)}): tasks of dead workers are no "
                         "longer re-queued")
        return lines


class TrafficThread(threading.Thread):
    """The demo traffic; keeps the traceback when it dies, for the demo to report."""

    def __init__(self, traffic: Traffic, duration: float | None, stop: threading.Event,
                 report: Callable[[str], None], notice: Callable[[str], None]) -> None:
        super().__init__(name="relier-demo-traffic", daemon=True)
        self.traffic = traffic
        self.duration = duration
        self.stop = stop
        self.report = report
        self.notice = notice
        self.failure = ""

    def run(self) -> None:
        try:
            self.traffic.run(self.duration, self.report, self.stop.is_set, notice=self.notice)
        except Exception:  # noqa: BLE001 - any death is reported by the demo, never silent
            self.failure = traceback.format_exc()


def supervise(pushing: TrafficThread, watch: ProcessWatch, stop: threading.Event,
              say: Callable[[str], None], *, until_traffic_ends: bool,
              tick: Callable[[], None] | None = None) -> int:
    """Tell `say` of each process that exits and of the traffic's death, until `stop` (or
    the traffic's end, if `until_traffic_ends`), calling `tick` about 4 times a second;
    returns 1 when the server or the traffic died, else 0. The server's death sets `stop`."""
    status = 0
    told_failure = False
    while True:
        ending = stop.is_set() or (until_traffic_ends and not pushing.is_alive())
        if ending:
            pushing.join(5)  # the traffic checks `stop` at least every 0.1 s
        for line in watch.news():
            say(line)
        if watch.is_server_down:
            status = 1
            stop.set()
        if not pushing.is_alive() and pushing.failure and not told_failure:
            say(f"the demo traffic stopped on an error (the workers go on):\n{pushing.failure}")
            told_failure = True
            status = 1
        if tick is not None:
            tick()
        if ending:
            return status
        if pushing.is_alive():
            pushing.join(0.25)
        else:
            stop.wait(0.25)
