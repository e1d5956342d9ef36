"""The runtime: settings, connections, keys and the store of one relier binding.

Everything below the `Relier` facade (dispatch, handles, idempotency locks, the worker's
strategy, request and bootsteps) takes a `Runtime`, never the facade, so each can be read and
tested alone. The facade creates one per Celery app and registers it (`runtime_of`) for the
Celery hooks that only get the app.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Mapping
from typing import Any

from relier.admission import Admission
from relier.config import Settings
from relier.connection import Connections
from relier.consumers import ForeignWarnings
from relier.keys import BrokerKeys, Keys
from relier.names import queue_name_problem
from relier.raw_dead_letters import DeadLetterKeeper
from relier.store import Store


class Runtime:
    """Settings, connections, key names and the store, for one Celery app's broker."""

    def __init__(self, settings: Settings, broker_keys: BrokerKeys,
                 queue_admission: Mapping[str, Admission] | None = None, *,
                 cell: str = "") -> None:
        self.settings = settings
        #: The name of the cell this runtime's Redis is (`relier.cells`); "" without cells.
        self.cell = cell
        self.broker_keys = broker_keys
        #: Declared admission limits per queue name (live limits in Redis override them).
        self.queue_admission: dict[str, Admission] = dict(queue_admission or {})
        self.connections = Connections(settings)
        self.store = Store(self.connections, settings, broker_keys)
        #: Raw dead letters of this process (messages that must never run), kept through outages.
        self.dead_letter_keeper = DeadLetterKeeper(self.store)
        self._accepted_queues: set[str] = set()
        #: The relier tasks declared on this binding: name -> declared queue.
        self.task_queues: dict[str, str] = {}
        self._foreign_stores: dict[str, Store] = {}
        #: Warns a push to a queue a Celery worker without relier consumes (`relier.consumers`).
        self.foreign = ForeignWarnings(self.store)

    @property
    def keys(self) -> Keys:
        return self.store.keys

    def store_for_prefix(self, key_prefix: str) -> Store:
        """A store on another ``RELIER_KEY_PREFIX``'s keys, same Redis (to end a task a
        producer with that prefix pushed to this worker's queue)."""
        if key_prefix == self.settings.key_prefix:
            return self.store
        if key_prefix not in self._foreign_stores:
            settings = dataclasses.replace(self.settings, key_prefix=key_prefix)
            self._foreign_stores[key_prefix] = Store(self.connections, settings, self.broker_keys)
        return self._foreign_stores[key_prefix]

    def front(self, queue: str | None = None) -> str:
        """The priority-0 list of `queue` (default RELIER_DEFAULT_QUEUE): where recovered copies go."""
        return self.broker_keys.queue_list(queue or self.settings.default_queue, 0)

    def queue_problem(self, queue: str) -> str | None:
        """Why relier tasks cannot be sent to `queue` (its list would collide with a key)."""
        return queue_name_problem(queue, self.settings.key_prefix, self.broker_keys.global_prefix)

    def require_queue(self, queue: str) -> None:
        """Raise `ValueError` naming the problem if relier tasks cannot be sent to `queue`."""
        if queue in self._accepted_queues:
            return
        problem = self.queue_problem(queue)
        if problem:
            raise ValueError(problem)
        self._accepted_queues.add(queue)


def broker_keys_for(transport_options: Mapping[str, Any] | None) -> BrokerKeys:
    """kombu's key names for a Celery app's Redis transport options."""
    options = transport_options or {}
    return BrokerKeys(
        global_prefix=str(options.get("global_keyprefix", "")),
        unacked=str(options.get("unacked_key", "unacked")),
        unacked_index=str(options.get("unacked_index_key", "unacked_index")),
    )


_runtimes: weakref.WeakKeyDictionary[Any, Runtime] = weakref.WeakKeyDictionary()


def register_runtime(app: Any, runtime: Runtime) -> None:
    _runtimes[app] = runtime


def runtime_of(app: Any) -> Runtime | None:
    """The runtime registered for a Celery app, if relier is bound to it."""
    return _runtimes.get(app)
