"""Celery's publish signals for relier's pushes.

Celery sends ``before_task_publish`` and ``after_task_publish`` around every message it
publishes; tracing, auditing and test code listen to them. Relier publishes its own messages
(the dispatch script), so it sends them itself, with the arguments Celery gives: the task name
as sender, the protocol-2 body ``(args, kwargs, embed)``, the headers, the exchange and routing
key. The message is signed before the signals run: a receiver that changes the headers changes
a copy, which is not sent (Celery would send the change; relier's worker would refuse it).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from celery import signals

#: The embed part of Celery's protocol-2 body, from the envelope's canvas.
_EMBED = {"callbacks": "link", "errbacks": "link_error", "chain": "chain", "chord": "chord"}


def celery_body(args: Sequence[Any], kwargs: Mapping[str, Any],
                canvas: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
    """The ``(args, kwargs, embed)`` body Celery would have published for this call."""
    embed = {name: canvas.get(key) or None for name, key in _EMBED.items()}
    return list(args), dict(kwargs), embed


@contextmanager
def publish_signals(task_name: str, task_id: str, body: tuple[Any, ...], queue: str,
                    headers: Mapping[str, Any]) -> Iterator[None]:
    """``before_task_publish`` on entry and ``after_task_publish`` once the body succeeded;
    with no receiver connected, nothing is built."""
    if not signals.before_task_publish.receivers and not signals.after_task_publish.receivers:
        yield
        return
    shown = copy.deepcopy(dict(headers))
    shown["id"] = task_id
    signals.before_task_publish.send(
        sender=task_name, body=body, exchange="", routing_key=queue, declare=[],
        headers=shown, properties={"correlation_id": task_id, "reply_to": ""}, retry_policy={})
    yield
    signals.after_task_publish.send(sender=task_name, body=body, headers=shown, exchange="",
                                    routing_key=queue)
