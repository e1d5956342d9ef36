"""relier's kombu message matches what Celery itself would publish, field for field."""

from __future__ import annotations

import base64
import json

from celery import Celery

from relier.keys import BrokerKeys
from relier.message import CONTENT_TYPE, build_message


def _relier_document(tag: str = "abc.1") -> dict[str, object]:
    message = build_message(task_name="t.noop", task_id="abc", body=b"\x01\x02", queue="qq",
                            priority=0, time_limits=(10, 8), args=(1,), kwargs={"k": 2})
    document: dict[str, object] = json.loads(message.with_tag(tag))
    return document


def test_split_places_the_tag_last() -> None:
    message = build_message(task_name="t", task_id="i", body=b"", queue="q", priority=0,
                            time_limits=(None, None), args=(), kwargs={})
    assert message.tail == '"}}'
    assert message.head.endswith('"delivery_tag": "')


def test_headers_and_properties_match_celery_protocol_2() -> None:
    app = Celery("golden", broker="memory://", set_as_current=False)
    celery_message = app.amqp.as_task_v2("abc", "t.noop", args=(1,), kwargs={"k": 2},
                                         time_limit=10, soft_time_limit=8)
    document = _relier_document()
    headers = document["headers"]
    assert isinstance(headers, dict)
    assert set(headers) == set(celery_message.headers)
    assert headers["timelimit"] == list(celery_message.headers["timelimit"])
    assert headers["task"] == "t.noop"
    assert headers["id"] == headers["root_id"] == "abc"
    properties = document["properties"]
    assert isinstance(properties, dict)
    assert {"correlation_id", "delivery_info", "priority", "body_encoding", "delivery_tag"} <= set(
        properties
    )
    assert properties["delivery_info"] == {"exchange": "", "routing_key": "qq"}
    assert properties["delivery_tag"] == "abc.1"
    assert document["content-type"] == CONTENT_TYPE
    assert base64.b64decode(str(document["body"])) == b"\x01\x02"


def test_priority_lists_follow_kombu() -> None:
    keys = BrokerKeys(global_prefix="pfx:")
    assert keys.queue_list("q", 0) == "pfx:q"
    assert keys.queue_list("q", 2) == "pfx:q"
    assert keys.queue_list("q", 3) == "pfx:q\x06\x163"
    assert keys.queue_list("q", 9) == "pfx:q\x06\x169"
