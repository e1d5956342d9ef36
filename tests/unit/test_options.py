"""Celery's apply_async options mapped to relier's, or refused with the alternative."""

from __future__ import annotations

import datetime

import pytest
from celery import Celery
from kombu import Exchange, Queue

from relier.errors import UnsupportedCanvasError
from relier.options import UnsupportedOptionError, from_celery
from relier.routing import UnroutableError, celery_router


def test_every_time_option_keeps_its_celery_meaning() -> None:
    moment = datetime.datetime(2030, 1, 1, 12)  # naive: Celery's UTC
    call = from_celery("t", {"eta": moment, "expires": 30, "time_limit": 9, "soft_time_limit": 3})
    assert call.eta == moment.replace(tzinfo=datetime.UTC)
    assert call.countdown is None
    assert call.expires_in == 30.0
    assert (call.time_limit, call.soft_time_limit, call.has_time_limits) == (9, 3, True)
    relative = from_celery("t", {"countdown": 1.5, "expires": "2030-01-01T00:00:00+02:00"})
    assert relative.countdown == 1.5
    assert relative.expires == datetime.datetime(2029, 12, 31, 22, tzinfo=datetime.UTC)


def test_options_without_effect_are_accepted() -> None:
    call = from_celery("t", {"ignore_result": True, "retry_policy": {"max_retries": 3},
                             "producer": object(), "add_to_parent": True, "retry": False,
                             "argsrepr": "(1,)", "kwargsrepr": "{}", "throw": True})
    assert call.retry is False


def test_routing_key_is_the_queue() -> None:
    assert from_celery("t", {"routing_key": "emails"}).queue == "emails"
    assert from_celery("t", {"queue": Queue("q1")}).queue == "q1"
    with pytest.raises(UnsupportedOptionError, match="differs"):
        from_celery("t", {"queue": "a", "routing_key": "b"})


def test_canvas_options_are_kept_as_plain_signatures() -> None:
    callback = {"task": "t.next", "args": [1], "kwargs": {}, "options": {}}
    call = from_celery("t", {"link": callback, "link_error": [callback, callback],
                             "chain": [callback], "chord": callback, "group_id": "g",
                             "group_index": 2, "root_id": "r", "parent_id": "p"})
    assert call.canvas == {"link": [callback], "link_error": [callback, callback],
                           "chain": [callback], "chord": callback, "group_id": "g",
                           "group_index": 2, "root_id": "r", "parent_id": "p"}
    assert from_celery("t", {}).canvas == {}


@pytest.mark.parametrize("options", [
    {"link": "t.next"}, {"link_error": [{"args": []}]}, {"chord": {"task": "t.body"}},
    {"group_id": 7}, {"group_index": True}, {"group_index": "1", "group_id": "g"},
])
def test_malformed_canvas_options_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(UnsupportedOptionError):
        from_celery("t", options)


@pytest.mark.parametrize(("options", "error"), [
    ({"link": object()}, UnsupportedCanvasError), ({"chord": object()}, UnsupportedCanvasError),
    ({"shadow": "x"}, UnsupportedOptionError), ({"compression": "zlib"}, UnsupportedOptionError),
    ({"headers": {"task": "other"}}, UnsupportedOptionError),
    ({"time_limit": -1}, UnsupportedOptionError), ({"priority": "high"}, UnsupportedOptionError),
    ({"countdown": "soon"}, UnsupportedOptionError), ({"eta": "not a time"}, UnsupportedOptionError),
])
def test_options_that_cannot_apply_are_refused(options: dict[str, object], error: type) -> None:
    with pytest.raises(error):
        from_celery("t", options)


def test_task_routes_to_a_fanout_exchange_are_refused() -> None:
    app = Celery("routes", set_as_current=False)
    app.conf.task_queues = [Queue("broadcast", Exchange("fan", type="fanout"))]
    app.conf.task_routes = {"t.fan": {"queue": "broadcast"}}
    with pytest.raises(UnroutableError, match="fanout"):
        celery_router(app, "t.fan")((), {})
    assert celery_router(app, "t.other")((), {}) == app.conf.task_default_queue
