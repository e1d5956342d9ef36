"""One task as the detail view shows it, built from the bytes Redis holds: its record, its
attempt history and its holder's lease. Pure: no I/O, and it never raises, whatever the bytes
(anyone who can reach Redis can write a record); what does not decode is kept as
`Undecodable`, with its size, for the view to say so.

The message is decoded by `relier.stored_message.decode_stored`, as `rl dlq show` and
`rl tasks show` decode theirs; arguments, checkpoint, result, error and the rest of the record
are masked with `relier.display.mask_secrets` (RELIER_CONSOLE_MASK); the names the tables show
anyway (task, queue, state, worker) are not."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from relier.display import mask_secrets
from relier.envelope import SignatureStatus, decode_value
from relier.field_values import as_int
from relier.store.transitions import current_attempt
from relier.stored_message import StoredMessage, decode_stored

#: record fields that hold a moment (Redis's clock, epoch milliseconds), in the order shown
TIME_FIELDS = ("created", "due", "started", "updated", "ended", "expires", "requeued")
#: record fields the stored message is kept in (`relier.stored_message.sealed_body`)
MESSAGE_FIELDS = ("packed", "head", "tail", "raw")
#: history entry fields that hold integers (epoch milliseconds for ``ts``)
_ENTRY_NUMBERS = ("attempt", "fence", "ts", "runtime_ms")
#: record fields the view shows in their own place rather than in the rest of the record
_SHOWN_APART = frozenset({
    "name", "state", "queue", "attempt", "fence", "holder", "worker", "reason", "error",
    "exc_type", "traceback", "partial", "partial_at", "partial_fence", "result", "runtime_ms",
    # the current attempt's own fields, which its row of the attempts table shows, and the
    # flag that says the record has a history list
    "started_fence", "process", "history", *TIME_FIELDS, *MESSAGE_FIELDS})


@dataclass(frozen=True, slots=True)
class Undecodable:
    """Bytes from Redis that are not what they should be: shown as their size, never as they are."""

    size: int

    def __str__(self) -> str:
        return f"undecodable ({self.size} bytes)"


#: a number from a record field: None when absent
Number = int | Undecodable | None


@dataclass(frozen=True, slots=True)
class Stored:
    """A value stored as msgpack (a checkpoint, a result): decoded and masked, or `Undecodable`."""

    value: Any
    size: int


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt (or an event between attempts: released, cancelled, returned) of the task.
    Times are epoch milliseconds from Redis's clock; `runtime` is in seconds."""

    attempt: Number
    fence: Number
    worker: str
    started_ms: Number = None
    ended_ms: Number = None
    runtime: float | None = None
    outcome: str = "no end recorded"


@dataclass(frozen=True, slots=True)
class TaskRead:
    """What Redis holds about one task, as read: the record's fields, its history list, Redis's
    clock at the read, and when its holder last renewed its lease (None: no lease held)."""

    id: str
    record: Mapping[str, bytes]
    history: list[bytes]
    now_ms: int
    holder_renewed_ms: float | None = None


@dataclass(frozen=True, slots=True)
class TaskView:
    """One task, decoded for people. Times are epoch milliseconds of Redis's clock (`now_ms`
    is the read's); `lease_age` and `runtime` are seconds."""

    id: str
    name: str
    state: str
    queue: str
    reason: str
    attempt: Number
    fence: Number
    holder: str
    worker: str
    lease_age: float | None
    now_ms: int
    times: dict[str, Number]
    runtime: float | None
    message: StoredMessage
    message_size: int
    args: list[Any] | None
    kwargs: dict[str, Any] | None
    checkpoint: Stored | None
    checkpoint_ms: Number
    checkpoint_fence: Number
    result: Stored | None
    exc_type: str
    error: str
    traceback: str
    attempts: list[Attempt]
    #: what in the history did not decode, one line each
    problems: list[str] = field(default_factory=list)
    #: the rest of the record, as text (masked)
    other: dict[str, str] = field(default_factory=dict)


def text(raw: bytes | None) -> str:
    """A record field as text (invalid UTF-8 replaced; control characters are the renderer's)."""
    return raw.decode("utf-8", errors="replace") if raw else ""


def number(raw: bytes | None) -> Number:
    """A record field that holds an integer (as Lua writes it: ``12`` or ``12.0``); None when
    absent, `Undecodable` when it holds anything else (`relier.field_values.as_int`)."""
    if raw is None or raw == b"":
        return None
    value = as_int(raw)
    return Undecodable(len(raw)) if value is None else value


def stored(raw: bytes | None, words: tuple[str, ...]) -> Stored | None:
    """A msgpack value from the record, decoded and masked (None when the field is absent)."""
    if raw is None:
        return None
    try:
        value = decode_value(raw)
    except Exception:  # noqa: BLE001 - bytes from Redis: whatever the decoder raises on them is shown as undecodable
        return Stored(Undecodable(len(raw)), len(raw))
    return Stored(mask_secrets(value, words), len(raw))


def _entry_int(value: Any) -> Number:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return Undecodable(len(str(value).encode()))


def _ms(value: Number) -> int | None:
    return value if isinstance(value, int) else None


def outcome_of(entry: Mapping[str, Any]) -> str:
    """A history entry's event in words: ``failed: ValueError: boom``, ``lost (worker_lost)``,
    ``released by console``."""
    words = str(entry.get("event", "?")).replace("_", " ")
    if entry.get("by"):
        words += f" by {entry['by']}"
    if entry.get("from"):
        words += f" (from {entry['from']})"
    if entry.get("waiting_for"):
        words += f" (waiting for {entry['waiting_for']})"
    error = ": ".join(str(entry[name]) for name in ("exc_type", "error") if entry.get(name))
    if error:
        words += f": {error}"
    cause = entry.get("reason") or entry.get("cause")
    if cause and str(cause) not in words:
        words += f" ({cause})"
    return words


def attempts_of(entries: list[Mapping[str, Any]]) -> list[Attempt]:
    """The history as attempts: each ``started`` entry opens one, the next entry closes it with
    its outcome; an entry with no attempt open is a row of its own."""
    rows: list[Attempt] = []
    opened: Attempt | None = None
    for entry in entries:
        event = entry.get("event")
        ts = _entry_int(entry.get("ts"))
        if event == "started":
            if opened is not None:
                rows.append(opened)
            opened = Attempt(_entry_int(entry.get("attempt")), _entry_int(entry.get("fence")),
                             str(entry.get("worker") or ""), started_ms=ts)
            continue
        runtime_ms = _entry_int(entry.get("runtime_ms"))
        base = opened or Attempt(_entry_int(entry.get("attempt")), _entry_int(entry.get("fence")),
                                 str(entry.get("worker") or ""))
        started, ended = _ms(base.started_ms), _ms(ts)
        runtime = (runtime_ms / 1000 if isinstance(runtime_ms, int)
                   else (ended - started) / 1000 if started is not None and ended is not None
                   else None)
        rows.append(replace(base, ended_ms=ts, runtime=runtime, outcome=outcome_of(entry),
                            fence=base.fence if base.fence is not None
                            else _entry_int(entry.get("fence"))))
        opened = None
    if opened is not None:
        rows.append(opened)
    return rows


def _history(read: TaskRead) -> tuple[list[Mapping[str, Any]], list[str]]:
    """The history list's entries, then the record's running attempt or completion (as
    `Store.history` reads them), and a line for each part that did not decode."""
    entries: list[Mapping[str, Any]] = []
    problems: list[str] = []
    for index, raw in enumerate(read.history, 1):
        try:
            entry = json.loads(raw)
        except (ValueError, RecursionError):
            entry = None
        if isinstance(entry, dict):
            entries.append(entry)
            problems += [f"history entry {index}: {name} {value}" for name in _ENTRY_NUMBERS
                         if isinstance(value := _entry_int(entry.get(name)), Undecodable)]
        else:
            problems.append(f"history entry {index}: {Undecodable(len(raw))}")
    try:
        entries += current_attempt({name: read.record.get(name) for name in (
            "state", "attempt", "started_fence", "holder", "process", "started", "ended",
            "runtime_ms", "deduplicated")})
    except (ValueError, UnicodeDecodeError):
        problems.append("the record's current attempt: undecodable (its numbers are not numbers)")
    return entries, problems


def _message(record: Mapping[str, bytes], keys: Mapping[str, bytes]) -> StoredMessage:
    try:
        return decode_stored(record, keys)
    except Exception as exc:  # noqa: BLE001 - bytes from Redis: whatever the decoder raises on them is shown as undecodable
        return StoredMessage(SignatureStatus.UNDECODABLE, error=f"{type(exc).__name__}: {exc}")


def task_view(read: TaskRead, keys: Mapping[str, bytes], words: tuple[str, ...]) -> TaskView:
    """The task `read` holds, decoded with the verification `keys` and masked with `words`."""
    record = read.record
    state = text(record.get("state"))
    times = {name: number(record.get(name)) for name in TIME_FIELDS if name in record}
    message = _message(record, keys)
    envelope = message.envelope
    entries, problems = _history(read)
    attempts = attempts_of(entries)
    started, runtime_ms = _ms(times.get("started")), number(record.get("runtime_ms"))
    if state == "running" and started is not None:
        runtime: float | None = max(0.0, (read.now_ms - started) / 1000)
        if attempts and attempts[-1].ended_ms is None:
            attempts[-1] = replace(attempts[-1], runtime=runtime, outcome="running")
    else:
        runtime = runtime_ms / 1000 if isinstance(runtime_ms, int) else None
    holder = text(record.get("holder"))
    other = {name: text(value) for name, value in sorted(record.items())
             if name not in _SHOWN_APART}
    return TaskView(
        id=read.id, name=text(record.get("name")), state=state or "?", queue=text(record.get("queue")),
        reason=text(record.get("reason")), attempt=number(record.get("attempt")),
        fence=number(record.get("fence")), holder=holder, worker=text(record.get("worker")),
        lease_age=(None if not holder or read.holder_renewed_ms is None
                   else max(0.0, (read.now_ms - read.holder_renewed_ms) / 1000)),
        now_ms=read.now_ms, times=times, runtime=runtime, message=message,
        message_size=sum(len(record[name]) for name in MESSAGE_FIELDS if name in record),
        args=None if envelope is None else mask_secrets(list(envelope.args), words),
        kwargs=None if envelope is None else mask_secrets(dict(envelope.kwargs), words),
        checkpoint=stored(record.get("partial"), words),
        checkpoint_ms=number(record.get("partial_at")),
        checkpoint_fence=number(record.get("partial_fence")),
        result=stored(record.get("result"), words),
        exc_type=text(record.get("exc_type")),
        error=mask_secrets(text(record.get("error")), words),
        traceback=mask_secrets(text(record.get("traceback")), words), attempts=attempts,
        problems=problems,
        other=mask_secrets(other, words))
