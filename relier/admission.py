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
from relier.field_values import as_float, as_int, text
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
    #: the limits set to anything but a number (read as not set)
    unreadable: tuple[str, ...] = ()


LIMITS = ("rate", "burst", "max_depth")


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
    prefix = store.keys.admission_scope(scope, name)
    store.client.hset(store.keys.admission_live,
                      mapping={prefix + field: str(value) for field, value in values.items()})


def clear_limits(store: Store, scope: Scope, name: str) -> bool:
    """Drop a live override (declared limits apply again); whether one existed."""
    prefix = store.keys.admission_scope(scope, name)
    return bool(store.client.hdel(store.keys.admission_live, *(prefix + f for f in LIMITS)))


def live_limits(store: Store) -> list[LiveLimits]:
    """Every live override (one HGETALL)."""
    move_legacy_limits(store)
    raw = cast(dict[bytes, bytes], store.client.hgetall(store.keys.admission_live))
    scopes: dict[tuple[str, str], dict[str, bytes]] = {}
    for field, value in raw.items():
        kind, _, rest = text(field).partition(":")
        name, _, limit = rest.rpartition(":")
        if kind in ("q", "t") and limit in LIMITS:
            scopes.setdefault((kind, name), {})[limit] = value
    found = [LiveLimits(
        scope="queue" if kind == "q" else "task", name=name,
        rate=as_float(values.get("rate")), burst=as_int(values.get("burst")),
        max_depth=as_int(values.get("max_depth")),
        unreadable=tuple(limit for limit, value in values.items()
                         if value and (as_float(value) if limit == "rate" else as_int(value)) is None),
    ) for (kind, name), values in scopes.items()]
    return sorted(found, key=lambda item: (item.scope, item.name))


def move_legacy_limits(store: Store) -> int:
    """Move overrides kept one hash per scope (before `Keys.admission_live`) into the one hash
    pushes read; returns how many scopes moved. Run by the resurrector when it starts."""
    pattern = store.keys.legacy_admission_limits("queue", "*").replace(":q:", ":[qt]:")
    moved = 0
    for raw in store.client.scan_iter(match=pattern, count=500):
        key = text(raw)
        if key.endswith(":tat") or key == store.keys.admission_live:
            continue
        kind, name = key.split(":adm:", 1)[1].split(":", 1)
        values = cast(dict[bytes, bytes], store.client.hgetall(key))
        prefix = store.keys.admission_scope("queue" if kind == "q" else "task", name)
        pipe = store.client.pipeline(transaction=True)
        if values:
            pipe.hset(store.keys.admission_live,
                      mapping={prefix + text(field): value for field, value in values.items()})
        pipe.delete(key)
        pipe.execute()
        moved += 1
    return moved
