"""The worker's lifecycle glue: what relier does at each of Celery's worker signals.

``worker_init`` (main process, before the pool starts): preflight checks (exit 78 on a
blocking failure), the consumer's gate on relier's transport. ``worker_process_init``: pool
processes lead their own process group. ``worker_ready``: the lease keeper starts and the
worker registers in ``rl:workers``. ``worker_shutting_down`` (warm): the drainer bounds the
drain and hands tasks off. ``worker_shutdown``: unregister, stop the lease keeper.
``task_unknown``: a relier message for a task this worker does not have is bounced (only
reached without relier's transport, whose gate handles it first).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

import redis
from celery import signals
from celery.concurrency import get_implementation
from celery.concurrency.thread import TaskPool as ThreadTaskPool
from kombu.serialization import prepare_accept_content

from relier import preflight, telemetry
from relier.display import safe_text
from relier.envelope import DecodeFailure, open_sealed
from relier.message import CONTENT_TYPE
from relier.reasons import DeadLetterReason
from relier.runtime import Runtime
from relier.transport import SENTINEL_TRANSPORT, TRANSPORT, install_gate
from relier.worker.drain import Drainer
from relier.worker.gate import Gate, GateRules, TaskKind
from relier.worker.identity import (
    GREENLET_POOLS,
    forget_worker_main_process,
    has_pool_processes,
    mark_worker_main_process,
    worker_node,
)
from relier.worker.lease import LeaseKeeper
from relier.worker.strategy import dead_letter_message
from relier.worker.thread_pool import WakingThreadPool

logger = logging.getLogger("relier")

#: Exit status of a worker refused by preflight (EX_CONFIG from sysexits.h).
EXIT_PREFLIGHT = 78

#: Set in the app's conf when relier (not the app) turned ``worker_disable_prefetch`` on.
PREFETCH_CHOSEN_BY_RELIER = "relier_prefetch_chosen"

#: Celery's pool modules (celery.concurrency.<module>) by the name `-P` takes.
_POOL_MODULES = {"prefork": "prefork", "thread": "threads", "thread_pool": "threads",
                 "solo": "solo", "gevent": "gevent", "eventlet": "eventlet", "custom": "custom"}


def pool_name(worker: Any) -> str:
    """The `-P` name of a worker's pool (``threads`` for celery.concurrency.thread)."""
    pool_cls = getattr(worker, "pool_cls", None)
    if isinstance(pool_cls, str):
        module = pool_cls.split(":", 1)[0].rsplit(".", 1)[-1].lower()
    else:
        module = (getattr(pool_cls, "__module__", "") or "").rsplit(".", 1)[-1]
    return _POOL_MODULES.get(module, module)


def consumed_queues(worker: Any) -> list[str]:
    """The queues a starting worker will consume (``-Q``, else every declared queue)."""
    queues = worker.app.amqp.queues
    selected = getattr(queues, "consume_from", None) or queues
    return sorted(str(name) for name in selected)


def _lead_own_process_group(**_: Any) -> None:
    """Pool processes lead their own process group, so that billiard's hard-timeout kill also
    ends any subprocess a body started."""
    os.setpgrp()


class WorkerLifecycle:
    """Connects relier to one app's worker signals; `preflight_checks(pool)` is the facade's."""

    def __init__(self, app: Any, runtime: Runtime,
                 preflight_checks: Callable[[str | None], list[preflight.Check]],
                 task_kind: Callable[[str], TaskKind]) -> None:
        self._app = app
        self._runtime = runtime
        self._preflight_checks = preflight_checks
        self._task_kind = task_kind
        self._lease_keeper: LeaseKeeper | None = None
        self._drainer: Drainer | None = None

    def connect(self) -> None:
        signals.worker_init.connect(self._on_worker_init, weak=False)
        signals.task_unknown.connect(self._on_task_unknown, weak=False)
        signals.worker_ready.connect(self._on_worker_ready, weak=False)
        signals.worker_process_init.connect(_lead_own_process_group, weak=False)
        signals.worker_shutdown.connect(self._on_worker_shutdown, weak=False)
        signals.worker_shutting_down.connect(self._on_worker_shutting_down, weak=False)

    def _is_mine(self, sender: Any) -> bool:
        return getattr(sender, "app", None) is self._app

    def _on_worker_init(self, sender: Any = None, **_: Any) -> None:
        if not self._is_mine(sender):
            return
        pool = pool_name(sender)
        mark_worker_main_process(getattr(sender, "hostname", None), pool)
        telemetry.configure()  # before the pool forks: its processes inherit it
        self._install_gate(sender)
        self._bound_reservations(sender, pool)
        if pool in {"threads", "solo"}:
            logger.warning(
                "relier: the %s pool cannot end a task body: at a hard timeout async bodies are "
                "cancelled, sync bodies are fenced off and run on (use prefork to stop them)",
                pool,
            )
        elif pool in GREENLET_POOLS:
            logger.warning(
                "relier: the %s pool ends a body at its hard timeout only where it yields; a "
                "body that never yields (a CPU loop, a C call) runs on, fenced off (use prefork "
                "to stop any body)", pool,
            )
        settings = self._runtime.settings
        checks = self._preflight_checks(pool)
        checks += preflight.check_queue_names(
            consumed_queues(sender), settings.key_prefix, self._runtime.broker_keys.global_prefix)
        for check in checks:
            if check.severity is preflight.Severity.WARNING:
                logger.warning("relier preflight: %s (%s)", check.detail, check.fix)
        failures = [check for check in checks if check.is_blocking]
        if not failures:
            return
        if settings.unsafe_skip_preflight:
            logger.critical(
                "RELIER_UNSAFE_SKIP_PREFLIGHT=1: starting despite failed checks; relier's "
                "guarantees do not hold: %s",
                preflight.refusal_message(settings.redis_url, failures),
            )
            return
        sys.stderr.write(preflight.refusal_message(settings.redis_url, failures) + "\n")
        sys.stderr.flush()
        raise SystemExit(EXIT_PREFLIGHT)

    def _bound_reservations(self, worker: Any, pool: str) -> None:
        """Prefetch as relier chose it for this pool, unless the app set it.

        prefork and threads: ``worker_disable_prefetch`` (a message is taken only when a slot is
        free). Celery's event loop notices a freed prefork process at once, and relier's
        threads pool (`WakingThreadPool`, given to a threads worker on Celery's event loop)
        wakes it when a thread frees. Solo and the greenlet pools reserve at most one message
        per slot instead (``worker_prefetch_multiplier=1``), held under the consumer's lease like
        any reserved task (returned at shutdown, re-queued if the worker dies)."""
        wakes = (pool == "threads" and bool(getattr(worker, "use_eventloop", False))
                 and get_implementation(worker.pool_cls) is ThreadTaskPool)
        if wakes:
            worker.pool_cls = WakingThreadPool
        conf = self._app.conf
        if pool == "prefork" or wakes or not conf.get(PREFETCH_CHOSEN_BY_RELIER):
            return
        conf.worker_disable_prefetch = False
        if "worker_prefetch_multiplier" not in conf.changes:
            worker.prefetch_multiplier = 1

    def _install_gate(self, worker: Any) -> None:
        """Every element this worker pops goes through relier's gate first."""
        transport = str(self._app.conf.broker_transport or "")
        if transport not in {TRANSPORT, SENTINEL_TRANSPORT}:
            logger.warning(
                "relier: broker_transport is %r, not relier's: an element in a queue that is not "
                "a kombu message can stop this worker and is not kept as a dead letter "
                "(leave broker_transport unset, or set %r)", transport, TRANSPORT)
            return
        rules = GateRules(
            task_kind=self._task_kind,
            accepted=frozenset(prepare_accept_content(  # type: ignore[no-untyped-call]
                self._app.conf.accept_content or ["json"])),
            verification_keys=dict(self._runtime.settings.verification_keys),
        )
        install_gate(Gate(self._runtime.store, rules, worker_node(worker.hostname),
                          self._runtime.dead_letter_keeper))

    def _on_worker_ready(self, sender: Any = None, **_: Any) -> None:
        if not self._is_mine(sender):
            return
        self._lease_keeper = LeaseKeeper(
            self._runtime.store, sender.hostname, sender.pool,
            self._runtime.settings.lease_refresh_interval, self._runtime.settings.health_file,
            on_reaped=lambda: self._register_worker(sender),
        )
        self._lease_keeper.start()
        self._register_worker(sender)

    def _register_worker(self, consumer: Any) -> None:
        """Describe this worker in `rl:workers` (for `rl workers` and the console), clearing
        any last-seen time the resurrector kept when it took the worker for dead."""
        node = worker_node(consumer.hostname)
        queues = sorted(queue.name for queue in consumer.task_consumer.queues) if getattr(
            consumer, "task_consumer", None) else []
        info = {
            "host": socket.gethostname(), "pid": os.getpid(), "queues": queues,
            "pool": pool_name(consumer.controller) if getattr(consumer, "controller", None) else "",
            "concurrency": int(getattr(consumer.pool, "limit", 0) or 0),
            "started": time.time(),
        }
        keys = self._runtime.keys
        try:
            pipe = self._runtime.store.client.pipeline(transaction=True)
            pipe.hset(keys.workers, node, json.dumps(info))
            pipe.zrem(keys.dead_workers, node)
            pipe.execute()
        except redis.RedisError:
            logger.warning("could not register worker %s in %s", node, self._runtime.keys.workers)

    def _on_worker_shutting_down(self, sender: Any = None, how: str = "", **_: Any) -> None:
        """In the signal handler of a warm shutdown: bound the drain, then hand tasks off."""
        if how != "Warm" or self._lease_keeper is None or self._drainer is not None:
            return
        if not has_pool_processes():  # nothing to hand off: bodies run in this process
            return
        settings = self._runtime.settings
        self._drainer = Drainer(self._runtime.store, str(sender), settings.drain_timeout,
                                settings.handoff_hook_timeout)
        self._drainer.start()

    def _on_worker_shutdown(self, sender: Any = None, **_: Any) -> None:
        if self._lease_keeper is None:
            return
        install_gate(None)  # an embedded worker's process lives on: its pops are no worker's
        forget_worker_main_process()
        keys, node = self._runtime.keys, self._lease_keeper.node
        self._lease_keeper.stop()  # first: its thread registers the worker again if reaped
        self._lease_keeper = None
        try:
            pipe = self._runtime.store.client.pipeline(transaction=True)
            pipe.hdel(keys.workers, node)
            pipe.zrem(keys.dead_workers, node)
            pipe.execute()
        except redis.RedisError:
            logger.warning("could not unregister worker %s", node)

    def _on_task_unknown(self, sender: Any = None, message: Any = None, name: str = "",
                         **_: Any) -> None:
        """Celery drops a message whose task name it does not know; keep relier's."""
        if message is None or not self._is_mine(sender) or message.content_type != CONTENT_TYPE:
            return
        decoded = open_sealed(bytes(message.body), dict(self._runtime.settings.verification_keys))
        if isinstance(decoded, DecodeFailure):
            dead_letter_message(self._runtime, message, decoded)
            return
        error = f"no task named {name!r} is registered on this worker"
        try:
            status: str = self._runtime.store.bounce(
                decoded.id, str(message.delivery_tag), worker_node(sender.hostname),
                DeadLetterReason.UNKNOWN_TASK, error, idem=decoded.idempotency_key or "",
                retry=False,
            )
        except redis.RedisError as exc:  # still queued in its record: reconciliation finds it
            status = f"not recorded: {exc}"
        logger.error("relier task %s (%s): %s [%s]", decoded.id, safe_text(name), error, status)
