"""Result files of a benchmark run: where and when it was measured, the JSON written, the
lines printed, the exit status."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

#: Where result files go: ``bench/results/`` next to this module, wherever the CLI runs from.
RESULTS_DIR = Path(__file__).parent / "results"

_PACKAGES = ("celery", "kombu", "redis", "msgspec")


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


class _Serializable(Protocol):
    def to_json(self) -> dict[str, Any]: ...


def publish(name: str, json_out: Path | None, began: dt.datetime, report: Sequence[str], *,
            description: str, config: Mapping[str, Any], machine: Mapping[str, Any],
            figures: Sequence[_Serializable], tables: Sequence[_Serializable],
            **details: Any) -> dict[str, Any]:
    """Write benchmark `name`'s result files (what every benchmark records, then its own
    `details`; see `write_results`), print the `report` lines and where the files went.

    Returns the payload written.
    """
    payload = {"benchmark": name, "description": description, "config": dict(config),
               "machine": dict(machine), "figures": [figure.to_json() for figure in figures],
               "tables": [item.to_json() for item in tables], **details}
    written = write_results(name, payload, json_out, began)
    for text in report:
        print(text)
    for path in written:
        print(f"wrote {path}")
    return payload


@dataclass(frozen=True, slots=True)
class Target:
    """A benchmark's goal: what it states, whether this run `met` it, the numbers behind that."""

    statement: str
    met: bool | None
    numbers: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def p50_ratio(cls, statement: str, limit: float, measured: float) -> Target:
        """A p50 ratio `measured` that must not exceed `limit`."""
        return cls(statement, measured <= limit,
                   {"max_ratio_p50": limit, "measured_ratio_p50": measured})

    @property
    def verdict(self) -> str:
        """How a report line says whether it was met."""
        return "met" if self.met else "NOT met"

    def exit_status(self, check: bool, *, broken: bool = False) -> int:
        """1 when the run itself went wrong (`broken`), or with ``--check`` when not met."""
        return 1 if broken or (check and not self.met) else 0

    def to_json(self) -> dict[str, Any]:
        return {"statement": self.statement, **self.numbers, "met": self.met}
