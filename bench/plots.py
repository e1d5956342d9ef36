"""The page's plots, drawn with matplotlib (Agg backend) from the result payloads.

- ``recovery-latency.png``: distribution of kill -> re-run latencies (histogram and CDF, log
  time axis) from ``recovery`` (``samples_ms``) and ``leases`` (the mass recovery);
- ``throughput.png``: tasks/s per arm from ``throughput``'s figures (every pool measured).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure as Canvas

from bench.figures import ARM_COLUMNS, Figure

# No display, and no pyplot state: figures are built as `Canvas` objects and saved as PNG.
matplotlib.use("Agg")

#: One colour per arm, in `ARM_COLUMNS` order (relier, vanilla, vanilla acks_late).
_COLOURS = ("#1f77b4", "#d62728", "#ff7f0e")
#: Recovery series: relier's in turn, vanilla's in their arm's colour.
_RELIER_SERIES = ("#1f77b4", "#2ca02c", "#9467bd", "#17becf")
_VANILLA_SERIES = {"vanilla-defaults": "#d62728", "vanilla-acks-late": "#ff7f0e"}
_DPI = 110


def recovery_series(payloads: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, list[float]]]:
    """(label, latencies in ms) of every recovery distribution the payloads hold."""
    series: list[tuple[str, list[float]]] = []
    recovery = payloads.get("recovery", {})
    for label, samples in recovery.get("samples_ms", {}).items():
        if samples:
            series.append((str(label), [float(v) for v in samples]))
    mass = (payloads.get("leases", {}) or {}).get("mass_recovery") or {}
    if mass.get("samples_ms"):
        series.append((f"relier: {mass.get('tasks', '?')} tasks killed with their worker",
                       [float(v) for v in mass["samples_ms"]]))
    return series


def log_bins(low: float, high: float, count: int = 40) -> list[float]:
    """`count` + 1 bin edges spaced evenly on a log scale from `low` to `high` (both > 0)."""
    if low <= 0 or high <= low:
        raise ValueError(f"need 0 < low < high, got {low}, {high}")
    ratio = (high / low) ** (1 / count)
    return [low * ratio**index for index in range(count + 1)]


def plot_recovery(series: Sequence[tuple[str, list[float]]], path: Path) -> Path:
    canvas = Canvas(figsize=(11, 4.2), dpi=_DPI)
    histogram, cdf = canvas.subplots(1, 2)
    values = [v for _, samples in series for v in samples if v > 0]
    bins = log_bins(min(values) * 0.8, max(values) * 1.25)
    relier_index = 0
    for label, samples in series:
        arm = label.split(":", 1)[0]
        if arm in _VANILLA_SERIES:
            colour = _VANILLA_SERIES[arm]
        else:
            colour = _RELIER_SERIES[relier_index % len(_RELIER_SERIES)]
            relier_index += 1
        positive = sorted(v for v in samples if v > 0)
        histogram.hist(positive, bins=bins, alpha=0.55, color=colour,
                       label=f"{label} (n={len(positive)})")
        fractions = [0.0, *((rank + 1) / len(positive) for rank in range(len(positive)))]
        cdf.step([positive[0], *positive], fractions, where="post", color=colour, label=label)
    for axes in (histogram, cdf):
        axes.set_xscale("log")
        axes.set_xlabel("kill -> re-run body start (ms, log scale)")
        axes.grid(True, which="both", alpha=0.3)
    histogram.set_ylabel("kills")
    histogram.set_title("recovery latency: histogram")
    cdf.set_ylabel("fraction of kills")
    cdf.set_ylim(0, 1.02)
    cdf.set_title("recovery latency: CDF")
    histogram.legend(fontsize=7, loc="upper right")
    canvas.tight_layout()
    canvas.savefig(path)
    return path


def tick_label(name: str, width: int = 24) -> str:
    """A figure's name on a few short lines: its heading (before ``: ``), then the rest."""
    head, _, rest = name.partition(": ")
    return "\n".join([f"{head}:" if rest else head, *textwrap.wrap(rest, width)])


def plot_throughput(figures: Sequence[Figure], path: Path) -> Path:
    canvas = Canvas(figsize=(max(9.0, 1.6 * len(figures)), 4.2), dpi=_DPI)
    axes = canvas.subplots()
    width = 0.8 / len(ARM_COLUMNS)
    for offset, (key, title) in enumerate(ARM_COLUMNS):
        positions = [index + (offset - (len(ARM_COLUMNS) - 1) / 2) * width
                     for index in range(len(figures))]
        heights = [float(value) if isinstance(value := getattr(f, key), int | float) else 0.0
                   for f in figures]
        bars = axes.bar(positions, heights, width, label=title, color=_COLOURS[offset])
        axes.bar_label(bars, labels=[f"{h:,.0f}" if h else "" for h in heights], fontsize=7,
                       padding=2)
    axes.set_xticks(range(len(figures)), [tick_label(f.name) for f in figures], fontsize=8)
    axes.set_ylabel("tasks/s (higher is better)")
    axes.set_title("no-op throughput, one worker (prefork unless named)")
    axes.legend(fontsize=8)
    axes.grid(True, axis="y", alpha=0.3)
    canvas.tight_layout()
    canvas.savefig(path)
    return path


def write_all(payloads: Mapping[str, Mapping[str, Any]],
              directory: Path) -> list[tuple[str, str, Path]]:
    """Every plot the payloads allow: (benchmark it belongs to, alt text, file written)."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[tuple[str, str, Path]] = []
    series = recovery_series(payloads)
    if series:
        written.append(("recovery", "recovery latency distribution: histogram and CDF",
                        plot_recovery(series, directory / "recovery-latency.png")))
    throughput = payloads.get("throughput")
    if throughput and throughput.get("figures"):
        figures = [Figure.from_json(raw) for raw in throughput["figures"]]
        written.append(("throughput", "no-op throughput per arm",
                        plot_throughput(figures, directory / "throughput.png")))
    return written
