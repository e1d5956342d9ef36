"""Demo traffic for the development stack: pushes relier's demo tasks (relier.demo) at
DEMO_RATE per second until stopped, and serves the producer-side metrics (dispatches,
admission rejections) on RELIER_PROMETHEUS_PORT like any producer that calls
`relier.telemetry.configure()`.

A push refused by admission control (`rl admission set default --rate 1`) waits the
Retry-After it was given; a Redis outage backs off. Neither stops the loop.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from types import FrameType

import redis

from relier import AdmissionRejectedError, telemetry
from relier.demo import Traffic


def main() -> None:
    telemetry.configure()
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    traffic = Traffic(rate=float(os.environ.get("DEMO_RATE", "5")))
    interval = 1.0 / traffic.rate
    rejected = 0
    next_report = time.monotonic() + 5.0
    while not stop.is_set():
        try:
            traffic.push_one()
            if time.monotonic() >= next_report:
                traffic.tally()
                print(f"{traffic.summary()}  rejected {rejected:>4}", flush=True)
                next_report = time.monotonic() + 5.0
        except AdmissionRejectedError as exc:
            rejected += 1
            stop.wait(exc.retry_after)
            continue
        except redis.RedisError as exc:
            print(f"producer: Redis unavailable ({exc}); retrying in 2 s", flush=True)
            stop.wait(2.0)
            continue
        stop.wait(interval)


if __name__ == "__main__":
    main()
