"""Preflight checks that need no server: URLs and the app's configuration."""

from __future__ import annotations

from celery import Celery

from relier.preflight import Severity, check_app, redact_url, same_redis


def test_same_redis_normalises_defaults() -> None:
    assert same_redis("redis://127.0.0.1:6379/0", "redis://127.0.0.1")
    assert same_redis("redis://:pw@h:7000/2", "redis://h:7000/2")
    assert not same_redis("redis://h:7000/2", "redis://h:7000/3")
    assert not same_redis("redis://a:6379/0", "redis://b:6379/0")


def test_broker_on_another_redis_is_an_error() -> None:
    app = Celery("x", broker="redis://other-host:6379/0", set_as_current=False)
    app.conf.accept_content = ["json", "relier"]
    checks = {c.name: c for c in check_app(app, "prefork", "redis://127.0.0.1:6379/0")}
    assert checks["broker"].severity is Severity.ERROR
    assert checks["content-type"].severity is Severity.OK
    assert checks["pool"].severity is Severity.OK


def test_unsupported_pool_and_missing_content_type() -> None:
    app = Celery("x", broker="redis://127.0.0.1:6379/0", set_as_current=False)
    app.conf.accept_content = ["json"]
    checks = {c.name: c for c in check_app(app, "custom", "redis://127.0.0.1:6379/0")}
    assert checks["pool"].severity is Severity.ERROR
    for pool in ("gevent", "eventlet", "threads", "solo"):
        assert {c.name: c for c in check_app(app, pool)}["pool"].severity is Severity.OK
    assert checks["content-type"].severity is Severity.ERROR
    assert checks["broker"].severity is Severity.OK


def test_redact_url_hides_only_the_password() -> None:
    assert redact_url("redis://user:secret@h:1/0") == "redis://user:***@h:1/0"
    assert redact_url("redis://h:1/0") == "redis://h:1/0"


def test_pool_names_match_the_cli_names() -> None:
    from types import SimpleNamespace

    from celery.concurrency.prefork import TaskPool as PreforkPool
    from celery.concurrency.solo import TaskPool as SoloPool
    from celery.concurrency.thread import TaskPool as ThreadPool

    from relier.binding import pool_name

    assert pool_name(SimpleNamespace(pool_cls=PreforkPool)) == "prefork"
    assert pool_name(SimpleNamespace(pool_cls=ThreadPool)) == "threads"
    assert pool_name(SimpleNamespace(pool_cls=SoloPool)) == "solo"
    assert pool_name(SimpleNamespace(pool_cls="celery.concurrency.gevent:TaskPool")) == "gevent"


def test_short_visibility_timeout_is_a_warning() -> None:
    app = Celery("x", broker="redis://127.0.0.1:6379/0", set_as_current=False)
    app.conf.accept_content = ["relier"]
    app.conf.broker_transport_options = {"visibility_timeout": 60}
    checks = {c.name: c for c in check_app(app)}
    assert checks["visibility-timeout"].severity is Severity.WARNING
    app.conf.broker_transport_options = {}
    assert {c.name: c for c in check_app(app)}["visibility-timeout"].severity is Severity.OK
