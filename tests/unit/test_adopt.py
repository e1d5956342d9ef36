"""Celery task options mapped to relier's for Relier(app, all_tasks=True)."""

from __future__ import annotations

from celery import Task

from relier.adopt import CELERY_DEFAULT_RETRY_DELAY, Adoption, adopt


class Custom(Task):  # type: ignore[misc]
    pass


def _adopted(**options: object) -> Adoption:
    adoption = adopt("t", options, Task)
    assert isinstance(adoption, Adoption), adoption
    return adoption


def test_plain_options_map_and_an_exception_fails_at_once() -> None:
    adoption = _adopted(bind=True, queue="mail", priority=3, time_limit=30, soft_time_limit=20,
                        ignore_result=True, acks_late=True, max_retries=7)
    assert adoption.options == {"name": "t", "bind": True, "queue": "mail", "priority": 3,
                                "hard_timeout": 30.0, "soft_timeout": 20.0, "retries": 0}
    assert adoption.attributes == {"max_retries": 7}  # what self.retry() reads


def test_autoretry_becomes_the_retry_policy() -> None:
    fixed = _adopted(autoretry_for=(ConnectionError,), default_retry_delay=5)
    assert fixed.options["retry_on"] == (ConnectionError,)
    assert fixed.options["retries"] == 3
    assert fixed.options["retry_backoff"] == fixed.options["retry_backoff_max"] == 5.0
    default = _adopted(autoretry_for=(KeyError,))
    assert default.options["retry_backoff"] == CELERY_DEFAULT_RETRY_DELAY
    exponential = _adopted(autoretry_for=(KeyError,), retry_backoff=True, retry_backoff_max=60,
                           retry_kwargs={"max_retries": 9})
    assert (exponential.options["retries"], exponential.options["retry_backoff"],
            exponential.options["retry_backoff_max"]) == (9, 1.0, 60.0)
    counted = _adopted(autoretry_for=(KeyError,), retry_kwargs={"countdown": 2})
    assert counted.options["retry_backoff"] == 2.0


def test_options_relier_cannot_honour_keep_the_task_plain() -> None:
    assert "base" in str(adopt("t", {"base": Custom}, Task))
    assert "serializer" in str(adopt("t", {"serializer": "pickle"}, Task))
    assert "admission" in str(adopt("t", {"rate_limit": "10/s"}, Task))
    assert "no_such" in str(adopt("t", {"no_such": 1}, Task))
    assert isinstance(adopt("t", {"base": Task, "serializer": None}, Task), Adoption)
