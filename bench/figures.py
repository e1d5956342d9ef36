"""Figures and tables a benchmark puts in its result file, for ``docs/benchmarks.md``.

Every benchmark's payload carries ``figures`` (one line each of the page's summary table:
relier, vanilla Celery with its defaults, vanilla with ``acks_late``, the ratio, the method)
and ``tables`` (its detail tables). The page is rendered from these alone, so it never needs
to know a benchmark's own result format. Pure data and formatting: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.report import Row, column_formatter

#: A cell: a measured number, a text (``lost``, ``same as defaults``), or None (not applicable).
Cell = float | str | None
#: The compared arms, as `Figure` fields and JSON keys, with their column titles.
ARM_COLUMNS = (("relier", "relier"), ("vanilla", "vanilla"),
               ("vanilla_acks_late", "vanilla acks_late"))
#: `bench.workers.ARMS` names -> `Figure` field names.
ARM_FIELDS = {"relier": "relier", "vanilla-defaults": "vanilla",
              "vanilla-acks-late": "vanilla_acks_late"}
#: The vanilla acks_late cell of a figure the option cannot change (it acts in the worker).
SAME_AS_VANILLA = "same as vanilla (worker-side option)"
#: Units shown as whole numbers when the value is one.
_COUNT_UNITS = frozenset({"tasks", "fds"})


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def ratio(value: Cell, baseline: Cell) -> float | None:
    """`value` / `baseline` when both are numbers and the baseline is not zero."""
    if not (is_number(value) and is_number(baseline)) or baseline == 0:
        return None
    return float(value) / float(baseline)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure for relier and, where it applies, the two vanilla Celery arms."""

    name: str
    unit: str
    method: str
    relier: Cell
    vanilla: Cell = None
    vanilla_acks_late: Cell = None
    higher_is_better: bool = False

    def ratio(self) -> tuple[float, str] | None:
        """relier / vanilla defaults, else / vanilla acks_late: (ratio, baseline field)."""
        for field_name in ("vanilla", "vanilla_acks_late"):
            value = ratio(self.relier, getattr(self, field_name))
            if value is not None:
                return value, field_name
        return None

    def to_json(self) -> dict[str, Any]:
        found = self.ratio()
        return {"name": self.name, "unit": self.unit, "method": self.method,
                "relier": self.relier, "vanilla": self.vanilla,
                "vanilla_acks_late": self.vanilla_acks_late,
                "higher_is_better": self.higher_is_better,
                "ratio": None if found is None else found[0],
                "ratio_baseline": None if found is None else found[1]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Figure:
        return cls(name=str(data["name"]), unit=str(data["unit"]), method=str(data["method"]),
                   relier=data.get("relier"), vanilla=data.get("vanilla"),
                   vanilla_acks_late=data.get("vanilla_acks_late"),
                   higher_is_better=bool(data.get("higher_is_better", False)))


def by_arm(name: str, unit: str, method: str, values: Mapping[str, Cell], *,
           higher_is_better: bool = False) -> Figure:
    """A figure from values keyed by arm (``relier``, ``vanilla-defaults``...); missing: None."""
    cells = {ARM_FIELDS[arm]: value for arm, value in values.items()}
    return Figure(name=name, unit=unit, method=method, relier=cells.get("relier"),
                  vanilla=cells.get("vanilla"), vanilla_acks_late=cells.get("vanilla_acks_late"),
                  higher_is_better=higher_is_better)


@dataclass(frozen=True, slots=True)
class Table:
    """A detail table: a title, the method in one line, headers and rows of text cells."""

    title: str
    method: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "method": self.method, "headers": list(self.headers),
                "rows": [list(row) for row in self.rows]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Table:
        return cls(title=str(data["title"]), method=str(data["method"]),
                   headers=tuple(str(h) for h in data["headers"]),
                   rows=tuple(tuple(str(c) for c in row) for row in data["rows"]))


def table(title: str, method: str, headers: Sequence[str],
          rows: Sequence[Sequence[object]]) -> Table:
    """A `Table` with every cell turned into text."""
    return Table(title, method, tuple(headers), tuple(tuple(str(c) for c in r) for r in rows))


def format_number(value: float) -> str:
    """Three significant figures or so: 1,234 / 123 / 12.3 / 1.23 / 0.123."""
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1 or magnitude == 0:
        return f"{value:.2f}"
    return f"{value:.3g}"


def format_cell(value: Cell, unit: str) -> str:
    """A cell for the page: ``—`` for None, text as is, a number with its unit."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if unit == "x":
        return f"{float(value):.2f}x"
    if isinstance(value, int) or (unit in _COUNT_UNITS and float(value).is_integer()):
        text = f"{int(value):,}"
    else:
        text = format_number(float(value))
    return f"{text} {unit}" if unit else text


def format_ratio(figure: Figure) -> str:
    found = figure.ratio()
    if found is None:
        return "—"
    value, baseline = found
    suffix = "" if baseline == "vanilla" else " (vs acks_late)"
    return f"{value:.2f}x{suffix}"


def format_ns(value_ns: float, unit: str) -> str:
    """Nanoseconds in `unit` (``us``, ``ms`` or ``s``), as `format_number` writes them."""
    divisor = {"us": 1e3, "ms": 1e6, "s": 1e9}[unit]
    shown = {"us": "µs"}.get(unit, unit)
    return f"{format_number(value_ns / divisor)} {shown}"


def stats_table(title: str, rows: Sequence[Row], unit: str, count_label: str = "samples",
                method: str | None = None) -> Table:
    """Latency rows (`bench.report.Row`) as a table: count, mean, p50, p99, max, ratios.

    The method is `method`, else the rows' own methods (joined when they differ).
    """
    headers = ("", count_label, "mean", "p50", "p99", "max", "p50 ratio")
    body = [(row.label, f"{row.stats.count:,}", format_ns(row.stats.mean_ns, unit),
             format_ns(row.stats.p50_ns, unit), format_ns(row.stats.p99_ns, unit),
             format_ns(row.stats.max_ns, unit),
             "" if row.ratio_p50 is None else f"{row.ratio_p50:.2f}x") for row in rows]
    methods = list(dict.fromkeys(row.method for row in rows))
    return table(title, method or " / ".join(methods), headers, body)


def format_text(figures: Sequence[Figure], tables: Sequence[Table]) -> str:
    """Figures and tables as aligned plain text, for the terminal."""
    out: list[str] = []
    if figures:
        headers = ("figure", *(title for _, title in ARM_COLUMNS), "ratio")
        body = [(f.name, *(format_cell(getattr(f, key), f.unit) for key, _ in ARM_COLUMNS),
                 format_ratio(f)) for f in figures]
        line = column_formatter([headers, *body])
        out += [line(headers), *map(line, body)]
        out += [f"  [{f.name}] {f.method}" for f in figures]
    for item in tables:
        line = column_formatter([item.headers, *item.rows])
        out += [item.title, f"  [method] {item.method}", line(item.headers),
                *map(line, item.rows)]
    return "\n".join(out)


def versus(name: str, unit: str, method: str, values: Mapping[str, Cell],
           baselines: Mapping[str, str], *, higher_is_better: bool = False) -> list[Figure]:
    """relier's value (``values["relier"]``) beside each baseline arm's, one figure per
    baseline arm in `values`, the baseline in the vanilla column: `baselines` maps a baseline
    arm to what its figure's name says of it (``vanilla <words>``)."""
    return [Figure(name=f"{name} (vanilla {label})", unit=unit, method=method,
                   relier=values.get("relier"), vanilla=values[arm],
                   higher_is_better=higher_is_better)
            for arm, label in baselines.items() if arm in values]
