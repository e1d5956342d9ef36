"""Why a task ended up in the dead letters: one enum member per reason."""

from __future__ import annotations

from enum import StrEnum


class DeadLetterReason(StrEnum):
    """Reasons recorded on a dead letter; the strings are stored in Redis."""

    RETRIES_EXHAUSTED = "retries_exhausted"
    HARD_TIMEOUT = "hard_timeout"
    MAX_RESURRECTIONS = "max_resurrections"
    UNDECODABLE = "undecodable"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_KEY = "unknown_key"
    MIGRATION_FAILED = "migration_failed"
    SCHEMA_UNSUPPORTED = "schema_unsupported"
    UNKNOWN_TASK = "unknown_task"
    RESULT_UNENCODABLE = "result_unencodable"
    LOST_IN_BROKER = "lost_in_broker"
    TAMPERED = "tampered"
    CONTENT_REFUSED = "content_refused"
    #: A chord body that never ran because a header task was dead-lettered (Celery's
    #: ChordError); its record is created dead-lettered, outside the DLQ.
    CHORD_FAILED = "chord_failed"
    #: A chain step after one that was dead-lettered: never run, it ends with that step's
    #: error, as Celery marks the rest of a failed chain; created dead-lettered, outside the DLQ.
    CHAIN_FAILED = "chain_failed"
    #: A verified message pushed under another RELIER_KEY_PREFIX than the worker's.
    KEY_PREFIX_MISMATCH = "key_prefix_mismatch"

    @property
    def is_releasable(self) -> bool:
        """Whether the entry still holds a verified envelope that can run again."""
        return self not in _UNVERIFIED


#: A task record keeps the message its producer signed: one ended ``tampered`` (only a copy
#: was altered), ``bad_signature`` or ``unknown_key`` (a worker had other keys) may be released;
#: raw entries are never releasable, whatever their reason.
_UNVERIFIED = frozenset(
    {DeadLetterReason.UNDECODABLE, DeadLetterReason.CONTENT_REFUSED, DeadLetterReason.CHORD_FAILED,
     DeadLetterReason.CHAIN_FAILED}
)
