"""Where a relier task goes when the caller names no queue: Celery's own routing.

Precedence is Celery's: the call's ``queue=``, then the task's declared ``queue=``, then
``task_routes``, then the app's ``task_default_queue``. Relier pushes to a queue's own Redis
list, so a route to a non-direct exchange (fanout, topic) cannot be honoured and is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any


class UnroutableError(ValueError):
    """A route names something relier cannot push to (a fanout or topic exchange)."""


def celery_router(app: Any, name: str) -> Callable[[Sequence[Any], Mapping[str, Any]], str]:
    """The queue Celery's router picks for task `name` and one call's arguments."""

    def route(args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
        conf = app.conf
        if not conf.task_routes:
            return str(conf.task_default_queue)
        queue = app.amqp.router.route({}, name, tuple(args), dict(kwargs)).get("queue")
        if queue is None:
            return str(conf.task_default_queue)
        exchange = getattr(queue, "exchange", None)
        kind = getattr(exchange, "type", "direct") or "direct"
        if kind != "direct":
            raise UnroutableError(
                f"{name}: task_routes sends it to a {kind} exchange ({queue.exchange.name}): relier "
                "pushes to one queue's list; route it to a queue on a direct exchange")
        return str(queue.name)

    return route
