"""Latency statistics in nanoseconds, and the text tables benchmarks print of them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from relier.stats import summarize as summarize_samples


@dataclass(frozen=True, slots=True)
class Stats:
    """Summary of one series of durations, all in nanoseconds."""

    count: int
    mean_ns: float
    p50_ns: float
    p99_ns: float
    min_ns: int
    max_ns: int
    stdev_ns: float


def summarize(durations_ns: Sequence[int]) -> Stats:
    """Mean, p50, p99, min, max and standard deviation of durations in nanoseconds."""
    if not durations_ns:
        raise ValueError("no durations to summarize")
    summary = summarize_samples(durations_ns)
    return Stats(count=summary.count, mean_ns=summary.mean, p50_ns=summary.p50,
                 p99_ns=summary.p99, min_ns=int(summary.min), max_ns=int(summary.max),
                 stdev_ns=summary.stdev)


@dataclass(frozen=True, slots=True)
class Row:
    """One measured figure: what was timed, how, and (optionally) against which baseline."""

    group: str
    label: str
    method: str
    stats: Stats
    baseline: str | None = None
    ratio_p50: float | None = None
    ratio_mean: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "label": self.label,
            "method": self.method,
            "unit": "ns",
            **asdict(self.stats),
            "baseline": self.baseline,
            "ratio_p50": self.ratio_p50,
            "ratio_mean": self.ratio_mean,
        }


def compared(group: str, label: str, method: str, stats: Stats, baseline: Row) -> Row:
    """A row with its p50 and mean ratios to `baseline` (same group, same run)."""
    return Row(
        group=group,
        label=label,
        method=method,
        stats=stats,
        baseline=baseline.label,
        ratio_p50=stats.p50_ns / baseline.stats.p50_ns,
        ratio_mean=stats.mean_ns / baseline.stats.mean_ns,
    )


#: Divisors from nanoseconds to each unit `format_table` can show.
_UNITS = {"us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}


def _scaled(value_ns: float, unit: str) -> str:
    return f"{value_ns / _UNITS[unit]:.1f}" if unit != "s" else f"{value_ns / _UNITS[unit]:.3f}"


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}x"


def column_formatter(table: Sequence[Sequence[str]]) -> Callable[[Sequence[str]], str]:
    """Formats one line of `table`: indented, first column left-aligned, the rest right."""
    widths = [max(len(cells[i]) for cells in table) for i in range(len(table[0]))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return ("  " + "  ".join((first, *rest))).rstrip()

    return line


def format_table(title: str, rows: Sequence[Row], unit: str = "us",
                 count_label: str = "calls") -> str:
    """Rows grouped by `Row.group`, each group under a one-line statement of its method.

    Durations are shown in `unit` (``us``, ``ms`` or ``s``).
    """
    headers = ("", count_label, f"mean {unit}", f"p50 {unit}", f"p99 {unit}", "p50 ratio",
               "mean ratio")
    body = [
        (row.label, str(row.stats.count), _scaled(row.stats.mean_ns, unit),
         _scaled(row.stats.p50_ns, unit), _scaled(row.stats.p99_ns, unit),
         _ratio(row.ratio_p50), _ratio(row.ratio_mean))
        for row in rows
    ]
    line = column_formatter([headers, *body])
    out = [title, line(headers)]
    current_group: str | None = None
    for row, cells in zip(rows, body, strict=True):
        if row.group != current_group:
            current_group = row.group
            out.append(f"[{row.group}] {row.method}")
        out.append(line(cells))
    return "\n".join(out)
