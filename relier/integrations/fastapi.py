"""FastAPI (Starlette): turn `AdmissionRejectedError` into HTTP 429 with ``Retry-After``.

    from fastapi import FastAPI
    from relier.integrations.fastapi import install_admission_handler

    app = FastAPI()
    install_admission_handler(app)

Needs relier's ``fastapi`` extra (FastAPI and uvicorn): ``pip install -e '.[fastapi]'`` in
relier's checkout, or ``pip install 'relier-<version>-py3-none-any.whl[fastapi]'`` from a wheel
built with ``python -m build`` (never ``pip install relier`` from the package index: that name
is another project).
"""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from relier.errors import AdmissionRejectedError


def retry_after_header(exc: AdmissionRejectedError) -> str:
    """Whole seconds, rounded up, as HTTP's ``Retry-After`` wants (at least 1)."""
    return str(max(1, math.ceil(exc.retry_after)))


async def admission_rejected_handler(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, AdmissionRejectedError):  # registered for this type only
        raise exc
    return JSONResponse(
        status_code=429,
        content={"detail": str(exc), "retry_after": exc.retry_after, "scope": exc.scope},
        headers={"Retry-After": retry_after_header(exc)},
    )


def install_admission_handler(app: Any) -> None:
    """Register the 429 handler on a FastAPI or Starlette app."""
    app.add_exception_handler(AdmissionRejectedError, admission_rejected_handler)
