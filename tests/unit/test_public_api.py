"""The public surface is exactly what we intend to support."""

from __future__ import annotations

import inspect

import relier

#: Names `relier/__init__.py` imports for its own annotations, not to export them.
ANNOTATION_ONLY = {"TaskOptions"}


def test_all_is_the_intended_surface() -> None:
    """`__all__` is every relier class and function the package binds, nothing else; which names
    those are is docs/api.md's table, checked against `__all__` in test_docs_reference.py."""
    bound = {name for name, value in vars(relier).items()
             if not name.startswith("_") and not inspect.ismodule(value)
             and getattr(value, "__module__", "").partition(".")[0] == "relier"}
    assert len(relier.__all__) == len(set(relier.__all__)), "listed twice"
    assert set(relier.__all__) == bound - ANNOTATION_ONLY
    for name in relier.__all__:
        assert hasattr(relier, name), name


def test_an_unknown_task_option_is_refused_with_the_list_of_options() -> None:
    import pytest
    from celery import Celery

    from relier.config import Settings

    own = relier.Relier(Celery("options-test", set_as_current=False), settings=Settings.from_env({}))
    with pytest.raises(relier.ConfigurationError, match="unknown option\\(s\\) hard_timout"):
        own.task(hard_timout=5)(lambda: None)


def test_the_ready_app_declares_the_four_queues_a_worker_consumes_without_q() -> None:
    """In a process of its own: importing `relier.tasks` binds the ready app to this
    environment's settings, which the integration tests' own server must decide."""
    import subprocess
    import sys

    shown = subprocess.run(
        [sys.executable, "-c", "from relier.tasks import app; "
         "print(' '.join(queue.name for queue in app.conf.task_queues))"],
        capture_output=True, text=True, check=True, timeout=60)
    assert shown.stdout.split() == ["high_priority", "default", "low_priority", "re-queue"]
