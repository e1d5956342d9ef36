"""Settings parse from the environment with clear errors."""

from __future__ import annotations

import pytest

from relier.config import DEVELOPMENT_KEY_ID, Settings
from relier.errors import ConfigurationError


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.uses_development_key
    assert settings.signing_keys[0][0] == DEVELOPMENT_KEY_ID
    assert settings.default_hard_timeout is None


def test_secret_keys_first_signs() -> None:
    settings = Settings.from_env({"RELIER_SECRET_KEYS": "new:" + "n" * 20 + ", old:" + "o" * 20})
    assert [kid for kid, _ in settings.signing_keys] == ["new", "old"]
    assert not settings.uses_development_key


def test_bare_secrets_are_numbered() -> None:
    settings = Settings.from_env({"RELIER_SECRET_KEYS": "a" * 16 + "," + "b" * 16})
    assert [kid for kid, _ in settings.secret_keys] == ["k0", "k1"]


def test_short_secret_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="RELIER_SECRET_KEYS: secret for key id 'k'"):
        Settings.from_env({"RELIER_SECRET_KEYS": "k:short"})


def test_production_needs_keys() -> None:
    with pytest.raises(ConfigurationError, match="RELIER_ENV=production"):
        Settings.from_env({"RELIER_ENV": "production"})


@pytest.mark.parametrize(
    ("name", "value"),
    [("RELIER_RESULT_TTL", "-1"), ("RELIER_SOCKET_TIMEOUT", "abc"), ("RELIER_ENV", "staging"),
     ("RELIER_UNSAFE_SKIP_PREFLIGHT", "maybe")],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env({name: value})
