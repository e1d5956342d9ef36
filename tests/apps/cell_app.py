"""The Celery app a cells-test worker runs: its broker is the cell RELIER_CELL names."""

from __future__ import annotations

from celery import Celery
from cell_tasks import QUEUE, declare

from relier import Relier

app = Celery("cells", set_as_current=False)
app.conf.task_default_queue = QUEUE
relier = Relier(app)
tasks = declare(relier)
