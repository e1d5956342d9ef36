"""The scenarios: each seeds probe tasks, injects one fault, and checks one guarantee."""

from __future__ import annotations

import functools
import json
import os
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from relier.chaos.deploys import rolling_deploy
from relier.chaos.engine import ChaosContext, Verdict, latency_numbers
from relier.chaos.outages import network_partition, redis_restart
from relier.envelope import Envelope, seal
from relier.message import build_message
from relier.procinfo import children, parent_pid
from relier.reasons import DeadLetterReason


@dataclass(frozen=True)
class Scenario:
    name: str
    proves: str
    options: dict[str, Any]
    run: Callable[[ChaosContext, dict[str, Any]], Verdict]


def worker_kill(ctx: ChaosContext, options: dict[str, Any]) -> Verdict:
    """SIGKILL pool processes (or whole workers) running probe tasks."""
    tasks, kills, whole = int(options["tasks"]), int(options["kills"]), bool(options["whole_worker"])
    ctx.cluster.start_worker(concurrency=2)
    if whole:
        ctx.cluster.start_worker(concurrency=2)
    probe = ctx.probe("sleep")
    ids = [probe.push(ctx.run_id, float(options["seconds"])).id for _ in range(tasks)]
    ctx.report("seeded", {"tasks": tasks})
    samples: list[float] = []
    killed = 0
    wanted = set(ids)

    def running() -> dict[str, int]:
        started, completed = ctx.marks("started"), ctx.marks("completed")
        return {task_id: max(attempts) for task_id, attempts in started.items()
                if task_id in wanted and task_id not in completed}

    victims: set[str] = set()

    def next_victim() -> tuple[str, int] | None:
        # spread the kills: a task killed more than its max_resurrections is (rightly) a dead
        # letter, which is the poison-pill guarantee, not the one this scenario checks
        candidates = list(running().items())
        if not candidates:
            return None
        fewest = min((task_id in victims, attempt) for task_id, attempt in candidates)
        return ctx.rng.choice([c for c in candidates if (c[0] in victims, c[1]) == fewest])

    for _ in range(kills):
        if not ctx.wait(lambda: next_victim() is not None, 30):
            break
        chosen = next_victim()
        if chosen is None:
            continue
        task_id, attempt = chosen
        victims.add(task_id)
        holder = cast(bytes | None, ctx.relier.store.client.hget(
            ctx.relier.keys.record(task_id), "holder"))
        if holder is None:
            continue
        pid = int(holder.decode().rsplit("/", 1)[1])
        killed_at = time.time()
        if whole:
            worker = next((w for w in ctx.cluster.workers if parent_pid(pid) == w.pid), None)
            if worker is None:
                continue
            worker.kill()
            ctx.cluster.start_worker(concurrency=2)
        else:
            os.kill(pid, signal.SIGKILL)
        killed += 1
        ctx.report("killed", {"task": task_id, "pid": pid, "whole_worker": whole})
        if ctx.wait(functools.partial(_restarted, ctx, task_id, attempt), 30):
            samples.append(ctx.marks("started")[task_id][attempt + 1] - killed_at)
    ctx.wait(lambda: all(s in {"completed", "dead_lettered"} for s in ctx.states(ids)), 120)
    states = ctx.states(ids)
    completions = ctx.marks("completed")
    doubled = [task_id for task_id in ids if len(completions.get(task_id, {})) > 1]
    lost = [task_id for task_id, state in zip(ids, states, strict=True) if state != "completed"]
    verdict = Verdict("worker-kill", held=not doubled and not lost, numbers={
        "tasks": tasks, "kills": killed, "completed": states.count("completed"),
        "completed_twice": len(doubled), "lost": len(lost),
        "dead_lettered": states.count("dead_lettered"), **latency_numbers(samples)})
    verdict.failures += [f"{t} completed twice" for t in doubled]
    verdict.failures += [f"{t} not completed ({s})" for t, s in zip(ids, states, strict=True)
                         if s != "completed"]
    return verdict


def _restarted(ctx: ChaosContext, task_id: str, attempt: int) -> bool:
    return attempt + 1 in ctx.marks("started").get(task_id, {})


def task_corrupt(ctx: ChaosContext, options: dict[str, Any]) -> Verdict:
    """Publish tampered, wrongly keyed and garbage messages to a serving worker."""
    ctx.cluster.start_worker(concurrency=1)
    kid, secret = ctx.relier.settings.signing_keys[0]
    cases: dict[str, tuple[bytes, DeadLetterReason]] = {}
    good = seal(Envelope(task="relier.chaos.sleep", id="x", args=(ctx.run_id, 0.0),
                         queue="chaos"), kid, secret)
    tampered = bytearray(good)
    tampered[-2] ^= 1
    cases["tampered"] = (bytes(tampered), DeadLetterReason.BAD_SIGNATURE)
    cases["unknown_key"] = (seal(Envelope(task="relier.chaos.sleep", id="y", queue="chaos"),
                                 "rotated-out", b"z" * 32), DeadLetterReason.UNKNOWN_KEY)
    cases["garbage"] = (ctx.rng.randbytes(64), DeadLetterReason.UNDECODABLE)  # --seed repeats it
    published: dict[str, tuple[str, DeadLetterReason, bytes]] = {}
    for _ in range(int(options["rounds"])):
        for name, (body, reason) in cases.items():
            task_id = str(uuid.uuid4())
            message = build_message(task_name="relier.chaos.sleep", task_id=task_id, body=body,
                                    queue="chaos", priority=0, time_limits=(None, None),
                                    args=(), kwargs={})
            ctx.relier.store.client.lpush(ctx.relier.broker_keys.queue_list("chaos"),
                                          message.with_tag(f"{task_id}.1"))
            published[task_id] = (name, reason, body)
    ctx.report("published", {"messages": len(published)})
    client, keys = ctx.relier.store.client, ctx.relier.keys
    entries: dict[str, str] = {}

    def all_kept() -> bool:
        for entry in ctx.relier.dead_letters.iter_entries():
            if entry.claimed_id in published:
                entries[entry.claimed_id] = entry.id
        return len(entries) == len(published)

    ctx.wait(all_kept, 30)
    verdict = Verdict("task-corrupt", held=True)
    for task_id, (name, reason, body) in published.items():
        record = cast(list[bytes | None], client.hmget(keys.record(entries[task_id]), "reason", "raw"))
        if record[0] is None or record[0].decode() != reason or record[1] != body:
            verdict.held = False
            verdict.failures.append(f"{name}: expected a {reason} dead letter with its raw bytes")
    still_serving = ctx.probe("sleep").push(ctx.run_id, 0.0)
    serving = still_serving.result(timeout=30) == 1
    verdict.held = verdict.held and serving
    if not serving:
        verdict.failures.append("the worker stopped serving")
    verdict.numbers = {"messages": len(entries), "dead_lettered": len(entries) - len(verdict.failures),
                       "worker_kept_serving": serving}
    return verdict


def slow_task(ctx: ChaosContext, options: dict[str, Any]) -> Verdict:
    """Sync and async probes that overrun their soft and hard timeouts."""
    worker = ctx.cluster.start_worker(concurrency=2)
    handles = [ctx.probe(name).push(ctx.run_id)
               for name in ("overrun", "overrun_async") for _ in range(int(options["tasks"]))]
    ids = [handle.id for handle in handles]
    ctx.report("seeded", {"tasks": len(ids)})
    ctx.wait(lambda: all(s == "dead_lettered" for s in ctx.states(ids)), 60)
    client, keys = ctx.relier.store.client, ctx.relier.keys
    verdict = Verdict("slow-task", held=True)
    stopped = checkpointed = 0
    for task_id in ids:
        reason, partial = client.hmget(keys.record(task_id), "reason", "partial")
        if reason == b"hard_timeout":
            stopped += 1
        else:
            verdict.failures.append(f"{task_id}: expected a hard_timeout dead letter, got {reason!r}")
        checkpointed += partial is not None
    if checkpointed < len(ids):
        verdict.failures.append(f"the soft hook checkpointed {checkpointed} of {len(ids)}")
    healthy = ctx.probe("sleep").push(ctx.run_id, 0.0).result(timeout=30) == 1
    if not healthy:
        verdict.failures.append("the worker was not healthy after the timeouts")
    verdict.held = not verdict.failures and worker.process is not None and worker.process.poll() is None
    verdict.numbers = {"tasks": len(ids), "stopped_at_hard_timeout": stopped,
                       "soft_hook_checkpointed": checkpointed, "worker_healthy": healthy}
    return verdict


def worker_pause(ctx: ChaosContext, options: dict[str, Any]) -> Verdict:
    """SIGSTOP a whole worker past its lease, then SIGCONT it."""
    paused = ctx.cluster.start_worker(concurrency=2)
    probe = ctx.probe("sleep")
    handles = [probe.push(ctx.run_id, float(options["seconds"])) for _ in range(2)]
    ids = [handle.id for handle in handles]
    ctx.wait(lambda: set(ids) <= set(ctx.marks("started")), 30)
    ctx.cluster.start_worker(concurrency=2)  # the replacement that takes over
    group = [paused.pid, *children(paused.pid)]
    for pid in group:
        os.kill(pid, signal.SIGSTOP)
    ctx.report("paused", {"pids": group, "seconds": options["pause"]})
    time.sleep(float(options["pause"]))  # the fault itself: a worker frozen past its lease
    for pid in group:
        os.kill(pid, signal.SIGCONT)
    ctx.report("resumed", {"pids": group})
    results = [handle.result(timeout=120) for handle in handles]
    client, keys = ctx.relier.store.client, ctx.relier.keys
    newest = [int(cast(bytes | None, client.hget(keys.record(task_id), "attempt")) or 0)
              for task_id in ids]
    ctx.wait(lambda: len(ctx.marks("completed")) >= len(ids), 30)
    rejected = ctx.count_events("rejected_write", ids)
    verdict = Verdict("worker-pause", held=results == newest, numbers={
        "tasks": len(ids), "paused_pids": len(group), "results_from_newest_attempt": sum(
            r == n for r, n in zip(results, newest, strict=True)),
        "late_writes_rejected": rejected, "resurrected": sum(n > 1 for n in newest)})
    if results != newest:
        verdict.failures.append(f"results {results} are not the newest attempts {newest}")
    return verdict


def resurrector_kill(ctx: ChaosContext, options: dict[str, Any]) -> Verdict:
    """SIGKILL the resurrector while it re-queues the tasks of a dead worker."""
    doomed = ctx.cluster.start_worker(concurrency=int(options["tasks"]))
    probe = ctx.probe("sleep")
    ids = [probe.push(ctx.run_id, float(options["seconds"])).id for _ in range(int(options["tasks"]))]
    ctx.wait(lambda: set(ids) <= set(ctx.marks("started")), 60)
    ctx.cluster.kill_resurrector()
    doomed.kill()
    ctx.cluster.start_resurrector({"RELIER_REAP_BATCH": "1"})
    ctx.wait(lambda: any(len(ctx.marks("started").get(t, {})) > 1 for t in ids)
             or ctx.states(ids).count("queued") > 0, 30)
    ctx.cluster.kill_resurrector()
    ctx.report("resurrector killed", {})
    ctx.cluster.start_resurrector()
    ctx.cluster.start_worker(concurrency=int(options["tasks"]))
    ctx.wait(lambda: all(s == "completed" for s in ctx.states(ids)), 120)
    states = ctx.states(ids)
    completions = ctx.marks("completed")
    doubled = [t for t in ids if len(completions.get(t, {})) > 1]
    verdict = Verdict("resurrector-kill", held=states.count("completed") == len(ids) and not doubled,
                      numbers={"tasks": len(ids), "completed": states.count("completed"),
                               "completed_twice": len(doubled)})
    verdict.failures += [f"{t} {s}" for t, s in zip(ids, states, strict=True) if s != "completed"]
    return verdict


def load_spike(ctx: ChaosContext, options: dict[str, Any]) -> Verdict:
    """Several producers push faster than the queue's admission limit allows."""
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - this scenario only

    from relier.admission import clear_limits, set_limits  # noqa: PLC0415
    from relier.errors import AdmissionRejectedError  # noqa: PLC0415

    limit, burst = float(options["limit_rate"]), int(options["burst"])
    ctx.cluster.start_worker(concurrency=2)
    set_limits(ctx.relier.store, "queue", "chaos", rate=limit, burst=burst)
    probe = ctx.probe("sleep")
    producers, rate, duration = int(options["producers"]), float(options["rate"]), float(options["duration"])
    interval = producers / rate

    def produce(_: int) -> tuple[list[str], list[float]]:
        accepted, waits = [], []
        deadline = time.monotonic() + duration
        while time.monotonic() < deadline:
            began = time.monotonic()
            try:
                accepted.append(probe.push(ctx.run_id, 0.0).id)
            except AdmissionRejectedError as exc:
                waits.append(exc.retry_after)
            time.sleep(max(0.0, interval - (time.monotonic() - began)))
        return accepted, waits

    began = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=producers) as pool:
            outcomes = list(pool.map(produce, range(producers)))
    finally:
        clear_limits(ctx.relier.store, "queue", "chaos")
    elapsed = time.monotonic() - began
    ids = [task_id for accepted, _ in outcomes for task_id in accepted]
    waits = [wait for _, rejected in outcomes for wait in rejected]
    ctx.report("pushed", {"accepted": len(ids), "rejected": len(waits)})
    ctx.wait(lambda: all(s == "completed" for s in ctx.states(ids)), 120)
    states = ctx.states(ids)
    allowed = burst + limit * elapsed + 1
    verdict = Verdict("load-spike", held=True, numbers={
        "attempted": len(ids) + len(waits), "accepted": len(ids), "rejected": len(waits),
        "allowed_by_bucket": round(allowed, 1), "completed": states.count("completed"),
        "retry_after_max_s": max(waits, default=0.0)})
    if len(ids) > allowed:
        verdict.failures.append(f"admitted {len(ids)}, the bucket allows {allowed:.0f}")
    if any(not 0 < wait <= 1 / limit + 0.01 for wait in waits):
        verdict.failures.append("a rejection carried an unusable retry_after")
    if states.count("completed") != len(ids):
        verdict.failures.append(f"{len(ids) - states.count('completed')} accepted tasks not completed")
    verdict.held = not verdict.failures
    return verdict


SCENARIOS: dict[str, Scenario] = {
    "worker-kill": Scenario("worker-kill", "all delivered, none completed twice, recovery bounded",
                            {"tasks": 6, "kills": 3, "seconds": 1.5, "whole_worker": False},
                            worker_kill),
    "task-corrupt": Scenario("task-corrupt", "bad messages become dead letters with their bytes",
                             {"rounds": 2}, task_corrupt),
    "slow-task": Scenario("slow-task", "hook runs, body stopped at hard timeout, worker healthy",
                          {"tasks": 2}, slow_task),
    "worker-pause": Scenario("worker-pause", "late writes rejected; the newer attempt's result stands",
                             {"seconds": 6.0, "pause": 4.0}, worker_pause),
    "load-spike": Scenario("load-spike", "admission holds its limits; every rejection has a usable "
                           "retry_after; no accepted task is lost",
                           {"rate": 200.0, "duration": 3.0, "producers": 4, "limit_rate": 50.0,
                            "burst": 20}, load_spike),
    "resurrector-kill": Scenario("resurrector-kill", "a resurrector killed mid-batch loses and "
                                 "doubles nothing", {"tasks": 4, "seconds": 3.0}, resurrector_kill),
    "network-partition": Scenario(
        "network-partition", "the connected side takes over within the bound; no task's fenced "
        "side effect lands on both sides", {"tasks": 2, "seconds": 4.0, "task_seconds": 3.0,
                                            "mode": "partition", "recovery_bound": 6.0},
        network_partition),
    "redis-restart": Scenario(
        "redis-restart", "nothing acknowledged is lost beyond the appendfsync bound; workers and "
        "resurrector reconnect by themselves", {"rate": 50.0, "duration": 3.0, "down_seconds": 1.0,
                                                "task_seconds": 0.05, "appendfsync": ""},
        redis_restart),
    "rolling-deploy": Scenario(
        "rolling-deploy", "workers replaced by SIGTERM with old and new code side by side: nothing "
        "lost or doubled; every task ran on code that understood its version",
        {"rounds": 3, "tasks": 6, "task_seconds": 2.5, "drain": 1.0}, rolling_deploy),
}


def run(name: str, ctx: ChaosContext, overrides: dict[str, Any] | None = None) -> Verdict:
    scenario = SCENARIOS[name]
    options = {**scenario.options, **(overrides or {})}
    ctx.report("started", {"scenario": name, "options": options, "run": ctx.run_id})
    try:
        verdict = scenario.run(ctx, options)
    finally:
        ctx.cluster.stop()
    verdict.notes.append("ran against workers this engine started on this machine"
                         + ("" if ctx.server is None else ", on a Redis server it owns"))
    ctx.report("verdict", verdict.as_dict())
    return verdict


def describe() -> str:
    return json.dumps({name: {"proves": s.proves, "options": s.options}
                       for name, s in SCENARIOS.items()}, indent=2)

