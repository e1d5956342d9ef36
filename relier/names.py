"""Which task and queue names relier accepts: names that cannot collide with its keys.

A queue's messages live in a Redis list named after the queue (kombu's naming, after the
transport's ``global_keyprefix``), in the same database as relier's own keys. A queue called
``rl:dlq`` would make kombu push messages into the dead-letter index, so names that can reach
relier's key prefix, kombu's own keys or kombu's priority separator are refused where they
are declared (the decorator, a per-call ``queue=``) and where a worker starts.
"""

from __future__ import annotations

from relier.display import is_printable_name, safe_text
from relier.keys import PRIORITY_SEPARATOR

#: Longest task or queue name accepted (Celery has no limit; keys and logs need one).
MAX_NAME_LENGTH = 200

#: kombu's own key names in the broker's database (after the global key prefix).
_KOMBU_KEYS = frozenset({"unacked", "unacked_index", "unacked_mutex"})
_KOMBU_PREFIXES = ("_kombu.binding.",)
#: Characters with a meaning inside relier's SLO counter fields (``<task>|m|<minute>|ok``).
_TASK_NAME_RESERVED = ("|",)


def task_name_problem(name: object) -> str | None:
    """Why `name` cannot be a relier task's name, or None when it can."""
    if not isinstance(name, str) or not name:
        return "a task name must be a non-empty string"
    if len(name) > MAX_NAME_LENGTH:
        return f"task name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}"
    if not is_printable_name(name):
        return f"task name {safe_text(name)!r} contains whitespace or control characters"
    if name == "*" or any(mark in name for mark in _TASK_NAME_RESERVED):
        return f"task name {name!r} uses '*' or '|', which relier's SLO counters reserve"
    return None


def queue_name_problem(queue: object, key_prefix: str, global_prefix: str = "") -> str | None:
    """Why `queue` cannot carry relier tasks, or None when it can.

    `key_prefix` is RELIER_KEY_PREFIX; `global_prefix` the transport's ``global_keyprefix``.
    """
    if not isinstance(queue, str) or not queue:
        return "a queue name must be a non-empty string"
    if len(queue) > MAX_NAME_LENGTH:
        return f"queue name is {len(queue)} characters long; the limit is {MAX_NAME_LENGTH}"
    if not is_printable_name(queue) or PRIORITY_SEPARATOR[0] in queue:
        return f"queue name {safe_text(queue)!r} contains whitespace or control characters"
    list_key = f"{global_prefix}{queue}"
    if list_key.startswith(f"{key_prefix}:"):
        return (f"queue {queue!r} would be the Redis key {list_key!r}, inside relier's key "
                f"prefix {key_prefix!r}: choose a name that does not start with '{key_prefix}:'")
    if queue in _KOMBU_KEYS or queue.startswith(_KOMBU_PREFIXES):
        return f"queue {queue!r} is the name of one of kombu's own keys"
    return None
