"""``python -m bench ceiling``'s pure parts, ``/proc`` parsing, and ``throughput``'s per-pool
figures. Nothing here starts a server, a worker or a producer."""

from __future__ import annotations

import os

import pytest

from bench.__main__ import build_parser
from bench.ceiling import Cell, cell_rows, figures_of
from bench.ceiling import ratio_rows as ceiling_ratios
from bench.machine_cpu import CoreTimes, busy_fraction, parse_proc_stat, parse_process_stat
from bench.noop_arms import FAIR_BASELINE
from bench.saturation import SATURATED, Topology, bottleneck, pushes_within
from bench.throughput import DEFAULT_POOL, RATES, Rates, figure_name
from bench.throughput import figures_of as throughput_figures
from bench.throughput import ratio_rows as throughput_ratios

PROC_STAT = """cpu  100 10 50 800 40 0 0 0 0 0
cpu0 50 5 25 400 20 0 0 0 0 0
intr 12345
"""


def test_proc_stat_and_busy_fraction() -> None:
    first = parse_proc_stat(PROC_STAT)
    assert first == CoreTimes(busy=160, total=1000)  # idle + iowait are not busy
    assert busy_fraction(first, CoreTimes(busy=460, total=1400)) == 0.75
    assert busy_fraction(first, first) != busy_fraction(first, first)  # nan: no time passed
    with pytest.raises(ValueError, match="no aggregate"):
        parse_proc_stat("cpu0 1 2 3 4\n")


def test_process_stat() -> None:
    fields = " ".join(["S", *["0"] * 10, "250", "50", *["0"] * 30])
    seconds = parse_process_stat(f"1234 (celery worker (x)) {fields}")
    assert seconds == pytest.approx(300 / os.sysconf("SC_CLK_TCK"))  # utime + stime ticks


def test_bottleneck_says_what_saturated_first() -> None:
    assert bottleneck(0.97, 0.6, 8).startswith("the Redis main thread: ")
    machine = bottleneck(0.3, 0.98, 2)
    assert machine.startswith("the machine's cores: 98% of 2 busy")
    assert "30% of a core, not saturated" in machine
    assert bottleneck(0.3, 0.5, 2).startswith("neither: ")
    assert bottleneck(0.3, None, None).startswith("neither: ")
    assert bottleneck(SATURATED, 0.0, 2).startswith("the Redis main thread")


def test_pushes_within_the_window() -> None:
    assert pushes_within([0.5, 1.0, 1.5, 2.0, 2.5], 1.0, 2.0) == 2  # [began, ended)


def _cell(arm: str, completed: int, main: float) -> Cell:
    return Cell(arm=arm, seconds=10.0, completed=completed, pushed=completed * 2,
                redis_main=main, cpu_source="main thread", redis_process=main + 0.01,
                workers_cpu=1.0, producers_cpu=0.5, machine_busy=0.99)


def test_cells_rows_and_figures() -> None:
    cells = [_cell("relier", 8000, 0.3), _cell(FAIR_BASELINE, 5000, 0.2),
             _cell("vanilla", 10000, 0.15)]
    assert cells[0].completed_per_s == 800.0
    assert cells[0].pushed_per_s == 1600.0
    rows = cell_rows(cells, 2)
    assert rows[0][:5] == ("relier", "800", "1,600", "8,000", "30%")
    assert rows[0][-1].startswith("the machine's cores")
    assert ceiling_ratios(cells) == [("completed tasks/s", "1.60x", "0.80x"),
                                     ("Redis main-thread utilisation", "1.50x", "2.00x")]
    figures = figures_of(cells, "m")
    assert [(f.relier, f.vanilla) for f in figures] == [(800.0, 500.0), (800.0, 1000.0),
                                                         (30.0, 20.0), (30.0, 15.0)]
    assert figures[0].higher_is_better
    assert not figures[2].higher_is_better
    assert Topology(2, 3, 4).pool_processes == 12


def test_ceiling_options() -> None:
    parser, _ = build_parser()
    args = parser.parse_args(["ceiling", "--seconds", "5", "--producers", "3", "--arm", "relier"])
    assert (args.seconds, args.producers, args.workers, args.concurrency, args.arm) == (
        5.0, 3, 2, 2, ["relier"])


def _rates(pool: str, arm: str, rate: float) -> Rates:
    return Rates(arm=arm, round=0, tasks=100, push=rate * 3, drain=rate * 2, push_run=rate,
                 pool=pool)


def test_throughput_per_pool() -> None:
    arms = ["relier", "vanilla-defaults"]
    pools = ["prefork", "threads", "solo"]
    results = [_rates(pool, arm, 100.0 * (index + 1) * (2 if arm == "vanilla-defaults" else 1))
               for index, pool in enumerate(pools) for arm in arms]
    methods = {("push", ""): "push"} | {(key, pool): f"{key} {pool}" for pool in pools
                                         for key in ("push_run", "drain")}
    figures = throughput_figures(results, arms, pools, methods)
    names = [f.name for f in figures]
    assert names[:2] == [name for key, name in RATES if key != "push"]  # prefork keeps its names
    assert names[2] == "throughput: push + run, one producer, warm worker (threads pool, -c 2)"
    assert names[5] == "throughput: drain a pre-filled queue (solo pool, -c 1)"
    assert names[-1] == "push rate: one producer, no consumer"
    assert figures[-1].relier == 600.0  # median over every pool's rounds
    assert (figures[2].relier, figures[2].vanilla, figures[2].method) == (200.0, 400.0,
                                                                          "push_run threads")
    rows = throughput_ratios(results, arms, pools)
    assert rows[0] == ("prefork", "push + run, one producer, warm worker", "100", "200", "0.50x")
    assert len(rows) == 6
    assert figure_name("drain", DEFAULT_POOL) == "throughput: drain a pre-filled queue"
    parser, _ = build_parser()
    assert parser.parse_args(["throughput", "--pool", "threads"]).pool == ["threads"]
    assert parser.parse_args(["throughput"]).pool is None  # every pool
