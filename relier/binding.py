"""`Relier`: binds relier to a Celery app and declares tasks on it."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import ssl
import sys
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Unpack, overload

import redis
from celery import Celery, signals
from kombu.serialization import prepare_accept_content

from relier import preflight, telemetry
from relier.admission import Admission
from relier.config import Settings, get_settings
from relier.connection import Connections
from relier.display import safe_text
from relier.dlq import DeadLetters
from relier.envelope import DecodeFailure, open_sealed
from relier.errors import ConfigurationError
from relier.handle import TaskHandle
from relier.idempotency import IdempotencyLock
from relier.keys import BrokerKeys, Keys
from relier.message import CONTENT_TYPE, SERIALIZER_NAME
from relier.names import queue_name_problem, task_name_problem
from relier.reasons import DeadLetterReason
from relier.retry import RetryPolicy
from relier.schema import MigrationChain
from relier.sentinel import from_broker
from relier.serializer import add_verification_keys, register_serializer
from relier.spec import TaskOptions, TaskSpec, build_spec
from relier.store import Store
from relier.task import RelierTask
from relier.transport import SENTINEL_TRANSPORT, TRANSPORT, install_gate
from relier.worker.consumer import ReturnReserved, WatchPoolProcesses
from relier.worker.drain import Drainer
from relier.worker.gate import DeadLetterKeeper, Gate, GateRules, TaskKind
from relier.worker.identity import mark_worker_main_process, worker_node
from relier.worker.lease import LeaseKeeper
from relier.worker.pipeline import Pipeline
from relier.worker.strategy import dead_letter_message

logger = logging.getLogger("relier")

#: Exit status of a worker refused by preflight (EX_CONFIG from sysexits.h).
EXIT_PREFLIGHT = 78

_bound: weakref.WeakKeyDictionary[Celery, Relier] = weakref.WeakKeyDictionary()


#: Celery's pool modules (celery.concurrency.<module>) by the name `-P` takes.
_POOL_MODULES = {"prefork": "prefork", "thread": "threads", "solo": "solo",
                 "gevent": "gevent", "eventlet": "eventlet", "custom": "custom"}


def pool_name(worker: Any) -> str:
    """The `-P` name of a worker's pool (``threads`` for celery.concurrency.thread)."""
    pool_cls = getattr(worker, "pool_cls", None)
    if isinstance(pool_cls, str):
        module = pool_cls.split(":", 1)[0].rsplit(".", 1)[-1].lower()
    else:
        module = (getattr(pool_cls, "__module__", "") or "").rsplit(".", 1)[-1]
    return _POOL_MODULES.get(module, module)


def _settings_for(app: Celery) -> Settings:
    """Process settings; without RELIER_REDIS_URL, relier follows the app's Redis broker."""
    settings = get_settings()
    broker = str(app.conf.broker_url or "")
    if "RELIER_REDIS_URL" in os.environ:
        return settings
    if broker.startswith(("redis://", "rediss://")):
        return dataclasses.replace(settings, redis_url=broker)
    sentinel = from_broker(broker, app.conf.broker_transport_options or {})
    if sentinel is not None:
        return dataclasses.replace(settings, redis_url=sentinel.url)
    return settings


def _use_relier_transport(conf: Any) -> None:
    """relier's kombu transport for a Redis or Sentinel broker, unless the app chose one."""
    if conf.broker_transport:
        return
    broker = str(conf.broker_url or "")
    if broker.startswith("sentinel://"):
        conf.broker_transport = SENTINEL_TRANSPORT
    elif broker.startswith(("redis://", "rediss://", "unix://")):
        if broker.startswith("rediss://") and not conf.broker_use_ssl:
            conf.broker_use_ssl = {"ssl_cert_reqs": ssl.CERT_REQUIRED}  # what kombu assumes
        conf.broker_transport = TRANSPORT


def _consumed_queues(worker: Any) -> list[str]:
    """The queues a starting worker will consume (``-Q``, else every declared queue)."""
    queues = worker.app.amqp.queues
    selected = getattr(queues, "consume_from", None) or queues
    return sorted(str(name) for name in selected)


def _lead_own_process_group(**_: Any) -> None:
    """Pool processes lead their own process group, so that billiard's hard-timeout kill also
    ends any subprocess a body started."""
    os.setpgrp()


class Relier:
    """relier bound to one Celery app: ``relier = Relier(app)``, then ``@relier.task(...)``.

    Adds relier's content type to the app's ``accept_content``, turns on
    ``worker_disable_prefetch`` unless the app set it, and checks Redis when a worker starts.
    """

    def __init__(
        self,
        app: Celery,
        *,
        settings: Settings | None = None,
        admission: Mapping[str, Admission] | None = None,
    ) -> None:
        self.app = app
        #: Declared admission limits per queue name (live limits in Redis override them).
        self.queue_admission: dict[str, Admission] = dict(admission or {})
        self.settings = settings or _settings_for(app)
        self.connections = Connections(self.settings)
        transport = app.conf.broker_transport_options or {}
        self.broker_keys = BrokerKeys(
            global_prefix=str(transport.get("global_keyprefix", "")),
            unacked=str(transport.get("unacked_key", "unacked")),
            unacked_index=str(transport.get("unacked_index_key", "unacked_index")),
        )
        self.store = Store(self.connections, self.settings, self.broker_keys)
        #: Raw dead letters of this process (messages that must never run), kept through outages.
        self.dead_letter_keeper = DeadLetterKeeper(self.store)
        self.keys: Keys = self.store.keys
        self.tasks: dict[str, RelierTask] = {}
        self._accepted_queues: set[str] = set()
        self._migrations: dict[str, MigrationChain] = {}
        self.pipeline = Pipeline(
            self.store, self.migrations_for, self.settings.max_result_bytes,
            max_checkpoint_bytes=self.settings.max_checkpoint_bytes,
        )
        register_serializer()
        add_verification_keys(self.settings.verification_keys)
        self._lease_keeper: LeaseKeeper | None = None
        self._drainer: Drainer | None = None
        self._configure_app()
        self._connect_worker_signals()
        _bound[app] = self

    @classmethod
    def of(cls, app: Celery) -> Relier:
        """The `Relier` bound to `app`; raises `ConfigurationError` if there is none."""
        bound = _bound.get(app)
        if bound is None:
            raise ConfigurationError(f"no Relier is bound to Celery app {app.main!r}: Relier(app)")
        return bound

    def _configure_app(self) -> None:
        conf = self.app.conf
        accepted = list(conf.accept_content or ["json"])
        if CONTENT_TYPE not in accepted and SERIALIZER_NAME not in accepted:
            conf.accept_content = [*accepted, SERIALIZER_NAME]
        if "worker_disable_prefetch" not in conf.changes:
            conf.worker_disable_prefetch = True
        _use_relier_transport(conf)
        self.app.steps["consumer"].update({ReturnReserved, WatchPoolProcesses})

    def migrations_for(self, task_name: str) -> MigrationChain:
        chain = self._migrations.get(task_name)
        if chain is None:
            chain = self._migrations[task_name] = MigrationChain(task_name)
        return chain

    @overload
    def task(self, func: Callable[..., Any], /, **options: Unpack[TaskOptions]) -> RelierTask: ...

    @overload
    def task(
        self, func: None = None, /, **options: Unpack[TaskOptions]
    ) -> Callable[[Callable[..., Any]], RelierTask]: ...

    def task(
        self, func: Callable[..., Any] | None = None, /, **options: Unpack[TaskOptions]
    ) -> RelierTask | Callable[[Callable[..., Any]], RelierTask]:
        """Declare a relier task; works bare (``@relier.task``) or with options (`TaskOptions`)."""

        def declare(target: Callable[..., Any]) -> RelierTask:
            spec = self._spec(target, options)
            chain = self.migrations_for(spec.name)
            chain.current = spec.version
            task_class = type(
                target.__name__,
                (RelierTask,),
                {
                    "name": spec.name,
                    "relier": self,
                    "spec": spec,
                    "__module__": target.__module__,
                    "__doc__": target.__doc__,
                    "__wrapped__": target,
                },
            )
            task: RelierTask = self.app.register_task(task_class())
            self.tasks[spec.name] = task
            return task

        return declare(func) if func is not None else declare

    def _spec(self, target: Callable[..., Any], options: TaskOptions) -> TaskSpec:
        """Options as given, with this relier's settings for the ones left out."""
        unknown = sorted(set(options) - set(TaskOptions.__annotations__))
        if unknown:
            raise ConfigurationError(
                f"@rl_task on {getattr(target, '__qualname__', target)}: unknown option(s) "
                f"{', '.join(unknown)}; the options are {', '.join(sorted(TaskOptions.__annotations__))}")
        settings = self.settings
        idempotent = options.get("idempotent", False) or "idempotency_key" in options
        spec = build_spec(
            target,
            name=options.get("name"),
            queue=options.get("queue") or settings.default_queue,
            version=options.get("version", 1),
            priority=options.get("priority", 0),
            soft_timeout=options.get("soft_timeout"),
            hard_timeout=options.get("hard_timeout", settings.default_hard_timeout),
            max_resurrections=options.get("max_resurrections", settings.max_resurrections),
            on_soft_timeout=options.get("on_soft_timeout"),
            idempotent=idempotent,
            idempotency_key=options.get("idempotency_key"),
            idempotency_ttl=options.get(
                "idempotency_ttl", settings.idempotency_ttl if idempotent else None
            ),
            retry=RetryPolicy(
                options.get("retries", 0),
                options.get("retry_backoff", 1.0),
                options.get("retry_backoff_max", 600.0),
                tuple(options.get("retry_on", (Exception,))),
            ),
            admission=options.get("admission"),
            slo=options.get("slo"),
            durable=options.get("durable", False),
        )
        problem = task_name_problem(spec.name) or self.queue_problem(spec.queue)
        if problem:
            raise ConfigurationError(f"@rl_task on {getattr(target, '__qualname__', target)}: {problem}")
        return spec

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

    @property
    def dead_letters(self) -> DeadLetters:
        """Dead-letter operations (list, show, release, retry-all, purge, export)."""
        return DeadLetters(self.store, self.broker_keys.queue_list(self.settings.default_queue, 0))

    def handle(self, task_id: str) -> TaskHandle:
        """A handle on a task pushed earlier (by any process), from its id."""
        return TaskHandle(task_id, self)

    def idempotency_lock(self, key: str, ttl: float = 60.0) -> IdempotencyLock:
        """A manual once-only section keyed by `key`; see `relier.idempotency`."""
        return IdempotencyLock(self, key, ttl)

    def preflight_checks(self, pool: str | None = None) -> list[preflight.Check]:
        checks = preflight.check_server(self.store.client)
        if checks[0].severity is not preflight.Severity.ERROR:
            checks.append(preflight.check_memory(self.store.client, self.settings.memory_warning))
        checks += preflight.check_app(self.app, pool, self.settings.redis_url)
        checks += preflight.check_settings(self.settings)
        return checks

    def _connect_worker_signals(self) -> None:
        signals.worker_init.connect(self._on_worker_init, weak=False)
        signals.task_unknown.connect(self._on_task_unknown, weak=False)
        signals.worker_ready.connect(self._on_worker_ready, weak=False)
        signals.worker_process_init.connect(_lead_own_process_group, weak=False)
        signals.worker_shutdown.connect(self._on_worker_shutdown, weak=False)
        signals.worker_shutting_down.connect(self._on_worker_shutting_down, weak=False)

    def _on_worker_ready(self, sender: Any = None, **_: Any) -> None:
        if getattr(sender, "app", None) is not self.app:
            return
        self._lease_keeper = LeaseKeeper(
            self.store, sender.hostname, sender.pool, self.settings.lease_refresh_interval,
            self.settings.health_file,
        )
        self._lease_keeper.start()
        self._register_worker(sender)

    def _register_worker(self, consumer: Any) -> None:
        """Describe this worker in `rl:workers` (for `rl workers` and the console)."""
        node = worker_node(consumer.hostname)
        queues = sorted(queue.name for queue in consumer.task_consumer.queues) if getattr(
            consumer, "task_consumer", None) else []
        info = {
            "host": socket.gethostname(), "pid": os.getpid(), "queues": queues,
            "pool": pool_name(consumer.controller) if getattr(consumer, "controller", None) else "",
            "concurrency": int(getattr(consumer.pool, "limit", 0) or 0),
            "started": time.time(),
        }
        try:
            self.store.client.hset(self.keys.workers, node, json.dumps(info))
        except redis.RedisError:
            logger.warning("could not register worker %s in %s", node, self.keys.workers)

    def _on_worker_shutting_down(self, sender: Any = None, how: str = "", **_: Any) -> None:
        """In the signal handler of a warm shutdown: bound the drain, then hand tasks off."""
        if how != "Warm" or self._lease_keeper is None or self._drainer is not None:
            return
        self._drainer = Drainer(self.store, str(sender), self.settings.drain_timeout,
                                self.settings.handoff_hook_timeout)
        self._drainer.start()

    def _on_worker_shutdown(self, sender: Any = None, **_: Any) -> None:
        if self._lease_keeper is not None:
            try:
                self.store.client.hdel(self.keys.workers, self._lease_keeper.node)
            except redis.RedisError:
                logger.warning("could not unregister worker %s", self._lease_keeper.node)
            self._lease_keeper.stop()
            self._lease_keeper = None

    def _on_worker_init(self, sender: Any = None, **_: Any) -> None:
        if getattr(sender, "app", None) is not self.app:
            return
        mark_worker_main_process()
        telemetry.configure()  # before the pool forks: its processes inherit it
        self._install_gate(sender)
        pool = pool_name(sender)
        if pool in {"threads", "solo"}:
            logger.warning(
                "relier: the %s pool cannot end a task body: at a hard timeout async bodies are "
                "cancelled, sync bodies are fenced off and run on (use prefork to stop them)",
                pool,
            )
        checks = self.preflight_checks(pool)
        checks += preflight.check_queue_names(
            _consumed_queues(sender), self.settings.key_prefix, self.broker_keys.global_prefix)
        for check in checks:
            if check.severity is preflight.Severity.WARNING:
                logger.warning("relier preflight: %s (%s)", check.detail, check.fix)
        failures = [check for check in checks if check.is_blocking]
        if not failures:
            return
        if self.settings.unsafe_skip_preflight:
            logger.critical(
                "RELIER_UNSAFE_SKIP_PREFLIGHT=1: starting despite failed checks; relier's "
                "guarantees do not hold: %s",
                preflight.refusal_message(self.settings.redis_url, failures),
            )
            return
        sys.stderr.write(preflight.refusal_message(self.settings.redis_url, failures) + "\n")
        sys.stderr.flush()
        raise SystemExit(EXIT_PREFLIGHT)

    def _install_gate(self, worker: Any) -> None:
        """Every element this worker pops goes through relier's gate first."""
        transport = str(self.app.conf.broker_transport or "")
        if transport not in {TRANSPORT, SENTINEL_TRANSPORT}:
            logger.warning(
                "relier: broker_transport is %r, not relier's: an element in a queue that is not "
                "a kombu message can stop this worker and is not kept as a dead letter "
                "(leave broker_transport unset, or set %r)", transport, TRANSPORT)
            return
        rules = GateRules(
            task_kind=self._task_kind,
            accepted=frozenset(prepare_accept_content(  # type: ignore[no-untyped-call]
                self.app.conf.accept_content or ["json"])),
            verification_keys=dict(self.settings.verification_keys),
        )
        install_gate(Gate(self.store, rules, worker_node(worker.hostname), self.dead_letter_keeper))

    def _task_kind(self, name: str) -> TaskKind:
        task = self.app.tasks.get(name)
        if task is None:
            return None
        return "relier" if isinstance(task, RelierTask) else "plain"

    def _on_task_unknown(self, sender: Any = None, message: Any = None, name: str = "",
                         **_: Any) -> None:
        """Celery drops a message whose task name it does not know; keep relier's. (With
        relier's transport the gate handles these before Celery sees them.)"""
        if message is None or getattr(sender, "app", None) is not self.app:
            return
        if message.content_type != CONTENT_TYPE:
            return
        decoded = open_sealed(bytes(message.body), dict(self.settings.verification_keys))
        if isinstance(decoded, DecodeFailure):
            dead_letter_message(self, message, decoded)
            return
        error = f"no task named {name!r} is registered on this worker"
        try:
            status = self.store.bounce(
                decoded.id, str(message.delivery_tag), worker_node(sender.hostname),
                DeadLetterReason.UNKNOWN_TASK, error, idem=decoded.idempotency_key or "",
                retry=False,
            )
        except redis.RedisError as exc:  # still queued in its record: reconciliation finds it
            status = f"not recorded: {exc}"
        logger.error("relier task %s (%s): %s [%s]", decoded.id, safe_text(name), error, status)
