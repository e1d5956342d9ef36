"""The rolling-deploy scenario: workers drained by SIGTERM and replaced, old and new code side by
side, producers of both versions pushing throughout."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
from typing import Any, cast

from relier.chaos.engine import ChaosContext, Verdict
from relier.testing import CeleryWorker

OLD, NEW = 1, 2

# An old producer: the probe at code version 1, pushing v1 envelopes, in its own process.
_OLD_PRODUCER = """
import json, sys
from relier.tasks import probes
run, seconds, count = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
print(json.dumps([probes["versioned"].push(run, seconds, 1).id for _ in range(count)]))
"""


def _push_old(ctx: ChaosContext, seconds: float, count: int) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", _OLD_PRODUCER, ctx.run_id, str(seconds), str(count)],
        env={**os.environ, "RELIER_REDIS_URL": ctx.relier.settings.redis_url,
             "RELIER_CHAOS_PROBE_VERSION": str(OLD)},
        capture_output=True, text=True, timeout=120, check=True)
    ids: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return ids


def _any_started(ctx: ChaosContext, ids: set[str]) -> bool:
    return bool(ids & set(ctx.marks("started")))


def _start(ctx: ChaosContext, version: int, drain: float) -> CeleryWorker:
    return ctx.cluster.start_worker(concurrency=2, env={
        "RELIER_CHAOS_PROBE_VERSION": str(version), "RELIER_DRAIN_TIMEOUT": str(drain),
        "RELIER_BOUNCE_DELAY": "0.3"})


def rolling_deploy(ctx: ChaosContext, options: dict[str, Any]) -> Verdict:
    """Replace every worker, one at a time, with SIGTERM while both versions push tasks."""
    rounds, per_round = int(options["rounds"]), int(options["tasks"])
    seconds, drain = float(options["task_seconds"]), float(options["drain"])
    if int(os.environ.get("RELIER_CHAOS_PROBE_VERSION", str(NEW))) != NEW:
        raise ValueError("rolling-deploy pushes the new version from this process: "
                         "unset RELIER_CHAOS_PROBE_VERSION")
    live = [_start(ctx, OLD, drain), _start(ctx, OLD, drain)]
    versioned = ctx.probe("versioned")
    ids = _push_old(ctx, seconds, per_round)
    stops: list[threading.Thread] = []
    for index in range(rounds):
        ctx.wait(functools.partial(_any_started, ctx, set(ids[-per_round:])), 60)
        victim = live.pop(0)
        stopping = threading.Thread(target=victim.stop, kwargs={"timeout": drain + 30}, daemon=True)
        stopping.start()  # SIGTERM: drain, then hand off what is left
        stops.append(stopping)
        live.append(_start(ctx, NEW, drain))
        ctx.report("replaced", {"round": index + 1, "stopped": victim.pid, "live": [w.pid for w in live]})
        # once a new worker serves, new producers ship v2 while old producers still ship v1
        ids += [versioned.push(ctx.run_id, seconds, NEW).id for _ in range(per_round // 2)]
        ids += _push_old(ctx, seconds, per_round - per_round // 2)
    for stopping in stops:
        stopping.join(drain + 60)
    ctx.wait(lambda: all(s == "completed" for s in ctx.states(ids)), 180)
    doubled, missing = ctx.completions(ids)
    raw = cast(dict[bytes, bytes], ctx.relier.store.client.hgetall(
        f"{ctx.relier.keys.prefix}:chaos:{ctx.run_id}:ran_by"))
    ran_by = {key.decode(): value.decode() for key, value in raw.items()}
    too_old = [t for t, pair in ran_by.items() if int(pair.split(":")[0]) < int(pair.split(":")[1])]
    old_ran = sum(1 for pair in ran_by.values() if pair.startswith(f"{OLD}:"))
    verdict = Verdict("rolling-deploy", held=True, numbers={
        "tasks": len(ids), "workers_replaced": rounds, "completed": len(ids) - len(missing),
        "completed_twice": len(doubled), "lost": len(missing), "ran_on_old_code": old_ran,
        "ran_on_new_code": len(ran_by) - old_ran, "ran_on_too_old_code": len(too_old),
        "bounced_by_old_code": ctx.count_events("bounced", ids),
        "handed_off_at_shutdown": ctx.count_events("handed_off", ids)})
    verdict.failures += [f"{t}: its fenced side effect landed twice" for t in doubled]
    verdict.failures += [f"{t} not completed" for t in missing]
    verdict.failures += [f"{t} ran on code older than its envelope" for t in too_old]
    verdict.held = not verdict.failures
    return verdict
