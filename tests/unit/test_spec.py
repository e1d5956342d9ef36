"""Task declarations are validated when the decorator runs."""

from __future__ import annotations

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
