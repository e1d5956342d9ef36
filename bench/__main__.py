"""``python -m bench``: run one registered benchmark by name, or all of them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bench import Benchmark, admission, dispatch, idempotency, leases, recovery, shutdown

#: Every benchmark, in the order ``python -m bench`` (no subcommand) runs them.
REGISTRY: tuple[Benchmark, ...] = (dispatch.BENCHMARK, recovery.BENCHMARK, leases.BENCHMARK,
                                   idempotency.BENCHMARK, admission.BENCHMARK,
                                   shutdown.BENCHMARK)


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="relier benchmarks. Without a benchmark name, runs every one with defaults.",
    )
    subparsers = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK")
    by_name: dict[str, argparse.ArgumentParser] = {}
    for benchmark in REGISTRY:
        sub = subparsers.add_parser(benchmark.name, help=benchmark.help,
                                    description=benchmark.help)
        benchmark.add_arguments(sub)
        by_name[benchmark.name] = sub
    return parser, by_name


def main(argv: Sequence[str] | None = None) -> int:
    parser, subparsers = build_parser()
    args = parser.parse_args(argv)
    selected: list[tuple[Benchmark, argparse.Namespace]]
    if args.benchmark is None:
        selected = [(b, subparsers[b.name].parse_args([])) for b in REGISTRY]
    else:
        benchmark = next(b for b in REGISTRY if b.name == args.benchmark)
        selected = [(benchmark, args)]
    status = 0
    for benchmark, options in selected:
        status = max(status, benchmark.run(options))
    return status


if __name__ == "__main__":
    sys.exit(main())
