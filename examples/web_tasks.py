"""Tasks a web app pushes, kept apart from the web framework so workers need not import it.

    celery -A relier.tasks.app worker -l info -Q emails --include=web_tasks
"""

from __future__ import annotations

from relier import Admission, rl_task


@rl_task(name="web.send_welcome_email", queue="emails", admission=Admission(rate=5, burst=10))
def send_welcome_email(address: str) -> dict[str, str]:
    # Call your mail provider here. Admission caps pushes at 5 per second (bursts of 10):
    # past that, push raises AdmissionRejectedError and the web app answers 429.
    return {"to": address, "status": "sent"}
