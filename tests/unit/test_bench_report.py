"""The benchmarks' pure parts: statistics, ratios, figures, the generated page, the parsers.

Nothing here starts a server or a worker: the page is rendered from a JSON sample.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench import page
from bench.__main__ import PLANNED, REGISTRY, build_parser
from bench.commands import breakdown_rows, parse_commandstats
from bench.figures import (
    SAME_AS_VANILLA,
    Figure,
    Table,
    by_arm,
    format_cell,
    format_number,
    format_ratio,
    ratio,
    stats_table,
)
from bench.report import Row, compared, summarize
from bench.result_files import parse_cpu_model, parse_mem_total_kb
from bench.worker_log import parse_line, parse_stamp
from relier.procinfo import fd_kind, parse_ppid, parse_smaps_rollup
from relier.stats import percentile


def test_percentile_and_summary() -> None:
    assert percentile([10, 20, 30, 40], 0.5) == 25.0
    assert percentile([10, 20, 30, 40], 1.0) == 40
    stats = summarize([3, 1, 2])
    assert (stats.count, stats.min_ns, stats.max_ns, stats.p50_ns, stats.mean_ns) == (3, 1, 3, 2, 2)
    with pytest.raises(ValueError, match="no durations"):
        summarize([])


def test_ratio_maths() -> None:
    assert ratio(50.0, 200.0) == 0.25
    assert ratio(3, 2) == 1.5
    assert ratio(1.0, 0) is None  # no baseline to divide by
    assert ratio(None, 2.0) is None
    assert ratio("never re-run", 2.0) is None
    assert ratio(True, 1.0) is None  # a flag is not a measurement


def test_figure_ratio_falls_back_to_acks_late() -> None:
    both = Figure("f", "ms", "m", relier=30.0, vanilla=60.0, vanilla_acks_late=120.0)
    assert both.ratio() == (0.5, "vanilla")
    assert format_ratio(both) == "0.50x"
    lost = Figure("f", "ms", "m", relier=50.0, vanilla="never re-run", vanilla_acks_late=25.0)
    assert lost.ratio() == (2.0, "vanilla_acks_late")
    assert format_ratio(lost) == "2.00x (vs acks_late)"
    alone = Figure("f", "x", "m", relier=1.04)
    assert alone.ratio() is None
    assert format_ratio(alone) == "—"


def test_row_ratios_compare_to_the_baseline() -> None:
    baseline = Row("g", "vanilla", "m", summarize([100, 200, 300]))
    row = compared("g", "relier", "m", summarize([50, 100, 150]), baseline)
    assert row.ratio_p50 == 0.5
    assert row.ratio_mean == 0.5
    assert row.baseline == "vanilla"


def test_figure_json_round_trip_and_by_arm() -> None:
    figure = by_arm("lost", "tasks", "m", {"relier": 0, "vanilla-defaults": 3,
                                           "vanilla-acks-late": 0})
    assert (figure.relier, figure.vanilla, figure.vanilla_acks_late) == (0, 3, 0)
    data = json.loads(json.dumps(figure.to_json()))
    assert data["ratio"] == 0.0
    assert data["ratio_baseline"] == "vanilla"
    assert Figure.from_json(data) == figure
    higher = by_arm("rate", "tasks/s", "m", {"relier": 600.0}, higher_is_better=True)
    assert Figure.from_json(higher.to_json()) == higher


def test_cells_and_numbers() -> None:
    assert format_cell(None, "ms") == "—"
    assert format_cell("never re-run", "ms") == "never re-run"
    assert format_cell(3, "tasks") == "3 tasks"
    assert format_cell(2.0, "fds") == "2 fds"
    assert format_cell(12_345, "") == "12,345"
    assert format_cell(58.07, "ms") == "58.1 ms"
    assert format_cell(2.4135, "s") == "2.41 s"
    assert format_cell(0.9921, "x") == "0.99x"
    assert format_cell(1234.4, "tasks/s") == "1,234 tasks/s"
    assert format_number(0.01234) == "0.0123"
    assert format_number(0) == "0.00"


def test_stats_table_in_chosen_unit() -> None:
    baseline = Row("g", "delay()", "method A", summarize([400_000, 500_000, 600_000]))
    row = compared("g", "push()", "method A", summarize([200_000, 300_000, 400_000]), baseline)
    made = stats_table("dispatch", [baseline, row], "us", count_label="calls")
    assert made.headers[:4] == ("", "calls", "mean", "p50")
    assert made.rows[0][:4] == ("delay()", "3", "500 µs", "500 µs")
    assert made.rows[1][-1] == "0.60x"
    assert made.method == "method A"
    assert Table.from_json(json.loads(json.dumps(made.to_json()))) == made


def _sample_payloads() -> dict[str, dict[str, Any]]:
    """Two benchmarks' result payloads as they come back from JSON."""
    machine = {
        "date": "2026-11-25T16:00:00+00:00", "cpu_count": 2,
        "cpu_model": "Intel(R) Xeon(R) Processor", "memory_gib": 23.5,
        "load_average": [1.5, 1.2, 0.9], "machine": "x86_64", "platform": "Linux-6",
        "python": "3.11.7", "python_implementation": "CPython",
        "server": {"name": "redis", "version": "7.0.15"},
        "packages": {"celery": "5.7.0", "kombu": "5.7.0", "redis": "8.1.0"},
        "relier_revision": "abc123",
    }
    dispatch = {
        "benchmark": "dispatch", "description": "push() vs delay()",
        "machine": machine,
        "figures": [
            Figure("dispatch: push() vs delay(), p50", "µs", "5,000 interleaved calls",
                   relier=289.0, vanilla=502.0, vanilla_acks_late=SAME_AS_VANILLA).to_json(),
            Figure("dispatch: push() vs delay(), p99", "µs", "5,000 interleaved calls",
                   relier=2800.0, vanilla=3300.0).to_json(),
        ],
        "tables": [Table("sync", "interleaved", ("command", "calls"),
                         (("config|get", "1"),)).to_json()],
    }
    throughput = {
        "benchmark": "throughput", "description": "no-op tasks/s",
        "machine": {**machine, "date": "2026-11-25T16:10:00+00:00"},
        "notes": ["Producer and worker share the cores."],
        "figures": [by_arm("throughput: drain", "tasks/s", "N queued first",
                           {"relier": 700.0, "vanilla-defaults": 1000.0,
                            "vanilla-acks-late": 980.0}, higher_is_better=True).to_json()],
        "tables": [],
    }
    loaded: dict[str, dict[str, Any]] = json.loads(json.dumps(
        {"dispatch": dispatch, "throughput": throughput}))
    return loaded


def test_page_from_a_json_sample() -> None:
    text = page.render(_sample_payloads(), order=["dispatch", "recovery", "throughput"],
                       planned={"tui": "not built yet"},
                       images={"throughput": [("bars", "img/throughput.png")]},
                       note="measured on a shared, loaded machine")
    assert text.startswith("# Benchmarks\n")
    assert "> **Note.** measured on a shared, loaded machine" in text
    for spec in ("| CPU | Intel(R) Xeon(R) Processor |", "| cores | 2 |", "| RAM | 23.5 GiB |",
                 "| Python | 3.11.7 (CPython) |", "redis 7.0.15", "5.7.0 / 5.7.0 / 8.1.0",
                 "2026-11-25T16:00:00+00:00 to 2026-11-25T16:10:00+00:00", "1.5, 1.2, 0.9"):
        assert spec in text
    assert ("| `dispatch` | dispatch: push() vs delay(), p50 | 289 µs | 502 µs | "
            f"{SAME_AS_VANILLA} | 0.58x | 5,000 interleaved calls |") in text
    # The same method on the next figure of a benchmark is not repeated.
    assert "| 2,800 µs | 3,300 µs | — | 0.85x | as above |" in text
    assert "| `throughput` | throughput: drain | 700 tasks/s | 1,000 tasks/s | 980 tasks/s | 0.70x |" in text
    assert "`recovery` (no result)" in text
    assert "`tui` (not built yet)" in text
    assert "**sync.** Method: interleaved." in text
    assert "| config\\|get | 1 |" in text  # a pipe inside a cell is escaped
    assert "Producer and worker share the cores." in text
    assert "![bars](img/throughput.png)" in text
    assert text.endswith("\n")
    assert not text.endswith("\n\n")


def test_page_names_each_relier_revision_measured() -> None:
    payloads = _sample_payloads()
    one = page.render(payloads, order=["dispatch", "throughput"], planned={}, images={})
    assert "| relier revision | abc123 |" in one
    payloads["throughput"]["machine"]["relier_revision"] = "def456-dirty"
    two = page.render(payloads, order=["dispatch", "throughput"], planned={}, images={})
    assert "| relier revision | abc123 (`dispatch`); def456-dirty (`throughput`) |" in two


def test_markdown_table_shape() -> None:
    assert page.markdown_table(("a", "b"), [("1", "x|y")]).splitlines() == [
        "| a | b |", "| --- | --- |", "| 1 | x\\|y |"]


def test_worker_log_lines() -> None:
    succeeded = parse_line(
        "[2026-11-25 15:46:33,676: INFO/ForkPoolWorker-1] Task bench.relier_noop"
        "[c6a7cd84-d9d1-47cb-8501-b84d8f7f1f7b] succeeded in 0.0065s: None")
    assert succeeded is not None
    assert succeeded.kind == "succeeded"
    assert succeeded.task == "bench.relier_noop"
    assert succeeded.at == parse_stamp("2026-11-25 15:46:33,676")
    ready = parse_line("[2026-11-25 15:46:33,665: INFO/MainProcess] w53429@vm ready.")
    assert ready is not None
    assert ready.kind == "ready"
    assert round(succeeded.at - ready.at, 3) == 0.011
    assert parse_line("[2026-11-25 15:46:33,668: INFO/MainProcess] Task x[1] received") is None
    assert parse_line(" -------------- w53429@vm v5.7.0 (collider)") is None


def test_proc_parsers() -> None:
    assert parse_ppid("1234 (celery worker) S 99 1234 1234 0 -1") == 99
    rollup = ("00400000-7ffd rw-p 00000000 00:00 0 [rollup]\nRss: 58000 kB\nPss: 29000 kB\n"
              "Shared_Clean: 1 kB\nPrivate_Clean: 100 kB\nPrivate_Dirty: 14000 kB\n")
    assert parse_smaps_rollup(rollup) == {"Rss": 58000, "Pss": 29000, "Private_Clean": 100,
                                          "Private_Dirty": 14000}
    with pytest.raises(ValueError, match="lacks Pss"):
        parse_smaps_rollup("Rss: 1 kB\nPrivate_Clean: 1 kB\nPrivate_Dirty: 1 kB\n")
    assert [fd_kind(t) for t in ("socket:[123]", "pipe:[9]", "anon_inode:[eventpoll]",
                                 "/dev/null", "/tmp/worker.log")] == [
        "socket", "pipe", "anon_inode:eventpoll", "device", "file"]
    assert parse_cpu_model("processor\t: 0\nmodel name\t: Intel(R) Xeon(R)\n") == "Intel(R) Xeon(R)"
    assert parse_mem_total_kb("MemTotal:       24641536 kB\nMemFree: 1 kB\n") == 24641536


def test_commandstats_breakdown() -> None:
    raw = {"cmdstat_evalsha": {"calls": 40, "usec": 900}, "cmdstat_info": {"calls": 2, "usec": 5},
           "cmdstat_config|resetstat": {"calls": 1, "usec": 1},
           "cmdstat_lpush": {"calls": 10, "usec": 20}, "cmdstat_ping": {"calls": 0, "usec": 0}}
    calls = parse_commandstats(raw)
    assert calls.by_command == {"evalsha": (40, 900), "lpush": (10, 20)}  # own commands left out
    assert (calls.calls, calls.usec) == (50, 920)
    assert calls.per(10) == {"evalsha": 4.0, "lpush": 1.0}


def test_breakdown_rows_order_and_totals() -> None:
    from bench.commands import Calls, Lifecycle

    def lifecycle(arm: str, run: dict[str, tuple[int, int]]) -> Lifecycle:
        return Lifecycle(arm=arm, tasks=10, pushes=5, idle_s=1.0, run_s=1.0,
                         idle=Calls({}), run=Calls(run), dispatch=Calls({}))

    rows = breakdown_rows([lifecycle("relier", {"evalsha": (40, 1), "brpop": (10, 1)}),
                           lifecycle("vanilla-defaults", {"brpop": (10, 1), "lpush": (10, 1)})],
                          "run")
    assert rows == [("evalsha", "4.00", "0.00"), ("brpop", "1.00", "1.00"),
                    ("lpush", "0.00", "1.00"), ("total", "5.00", "2.00")]


def test_scale_sets_defaults_that_options_override() -> None:
    parser, subparsers = build_parser()
    for benchmark in REGISTRY:
        destinations = {action.dest for action in subparsers[benchmark.name]._actions}
        assert set(benchmark.scale) <= destinations, benchmark.name
    by_name = {b.name: b for b in REGISTRY}
    subparsers["fds"].set_defaults(**by_name["fds"].scale)
    assert parser.parse_args(["fds"]).tasks == 10_000
    assert parser.parse_args(["fds", "--tasks", "50"]).tasks == 50
    assert by_name["admission"].scale["calls"] == 50_000
    assert by_name["recovery"].scale["kills"] == 10
    assert by_name["leases"].scale["tasks"] == 25
    assert by_name["idempotency"].scale["submissions"] == 2_000


def test_registry_names() -> None:
    names = [b.name for b in REGISTRY]
    assert names[:6] == ["dispatch", "recovery", "leases", "idempotency", "admission",
                         "shutdown"]
    assert {"coldstart", "memory", "fds", "commands", "throughput", "tui"} <= set(names)
    assert not set(PLANNED) & set(names)
