"""A ready Celery app configured from ``RELIER_REDIS_URL``, with relier bound to it.

Run workers with ``celery -A relier.tasks.app worker`` (it consumes the four queues it
declares: high_priority, default, low_priority and re-queue; ``-Q`` picks others) and
``--include=yourmodule`` for your tasks; declare tasks with ``@rl_task``.
"""

from __future__ import annotations

from celery import Celery
from kombu.entity import Queue

from relier.binding import Relier
from relier.chaos.probes import register as register_probes
from relier.config import get_settings
from relier.sentinel import is_sentinel_url
from relier.sentinel import parse as parse_sentinel

#: kombu redelivers unacked messages after this many seconds. relier's tickets make any such
#: copy harmless; a long timeout just avoids wasted deliveries of reserved tasks.
VISIBILITY_TIMEOUT = 12 * 3600

settings = get_settings()
broker_url, transport_options = settings.redis_url, {"visibility_timeout": VISIBILITY_TIMEOUT}
if is_sentinel_url(settings.redis_url):
    broker_url, sentinel_options = parse_sentinel(settings.redis_url).broker_settings()
    transport_options.update(sentinel_options)
app = Celery("relier", set_as_current=False)  # importing relier never changes current_app
app.conf.update(
    broker_url=broker_url,
    broker_transport_options=transport_options,
    broker_connection_retry_on_startup=True,
    task_default_queue=settings.default_queue,
    # a worker started without -Q consumes these four, as the README's command names them
    task_queues=[Queue(name) for name in dict.fromkeys(  # type: ignore[no-untyped-call]
        ("high_priority", settings.default_queue, "low_priority", "re-queue"))],
)
relier = Relier(app, settings=settings)
rl_task = relier.task
probes = register_probes(relier)
