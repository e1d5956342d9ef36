"""Settings parse from the environment with clear errors."""

from __future__ import annotations

import pytest

from relier.config import DEVELOPMENT_KEY_ID, DEVELOPMENT_SECRET_KEY, Settings, setting_notices
from relier.errors import ConfigurationError


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.env == "production"
    assert settings.uses_development_key
    assert settings.default_hard_timeout is None


@pytest.mark.parametrize("env", ["development", "test"])
def test_development_key_only_where_allowed(env: str) -> None:
    settings = Settings.from_env({"RELIER_ENV": env})
    assert settings.signing_keys[0][0] == DEVELOPMENT_KEY_ID
    assert settings.verification_keys == settings.signing_keys


def test_production_without_keys_cannot_sign_or_verify() -> None:
    settings = Settings.from_env({})
    assert settings.verification_keys == ()
    with pytest.raises(ConfigurationError, match="RELIER_SECRET_KEYS=k1"):
        _ = settings.signing_keys


def test_own_keys_never_verify_the_development_key() -> None:
    settings = Settings.from_env({"RELIER_ENV": "development", "RELIER_SECRET_KEYS": "k:" + "s" * 20})
    assert [kid for kid, _ in settings.verification_keys] == ["k"]


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


@pytest.mark.parametrize(
    ("keys", "message"),
    [("a:" + "x" * 20 + ",a:" + "y" * 20, "key id 'a' is given twice"),
     ("k1:" + "z" * 20 + "," + "y" * 20, "key id 'k1' is given twice"),  # a bare secret is k<position>
     ("dev:" + DEVELOPMENT_SECRET_KEY, "public development secret"),
     ("a:" + "x" * 15, "shorter than 16")],
)
def test_key_mistakes_are_refused(keys: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env({"RELIER_SECRET_KEYS": keys})


def test_unknown_settings_are_reported_with_the_nearest_name() -> None:
    notices = setting_notices({"RELIER_REDIS_URLL": "x", "RELIER_ZZZ": "1", "RELIER_TEST_SERVER": "redis",
                               "OTHER": "1", "RELIER_LEASE_TTL": "5"})
    assert [notice.message for notice in notices] == [
        "RELIER_REDIS_URLL is not a relier setting; did you mean RELIER_REDIS_URL?",
        "RELIER_ZZZ is not a relier setting; see docs/configuration.md",
    ]


def test_renamed_settings_are_read_with_a_deprecation() -> None:
    environ = {"RELIER_HEARTBEAT_TTL": "7", "RELIER_SECRET_KEY": "s" * 20, "RELIER_SOFT_TIMEOUT": "3"}
    settings = Settings.from_env(environ)
    assert settings.lease_ttl == 7.0
    assert [kid for kid, _ in settings.secret_keys] == ["k0"]
    by_name = {notice.name: notice for notice in setting_notices(environ)}
    assert by_name["RELIER_HEARTBEAT_TTL"].replacement == "RELIER_LEASE_TTL"
    assert by_name["RELIER_SECRET_KEY"].replacement == "RELIER_SECRET_KEYS"
    assert by_name["RELIER_SOFT_TIMEOUT"].replacement is None
    assert "soft_timeout=" in by_name["RELIER_SOFT_TIMEOUT"].message


def test_new_name_wins_over_the_renamed_one() -> None:
    environ = {"RELIER_HEARTBEAT_TTL": "7", "RELIER_LEASE_TTL": "4"}
    assert Settings.from_env(environ).lease_ttl == 4.0
    assert "ignored because RELIER_LEASE_TTL is set" in setting_notices(environ)[0].message


@pytest.mark.parametrize(
    ("name", "value"),
    [("RELIER_RESULT_TTL", "-1"), ("RELIER_SOCKET_TIMEOUT", "abc"), ("RELIER_ENV", "staging"),
     ("RELIER_UNSAFE_SKIP_PREFLIGHT", "maybe")],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env({name: value})
