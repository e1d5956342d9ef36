"""A user's own Celery app with its own queue names, with relier bound to it."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

from relier import Relier, current_context

app = Celery("ownapp", broker=os.environ["RELIER_REDIS_URL"], set_as_current=False)
app.conf.task_default_queue = "ownapp-default"
relier = Relier(app)


@relier.task(queue="billing", name="ownapp.charge")
async def charge(customer_id: str, amount_cents: int) -> dict[str, Any]:
    return {"customer": customer_id, "charged": amount_cents, "fence": current_context().fence}


@relier.task(queue="mail")
def send_invoice(customer_id: str) -> str:
    return f"invoice sent to {customer_id}"
