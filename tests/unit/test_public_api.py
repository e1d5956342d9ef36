"""The public surface is exactly what we intend to support."""

from __future__ import annotations

import relier


def test_all_is_the_intended_surface() -> None:
    assert sorted(relier.__all__) == [
        "Admission",
        "AdmissionRejectedError",
        "Arguments",
        "CheckpointTooLargeError",
        "ConfigurationError",
        "DeadLetterReason",
        "FencedOffError",
        "IdempotencyLock",
        "IdempotencyLockHeldError",
        "IdempotencyLockLostError",
        "PreflightError",
        "Relier",
        "RelierError",
        "RelierTask",
        "ResultEncodingError",
        "TaskContext",
        "TaskFailedError",
        "TaskHandle",
        "TaskNotFoundError",
        "TaskState",
        "UnsupportedCanvasError",
        "current_context",
        "idempotency_lock",
        "rl_task",
    ]
    for name in relier.__all__:
        assert hasattr(relier, name), name
