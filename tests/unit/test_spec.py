"""Task declarations are validated when the decorator runs."""

from __future__ import annotations

import re

import pytest

from relier.errors import ConfigurationError
from relier.spec import build_spec


def body(x: int) -> int:
    return x


async def async_body(x: int) -> int:
    return x


def spec(**options: object):  # type: ignore[no-untyped-def]
    defaults: dict[str, object] = {"name": None, "queue": "default", "version": 1, "priority": 0,
                                   "soft_timeout": None, "hard_timeout": None}
    defaults.update(options)
    return build_spec(body, **defaults)  # type: ignore[arg-type]


def test_default_name_is_module_and_qualname() -> None:
    assert spec().name == f"{__name__}.body"


def test_async_is_detected() -> None:
    assert build_spec(async_body, name=None, queue="q", version=1, priority=0,
                      soft_timeout=None, hard_timeout=None).is_async
    assert not spec().is_async


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"soft_timeout": 10, "hard_timeout": 5}, "must be below hard_timeout"),
        ({"soft_timeout": 5, "hard_timeout": 5}, "must be below hard_timeout"),
        ({"hard_timeout": 0}, "hard_timeout must be positive"),
        ({"version": 0}, "version must be"),
        ({"priority": 10}, "priority must be between 0 and 9"),
        ({"queue": ""}, "queue must be a non-empty name"),
    ],
)
def test_invalid_options(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        spec(**options)


def test_nested_function_needs_a_name() -> None:
    def inner() -> None:
        return None

    with pytest.raises(ConfigurationError, match="explicit name="):
        build_spec(inner, name=None, queue="q", version=1, priority=0,
                   soft_timeout=None, hard_timeout=None)


def test_soft_hook_needs_a_soft_timeout() -> None:
    with pytest.raises(ConfigurationError, match="on_soft_timeout needs soft_timeout"):
        spec(on_soft_timeout=lambda ctx: None)


def test_idempotency_ttl_must_outlive_the_hard_timeout() -> None:
    with pytest.raises(ConfigurationError, match="must outlive hard_timeout"):
        spec(idempotent=True, idempotency_ttl=5, hard_timeout=10)


def test_an_idempotency_key_function_implies_idempotent() -> None:
    assert spec(idempotency_key=lambda x: x).idempotent


def test_idempotency_digest_is_stable_and_argument_sensitive() -> None:
    from relier.spec import idempotency_digest

    keyed = spec(idempotent=True)
    assert idempotency_digest(keyed, (1,), {}) == idempotency_digest(keyed, (1,), {})
    assert idempotency_digest(keyed, (1,), {}) != idempotency_digest(keyed, (2,), {})
    assert len(idempotency_digest(keyed, (1,), {})) == 64
    assert idempotency_digest(spec(), (1,), {}) == ""
    by_order = spec(idempotency_key=lambda x: "order-1")
    assert idempotency_digest(by_order, (1,), {}) == idempotency_digest(by_order, (2,), {})


def test_default_hard_timeout_applies_to_tasks_without_one() -> None:
    from celery import Celery

    from relier import Relier
    from relier.config import Settings

    settings = Settings.from_env({"RELIER_DEFAULT_HARD_TIMEOUT": "30"})
    bound = Relier(Celery("defaults", broker="redis://127.0.0.1:1/0", set_as_current=False),
                   settings=settings)
    plain = bound.task(name="t.default_hard")(body)
    own = bound.task(name="t.own_hard", hard_timeout=5)(body)
    assert plain.spec.hard_timeout == 30
    assert own.spec.hard_timeout == 5
    assert Relier(Celery("nocap", broker="redis://127.0.0.1:1/0", set_as_current=False),
                  settings=Settings.from_env({})).task(name="t.nocap")(body).spec.hard_timeout is None


def test_decorating_a_task_twice_names_the_task() -> None:
    from celery import Celery

    from relier import Relier
    from relier.config import Settings

    app = Celery("twice", broker="redis://127.0.0.1:1/0", set_as_current=False)
    bound = Relier(app, settings=Settings.from_env({}))
    once = bound.task(name="t.once")(body)
    with pytest.raises(ConfigurationError, match=re.escape("already a relier task named 't.once'")):
        bound.task(once)
    with pytest.raises(ConfigurationError, match=re.escape("already a relier task named 't.once'")):
        bound.task(name="t.twice", retries=2)(once)

    @app.task(name="t.plain")
    def plain() -> None: ...

    with pytest.raises(ConfigurationError, match=re.escape("already a Celery task named 't.plain'")):
        bound.task(plain)
    assert "t.twice" not in bound.tasks
