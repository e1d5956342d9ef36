"""Flask: push from views, answer 429 + Retry-After when admission refuses.

    flask --app flask_app run
"""

from __future__ import annotations

import math

from flask import Flask, Response, jsonify, request
from web_tasks import send_welcome_email

from relier import AdmissionRejectedError

app = Flask(__name__)


@app.errorhandler(AdmissionRejectedError)
def too_many_requests(exc: AdmissionRejectedError) -> tuple[Response, int, dict[str, str]]:
    retry_after = str(max(1, math.ceil(exc.retry_after)))  # whole seconds, at least 1
    return jsonify(detail=str(exc), retry_after=exc.retry_after), 429, {"Retry-After": retry_after}


@app.post("/signups")
def signup() -> tuple[Response, int]:
    handle = send_welcome_email.push(request.get_json()["address"])  # thread-safe
    return jsonify(task_id=handle.id), 202
