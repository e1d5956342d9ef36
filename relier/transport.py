"""relier's kombu transport: kombu's Redis transport with a gate on every popped element and
no second copy of relier's messages in kombu's unacked bookkeeping.

`Relier(app)` selects it (``broker_transport``) for Redis and Sentinel brokers. Two changes to
kombu's behaviour, both on the consuming side:

- **The gate.** kombu parses each element it pops from a queue list in the worker's main
  process, before Celery or relier sees it; an element that is not a kombu message (not JSON,
  a JSON array, a body that is not base64, a header of the wrong type) raised there and killed
  the worker, and the element was gone. Here every popped element first goes through the
  installed `MessageGate` (relier.worker.gate in a worker), which passes it on as kombu's
  payload or keeps it as a dead letter with its raw bytes. Whatever escapes kombu's and
  Celery's handling of an admitted element is dead-lettered the same way: input never ends
  the main process.
- **No unacked copy of relier's messages.** relier already holds every message it pushed (in
  the task's record) and recovers reserved ones itself (return-reserved, reap, reconcile), so
  kombu's ack emulation (a MULTI/EXEC per delivery and per ack) would only keep a third copy
  that kombu might restore as a stale duplicate. For relier's content type, delivery and ack
  are bookkept in memory only (kombu's prefetch accounting still counts them). Other
  messages keep kombu's emulation, and a Redis error there (an out-of-memory reply, a
  connection reset) is logged instead of ending the main process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from queue import Empty
from typing import Any, Protocol

import redis
from kombu.connection import Connection as KombuConnection
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads

from relier.message import CONTENT_TYPE
from relier.packing import element_text

logger = logging.getLogger("relier.transport")

#: What `broker_transport` names for a Redis broker and for a Sentinel broker.
TRANSPORT = "relier.transport:Transport"
SENTINEL_TRANSPORT = "relier.transport:SentinelTransport"


class MessageGate(Protocol):
    """Decides, in the consumer, what each element popped from a queue list becomes."""

    def admit(self, item: bytes, queue: str) -> dict[str, Any] | None:
        """kombu's payload for `item` popped from `queue`, or None once it has been kept as a
        dead letter (or sent back to be retried). Never raises."""

    def reject_undeliverable(self, item: bytes, queue: str, error: BaseException) -> None:
        """Keep an admitted element that kombu or Celery then failed to handle. Never raises."""


_gate: MessageGate | None = None


#: kombu's remote-control queues (``<id>.reply.celery.pidbox``): `app.control` replies, never
#: tasks, popped by the same transport when a worker or a task body inspects the fleet.
_PIDBOX = ".pidbox"


def install_gate(gate: MessageGate | None) -> None:
    """Make `gate` inspect every element this process's relier transports pop."""
    global _gate  # noqa: PLW0603 - one consumer (worker main process) per process
    _gate = gate


#: kombu's in-memory bookkeeping (what its prefetch limit counts), without the Redis part.
_in_memory_append: Callable[..., None] = virtual.QoS.append
_in_memory_ack: Callable[..., None] = virtual.QoS.ack


def is_relier_message(message: Any) -> bool:
    return getattr(message, "content_type", None) == CONTENT_TYPE


class RelierQoS(kombu_redis.QoS):
    """kombu's ack emulation, bypassed for relier's messages and proof against Redis errors."""

    def append(self, message: Any, delivery_tag: str) -> None:
        if is_relier_message(message):
            _in_memory_append(self, message, delivery_tag)
            return
        _survive(super().append, "record the delivery of", message, delivery_tag)
        if delivery_tag not in self._delivered:  # the Redis part failed: still count it
            _in_memory_append(self, message, delivery_tag)

    def ack(self, delivery_tag: str) -> None:
        if self._is_relier(delivery_tag):
            _in_memory_ack(self, delivery_tag)
            return
        _survive(super().ack, "acknowledge", None, delivery_tag)
        _in_memory_ack(self, delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        if self._is_relier(delivery_tag):
            # relier re-queues its own tasks (with a new ticket); a requeue here would only
            # produce a stale copy
            _in_memory_ack(self, delivery_tag)
            return
        _survive(super().reject, "reject", None, delivery_tag, requeue)
        _in_memory_ack(self, delivery_tag)

    def restore_visible(self, start: int = 0, num: int = 10, interval: int = 10) -> None:
        _survive(super().restore_visible, "restore unacked messages, from", None, start, num,
                 interval)

    def restore_unacked(self, client: Any = None) -> None:
        for tag in [tag for tag in self._delivered if self._is_relier(tag)]:
            self._delivered.pop(tag, None)
        super().restore_unacked(client)  # type: ignore[no-untyped-call]

    def _is_relier(self, delivery_tag: str) -> bool:
        return is_relier_message(self._delivered.get(delivery_tag))


def _survive(operation: Callable[..., Any], what: str, message: Any, *args: Any) -> None:
    """Run a bookkeeping write; a Redis error is logged, not raised into the consumer."""
    try:
        operation(message, *args) if message is not None else operation(*args)
    except redis.RedisError as exc:
        logger.warning("could not %s message %s in kombu's unacked index (%s); it stays "
                       "delivered", what, args[0], exc)


class _GatedChannel:
    """The `_brpop_read` of kombu's Redis channel, with the gate between the pop and kombu."""

    QoS = RelierQoS

    def _brpop_read(self, **options: Any) -> bool:
        channel: Any = self
        try:
            try:
                dest__item = channel.client.parse_response(channel.client.connection, "BRPOP",
                                                           **options)
            except channel.connection_errors:
                channel.client.connection.disconnect()
                raise
            if not dest__item:
                raise Empty()
            dest, item = dest__item
            dest = bytes_to_str(dest).rsplit(channel.sep, 1)[0]  # type: ignore[no-untyped-call]
            channel._queue_cycle.rotate(dest)
            self._deliver_gated(item, dest)
            return True
        finally:
            channel._in_poll = None

    def _deliver_gated(self, item: bytes, queue: str) -> None:
        channel: Any = self
        gate = _gate
        if gate is None or queue.endswith(_PIDBOX):  # remote control replies are not tasks
            channel.connection._deliver(loads(bytes_to_str(element_text(item))), queue)  # type: ignore[no-untyped-call]
            return
        payload = gate.admit(item, queue)
        if payload is None:
            return
        try:
            channel.connection._deliver(payload, queue)
        except channel.connection_errors:
            raise
        except Exception as exc:  # noqa: BLE001 - kombu or Celery failing on input is never fatal
            tag = (payload.get("properties") or {}).get("delivery_tag")
            if tag in channel.qos._delivered:
                channel.qos.ack(tag)
            gate.reject_undeliverable(item, queue, exc)


class Channel(_GatedChannel, kombu_redis.Channel):
    """kombu's Redis channel with relier's gate and QoS."""


class SentinelChannel(_GatedChannel, kombu_redis.SentinelChannel):
    """kombu's Sentinel channel with relier's gate and QoS."""


class Transport(kombu_redis.Transport):
    """``broker_transport='relier.transport:Transport'`` for ``redis://`` brokers."""

    Channel = Channel


class SentinelTransport(kombu_redis.SentinelTransport):
    """``broker_transport='relier.transport:SentinelTransport'`` for ``sentinel://`` brokers."""

    Channel = SentinelChannel


#: The URL schemes kombu maps to the Redis transports each of relier's transports replaces.
_SCHEMES = {TRANSPORT: frozenset({"redis", "rediss", "unix"}),
            SENTINEL_TRANSPORT: frozenset({"sentinel"})}


class Connection(KombuConnection):
    """kombu's connection, keeping relier's transport through a broker failover.

    kombu's ``switch()`` to the next URL of a failover list (``sentinel://a;sentinel://b``, or
    Celery's ``broker_failover_strategy``) takes the transport from that URL's scheme, and so
    kombu's own Redis transport: after the first failover the worker would pop elements
    without the gate (a packed element or any garbage then ends the main process) and keep
    kombu's unacked copy again. Here the transport chosen at construction stays when the new
    URL's scheme is one it serves.
    """

    def switch(self, conn_str: str) -> None:
        chosen = self._initial_params.get("transport")
        super().switch(conn_str)  # type: ignore[no-untyped-call]
        if chosen in _SCHEMES and self.transport_cls in _SCHEMES[chosen]:
            self.transport_cls = chosen


def keep_relier_transport(app: Any) -> None:
    """Make `app`'s broker connections `Connection`s (relier's transport through failovers)."""
    app.amqp.Connection = Connection
