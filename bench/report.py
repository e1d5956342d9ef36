"""Statistics, tables and JSON result files shared by every benchmark."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

#: Where result files go: ``bench/results/`` next to this module, wherever the CLI runs from.
RESULTS_DIR = Path(__file__).parent / "results"

_PACKAGES = ("celery", "kombu", "redis", "msgspec")


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


def percentile(ordered: Sequence[int], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default) over sorted data."""
    if not ordered:
        raise ValueError("percentile of no data")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within [0, 1], got {fraction}")
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    weight = position - low
    return ordered[low] + (ordered[high] - ordered[low]) * weight


def summarize(durations_ns: Sequence[int]) -> Stats:
    """Mean, p50, p99, min, max and standard deviation of durations in nanoseconds."""
    ordered = sorted(durations_ns)
    count = len(ordered)
    if count == 0:
        raise ValueError("no durations to summarize")
    mean = math.fsum(ordered) / count
    variance = math.fsum((value - mean) ** 2 for value in ordered) / max(count - 1, 1)
    return Stats(
        count=count,
        mean_ns=mean,
        p50_ns=percentile(ordered, 0.50),
        p99_ns=percentile(ordered, 0.99),
        min_ns=ordered[0],
        max_ns=ordered[-1],
        stdev_ns=math.sqrt(variance),
    )


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


def _package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git_revision() -> str | None:
    """The checkout's commit, with ``-dirty`` when tracked files have changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
            check=True, timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}-dirty" if dirty else commit


def parse_cpu_model(cpuinfo: str) -> str | None:
    """The first ``model name`` of ``/proc/cpuinfo`` text."""
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "model name":
            return value.strip()
    return None


def parse_mem_total_kb(meminfo: str) -> int | None:
    """``MemTotal`` of ``/proc/meminfo`` text, in kB."""
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return None


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine_info(
    server_info: Mapping[str, Any], server_binary: str | None = None
) -> dict[str, Any]:
    """Where a result was measured: host, interpreter, server and library versions, date."""
    name = str(server_info.get("server_name") or "redis")
    version = server_info.get("valkey_version") or server_info.get("redis_version")
    mem_kb = parse_mem_total_kb(_read("/proc/meminfo"))
    return {
        "date": now_utc().isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpu_model": parse_cpu_model(_read("/proc/cpuinfo")) or platform.processor() or None,
        "memory_gib": None if mem_kb is None else round(mem_kb / 2**20, 1),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "machine": platform.machine(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "server": {
            "name": name,
            "version": version,
            "redis_version": server_info.get("redis_version"),
            "binary": server_binary,
        },
        "packages": {name: _package_version(name) for name in _PACKAGES},
        "relier_revision": _git_revision(),
    }


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def timestamped_path(benchmark: str, when: dt.datetime) -> Path:
    return RESULTS_DIR / f"{benchmark}-{when.strftime('%Y%m%dT%H%M%SZ')}.json"


def write_results(benchmark: str, payload: Mapping[str, Any], path: Path | None,
                  when: dt.datetime) -> list[Path]:
    """Write `payload` to `path` (default: a timestamped file) and to ``<benchmark>-latest``."""
    targets = [path or timestamped_path(benchmark, when), RESULTS_DIR / f"{benchmark}-latest.json"]
    if targets[0].resolve() == targets[1].resolve():
        targets.pop()
    text = json.dumps(payload, indent=2, sort_keys=False) + "\n"
    written: list[Path] = []
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        written.append(target)
    return written


def server_label(machine: Mapping[str, Any]) -> str:
    """The server's name and version, as `machine_info` recorded them."""
    return f"{machine['server']['name']} {machine['server']['version']}"


def machine_summary(machine: Mapping[str, Any]) -> str:
    """CPUs, Python and server in a few words, for table titles."""
    return f"{machine['cpu_count']} CPUs, Python {machine['python']}, {server_label(machine)}"


def print_written(paths: Sequence[Path]) -> None:
    for path in paths:
        print(f"wrote {path}")
