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
        "NotDurableError",
        "PreflightError",
        "PushOutcomeUnknownError",
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


def test_an_unknown_task_option_is_refused_with_the_list_of_options() -> None:
    import pytest
    from celery import Celery

    from relier.config import Settings

    own = relier.Relier(Celery("options-test"), settings=Settings.from_env({}))
    with pytest.raises(relier.ConfigurationError, match="unknown option\\(s\\) hard_timout"):
        own.task(hard_timout=5)(lambda: None)
