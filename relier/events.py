"""Lifecycle event types: every transition script appends one of these to the event stream."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    DISPATCHED = "dispatched"
    RECEIVED = "received"
    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"
    REJECTED_WRITE = "rejected_write"
    RESURRECTED = "resurrected"
    REQUEUED = "requeued"
    RECONCILED = "reconciled"
    CHECKPOINTED = "checkpointed"
    TIMED_OUT = "timed_out"
    ADMISSION_REJECTED = "admission_rejected"
    BOUNCED = "bounced"
    DEFERRED = "deferred"
    PROMOTED = "promoted"
    RETRIED = "retried"
    HANDOFF_STARTED = "handoff_started"
    HANDED_OFF = "handed_off"
    RELEASED = "released"
    DLQ_PURGED = "dlq_purged"
    LOCK_COMMITTED = "lock_committed"
    CANCELLED = "cancelled"
