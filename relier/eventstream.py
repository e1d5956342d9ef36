"""Reading the lifecycle event stream (``rl:events``): `rl tail`, the console, the chaos
scenarios and the tests all read it through `EventStream`.

Each event comes as text, with its stream id as ``event_id`` (`relier.inspection.decode_event`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, cast

import redis

from relier.inspection import decode_event

if TYPE_CHECKING:
    from relier.store import Store

#: Where a read starts to get every event the stream still holds.
START = "0-0"
#: Where a read starts to get only events written from now on.
NEW = "$"

_Entries = list[tuple[bytes, dict[bytes, bytes]]]


class EventBatch(NamedTuple):
    """Events read, oldest first, and the id to read after next time (past every event read,
    filtered out or not)."""

    last_id: str
    events: list[dict[str, str]]


def _matches(event: dict[str, str], task_id: str | None, event_type: str | None) -> bool:
    return ((task_id is None or event.get("id") == task_id)
            and (event_type is None or event.get("type") == event_type))


class EventStream:
    """A reader of one relier deployment's event stream; it holds no position of its own."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        self.client = client
        self.key = key

    @classmethod
    def of(cls, store: Store) -> EventStream:
        """The stream `store` writes its events to."""
        return cls(store.client, store.keys.events)

    def newest_id(self) -> str:
        """The id of the newest event, `START` when the stream is empty."""
        newest = cast(_Entries, self.client.xrevrange(self.key, count=1))
        return newest[0][0].decode() if newest else START

    def read(self, after: str = START, *, count: int | None = None, block_ms: int | None = None,
             task_id: str | None = None, event_type: str | None = None) -> EventBatch:
        """Events after the id `after` (`NEW`: only events written from now on), at most
        `count` of them (None: all). With `block_ms`, waits up to that long for the first one
        (XREAD BLOCK) and returns an empty batch at the deadline. `task_id` and `event_type`
        keep only the events of that task, of that type."""
        last_id = self.newest_id() if after == NEW else after  # "$" twice would skip events
        reply = cast(list[tuple[bytes, _Entries]] | None,
                     self.client.xread({self.key: last_id}, count=count, block=block_ms))
        events = []
        for _, entries in reply or []:
            for entry_id, fields in entries:
                event = decode_event(entry_id, fields)
                last_id = event["event_id"]
                if _matches(event, task_id, event_type):
                    events.append(event)
        return EventBatch(last_id, events)

    def latest(self, count: int, *, task_id: str | None = None,
               event_type: str | None = None) -> list[dict[str, str]]:
        """Of the newest `count` events, oldest first, those of `task_id` and `event_type`."""
        entries = cast(_Entries, self.client.xrevrange(self.key, count=count))
        events = (decode_event(entry_id, fields) for entry_id, fields in reversed(entries))
        return [event for event in events if _matches(event, task_id, event_type)]
