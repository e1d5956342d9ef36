"""Relier bound to your own Celery app, with a queue per kind of work.

Workers, one pool per queue so slow reports never hold up charges:

    celery -A billing_app worker -l info -Q billing -c 4 -n billing@%h
    celery -A billing_app worker -l info -Q reports -c 1 -n reports@%h
    rl run-resurrector --app billing_app:app
"""

from __future__ import annotations

import os
import time

from celery import Celery

from relier import Admission, AdmissionRejectedError, Relier, TaskHandle, current_context

# set_as_current=False: this example declares its tasks with @relier.task, so importing it
# beside modules that use @rl_task (which declares on the current app's binding) moves nothing.
app = Celery("billing", broker=os.environ.get("RELIER_REDIS_URL", "redis://127.0.0.1:6379/0"),
             set_as_current=False)
app.conf.task_default_queue = "billing"
# Create Relier(app) after configuring the app: it adds relier's content type to accept_content.
relier = Relier(app, admission={"reports": Admission(rate=20, burst=50, max_depth=1_000)})


@relier.task(name="billing.charge", queue="billing", hard_timeout=30)
def charge(customer_id: str, amount_cents: int) -> dict[str, object]:
    ctx = current_context()
    return {"customer": customer_id, "charged": amount_cents, "worker": ctx.worker}


@relier.task(name="billing.monthly_statement", queue="reports", priority=6, hard_timeout=300)
def monthly_statement(customer_id: str, month: str) -> dict[str, object]:
    ctx = current_context()
    return {"customer": customer_id, "month": month, "worker": ctx.worker}


def statement_now(customer_id: str, month: str) -> TaskHandle:
    """A statement a customer is waiting for: ahead of the batch (kombu takes 0 first)."""
    return monthly_statement.push_with((customer_id, month), priority=0)


def statements_for_batch(customer_ids: list[str], month: str) -> list[TaskHandle]:
    """The monthly batch, paced by the queue's admission limit instead of flooding it."""
    handles = []
    for customer_id in customer_ids:
        while True:
            try:
                handles.append(monthly_statement.push(customer_id, month))
                break
            except AdmissionRejectedError as exc:
                time.sleep(exc.retry_after)
    return handles
