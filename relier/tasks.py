"""A ready Celery app configured from ``RELIER_REDIS_URL``, with relier bound to it.

Run workers with ``celery -A relier.tasks.app worker -Q high_priority,default,low_priority``
(add ``--include=yourmodule`` for your tasks) and declare tasks with ``@rl_task``.
"""

from __future__ import annotations

from celery import Celery

from relier.binding import Relier
from relier.chaos.probes import register as register_probes
from relier.config import get_settings

#: kombu redelivers unacked messages after this many seconds. relier's tickets make any such
#: copy harmless; a long timeout just avoids wasted deliveries of reserved tasks.
VISIBILITY_TIMEOUT = 12 * 3600

settings = get_settings()
app = Celery("relier")
app.conf.update(
    broker_url=settings.redis_url,
    broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
    broker_connection_retry_on_startup=True,
    task_default_queue=settings.default_queue,
    worker_disable_prefetch=True,
)
relier = Relier(app, settings=settings)
rl_task = relier.task
probes = register_probes(relier)
