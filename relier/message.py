"""Building the kombu message relier pushes, as bytes split around its delivery tag.

kombu's Redis transport stores each message as one JSON document with a base64 body. Relier
writes that document itself (the same fields kombu writes for Celery protocol 2) so that the
dispatch script can register the task and push its message in one round trip, and so that a
re-queue inside Lua only swaps the delivery tag (the ticket) without decoding anything.
"""

from __future__ import annotations

import base64
import json
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from relier.packing import element as packed_element
from relier.packing import pack

CONTENT_TYPE = "application/x-relier"
CONTENT_ENCODING = "binary"
SERIALIZER_NAME = "relier"

_TAG_MARKER = "\x00relier-tag\x00"
_ORIGIN = f"gen{os.getpid()}@{socket.gethostname()}"


@dataclass(frozen=True, slots=True)
class SplitMessage:
    """A kombu message as ``head + delivery_tag + tail``, and packed (`relier.packing`)."""

    head: str
    tail: str
    #: What relier stores (record and queue): `relier.packing.pack` of head and tail.
    packed: bytes = b""
    #: The headers it carries, for Celery's publish signals (a copy: the message is built).
    headers: Mapping[str, Any] = field(default_factory=dict)

    def with_tag(self, tag: str) -> str:
        return f"{self.head}{tag}{self.tail}"

    def element(self, tag: str) -> bytes:
        """The packed queue element carrying `tag`, as the Lua scripts push it."""
        return packed_element(self.packed, tag)


#: The longest rendering of the arguments a message carries.
_SHOWN_LIMIT = 1024


def _repr_limited(value: object, limit: int = _SHOWN_LIMIT) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def execution_headers(
    *,
    task_name: str,
    task_id: str,
    time_limits: tuple[float | None, float | None],  # (hard, soft), as Celery orders them
    extra: Mapping[str, Any] | None = None,
    canvas: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The Celery protocol-2 headers that decide how a worker runs a message.

    A relier worker accepts a message only if its headers are exactly these (computed from the
    signed envelope, `extra` being the call's own headers) plus the informational
    `DISPLAY_HEADERS`: Celery reads its headers, not relier's envelope, so an unsigned header
    that disagrees is tampering. ``eta`` and ``expires`` are always empty: relier's delayed set
    and start do that work. `canvas` (the envelope's) gives ``group``, ``group_index``,
    ``root_id`` and ``parent_id``, which Celery shows the task as ``self.request``; the rest of
    the canvas stays in the envelope, so Celery never continues a chain itself.
    """
    lineage = canvas or {}
    return {**(extra or {}),
        "lang": "py",
        "task": task_name,
        "id": task_id,
        "shadow": None,
        "eta": None,
        "expires": None,
        "group": lineage.get("group_id"),
        "group_index": lineage.get("group_index"),
        "retries": 0,
        "timelimit": list(time_limits),
        "root_id": lineage.get("root_id") or task_id,
        "parent_id": lineage.get("parent_id"),
        "ignore_result": True,
        "replaced_task_nesting": 0,
        "stamped_headers": None,
        "stamps": {},
    }


#: Headers Celery only shows (logs, events, `inspect`); they never change what runs.
DISPLAY_HEADERS = frozenset({"argsrepr", "kwargsrepr", "origin"})


def header_mismatches(
    headers: Mapping[str, Any], properties: Mapping[str, Any], expected: Mapping[str, Any],
    task_id: str,
) -> list[str]:
    """Where a delivered message's headers and properties differ from what was signed."""
    problems = [f"header {key!r} is {headers.get(key)!r}, signed {value!r}"
                for key, value in expected.items()
                if key not in headers or headers[key] != value]
    problems += [f"unexpected header {key!r}" for key in headers
                 if key not in expected and key not in DISPLAY_HEADERS]
    if properties.get("correlation_id") != task_id:
        problems.append(f"correlation_id is {properties.get('correlation_id')!r}")
    if properties.get("reply_to") not in ("", None):
        problems.append(f"reply_to is {properties.get('reply_to')!r}")
    return problems


def build_message(
    *,
    task_name: str,
    task_id: str,
    body: bytes,
    queue: str,
    priority: int,
    time_limits: tuple[float | None, float | None],  # (hard, soft), as Celery orders them
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    extra_headers: Mapping[str, Any] | None = None,
    canvas: Mapping[str, Any] | None = None,
    argsrepr: str | None = None,
    kwargsrepr: str | None = None,
) -> SplitMessage:
    """The kombu JSON for one relier task, split where the delivery tag goes. `argsrepr` and
    `kwargsrepr` (the caller's, as Celery takes them) replace relier's rendering of the
    arguments in what Celery shows."""
    headers = execution_headers(task_name=task_name, task_id=task_id, time_limits=time_limits,
                                extra=extra_headers, canvas=canvas)
    headers.update(
        argsrepr=_repr_limited(tuple(args)) if argsrepr is None else argsrepr[:_SHOWN_LIMIT],
        kwargsrepr=_repr_limited(dict(kwargs)) if kwargsrepr is None else kwargsrepr[:_SHOWN_LIMIT],
        origin=_ORIGIN)
    properties: dict[str, Any] = {
        "correlation_id": task_id,
        "reply_to": "",
        "delivery_mode": 2,
        "delivery_info": {"exchange": "", "routing_key": queue},
        "priority": priority,
        "body_encoding": "base64",
        "delivery_tag": _TAG_MARKER,
    }
    document = {
        "body": base64.b64encode(body).decode("ascii"),
        "content-encoding": CONTENT_ENCODING,
        "content-type": CONTENT_TYPE,
        "headers": headers,
        "properties": properties,
    }
    encoded = json.dumps(document)
    marker = json.dumps(_TAG_MARKER)[1:-1]
    head, _, tail = encoded.partition(marker)
    return SplitMessage(head=head, tail=tail, packed=pack(head, tail), headers=headers)
