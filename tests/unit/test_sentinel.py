"""Sentinel addresses: relier's URL and Celery's broker form, both ways (pure)."""

from __future__ import annotations

import pytest

from relier.errors import ConfigurationError
from relier.preflight import redact_url, same_redis
from relier.sentinel import from_broker, parse

URL = "redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2:26380,node3/mymaster/2"


def test_parse_names_sentinels_master_db_and_password() -> None:
    address = parse(URL)
    assert address.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26380), ("node3", 26379))
    assert (address.master, address.db, address.password) == ("mymaster", 2, "s3cret")
    assert parse(address.url) == address


def test_broker_settings_round_trip() -> None:
    address = parse(URL + "?sentinel_password=sp")
    broker, options = address.broker_settings()
    assert broker == ("sentinel://:s3cret@10.0.0.1:26379/2;sentinel://:s3cret@10.0.0.2:26380/2;"
                      "sentinel://:s3cret@node3:26379/2")
    assert options == {"master_name": "mymaster", "sentinel_kwargs": {"password": "sp"}}
    assert from_broker(broker, options) == address


def test_from_broker_ignores_other_brokers_and_needs_a_master_name() -> None:
    assert from_broker("redis://127.0.0.1:6379/0", {}) is None
    with pytest.raises(ConfigurationError, match="master_name"):
        from_broker("sentinel://127.0.0.1:26379", {})


@pytest.mark.parametrize(("url", "problem"), [
    ("redis+sentinel://h:26379", "name the monitored master"),
    ("redis+sentinel:///mymaster/0", "no Sentinel host"),
    ("redis+sentinel://h:x/m/0", "not host:port"),
    ("redis+sentinel://h:26379/m/db", "/<master>/<db>"),
])
def test_bad_urls_say_what_is_wrong(url: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        parse(url)


def test_same_redis_and_redaction_understand_sentinel_urls() -> None:
    reordered = "redis+sentinel://:other@node3:26379,10.0.0.2:26380,10.0.0.1:26379/mymaster/2"
    assert same_redis(URL, reordered)
    assert not same_redis(URL, URL.replace("/2", "/3"))
    assert not same_redis(URL, "redis://10.0.0.1:26379/2")
    assert "s3cret" not in redact_url(URL)
    assert "10.0.0.1:26379,10.0.0.2:26380,node3" in redact_url(URL)
    query = redact_url(URL + "?sentinel_password=sp").split("?")[1]
    assert query == "sentinel_password=***"
