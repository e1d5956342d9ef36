"""Scenarios that take Redis away: a worker cut off from it, and the server itself killed."""

from __future__ import annotations

import threading
import time
from typing import Any, cast
from urllib.parse import urlsplit

import redis

from relier.chaos.engine import ChaosContext, ScenarioUnavailableError, Verdict, latency_numbers
from relier.chaos.proxy import FaultMode, FaultProxy
from relier.errors import RelierError


def network_partition(ctx: ChaosContext, options: dict[str, Any]) -> Verdict:
    """Cut a worker off from Redis through the fault proxy, let the other side take over, heal."""
    mode, cut_for = FaultMode(options["mode"]), float(options["seconds"])
    tasks, body_seconds = int(options["tasks"]), float(options["task_seconds"])
    url = urlsplit(ctx.relier.settings.redis_url)
    proxy = FaultProxy(url.hostname or "127.0.0.1", url.port or 6379).start()
    try:
        ctx.cluster.start_worker(concurrency=tasks, redis_url=proxy.url_for(ctx.relier.settings.redis_url))
        probe = ctx.probe("fenced_sleep")
        ids = [probe.push(ctx.run_id, body_seconds).id for _ in range(tasks)]
        ctx.report("seeded", {"tasks": tasks})
        ctx.wait(lambda: set(ids) <= set(ctx.marks("started")), 60)
        ctx.cluster.start_worker(concurrency=tasks)  # the side that stays connected
        proxy.set_mode(mode)
        cut_at = time.time()
        ctx.report("partitioned", {"mode": str(mode), "seconds": cut_for})
        time.sleep(cut_for)  # the fault itself: the far worker is unreachable for this long
        proxy.heal()
        ctx.report("healed", proxy.status())
        ctx.wait(lambda: all(s == "completed" for s in ctx.states(ids)), 120)
        # the far side's bodies may still be finishing: give their late writes a chance to land
        ctx.wait(lambda: all(len(ctx.marks("finished").get(t, {})) > 1 for t in ids),
                 body_seconds + cut_for)
    finally:
        proxy.stop()
    started, finished = ctx.marks("started"), ctx.marks("finished")
    samples = [min(at for attempt, at in started[t].items() if attempt > 1) - cut_at
               for t in ids if len(started.get(t, {})) > 1]
    doubled, missing = ctx.completions(ids)
    bound = float(options["recovery_bound"])
    numbers = latency_numbers(samples)
    verdict = Verdict("network-partition", held=True, numbers={
        "tasks": tasks, "mode": str(mode), "partition_s": cut_for,
        "completed": tasks - len(missing), "completed_twice": len(doubled), "lost": len(missing),
        "taken_over": len(samples),
        "bodies_finished_on_both_sides": sum(len(finished.get(t, {})) > 1 for t in ids),
        "late_side_effects_refused": sum(len(finished.get(t, {})) - 1 for t in ids if finished.get(t)),
        **numbers})
    verdict.failures += [f"{t}: its fenced side effect landed twice" for t in doubled]
    verdict.failures += [f"{t} not completed" for t in missing]
    p99 = numbers["recovery_p99_s"]
    if p99 is not None and p99 > bound:
        verdict.failures.append(f"recovery p99 {p99:.2f} s is over the {bound} s bound")
    verdict.held = not verdict.failures
    return verdict


def redis_restart(ctx: ChaosContext, options: dict[str, Any]) -> Verdict:
    """kill -9 the Redis server under load, restart it from its AOF, and count what survived."""
    server = ctx.server
    if server is None:
        raise ScenarioUnavailableError(
            "redis-restart kills and restarts the Redis server, and RELIER_REDIS_URL points at a "
            "server this command did not start: run `rl chaos redis-restart --own-server` (or "
            "`python -m chaos`) to use a server it owns")
    if options["appendfsync"]:
        ctx.relier.store.client.config_set("appendfsync", str(options["appendfsync"]))
    fsync = _appendfsync(ctx)  # the policy in force when the server dies
    worker = ctx.cluster.start_worker(concurrency=2)
    resurrector = ctx.cluster.resurrector_pid
    duration = float(options["duration"])
    producer = _Producer(ctx, float(options["rate"]), float(options["task_seconds"])).start()
    time.sleep(duration / 2)  # load before the crash
    server.kill()
    killed_at = time.time()
    ctx.report("redis killed", {"acknowledged": len(producer.acknowledged)})
    time.sleep(float(options["down_seconds"]))  # the outage itself
    server.start()
    ctx.report("redis restarted", {"down_s": round(time.time() - killed_at, 2)})
    time.sleep(duration / 2)  # load after the restart
    producer.stop()
    acknowledged, refused, waited = producer.acknowledged, producer.refused, producer.waited
    ids = [task_id for task_id, _ in acknowledged]
    ctx.wait(lambda: all(s == "completed" for s in ctx.states(ids)), 120)
    doubled, missing = ctx.completions(ids)
    # acknowledged writes the documented bound allows a crash to lose: none with `always`, the
    # last second's with `everysec`, anything with `no`; a process kill (not an OS crash) keeps
    # what reached the kernel, so the measured loss is normally zero
    window = {"always": 0.0, "everysec": 1.0}.get(fsync, float("inf"))
    allowed = sum(1 for _, at in acknowledged if killed_at - window <= at <= killed_at)
    after = [t for t, at in acknowledged if at > killed_at]
    worker_alive = worker.process is not None and worker.process.poll() is None
    verdict = Verdict("redis-restart", held=True, numbers={
        "acknowledged": len(ids), "refused_while_down": refused,
        "waited_through_outage": waited, "appendfsync": fsync,
        "lost": len(missing), "allowed_by_fsync_bound": allowed, "completed": len(ids) - len(missing),
        "completed_twice": len(doubled), "pushed_after_restart": len(after),
        "worker_reconnected": worker_alive and not set(after) & set(missing),
        "resurrector_reconnected": ctx.cluster.resurrector_alive()
        and ctx.cluster.resurrector_pid == resurrector})
    states = dict(zip(ids, ctx.states(ids), strict=True))
    verdict.notes += [f"{t} acknowledged at {at:.3f} (kill at {killed_at:.3f}), now {states[t]}"
                      for t, at in acknowledged if t in missing]
    if len(missing) > allowed:
        verdict.failures.append(f"{len(missing)} acknowledged tasks lost; {fsync} allows {allowed}")
    verdict.failures += [f"{t}: its fenced side effect landed twice" for t in doubled]
    if not verdict.numbers["worker_reconnected"]:
        verdict.failures.append("the worker did not serve the tasks pushed after the restart")
    if not verdict.numbers["resurrector_reconnected"]:
        verdict.failures.append("the resurrector did not survive the restart")
    if not after:
        verdict.failures.append("no push was acknowledged after the restart")
    verdict.held = not verdict.failures
    return verdict


class _Producer:
    """Pushes probe tasks at a steady rate; records what Redis acknowledged and when."""

    def __init__(self, ctx: ChaosContext, rate: float, task_seconds: float) -> None:
        self.ctx, self.rate, self.task_seconds = ctx, rate, task_seconds
        self.acknowledged: list[tuple[str, float]] = []
        self.refused = 0
        #: pushes that were retried through the outage (over half a second) and then answered
        self.waited = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="chaos-producer", daemon=True)

    def start(self) -> _Producer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _produce(self) -> None:
        probe = self.ctx.probe("fenced_sleep")
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                task_id = probe.push(self.ctx.run_id, self.task_seconds).id
                self.acknowledged.append((task_id, time.time()))
                self.waited += time.monotonic() - began > 0.5
            except (redis.RedisError, RelierError, OSError):
                self.refused += 1  # the producer was told nothing was accepted; it may retry
            self._stop.wait(max(0.0, 1 / self.rate - (time.monotonic() - began)))


def _appendfsync(ctx: ChaosContext) -> str:
    config = cast(dict[Any, Any], ctx.relier.store.client.config_get("appendfsync"))
    value = config.get("appendfsync", config.get(b"appendfsync", "unknown"))
    return value.decode() if isinstance(value, bytes) else str(value)
