"""Poison elements for a relier queue: random bytes and valid messages with one field broken.

Every element this module makes must end as a dead letter (never run, never dropped): each
carries something that identifies it in the dead letters, either its exact bytes (refused
before kombu parses it: the entry's ``raw``) or a task id no other element uses (refused after
the signature is read: the entry's ``claimed_id``).
"""

from __future__ import annotations

import base64
import json
import pickle
import random
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from relier.dispatch import prepare_dispatch
from relier.packing import MAX_UNPACKED_BYTES, PACKED_PREFIX, element, element_text, pack
from relier.spec import TaskSpec
from relier.store import SHAPES

PLAIN_TASK = "celery.accumulate"  # registered on every Celery app, not a relier task
PWNED_PATH = "/tmp/relier-poison-was-unpickled"


@dataclass(frozen=True, slots=True)
class Poison:
    """One element, what was broken, and the id it claims (when it still claims one)."""

    kind: str
    element: bytes
    claimed_id: str | None = None


class _Unpickle:
    """A pickle that would create `PWNED_PATH` if anything unpickled it."""

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str, str]]:
        return (open, (PWNED_PATH, "w"))


def _random_bytes(rng: random.Random) -> Poison:
    size = rng.choice([0, 1, 2, 7, 64, 512, 4096])
    return Poison("random", rng.randbytes(size) + uuid.uuid4().bytes)


def _not_kombu(rng: random.Random) -> Poison:
    marker = uuid.uuid4().hex
    choices = [
        json.dumps([marker, 1, 2]), json.dumps(marker), json.dumps(12345678901234567890),
        "{" + marker, f"not json {marker}", json.dumps({"marker": marker}),
        json.dumps({"body": marker, "properties": [], "headers": {}}),
        json.dumps({"body": marker, "properties": {"delivery_tag": 5}, "headers": {}}),
        "\udcff".encode("utf-8", "surrogatepass").decode("latin-1") + marker,
        "[" * 100_000 + marker,
    ]
    return Poison("not-kombu", rng.choice(choices).encode("utf-8", "surrogatepass"))


def _bad_packed(rng: random.Random) -> Poison:
    """An element that starts as a packed one (`relier.packing`) and is not."""
    marker = uuid.uuid4().hex
    bomb = zlib.compressobj(9, zlib.DEFLATED, -11)
    choices = [
        PACKED_PREFIX + marker.encode(),  # no separator
        PACKED_PREFIX + marker.encode() + b"\x00" + rng.randbytes(rng.choice([0, 5, 300])),
        PACKED_PREFIX + b"\xff" + marker.encode() + b"\x00" + pack("{}", "")[:2],
        PACKED_PREFIX + marker.encode() + b".1\x00" + pack(marker, "")[:-1],  # cut short
        PACKED_PREFIX + marker.encode() + b".1\x00" + pack("{" + marker, "}"),  # not JSON
        PACKED_PREFIX + marker.encode() + b".1\x00" + bomb.compress(
            b"\x00" * (MAX_UNPACKED_BYTES + 1)) + bomb.flush(),
    ]
    return Poison("bad-packed", rng.choice(choices))


def _packed_when_possible(document: dict[str, Any], tag: str) -> bytes:
    """`document` as a packed element when its tag is where a producer puts it, else JSON."""
    text = json.dumps(document)
    head, found, tail = text.partition(tag)
    if not found or tag in tail:
        return text.encode()
    return element(pack(head, tail), tag)


def _mutations() -> dict[str, Callable[[dict[str, Any], random.Random], Any]]:
    def body_flip(doc: dict[str, Any], rng: random.Random) -> None:
        raw = bytearray(base64.b64decode(doc["body"]))
        raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
        doc["body"] = base64.b64encode(bytes(raw)).decode()

    def body_truncate(doc: dict[str, Any], rng: random.Random) -> None:
        raw = base64.b64decode(doc["body"])
        doc["body"] = base64.b64encode(raw[: rng.randrange(len(raw))]).decode()

    def header(key: str, *values: Any) -> Callable[[dict[str, Any], random.Random], None]:
        def set_header(doc: dict[str, Any], rng: random.Random) -> None:
            doc["headers"][key] = rng.choice(values)
        return set_header

    def drop(path: tuple[str, ...]) -> Callable[[dict[str, Any], random.Random], None]:
        def remove(doc: dict[str, Any], rng: random.Random) -> None:
            target = doc
            for part in path[:-1]:
                target = target[part]
            target.pop(path[-1])
        return remove

    def content_type(value: str) -> Callable[[dict[str, Any], random.Random], None]:
        def set_type(doc: dict[str, Any], rng: random.Random) -> None:
            doc["content-type"] = value
        return set_type

    def pickle_body(doc: dict[str, Any], rng: random.Random) -> None:
        doc["content-type"] = "application/x-python-serialize"
        doc["content-encoding"] = "binary"
        doc["body"] = base64.b64encode(pickle.dumps(_Unpickle())).decode()

    def property_value(key: str, *values: Any) -> Callable[[dict[str, Any], random.Random], None]:
        def set_property(doc: dict[str, Any], rng: random.Random) -> None:
            doc["properties"][key] = rng.choice(values)
        return set_property

    return {
        "body-bit-flip": body_flip,
        "body-truncated": body_truncate,
        "body-empty": lambda doc, rng: doc.update(body=""),
        "body-not-base64": lambda doc, rng: doc.update(body="!!not base64!!"),
        "body-not-string": lambda doc, rng: doc.update(body=[1, 2]),
        "task-wrong-type": header("task", ["x"], 5, None, {"a": 1}, True),
        "task-other-relier": header("task", "tests.explode", "tests.hold"),
        "task-plain": header("task", PLAIN_TASK),
        "task-unknown": header("task", "no.such.task", "x" * 100_000, "\x1b]0;pwned\x07"),
        "id-wrong-type": header("id", 7, None, ["a"]),
        "timelimit": header("timelimit", [0.001, None], [None, 0.001], [1, 1], "abc", [1, 2, 3]),
        "eta": header("eta", "2000-01-01T00:00:00+00:00", "2999-01-01T00:00:00+00:00", 5),
        "expires": header("expires", "2000-01-01T00:00:00+00:00", 3),
        "retries": header("retries", 3, -1, "x"),
        "group": header("group", "g1"),
        "chord": header("chord", {"task": "tests.explode"}),
        "callbacks": header("callbacks", [{"task": "tests.explode"}]),
        "compression": header("compression", "application/x-gzip", "zlib"),
        "extra-header": header("is_eager", True),
        "headers-not-object": lambda doc, rng: doc.update(headers=["task"]),
        "properties-missing": drop(("properties",)),
        "delivery-tag-missing": drop(("properties", "delivery_tag")),
        "delivery-tag-wrong-type": property_value("delivery_tag", 5, None, ["a"]),
        "delivery-info-wrong": property_value("delivery_info", None, "x", {"exchange": 1}),
        "body-encoding": property_value("body_encoding", "rot13", 5),
        "reply-to": property_value("reply_to", "attacker.queue"),
        "correlation-id": property_value("correlation_id", "someone-else"),
        "priority-wrong-type": property_value("priority", "high", [1]),
        "content-type-json": content_type("application/json"),
        "content-type-yaml": content_type("application/x-yaml"),
        "content-type-wrong-type": lambda doc, rng: doc.update({"content-type": 5}),
        "pickle": pickle_body,
    }


def poison_elements(count: int, seed: int, spec: TaskSpec, relier: Any) -> list[Poison]:
    """`count` poison elements: a third random or not kombu at all, the rest valid messages of
    `spec` (each with its own task id, never dispatched) with one field broken."""
    rng = random.Random(seed)
    mutations = _mutations()
    names = sorted(mutations)
    elements: list[Poison] = []
    for index in range(count):
        if index % 3 == 0:
            elements.append((_random_bytes, _not_kombu, _bad_packed)[(index // 3) % 3](rng))
            continue
        task_id = f"poison-{uuid.uuid4()}"
        prepared = prepare_dispatch(relier.runtime, spec, (index, index), {}, task_id=task_id)
        packed = prepared.call.args[1 + SHAPES["dispatch"].args.index("message")]
        document = json.loads(element_text(element(packed, f"{task_id}.1")))
        kind = names[index % len(names)]
        mutations[kind](document, rng)
        raw = (_packed_when_possible(document, f"{task_id}.1") if index % 2
               else json.dumps(document).encode())
        elements.append(Poison(kind, raw, task_id))
    return elements
