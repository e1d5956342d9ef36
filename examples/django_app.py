"""Django: a middleware that answers 429 + Retry-After, and a view that pushes.

One file for the example; in a project the middleware goes in e.g. myproject/middleware.py,
is listed in settings.MIDDLEWARE, and the view goes in an app's views.py.

    python django_app.py runserver
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.http import require_POST
from web_tasks import send_welcome_email

from relier import AdmissionRejectedError

if not settings.configured:
    settings.configure(
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[f"{__name__}.AdmissionRejectedMiddleware"],
        ALLOWED_HOSTS=["localhost", "127.0.0.1", "testserver"],
        SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "example-only"),
    )
    django.setup()


class AdmissionRejectedMiddleware:
    """Turns `AdmissionRejectedError` raised by a view into 429 with Retry-After."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not isinstance(exc, AdmissionRejectedError):
            return None
        response = JsonResponse({"detail": str(exc), "retry_after": exc.retry_after}, status=429)
        response["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return response


@require_POST
def signup(request: HttpRequest) -> JsonResponse:
    handle = send_welcome_email.push(json.loads(request.body)["address"])
    return JsonResponse({"task_id": handle.id}, status=202)


urlpatterns = [path("signups", signup)]

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
