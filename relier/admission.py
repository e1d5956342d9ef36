"""Admission control: per-queue and per-task rate limits (GCRA) and maximum queue depths.

Checked inside the dispatch script, so a push costs no extra round trip and the buckets are
exact under any concurrency. Limits declared in code (`@rl_task(admission=Admission(...))`,
`Relier(app, admission={"queue": Admission(...)})`) can be overridden live in Redis
(`rl admission set`), for example to throttle during an incident. Re-queues (resurrection,
reconciliation, dead-letter release) never pass through admission: they were admitted once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from relier.errors import ConfigurationError
from relier.store import Store

Scope = Literal["queue", "task"]


@dataclass(frozen=True, slots=True)
class Admission:
    """``rate`` pushes per second with ``burst`` at once; at most ``max_depth`` messages
    waiting in the queue. 0 means no limit."""

    rate: float = 0.0
    burst: int = 1
    max_depth: int = 0

    def __post_init__(self) -> None:
        if self.rate < 0 or self.burst < 1 or self.max_depth < 0:
            raise ConfigurationError(
                f"admission limits need rate >= 0, burst >= 1 and max_depth >= 0, got {self}"
            )


NO_LIMIT = Admission()


@dataclass(frozen=True, slots=True)
class LiveLimits:
    """Limits an operator set in Redis for one scope."""

    scope: Scope
    name: str
    rate: float | None
    burst: int | None
    max_depth: int | None


def set_limits(store: Store, scope: Scope, name: str, *, rate: float | None = None,
               burst: int | None = None, max_depth: int | None = None) -> None:
    """Override limits live; the next push uses them."""
    values: dict[str, float | int] = {
        field: value for field, value in
        (("rate", rate), ("burst", burst), ("max_depth", max_depth)) if value is not None
    }
    if not values:
        raise ConfigurationError("give at least one of rate, burst, max_depth")
    Admission(rate=float(values.get("rate", 0.0)), burst=int(values.get("burst", 1)),
              max_depth=int(values.get("max_depth", 0)))
    store.client.hset(store.keys.admission_limits(scope, name),
                      mapping={field: str(value) for field, value in values.items()})


def clear_limits(store: Store, scope: Scope, name: str) -> bool:
    """Drop a live override (declared limits apply again); whether one existed."""
    return bool(store.client.delete(store.keys.admission_limits(scope, name)))


def live_limits(store: Store) -> list[LiveLimits]:
    """Every live override, found with a bounded SCAN of relier's admission keys."""
    found = []
    pattern = store.keys.admission_limits("queue", "*").replace(":q:", ":[qt]:")
    for raw in store.client.scan_iter(match=pattern, count=500):
        key = raw.decode()
        if key.endswith(":tat"):
            continue
        kind, name = key.split(":adm:", 1)[1].split(":", 1)
        values = cast(list[bytes | None], store.client.hmget(key, "rate", "burst", "max_depth"))
        rate, burst, depth = values
        found.append(LiveLimits(
            scope="queue" if kind == "q" else "task", name=name,
            rate=float(rate) if rate else None, burst=int(burst) if burst else None,
            max_depth=int(depth) if depth else None,
        ))
    return sorted(found, key=lambda item: (item.scope, item.name))
