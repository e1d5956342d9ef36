"""``python -m bench``: run every registered benchmark (then regenerate the page), or one by name.

    python -m bench                 every benchmark, then docs/benchmarks.md and docs/img/
    python -m bench --scale         the same with the larger samples
    python -m bench NAME [options]  one benchmark (``--scale`` goes before NAME)
    python -m bench report          re-render the page from bench/results/*-latest.json
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Sequence

from bench import (
    Benchmark,
    admission,
    ceiling,
    coldstart,
    commands,
    dispatch,
    durable,
    fds,
    idempotency,
    leases,
    memory,
    page,
    recovery,
    redis_cost,
    result_path,
    shutdown,
    throughput,
    tui,
)

#: Every benchmark, in the order ``python -m bench`` (no subcommand) runs them.
REGISTRY: tuple[Benchmark, ...] = (
    dispatch.BENCHMARK,
    recovery.BENCHMARK,
    leases.BENCHMARK,
    idempotency.BENCHMARK,
    admission.BENCHMARK,
    shutdown.BENCHMARK,
    coldstart.BENCHMARK,
    memory.BENCHMARK,
    fds.BENCHMARK,
    commands.BENCHMARK,
    result_path.BENCHMARK,
    redis_cost.BENCHMARK,
    throughput.BENCHMARK,
    ceiling.BENCHMARK,
    durable.BENCHMARK,
    tui.BENCHMARK,
)

#: Names reserved for benchmarks not built yet: ``python -m bench NAME`` says so and exits 2,
#: and the page lists them as not measured.
PLANNED: dict[str, str] = {}

REPORT = "report"


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="relier benchmarks against vanilla Celery. Without a benchmark name, runs "
                    "every one, then regenerates docs/benchmarks.md and its plots.",
    )
    parser.add_argument("--scale", action="store_true",
                        help="larger samples: 10,000 tasks, 10 kills, 2,000 duplicate "
                             "submissions, 50,000 admission samples, 25 simultaneous deaths")
    parser.add_argument("--no-docs", action="store_true",
                        help="run every benchmark but leave docs/benchmarks.md alone")
    parser.add_argument("--note", default=None,
                        help="a note printed at the top of the regenerated page (e.g. how "
                             "quiet the machine was)")
    subparsers = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK")
    by_name: dict[str, argparse.ArgumentParser] = {}
    for benchmark in REGISTRY:
        sub = subparsers.add_parser(benchmark.name, help=benchmark.help,
                                    description=benchmark.help)
        benchmark.add_arguments(sub)
        by_name[benchmark.name] = sub
    subparsers.add_parser(REPORT, help="re-render docs/benchmarks.md and its plots from "
                                       "bench/results/*-latest.json (measures nothing)")
    for name, what in PLANNED.items():
        subparsers.add_parser(name, help=f"reserved: {what}")
    return parser, by_name


def run_all(selected: Sequence[tuple[Benchmark, argparse.Namespace]]) -> tuple[int, list[str]]:
    """Run each in turn; a benchmark that raises is reported and the others still run."""
    status = 0
    failed: list[str] = []
    for benchmark, options in selected:
        print(f"== {benchmark.name}", flush=True)
        try:
            status = max(status, benchmark.run(options))
        except Exception:  # noqa: BLE001 - one broken benchmark must not cost the whole run
            traceback.print_exc()
            failed.append(benchmark.name)
            status = 1
    return status, failed


def write_page(since: float | None, *, note: str | None, scaled: bool | None) -> None:
    names = [name for benchmark in REGISTRY for name in (benchmark.name, *benchmark.results)]
    payloads = page.load_latest(names, since=since)
    for path in page.regenerate(payloads, order=names, planned=PLANNED, note=note,
                                scaled=scaled):
        print(f"wrote {path}")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser, subparsers = build_parser()
    args = parser.parse_args(arguments)
    if args.benchmark in PLANNED:
        print(f"python -m bench {args.benchmark}: {PLANNED[args.benchmark]}", file=sys.stderr)
        return 2
    if args.benchmark == REPORT:
        write_page(None, note=args.note, scaled=None)
        return 0
    if args.scale:
        for benchmark in REGISTRY:
            subparsers[benchmark.name].set_defaults(**benchmark.scale)
        args = parser.parse_args(arguments)
    if args.benchmark is not None:
        benchmark = next(b for b in REGISTRY if b.name == args.benchmark)
        return benchmark.run(args)
    began = time.time()
    status, failed = run_all([(b, subparsers[b.name].parse_args([])) for b in REGISTRY])
    if failed:
        print(f"failed: {', '.join(failed)} (left out of the page)", file=sys.stderr)
    if not args.no_docs:
        write_page(began, note=args.note, scaled=args.scale)
    return status


if __name__ == "__main__":
    sys.exit(main())
