"""FastAPI: push from async endpoints, report task state, answer 429 + Retry-After.

    uvicorn fastapi_app:api
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
from web_tasks import send_welcome_email

from relier import TaskFailedError, TaskHandle, TaskNotFoundError
from relier.integrations.fastapi import install_admission_handler

api = FastAPI()
install_admission_handler(api)  # AdmissionRejectedError -> 429 with Retry-After


class Signup(BaseModel):
    address: str


@api.post("/signups", status_code=202)
async def signup(body: Signup) -> dict[str, str]:
    handle = await send_welcome_email.apush(body.address)  # never blocks the event loop
    return {"task_id": handle.id}


@api.get("/tasks/{task_id}")
async def task_status(task_id: str) -> dict[str, object]:
    handle = TaskHandle(task_id, send_welcome_email.relier)
    try:
        state = await handle.astate()
        result = await handle.aresult(timeout=0) if state.is_terminal else None
    except TaskNotFoundError:
        raise HTTPException(status_code=404, detail="no such task") from None
    except TaskFailedError as exc:  # dead-lettered or cancelled: say why
        return {"state": exc.state, "reason": exc.reason, "error": exc.message}
    return {"state": state, "result": result}
