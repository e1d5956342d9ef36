"""SLO burn rates from the outcome counters the terminal transitions keep.

Completions count as good, dead letters as bad, in one place each (complete, fail, reject,
hard_timeout and the dead-letter helper of lost/reap/reconcile/bounce), so nothing is counted
twice, with one HINCRBY of a per-minute counter in the hash `rl:slo`. The resurrector rolls
each closed hour up into per-hour counters (`prune`, once a minute) and deletes minute counters
after 6 h. Windows up to 6 h read minutes; 3 d reads the last `RECENT_HOURS` hours from minutes
and older ones from the rolled-up hours. The maths below is pure; `read_windows` and `prune`
are the only I/O.

Alert conditions follow Google's SRE workbook (multiwindow, multi-burn-rate): page when the
1 h and 5 m burn rates both exceed 14.4, or 6 h and 30 m both exceed 6; ticket when 3 d and
6 h both exceed 1.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from relier.field_values import as_int, text
from relier.store import Store

#: Window name -> (length in seconds, counter resolution: "m" minutes or "h" hours).
WINDOWS: dict[str, tuple[int, str]] = {
    "5m": (300, "m"), "30m": (1800, "m"), "1h": (3600, "m"), "6h": (21600, "m"),
    "3d": (259200, "h"),
}
#: (name, long window, short window, burn-rate threshold, severity)
ALERTS: tuple[tuple[str, str, str, float, str], ...] = (
    ("fast-burn", "1h", "5m", 14.4, "page"),
    ("slow-burn", "6h", "30m", 6.0, "page"),
    ("budget-burn", "3d", "6h", 1.0, "ticket"),
)
_KEEP = {"m": 6 * 60 + 5, "h": 72 + 2}
_MINUTE_MS, _HOUR_MS = 60_000, 3_600_000
#: Hours (the current one included) a 3-day reading takes from minute counters: all their
#: minutes are still kept, and every older hour was rolled up minutes after it closed.
RECENT_HOURS = 6
#: Minutes after an hour closes before it is rolled up: a completion is counted at its start
#: plus its measured run time, which may fall a moment before the server's clock.
SETTLE_MINUTES = 2
OUTCOMES = ("ok", "bad")


@dataclass(frozen=True, slots=True)
class WindowCounts:
    good: int
    bad: int
    #: counters in the window that hold anything but a number (not counted)
    unreadable: int = 0

    @property
    def total(self) -> int:
        return self.good + self.bad

    @property
    def availability(self) -> float | None:
        """Share of good outcomes, or None when nothing ended in the window."""
        return None if self.total == 0 else self.good / self.total


def burn_rate(counts: WindowCounts, objective: float) -> float:
    """How fast the error budget burns: 1.0 spends exactly the budget over the SLO period."""
    if not 0 < objective < 1:
        raise ValueError(f"objective must be between 0 and 1, got {objective}")
    if counts.total == 0:
        return 0.0
    return (counts.bad / counts.total) / (1 - objective)


@dataclass(frozen=True, slots=True)
class Alert:
    name: str
    severity: str
    long_window: str
    short_window: str
    threshold: float
    firing: bool


def alerts(rates: Mapping[str, float]) -> list[Alert]:
    """The workbook's alert conditions over burn rates keyed by window name."""
    return [
        Alert(name, severity, long, short, threshold,
              rates.get(long, 0.0) > threshold and rates.get(short, 0.0) > threshold)
        for name, long, short, threshold, severity in ALERTS
    ]


def buckets(now_ms: int, window: str) -> list[int]:
    """The minute or hour bucket numbers a window covers, the current one included."""
    seconds, resolution = WINDOWS[window]
    size = 60_000 if resolution == "m" else 3_600_000
    current = now_ms // size
    count = max(1, seconds * 1000 // size)
    return list(range(current - count + 1, current + 1))


def count_fields(task: str, window: str, now_ms: int) -> list[str]:
    """The counters of `task` a window sums, as (ok, bad) pairs: minutes, or for a window in
    hours, the rolled-up hours and the minutes of the last `RECENT_HOURS` hours."""
    if WINDOWS[window][1] == "m":
        return [f"{task}|m|{bucket}|{outcome}" for bucket in buckets(now_ms, window)
                for outcome in OUTCOMES]
    recent, current_minute = now_ms // _HOUR_MS - RECENT_HOURS + 1, now_ms // _MINUTE_MS
    fields: list[str] = []
    for hour in buckets(now_ms, window):
        if hour < recent:
            fields += [f"{task}|h|{hour}|{outcome}" for outcome in OUTCOMES]
            continue
        for minute in range(hour * 60, min(hour * 60 + 60, current_minute + 1)):
            fields += [f"{task}|m|{minute}|{outcome}" for outcome in OUTCOMES]
    return fields


def read_windows(store: Store, task: str = "*") -> dict[str, WindowCounts]:
    """Good and bad counts of `task` ('*': the sum over every task, which the transitions do
    not count separately) in every window: one round trip for the counters."""
    seconds, micros = store.client.time()
    now = int(seconds) * 1000 + int(micros) // 1000
    names = tasks_counted(store) if task == "*" else [task]
    pipe = store.client.pipeline(transaction=False)
    for name in names:
        for window in WINDOWS:
            pipe.hmget(store.keys.slo, count_fields(name, window, now))
    replies = iter(cast(list[list[bytes | None]], pipe.execute()) if names else [])
    good, bad, unreadable = (dict.fromkeys(WINDOWS, 0) for _ in range(3))
    for _ in names:
        for window in WINDOWS:
            values = [as_int(value or b"0") for value in next(replies)]
            good[window] += sum(value or 0 for value in values[0::2])
            bad[window] += sum(value or 0 for value in values[1::2])
            unreadable[window] += values.count(None)
    return {window: WindowCounts(good[window], bad[window], unreadable[window])
            for window in WINDOWS}


def tasks_counted(store: Store) -> list[str]:
    """Task names that have counters (bounded HSCAN of field names)."""
    names = {text(field).split("|", 1)[0]
             for field, _ in store.client.hscan_iter(store.keys.slo, count=1000)}
    return sorted(names - {"*"})


def prune(store: Store, now_ms: int | None = None) -> int:
    """Roll every settled closed hour up into its per-hour counters (once: HSETNX, so two
    resurrectors agree), then delete counters older than the longest window they serve;
    returns how many were deleted. A field not named as the transitions name counters is left
    alone."""
    now = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    oldest = {"m": now // _MINUTE_MS - _KEEP["m"], "h": now // _HOUR_MS - _KEEP["h"]}
    # every hour before this one closed at least SETTLE_MINUTES ago: it may be rolled up
    settled = (now // _MINUTE_MS - SETTLE_MINUTES) // 60
    stale: list[bytes] = []
    sums: dict[tuple[str, int], list[int]] = {}
    rolled: set[tuple[str, int]] = set()
    for field, value in store.client.hscan_iter(store.keys.slo, count=1000):
        parts = text(field).rsplit("|", 3)
        bucket = as_int(parts[-2]) if len(parts) == 4 else None  # task|m|bucket|ok
        if bucket is None:
            continue
        task, resolution, _, outcome = parts
        if resolution == "h":
            rolled.add((task, bucket))
        elif resolution == "m" and outcome in OUTCOMES and bucket // 60 < settled:
            counts = sums.setdefault((task, bucket // 60), [0, 0])
            counts[OUTCOMES.index(outcome)] += as_int(value) or 0
        if bucket < oldest.get(resolution, 0):
            stale.append(field)
    rollup = store.client.pipeline(transaction=False)
    for (task, hour), counts in sums.items():
        if (task, hour) not in rolled:
            for outcome, count in zip(OUTCOMES, counts, strict=True):
                if count or outcome == "ok":  # the ok field marks the hour rolled up
                    rollup.hsetnx(store.keys.slo, f"{task}|h|{hour}|{outcome}", count)
    rollup.execute()
    for start in range(0, len(stale), 1000):
        store.client.hdel(store.keys.slo, *stale[start:start + 1000])
    return len(stale)


def report(store: Store, declared: Mapping[str, float], default_objective: float,
           task_name: str | None = None, objective: float | None = None) -> list[dict[str, Any]]:
    """Per task (and all tasks together): objective (`objective`, else the task's declared
    `slo=` in `declared`, else `default_objective`), counts, availability and burn rate per
    window, and the alert conditions. Used by `rl slo` and the console."""
    names = [task_name] if task_name else ["*", *tasks_counted(store)]
    rows: list[dict[str, Any]] = []
    for name in names:
        target = objective or declared.get(name) or default_objective
        counts = read_windows(store, name)
        rates = {window: burn_rate(count, target) for window, count in counts.items()}
        rows.append({
            "task": "all tasks" if name == "*" else name, "objective": target,
            "windows": {window: {"good": c.good, "bad": c.bad, "unreadable": c.unreadable,
                                 "availability": c.availability, "burn_rate": rates[window]}
                        for window, c in counts.items()},
            "alerts": [{"name": a.name, "severity": a.severity, "firing": a.firing,
                        "windows": [a.long_window, a.short_window], "threshold": a.threshold}
                       for a in alerts(rates)],
        })
    return rows
