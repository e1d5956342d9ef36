"""`Relier`: the facade that binds relier to a Celery app and declares tasks on it.

It wires the layers together: a `Runtime` (settings, connections, keys, the store), the task
class and its `Pipeline`, the Celery configuration relier needs, and the worker's lifecycle
hooks (`relier.worker.lifecycle`). Nothing below it imports it.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import ssl
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Unpack, overload

from celery import Celery
from celery import Task as CeleryTask
from celery._state import get_current_app
from celery.utils.functional import head_from_fun

from relier import preflight, results, slo
from relier.admission import Admission
from relier.adopt import adopt
from relier.canvas import (
    JOIN_TASK,
    MAP_TASK,
    STARMAP_TASK,
    Canvas,
    join_results,
    run_starmap,
)
from relier.cells import Cells, consume_own_cell, own_cell, register_cells, with_cells
from relier.config import Settings, get_settings
from relier.connection import Connections
from relier.dispatch import push_by_name
from relier.dlq import DeadLetters
from relier.errors import ConfigurationError
from relier.handle import TaskHandle
from relier.idempotency import IdempotencyLock
from relier.keys import BrokerKeys, Keys
from relier.message import CONTENT_TYPE, SERIALIZER_NAME
from relier.names import task_name_problem
from relier.raw_dead_letters import DeadLetterKeeper
from relier.replacing import ACCUMULATE_TASK, accumulate
from relier.retry import RetryPolicy
from relier.routing import celery_router
from relier.runtime import Runtime, broker_keys_for, register_runtime
from relier.schema import MigrationChain
from relier.sentinel import from_broker
from relier.serializer import add_verification_keys, register_serializer
from relier.spec import TaskOptions, TaskSpec, build_spec, task_name_for
from relier.store import Store
from relier.task import RelierTask
from relier.transport import SENTINEL_TRANSPORT, TRANSPORT, keep_relier_transport
from relier.worker.consumer import ReturnReserved, WatchPoolProcesses
from relier.worker.gate import TaskKind
from relier.worker.lifecycle import (
    EXIT_PREFLIGHT,
    PREFETCH_CHOSEN_BY_RELIER,
    WorkerLifecycle,
    pool_name,
)
from relier.worker.pipeline import Pipeline

__all__ = ["EXIT_PREFLIGHT", "Relier", "pool_name"]

_bound: weakref.WeakKeyDictionary[Celery, Relier] = weakref.WeakKeyDictionary()

logger = logging.getLogger("relier")


def _settings_for(app: Celery) -> Settings:
    """Process settings; without RELIER_REDIS_URL or RELIER_CELLS, relier follows the app's
    Redis broker."""
    settings = get_settings()
    broker = str(app.conf.broker_url or "")
    if "RELIER_REDIS_URL" in os.environ or settings.cells:
        return settings
    if broker.startswith(("redis://", "rediss://")):
        return dataclasses.replace(settings, redis_url=broker)
    sentinel = from_broker(broker, app.conf.broker_transport_options or {})
    if sentinel is not None:
        return dataclasses.replace(settings, redis_url=sentinel.url)
    return settings


#: ``send_task`` arguments that only steer Celery's own publishing, and the values it passes
#: by default (not a choice of the caller's).
_SEND_TASK_ONLY = frozenset({"router", "route_name", "result_cls", "task_type"})
_SEND_TASK_DEFAULTS: dict[str, Any] = {"add_to_parent": True, "retries": 0,
                                       "replaced_task_nesting": 0}


def _celery_header(target: Callable[..., Any], *, bound: bool) -> dict[str, Any]:
    """Celery's ``__header__`` (the body's signature: arguments are checked against it at the
    call, and an errback's arity read from it), when Celery can build one (not for a lambda)."""
    try:
        return {"__header__": staticmethod(head_from_fun(target, bound=bound))}
    except SyntaxError:
        return {}


def _refuse_a_task(target: object) -> None:
    """Raise `ConfigurationError` when `target` is already a task (decorated twice)."""
    if isinstance(target, RelierTask):
        raise ConfigurationError(
            f"@rl_task on {target.name}: it is already a relier task named {target.name!r}; "
            "decorate the function once (its options go in that one @rl_task(...))")
    if isinstance(target, CeleryTask):
        raise ConfigurationError(
            f"@rl_task on {target.name}: it is already a Celery task named {target.name!r}; "
            "use @rl_task instead of @app.task/@shared_task, or Relier(app, all_tasks=True) to "
            "make the app's tasks relier tasks")


def _use_relier_transport(app: Any) -> None:
    """relier's kombu transport for a Redis or Sentinel broker, unless the app chose one, kept
    through broker failovers."""
    conf = app.conf
    broker = str(conf.broker_url or "")
    if not conf.broker_transport and broker.startswith("sentinel://"):
        conf.broker_transport = SENTINEL_TRANSPORT
    elif not conf.broker_transport and broker.startswith(("redis://", "rediss://", "unix://")):
        if broker.startswith("rediss://") and not conf.broker_use_ssl:
            conf.broker_use_ssl = {"ssl_cert_reqs": ssl.CERT_REQUIRED}  # what kombu assumes
        conf.broker_transport = TRANSPORT
    if conf.broker_transport in (TRANSPORT, SENTINEL_TRANSPORT):
        keep_relier_transport(app)


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
        all_tasks: bool = False,
        cells: Mapping[str, str] | None = None,
    ) -> None:
        self.app = app
        chosen = settings or _settings_for(app)
        if cells is not None:
            chosen = with_cells(chosen, cells)
        consume_own_cell(app.conf, chosen)
        self.runtime = Runtime(chosen, broker_keys_for(app.conf.broker_transport_options),
                               admission, cell=own_cell(chosen.cells, chosen.cell))
        #: Every cell's runtime (just `runtime` without RELIER_CELLS); pushes are placed here.
        self.cells = Cells(self.runtime)
        self.tasks: dict[str, RelierTask] = {}
        #: With ``all_tasks=True``: the app's tasks that stayed plain Celery tasks, and why.
        self.plain_tasks: dict[str, str] = {}
        self._migrations: dict[str, MigrationChain] = {}
        settings = self.runtime.settings
        self.pipeline = Pipeline(
            self.runtime.store, self.migrations_for, settings.max_result_bytes,
            self.runtime.dead_letter_keeper, max_checkpoint_bytes=settings.max_checkpoint_bytes,
            canvas=Canvas(app, self.runtime, lambda: self._chord_join.spec),
        )
        register_serializer()
        add_verification_keys(settings.verification_keys)
        self._configure_app()
        results.install(app)
        WorkerLifecycle(app, self.runtime, self.preflight_checks, self._task_kind).connect()
        register_runtime(app, self.runtime)
        register_cells(app, self.cells)
        _bound[app] = self
        self._send_relier_tasks_by_name()
        if all_tasks:  # before anything finalizes the app (declaring relier's own tasks does)
            self._adopt_all_tasks()
        self._chord_join = self._declare_builtins()

    def _send_relier_tasks_by_name(self) -> None:
        """``app.send_task(name, ...)`` for a relier task declared here is its ``apply_async``
        (a plain message would be refused by relier's worker); other names go to Celery."""
        app = self.app
        celery_send_task = app.send_task

        def send_task(name: str, args: Sequence[Any] | None = None,
                      kwargs: Mapping[str, Any] | None = None, **options: Any) -> Any:
            task = self.tasks.get(name)
            if task is None:
                return celery_send_task(name, args, kwargs, **options)
            chosen = {key: value for key, value in options.items()
                      if key not in _SEND_TASK_ONLY and _SEND_TASK_DEFAULTS.get(key) != value
                      and value is not None}
            return task.apply_async(args, kwargs, **chosen)

        app.send_task = send_task

    def _adopt_all_tasks(self) -> None:
        """Every task the app declares from now (``@app.task``, ``@shared_task``, lazily at
        finalize) becomes a relier task (`relier.adopt`)."""
        app = self.app
        # app._tasks: reading app.tasks would finalize the app, declaring its tasks unadopted
        declared = sorted(name for name in app._tasks if not name.startswith(("celery.", "relier.")))
        if app.finalized and declared:
            raise ConfigurationError(
                f"Relier(app, all_tasks=True) came after the app declared {', '.join(declared)}: "
                "create it before importing task modules (right after Celery(...))")
        celery_task_from_fun = app._task_from_fun

        def task_from_fun(fun: Callable[..., Any], name: str | None = None, base: Any = None,
                          bind: bool = False, **options: Any) -> Any:
            task_name = name or app.gen_task_name(fun.__name__, fun.__module__)
            if task_name.startswith("celery.") or task_name in app._tasks:
                return celery_task_from_fun(fun, name=name, base=base, bind=bind, **options)
            adoption = adopt(task_name, {"base": base, "bind": bind, **options}, app.Task)
            if isinstance(adoption, str):
                logger.warning("task %s stays a plain Celery task: %s", task_name, adoption)
                self.plain_tasks[task_name] = adoption
                return celery_task_from_fun(fun, name=name, base=base, bind=bind, **options)
            try:
                task = self.task(fun, **adoption.options)
            except ConfigurationError as exc:  # options relier refuses: the task stays plain
                logger.warning("task %s stays a plain Celery task: %s", task_name, exc)
                self.plain_tasks[task_name] = str(exc)
                return celery_task_from_fun(fun, name=name, base=base, bind=bind, **options)
            for attribute, value in adoption.attributes.items():
                setattr(type(task), attribute, value)
            return task

        app._task_from_fun = task_from_fun

    def _declare_builtins(self) -> RelierTask:
        """relier's own tasks, not listed in `tasks`: the chord join (`relier.canvas`), and
        ``relier.starmap``/``relier.map`` (``task.starmap``, ``task.map``, ``task.chunks``),
        ``relier.accumulate`` (``self.replace(group)``). Returns the join."""
        runtime, app = self.runtime, self.app

        def chord_join(group_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
            """Join chord `group_id`'s header results; its completion applies `body`."""
            return join_results(runtime, group_id)

        def starmap(task: Mapping[str, Any], it: list[Any]) -> list[Any]:
            """Celery's ``celery.starmap`` as a relier task."""
            return run_starmap(app, task, it)

        def map_items(task: Mapping[str, Any], it: list[Any]) -> list[Any]:
            """Celery's ``celery.map`` as a relier task."""
            return run_starmap(app, task, [(item,) for item in it])

        join = self.task(chord_join, name=JOIN_TASK, retries=0)
        self.task(starmap, name=STARMAP_TASK, retries=0)
        self.task(map_items, name=MAP_TASK, retries=0)
        self.task(accumulate, name=ACCUMULATE_TASK, retries=0)
        for name in (JOIN_TASK, STARMAP_TASK, MAP_TASK, ACCUMULATE_TASK):
            del self.tasks[name]
        return join

    # The runtime's parts, for callers that hold the facade.
    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def connections(self) -> Connections:
        return self.runtime.connections

    @property
    def store(self) -> Store:
        return self.runtime.store

    @property
    def keys(self) -> Keys:
        return self.runtime.keys

    @property
    def broker_keys(self) -> BrokerKeys:
        return self.runtime.broker_keys

    @property
    def queue_admission(self) -> dict[str, Admission]:
        return self.runtime.queue_admission

    @property
    def dead_letter_keeper(self) -> DeadLetterKeeper:
        return self.runtime.dead_letter_keeper

    @classmethod
    def current(cls) -> Relier | None:
        """The `Relier` bound to Celery's current app, if any."""
        return _bound.get(get_current_app())

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
            conf.worker_disable_prefetch = True  # per pool at worker start (WorkerLifecycle)
            conf[PREFETCH_CHOSEN_BY_RELIER] = True
        _use_relier_transport(self.app)
        if self.app.control_cls in (None, "celery.app.control:Control"):
            self.app.control_cls = "relier.control:RelierControl"
            self.app.__dict__.pop("control", None)  # read before relier was bound
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
            _refuse_a_task(target)
            spec = self._spec(target, options)
            chain = self.migrations_for(spec.name)
            chain.current = spec.version
            task_class: type[RelierTask] = type(
                target.__name__,
                (RelierTask,),
                {
                    "name": spec.name,
                    "relier": self,
                    "runtime": self.runtime,
                    "cells": self.cells,
                    "pipeline": self.pipeline,
                    "migrations": chain,
                    "spec": spec,
                    "__module__": target.__module__,
                    "__doc__": target.__doc__,
                    "__wrapped__": target,
                    **_celery_header(target, bound=bool(options.get("bind"))),
                },
            )
            task: RelierTask = self.app.register_task(task_class())
            if options.get("bind"):  # Celery's bind=True: the body gets the task first
                task_class.spec = dataclasses.replace(spec, func=functools.partial(target, task))
            self.tasks[spec.name] = task
            self.runtime.task_queues[spec.name] = spec.queue
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
        name = options.get("name") or task_name_for(target)
        explicit_queue = options.get("queue")
        spec = build_spec(
            target,
            name=options.get("name"),
            queue=explicit_queue or self.app.conf.task_default_queue or settings.default_queue,
            router=None if explicit_queue else celery_router(self.app, name),
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
            cell_key=options.get("cell_key"),
        )
        problem = task_name_problem(spec.name) or self.queue_problem(spec.queue)
        if problem:
            raise ConfigurationError(f"@rl_task on {getattr(target, '__qualname__', target)}: {problem}")
        return spec

    def queue_problem(self, queue: str) -> str | None:
        """Why relier tasks cannot be sent to `queue` (its list would collide with a key)."""
        return self.runtime.queue_problem(queue)

    def require_queue(self, queue: str) -> None:
        """Raise `ValueError` naming the problem if relier tasks cannot be sent to `queue`."""
        self.runtime.require_queue(queue)

    def push_by_name(self, task_name: str, args: Sequence[Any], kwargs: Mapping[str, Any], *,
                     queue: str | None = None, version: int | None = None) -> TaskHandle:
        """Push a task by its registered name, from a process that may not import its code
        (`rl push`, the console); see `relier.dispatch.push_by_name`."""
        specs = {name: task.spec for name, task in self.tasks.items()}
        return push_by_name(self.runtime, specs, task_name, args, kwargs, queue=queue,
                            version=version)

    def cancel(self, task_id: str, *, terminate: bool = False) -> str:
        """Revoke a task, as Celery's ``revoke``: it never runs (again), persistently (state
        ``cancelled``, Celery's REVOKED); with `terminate`, a running body is stopped too.
        Returns ``cancelled``, ``done`` (it had already ended) or ``missing``."""
        reply = self.cells.locate(task_id).store.cancel(task_id, "revoked", by="cancel")
        self.app.control.revoke(task_id, terminate=terminate)
        return str(reply)

    def slo_report(self, task_name: str | None = None, objective: float | None = None, *,
                   cell: str | None = None) -> list[dict[str, Any]]:
        """Burn rates and alerts per task (see `relier.slo.report`), with each task's `slo=`;
        counted in `cell` (with RELIER_CELLS), else this process's own Redis."""
        declared = {name: task.spec.slo for name, task in self.tasks.items() if task.spec.slo}
        store = self.cells.runtime(cell).store if cell else self.store
        return slo.report(store, declared, self.settings.slo_objective, task_name, objective)

    @property
    def dead_letters(self) -> DeadLetters:
        """Dead-letter operations (list, show, release, retry-all, purge, export)."""
        return DeadLetters(self.store, self.runtime.front())

    def dead_letters_in(self, cell: str) -> DeadLetters:
        """Dead-letter operations on one cell's dead letters (with RELIER_CELLS)."""
        runtime = self.cells.runtime(cell)
        return DeadLetters(runtime.store, runtime.front())

    def handle(self, task_id: str) -> TaskHandle:
        """A handle on a task pushed earlier (by any process), from its id (in its cell)."""
        return TaskHandle(task_id, self.cells.locate(task_id))

    def idempotency_lock(self, key: str, ttl: float = 60.0) -> IdempotencyLock:
        """A manual once-only section keyed by `key`; see `relier.idempotency`."""
        return IdempotencyLock(self.runtime, key, ttl)

    def preflight_checks(self, pool: str | None = None) -> list[preflight.Check]:
        checks = preflight.check_server(self.store.client)
        if checks[0].severity is not preflight.Severity.ERROR:
            checks.append(preflight.check_memory(self.store.client, self.settings.memory_warning))
        checks += preflight.check_app(self.app, pool, self.settings.redis_url)
        checks += preflight.check_settings(self.settings)
        checks += preflight.check_cell(self.settings)
        return checks

    def _task_kind(self, name: str) -> TaskKind:
        task = self.app.tasks.get(name)
        if task is None:
            return None
        return "relier" if isinstance(task, RelierTask) else "plain"
