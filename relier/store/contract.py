"""The Python side of the Lua contract: every script's KEYS and ARGV, built in one place.

Every script receives the same shared keys first (`SHARED_KEYS`, KEYS[1..8]) and the event
stream cap first (ARGV[1]); its own keys and arguments follow in the order its `ScriptShape`
names them, which is the order its `.lua` header lists (tests/unit/test_script_contract.py
reads every header and compares). Callers pass keys and arguments by name, so no position is
written twice. Every time is in milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from relier.keys import BrokerKeys, Keys

#: The keys every script receives first, in this order (see lua_scripts/_prelude.lua).
SHARED_KEYS = ("events", "dlq", "queued", "delayed", "slo", "leases", "unacked", "unacked_index")
#: The argument every script receives first.
SHARED_ARGS = ("maxlen",)


class Reply(StrEnum):
    """Every status a script replies with."""

    OK = "ok"
    AGAIN = "again"
    EXISTS = "exists"
    REJECTED = "rejected"
    MISSING = "missing"
    DONE = "done"
    STALE = "stale"
    DEFERRED = "deferred"
    QUEUED = "queued"
    DEAD_LETTERED = "dead_lettered"
    SCHEDULED = "scheduled"
    MARKED = "marked"
    NOT_DEAD_LETTERED = "not_dead_lettered"
    UNRELEASABLE = "unreleasable"
    NOT_DUE = "not_due"
    SKIP = "skip"
    PRESENT = "present"
    UNKNOWN = "unknown"
    REQUEUED = "requeued"
    ACQUIRED = "acquired"
    HELD = "held"
    LOST = "lost"
    ALIVE = "alive"
    QUIET = "quiet"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class ScriptShape:
    """A script's own keys (from KEYS[9]) and arguments (from ARGV[2]), by name, in order;
    `key_group` repeats once per item after them and `rest` names a variable ARGV tail."""

    keys: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    key_group: tuple[str, ...] = ()
    rest: str = ""


_TASK = ("record", "history")

#: A task created inside another script (a continuation, see `NewTask`): its key group and its
#: arguments, in the order lua_scripts/_prelude.lua's ``created_at`` reads them.
CREATE_KEYS = ("record", "list", "idem")
CREATE_ARGS = ("task_id", "task_name", "queue", "message", "version", "idem_digest",
               "max_resurrections", "front", "nonce", "due_ms", "delay_ms", "expires_ms",
               "expires_in_ms", "fail_reason", "fail_error", "fail_exc_type")

SHAPES: dict[str, ScriptShape] = {
    "dispatch": ScriptShape(
        keys=("record", "list", "idem", "limits", "queue_tat", "task_tat",
              "step0", "step3", "step6", "step9"),
        args=("task_id", "task_name", "queue", "message", "version", "idem_digest",
              "max_resurrections", "front", "queue_rate", "queue_burst", "queue_max_depth",
              "task_rate", "task_burst", "task_max_depth", "nonce", "due_ms", "delay_ms", "expires_ms",
              "expires_in_ms", "queue_scope", "task_scope")),
    "receive": ScriptShape(keys=("record", "holder_held"),
                           args=("tag", "holder", "worker", "task_id")),
    "start": ScriptShape(keys=(*_TASK, "process_held", "reserver_held", "idem"),
                         args=("tag", "worker", "process", "task_id", "start_token", "idempotent",
                               "defer_ms", "result_ttl_ms")),
    "complete": ScriptShape(keys=(*_TASK, "process_held", "idem", "chord"),
                            args=("fence", "result", "result_ttl_ms", "task_id", "runtime_ms",
                                  "idem_ttl_ms", "chord_index", "creates", "replaced_by"),
                            key_group=CREATE_KEYS, rest="created tasks"),
    "fail": ScriptShape(keys=(*_TASK, "process_held", "idem", "chord"),
                        args=("fence", "reason", "exc_type", "message", "traceback", "task_id",
                              "runtime_ms", "retries", "retry_delay_ms", "chord_index",
                              "result_ttl_ms", "creates"),
                        key_group=CREATE_KEYS, rest="created tasks"),
    "reject": ScriptShape(keys=(*_TASK, "holder_held", "idem"),
                          args=("tag", "reason", "error", "task_id")),
    "dead_letter_raw": ScriptShape(keys=("entry",),
                                   args=("entry_id", "reason", "error", "raw", "headers",
                                         "claimed_id", "claimed_name", "queue")),
    "lost": ScriptShape(keys=(*_TASK, "front", "process_held", "worker_held", "idem"),
                        args=("tag", "task_id", "process", "cause")),
    "refresh": ScriptShape(rest="processes"),
    "tick": ScriptShape(keys=("resurrector",), args=("lease_ttl_ms", "gap_ms")),
    "reap": ScriptShape(keys=("held", "resurrector"), args=("process", "lease_ttl_ms",
                                                             "refresh_ms", "mode"),
                        key_group=("record", "history", "front", "idem"), rest="task_ids"),
    "reconcile": ScriptShape(keys=(*_TASK, "list", "front", "idem"),
                             args=("task_id", "reconcile_after_ms", "scan")),
    "checkpoint": ScriptShape(keys=("record",), args=("fence", "encoded", "task_id")),
    "hard_timeout": ScriptShape(keys=(*_TASK, "process_held", "idem", "chord"),
                                args=("tag", "task_id", "timeout_ms", "process", "chord_index",
                                      "result_ttl_ms", "creates"),
                                key_group=CREATE_KEYS, rest="created tasks"),
    "promote": ScriptShape(keys=("record", "list"), args=("task_id",)),
    "lock": ScriptShape(keys=("lock",), args=("op", "token", "ttl_ms", "result", "key")),
    "bounce": ScriptShape(keys=(*_TASK, "worker_held", "idem"),
                          args=("tag", "reason", "error", "delay_ms", "max_bounces", "task_id",
                                "worker")),
    "release": ScriptShape(keys=(*_TASK, "front"), args=("task_id", "by")),
    "purge": ScriptShape(key_group=("record", "history"), args=("why",), rest="entry_ids"),
    "mark_handoff": ScriptShape(keys=("record",), args=("tag", "task_id", "worker")),
    "cancel": ScriptShape(keys=(*_TASK, "idem"), args=("task_id", "reason", "result_ttl_ms", "by")),
}


@dataclass(frozen=True, slots=True)
class NewTask:
    """A task another script creates with its own transition (a chain's next step, a
    callback, an errback, a chord's join): its `CREATE_KEYS` and `CREATE_ARGS` by name."""

    keys: Mapping[str, str]
    args: Mapping[str, Any]

    @property
    def task_id(self) -> str:
        return str(self.args["task_id"])


def created(tasks: Sequence[NewTask]) -> tuple[list[Mapping[str, str]], list[Any]]:
    """The key groups and the flat argument tail for `tasks`, as scripts read them."""
    rest: list[Any] = []
    for task in tasks:
        rest += _ordered("created task", CREATE_ARGS, task.args)
    return [task.keys for task in tasks], rest


@dataclass(frozen=True, slots=True)
class ScriptCall:
    """One script invocation: its name and the KEYS and ARGV lists Redis gets."""

    name: str
    keys: list[str]
    args: list[Any]


def _ordered(what: str, names: tuple[str, ...], given: Mapping[str, Any]) -> list[Any]:
    if set(given) != set(names):
        missing, extra = sorted(set(names) - set(given)), sorted(set(given) - set(names))
        raise ValueError(f"{what}: missing {missing}, unexpected {extra}")
    return [given[name] for name in names]


class Contract:
    """Builds `ScriptCall`s for one key prefix, broker key set and event stream cap."""

    def __init__(self, keys: Keys, broker: BrokerKeys, maxlen: int) -> None:
        self._shared = [keys.events, keys.dead_letters, keys.queued, keys.delayed, keys.slo,
                        keys.leases, broker.unacked_hash, broker.unacked_index_zset]
        self._maxlen = maxlen

    def call(self, name: str, *, keys: Mapping[str, str] | None = None,
             args: Mapping[str, Any] | None = None,
             groups: Sequence[Mapping[str, str]] = (), rest: Sequence[Any] = ()) -> ScriptCall:
        """`name`'s KEYS and ARGV from its own keys and arguments by name; raises `ValueError`
        when a name is missing or unknown (a caller out of step with the shape)."""
        shape = SHAPES[name]
        script_keys = [*self._shared, *_ordered(f"{name} keys", shape.keys, keys or {})]
        for group in groups:
            script_keys += _ordered(f"{name} key group", shape.key_group, group)
        script_args = [self._maxlen, *_ordered(f"{name} args", shape.args, args or {})]
        if rest and not shape.rest:
            raise ValueError(f"{name} takes no variable arguments")
        return ScriptCall(name, script_keys, [*script_args, *rest])
