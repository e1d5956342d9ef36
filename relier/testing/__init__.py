"""Real processes for tests: a Redis-compatible server, Celery workers and the resurrector.

Used by relier's own suite, its benchmarks and chaos scenarios, and offered to users for
theirs. Every wait has a deadline. The servers are `relier.devserver`'s (`rl dev` runs them
too); workers, the resurrector and lifecycle-event capture live in this package's modules.
"""

from __future__ import annotations

from relier.devserver import LOOPBACK, RedisServer, SentinelServer, free_port, server_binary, wait_until
from relier.testing.events import LifecycleEvents
from relier.testing.processes import stop_process
from relier.testing.resurrector import FAST_LEASES, start_resurrector, wait_ticking
from relier.testing.workers import CeleryWorker

__all__ = ["FAST_LEASES", "LOOPBACK", "CeleryWorker", "LifecycleEvents", "RedisServer", "SentinelServer",
           "free_port", "server_binary", "start_resurrector", "stop_process", "wait_ticking",
           "wait_until"]
