"""Every Redis key relier reads or writes, in one place.

Relier's own keys live under ``RELIER_KEY_PREFIX`` (``rl`` by default). Broker lists are kombu's
and follow kombu's naming: the queue name (after the transport's ``global_keyprefix``), with a
``\\x06\\x16<step>`` suffix for priority steps other than 0.
"""

from __future__ import annotations

from dataclasses import dataclass

#: kombu's separator between a queue name and its priority step.
PRIORITY_SEPARATOR = "\x06\x16"
#: kombu's priority steps for the Redis transport.
PRIORITY_STEPS = (0, 3, 6, 9)


@dataclass(frozen=True, slots=True)
class Keys:
    """Key names under one prefix."""

    prefix: str = "rl"

    def record(self, task_id: str) -> str:
        """Hash: the task's state, ticket, fence, attempt, stored message and result."""
        return f"{self.prefix}:t:{task_id}"

    def history(self, task_id: str) -> str:
        """List: one JSON entry per attempt (worker, started, ended, outcome)."""
        return f"{self.prefix}:t:{task_id}:h"

    @property
    def events(self) -> str:
        """Stream: every lifecycle transition, capped at RELIER_EVENTS_MAXLEN."""
        return f"{self.prefix}:events"

    @property
    def dead_letters(self) -> str:
        """Sorted set: dead-lettered task ids scored by dead-letter time (ms)."""
        return f"{self.prefix}:dlq"

    @property
    def leases(self) -> str:
        """Sorted set: process id -> last lease refresh (Redis server time, ms)."""
        return f"{self.prefix}:leases"

    @property
    def queued(self) -> str:
        """Sorted set: queued task ids -> when queued or last seen in their list (ms)."""
        return f"{self.prefix}:queued"

    @property
    def slo(self) -> str:
        """Hash: per-minute and per-hour counts of completed and dead-lettered tasks."""
        return f"{self.prefix}:slo"

    @property
    def delayed(self) -> str:
        """Sorted set: scheduled (deferred) task ids -> when they are due (server ms)."""
        return f"{self.prefix}:delayed"

    def chord(self, group_id: str) -> str:
        """Hash: a chord's size, its header tasks' results (``r<index>``), the first failure
        and when its join was created. With an empty group id, a key never written."""
        return f"{self.prefix}:chord:{group_id or '-'}"

    def idempotency(self, digest: str) -> str:
        """Hash: the task holding an idempotency key, its claim state and, once done, result.

        With an empty digest, a key name that is never written (for tasks without a key).
        """
        return f"{self.prefix}:idem:{digest or '-'}"

    @property
    def admission_live(self) -> str:
        """Hash: every live admission override, fields `admission_field` (one HMGET per push)."""
        return f"{self.prefix}:adm:live"

    @staticmethod
    def admission_scope(scope: str, name: str) -> str:
        """The prefix of a queue's or a task's fields in `admission_live` (then ``rate``,
        ``burst``, ``max_depth``)."""
        return f"{'q' if scope == 'queue' else 't'}:{name}:"

    def legacy_admission_limits(self, scope: str, name: str) -> str:
        """Hash of one scope's live limits before `admission_live` (moved by the resurrector)."""
        return f"{self.prefix}:adm:{'q' if scope == 'queue' else 't'}:{name}"

    def admission_state(self, scope: str, name: str) -> str:
        """String: the GCRA theoretical arrival time (ms) of a queue's or a task's bucket."""
        return f"{self.legacy_admission_limits(scope, name)}:tat"

    def lock(self, digest: str) -> str:
        """Hash: a manual `idempotency_lock` (state, token, result)."""
        return f"{self.prefix}:lock:{digest}"

    def held(self, process: str) -> str:
        """Set: ids of the tasks one process (consumer or pool process) holds."""
        return f"{self.prefix}:held:{process}"

    @property
    def resurrector(self) -> str:
        """Hash: last resurrector pass and the end of any gap's grace period (server ms)."""
        return f"{self.prefix}:reaper"

    @property
    def workers(self) -> str:
        """Hash: worker node key -> JSON description (host, pid, queues, pool)."""
        return f"{self.prefix}:workers"

    @property
    def dead_workers(self) -> str:
        """Sorted set: registered worker node whose lease expired -> its last lease refresh
        (server ms), kept after the lease is reaped; pruned with the node's registration
        after RELIER_DEAD_WORKER_RETENTION."""
        return f"{self.prefix}:workers:dead"

    @property
    def cell_drain(self) -> str:
        """Hash: this cell is draining (`relier.cell_drain`): since (server ms), by, and once
        its dead letters moved, where to. Producers place no new task in it."""
        return f"{self.prefix}:cell:drain"

    @property
    def foreign_consumers(self) -> str:
        """Hash: Celery worker without relier -> JSON list of the relier queues it consumes
        (`relier.consumers`); its ``:lock`` string lets one worker check per interval."""
        return f"{self.prefix}:foreign"


@dataclass(frozen=True, slots=True)
class BrokerKeys:
    """kombu's key names for one Celery app's Redis transport."""

    global_prefix: str = ""
    unacked: str = "unacked"
    unacked_index: str = "unacked_index"

    def queue_list(self, queue: str, priority: int = 0) -> str:
        """The list a message of `priority` on `queue` is pushed to (kombu's `_q_for_pri`)."""
        step = max(s for s in PRIORITY_STEPS if s <= max(0, priority))
        name = f"{self.global_prefix}{queue}"
        return f"{name}{PRIORITY_SEPARATOR}{step}" if step else name

    @property
    def unacked_hash(self) -> str:
        return f"{self.global_prefix}{self.unacked}"

    @property
    def unacked_index_zset(self) -> str:
        return f"{self.global_prefix}{self.unacked_index}"
