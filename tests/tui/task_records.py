"""Task records as Redis holds them, built by hand for the detail view's tests: a sealed message
in the record's (pre-packing) ``head`` + tag + ``tail`` form, which `decode_stored` reads."""

from __future__ import annotations

import base64
import json
from typing import Any

from relier.envelope import Envelope, encode_value, seal
from relier.inspection import InflightTask

KEY_ID = "k1"
SECRET = b"s" * 32
KEYS = {KEY_ID: SECRET}
#: 2026-01-02 14:03:16 UTC, Redis's clock at the read in these tests
NOW_MS = 1_767_362_596_000


def message_fields(task: str, task_id: str, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None,
                   *, secret: bytes = SECRET) -> dict[str, bytes]:
    """The record fields that keep a message carrying this call, signed with `secret`."""
    body = seal(Envelope(task=task, id=task_id, args=args, kwargs=kwargs or {}), KEY_ID, secret)
    document = json.dumps({"body": base64.b64encode(body).decode(), "delivery_tag": "@"}).encode()
    head, _, tail = document.partition(b"@")
    return {"head": head, "tail": tail}


def running_record(task_id: str = "3f2c9a1e-0000-4000-8000-000000000001") -> dict[str, bytes]:
    """A task running its second attempt (the first was lost with its worker), holding a
    checkpoint, with a password among its arguments."""
    return {
        "name": b"billing.charge", "state": b"running", "queue": b"billing", "attempt": b"2",
        "fence": b"5", "started_fence": b"5", "holder": b"demo1@vm/1234", "worker": b"demo1@vm",
        "created": str(NOW_MS - 30_000).encode(), "started": str(NOW_MS - 4_200).encode(),
        "updated": str(NOW_MS - 4_200).encode(), "partial": encode_value({"rows_done": 120}),
        "partial_at": str(NOW_MS - 1_000).encode(), "partial_fence": b"5", "ticket": b"2",
        **message_fields("billing.charge", task_id, ("o-1", 4200),
                         {"currency": "EUR", "password": "hunter2"}),
    }


def history_entries() -> list[bytes]:
    """The first attempt, started and lost with its worker."""
    return [json.dumps({"event": "started", "attempt": 1, "fence": 3, "worker": "demo2@vm/99",
                        "ts": NOW_MS - 20_000}).encode(),
            json.dumps({"event": "lost", "attempt": 1, "worker": "demo2@vm", "cause": "worker_lost",
                        "ts": NOW_MS - 15_000}).encode()]


#: a record written by someone who can reach Redis and not by relier: nothing in it decodes
GARBAGE_RECORD: dict[str, bytes] = {
    "name": b"evil\x1b]0;pwned\x07\xff\xfe", "state": b"running", "attempt": b"two",
    "fence": b"\x00\x01", "started": b"yesterday", "created": b"99999999999999999999999",
    "holder": b"evil\x1b[2J@host/1", "partial": b"\xc1\xc1\xc1", "result": b"\x92",
    "packed": b"\x00\x1b[31m not a packed message", "raw": b"\x1b[31m",
    "\x1b]0;field\x07": b"\x9b31m value",
}
GARBAGE_HISTORY = [b"\xff\xfe not json", b"[1, 2, 3]",
                   json.dumps({"event": "started", "attempt": "x\x1b[2J", "ts": "soon"}).encode()]


def inflight_tasks() -> list[InflightTask]:
    """Inflight rows with every kind of value: a name too long for 80 columns, both states,
    lease ages green, yellow and red (and none), run times in ms, seconds and minutes."""
    rows = [("billing.charge_customer_for_the_whole_annual_subscription", "running", 1.2, 754.0),
            ("images.resize", "running", 25.0, 3.2), ("reports.monthly", "reserved", 45.0, None),
            ("mail.send", "running", None, 0.012)]
    return [InflightTask(id=f"{n:08d}-0000-4000-8000-000000000000", task=task, queue="default",
                         state=state, attempt=1, fence=n + 1, holder=f"demo{n % 2 + 1}@vm/{1000 + n}",
                         lease_age=lease, running_for=running)
            for n, (task, state, lease, running) in enumerate(rows)]
