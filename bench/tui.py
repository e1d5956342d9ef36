"""The console under load: update latency (change in Redis -> row updated), CPU and memory.

On a fresh Redis-compatible server (loopback, keyspace notifications on), N inflight tasks
(default 10,000) are seeded as relier records held by 50 live processes whose leases a writer
keeps fresh. A separate writer process then changes R records per second (default 1,000): each
change bumps a record's attempt and fence and appends a lifecycle event, and the writer notes
when (CLOCK_MONOTONIC, shared by every process on the machine). The console (`RelierConsole`,
headless through Textual's `run_test`) runs in this process and notes when each row update was
applied; latency is the difference per changed task. CPU is this process's CPU time over the
measured window; memory its peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import Benchmark
from bench.figures import Figure, format_text, table
from bench.options import add_number, add_output_options
from bench.result_files import machine_summary, now_utc, publish, server_label
from bench.senders import bench_settings
from bench.servers import probe_machine, running_server
from relier.procinfo import memory
from relier.stats import percentile
from relier.testing import server_binary

NAME = "tui"
PROCESSES = 50

# The writer: seeds the inflight set, then changes records at a steady rate and keeps leases
# fresh; prints {task id: [monotonic times of its changes]} as JSON when done.
WRITER = r"""
import json, random, sys, time
import redis
url, prefix = sys.argv[1], sys.argv[5]
tasks, rate, seconds = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
r = redis.Redis.from_url(url)
processes = [f"bench@host/{10000 + i}" for i in range(50)]
ids = [f"tui-{i:05d}" for i in range(tasks)]
def refresh_leases():
    now_s, now_us = r.time()
    r.zadd(f"{prefix}:leases", {p: now_s * 1000 + now_us // 1000 for p in processes})
refresh_leases()
pipe = r.pipeline(transaction=False)
now_ms = int(time.time() * 1000)
for i, task_id in enumerate(ids):
    holder = processes[i % len(processes)]
    pipe.hset(f"{prefix}:t:{task_id}", mapping={"name": f"bench.task{i % 7}", "queue": "default",
              "state": "running", "attempt": 1, "fence": 1, "holder": holder, "worker": holder,
              "started": now_ms, "updated": now_ms})
    pipe.sadd(f"{prefix}:held:{holder}", task_id)
    if i % 1000 == 999:
        pipe.execute()
pipe.execute()
print("seeded", flush=True)
sys.stdin.readline()  # the console has loaded the initial state
changes = {}
began = time.monotonic()
batch = max(1, int(rate / 50))
sent = 0
next_lease = began
while time.monotonic() - began < seconds:
    due = began + sent / rate
    pause = due - time.monotonic()
    if pause > 0:
        time.sleep(pause)
    pipe = r.pipeline(transaction=False)
    chosen = random.sample(ids, batch)
    for task_id in chosen:
        pipe.hincrby(f"{prefix}:t:{task_id}", "attempt", 1)
        pipe.hincrby(f"{prefix}:t:{task_id}", "fence", 1)
        pipe.xadd(f"{prefix}:events", {"type": "started", "id": task_id, "worker": "bench@host"},
                  maxlen=100000, approximate=True)
    pipe.execute()
    stamp = time.monotonic()
    for task_id in chosen:
        changes.setdefault(task_id, []).append(stamp)
    sent += batch
    if stamp >= next_lease:
        refresh_leases()
        next_lease = stamp + 0.5
print(json.dumps(changes), flush=True)
"""


async def _measure(url: str, tasks: int, rate: float, seconds: float) -> dict[str, Any]:
    from celery import Celery  # noqa: PLC0415 - the console's imports stay out of other benchmarks

    from relier.binding import Relier  # noqa: PLC0415
    from relier_tui.app import RelierConsole  # noqa: PLC0415
    from relier_tui.widgets.inflight import InflightPane  # noqa: PLC0415

    writer = subprocess.Popen([sys.executable, "-c", WRITER, url, str(tasks), str(rate), str(seconds), "rl"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert writer.stdin is not None
    assert writer.stdout is not None
    if writer.stdout.readline().strip() != "seeded":
        raise RuntimeError("the writer did not seed the inflight set")
    relier = Relier(Celery("bench-tui", set_as_current=False), settings=bench_settings(url))
    app = RelierConsole(relier, reconcile_interval=5.0)
    async with app.run_test(size=(160, 50)) as pilot:
        deadline = time.monotonic() + 120
        while len(app.query_one(InflightPane).tasks) < tasks:
            if time.monotonic() > deadline:
                raise RuntimeError("the console never showed the seeded tasks")
            await pilot.pause(0.1)
        app.record_applied = True
        app.applied_at.clear()
        cpu_before, wall_before = time.process_time(), time.monotonic()
        writer.stdin.write("go\n")
        writer.stdin.flush()
        loop = asyncio.get_running_loop()
        output = await loop.run_in_executor(None, writer.stdout.readline)
        await pilot.pause(1.0)  # let the last changes land
        cpu, wall = time.process_time() - cpu_before, time.monotonic() - wall_before
        applied = dict(app.applied_at)
    writer.wait(30)
    changes: dict[str, list[float]] = json.loads(output)
    latencies = []
    missed = 0
    for task_id, stamps in changes.items():
        seen = applied.get(task_id)
        if seen is None or seen < stamps[-1]:
            missed += 1
            continue
        latencies.append(seen - stamps[-1])
    latencies.sort()

    def pct(q: float) -> float | None:
        return percentile(latencies, q) * 1000 if latencies else None

    return {"p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": pct(1.0), "changed_tasks": len(changes),
            "changes": sum(len(s) for s in changes.values()), "measured": len(latencies),
            "not_seen_after_last_change": missed, "cpu_percent": 100 * cpu / wall,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_mb": memory(os.getpid(), "console").rss_kb / 1024, "seconds": wall}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_number(parser, "--tasks", 10_000, "inflight tasks")
    add_number(parser, "--rate", 1000.0, "record changes + events per second")
    add_number(parser, "--seconds", 20.0, "measured window")
    add_output_options(parser, NAME)


def run(args: argparse.Namespace) -> int:
    began = now_utc()
    binary = server_binary(args.server)
    with tempfile.TemporaryDirectory(prefix="relier-bench-tui-") as tmp, \
            running_server(Path(tmp) / "server", binary) as server:
        machine = probe_machine(server, binary)
        os.environ["RELIER_REDIS_URL"] = server.url
        result = asyncio.run(_measure(server.url, args.tasks, args.rate, args.seconds))
    method = (f"{args.tasks:,} inflight records held by {PROCESSES} live processes, {args.rate:g} "
              f"record changes + events/s from a separate writer for {args.seconds:g} s; latency = "
              "row update applied (console, headless run_test) minus the change's write, per task's "
              f"last change; fresh {server_label(machine)}")
    figures = [
        Figure(name="console update latency p50", unit="ms", method=method, relier=result["p50_ms"]),
        Figure(name="console update latency p99 (target < 250 ms)", unit="ms", method=method,
               relier=result["p99_ms"]),
        Figure(name="console CPU while updating", unit="%", method=method, relier=result["cpu_percent"]),
        Figure(name="console peak RSS (target < 300 MB)", unit="MiB", method=method,
               relier=result["peak_rss_mb"]),
    ]
    details = table("console under load", method, ("measure", "value"),
                    [(key, f"{value:.1f}" if isinstance(value, float) else value)
                     for key, value in result.items()])
    publish(NAME, args.json_out, began,
            [f"tui: console under load ({machine_summary(machine)})",
             format_text(figures, [details])],
            description="the relier_tui console's update latency, CPU and memory under load",
            config={"tasks": args.tasks, "rate": args.rate, "seconds": args.seconds},
            machine=machine, figures=figures, tables=[details], result=result)
    return 0


BENCHMARK = Benchmark(
    name=NAME,
    help="the console with 10,000 inflight tasks and 1,000 events/s: update latency, CPU, memory",
    add_arguments=add_arguments,
    run=run,
    scale={"seconds": 60.0},
)
