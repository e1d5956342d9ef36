"""OpenTelemetry spans and metrics. relier depends only on the API; with no SDK configured every
call here is a cheap no-op.

Spans: ``relier.dispatch`` (producer) and ``relier.execute`` (consumer, a child of the dispatch
through the W3C trace context carried in the signed envelope), ``relier.resurrect``,
``relier.handoff`` and ``relier.dead_letter``. Metrics: see `METRICS` (docs/metrics.md lists
them; a test keeps the two in step). `configure()` sets up the SDK from the standard
``OTEL_*`` variables in any process role; workers call it in every process.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.propagate import extract, inject
from opentelemetry.trace import Link, Span, SpanKind

from relier.config import get_settings

logger = logging.getLogger("relier.telemetry")

#: name -> (instrument kind, unit, description). The single list of relier's metrics.
METRICS: dict[str, tuple[str, str, str]] = {
    "relier.tasks.dispatched": ("counter", "{task}", "Tasks accepted by push/apush."),
    "relier.tasks.admission_rejected": ("counter", "{task}", "Pushes refused by admission control."),
    "relier.tasks.started": ("counter", "{attempt}", "Attempts whose body started."),
    "relier.tasks.completed": ("counter", "{task}", "Tasks completed with a stored result."),
    "relier.tasks.failed": ("counter", "{attempt}", "Attempts whose body raised."),
    "relier.tasks.retried": ("counter", "{attempt}", "Failed attempts scheduled for a retry."),
    "relier.tasks.resurrected": ("counter", "{task}", "Tasks re-queued after their process died."),
    "relier.tasks.handed_off": ("counter", "{task}", "Tasks handed off at a worker's shutdown."),
    "relier.tasks.dead_lettered": ("counter", "{task}", "Tasks dead-lettered, by reason."),
    "relier.task.duration": ("histogram", "s", "Run time of an attempt's body."),
    "relier.task.queue_wait": ("histogram", "s", "Time from dispatch to the attempt's start."),
    "relier.tasks.inflight": ("updowncounter", "{attempt}", "Attempts running in this process."),
    "relier.recovery.latency": ("histogram", "s",
                                "From a dead process's last lease refresh to its tasks' re-queue."),
}
#: histogram bucket boundaries: relier records seconds, and the SDK's defaults (0, 5, 10, 25,
#: ... 10,000) suit milliseconds, which would put every sub-5-second latency in one bucket
SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                   120.0, 300.0, 600.0)
SPANS = ("relier.dispatch", "relier.execute", "relier.resurrect", "relier.handoff",
         "relier.dead_letter")

_tracer = trace.get_tracer("relier")
_meter = metrics.get_meter("relier")
_instruments: dict[str, Any] = {}


def _instrument(name: str) -> Any:
    instrument = _instruments.get(name)
    if instrument is None:
        kind, unit, description = METRICS[name]
        if kind == "counter":
            instrument = _meter.create_counter(name, unit=unit, description=description)
        elif kind == "histogram":
            instrument = _meter.create_histogram(
                name, unit=unit, description=description,
                explicit_bucket_boundaries_advisory=SECONDS_BUCKETS)
        else:
            instrument = _meter.create_up_down_counter(name, unit=unit, description=description)
        _instruments[name] = instrument
    return instrument


def count(name: str, value: float = 1, **attributes: str | int) -> None:
    """Add to a counter (or up-down counter) of `METRICS`."""
    _instrument(name).add(value, attributes)


def record(name: str, value: float, **attributes: str | int) -> None:
    """Record a histogram value of `METRICS`."""
    _instrument(name).record(value, attributes)


def _attributes(task: str, task_id: str, queue: str, **extra: str | int) -> dict[str, Any]:
    """OpenTelemetry messaging conventions plus relier's own."""
    return {"messaging.system": "redis", "messaging.destination.name": queue,
            "messaging.message.id": task_id, "relier.task.name": task, "relier.task.id": task_id,
            **extra}


@contextlib.contextmanager
def dispatch_span(task: str, task_id: str, queue: str) -> Iterator[dict[str, str]]:
    """A producer span; yields the carrier to put in the envelope's ``trace`` field."""
    with _tracer.start_as_current_span(
        "relier.dispatch", kind=SpanKind.PRODUCER,
        attributes=_attributes(task, task_id, queue, **{"messaging.operation.type": "send"}),
    ):
        carrier: dict[str, str] = {}
        inject(carrier)
        yield carrier


@contextlib.contextmanager
def execute_span(task: str, task_id: str, queue: str, carrier: Mapping[str, str], *,
                 attempt: int, fence: int, worker: str) -> Iterator[Span]:
    """A consumer span in the dispatching trace (child of the dispatch span, and linked to it)."""
    parent = extract(dict(carrier))
    links = [Link(trace.get_current_span(parent).get_span_context())] if carrier else []
    token = otel_context.attach(parent)
    try:
        with _tracer.start_as_current_span(
            "relier.execute", kind=SpanKind.CONSUMER, links=links,
            attributes={**_attributes(task, task_id, queue),
                        "messaging.operation.type": "process", "relier.attempt": attempt,
                        "relier.fence": fence, "relier.worker": worker},
        ) as span:
            yield span
    finally:
        otel_context.detach(token)


def event_span(name: str, task_id: str, **attributes: str | int) -> None:
    """A short span for a lifecycle event outside a task body (resurrect, handoff, dead letter)."""
    with _tracer.start_as_current_span(name, attributes={"relier.task.id": task_id, **attributes}):
        pass


_configured = False


def _configure_metrics(resource: Any) -> None:
    """``OTEL_METRICS_EXPORTER=otlp`` pushes every process's metrics (pool processes included)
    to ``OTEL_EXPORTER_OTLP_ENDPOINT``; ``prometheus`` serves /metrics on RELIER_PROMETHEUS_PORT
    from the process that called this (relier's optional extra ``relier[prometheus]``), which
    for a prefork worker is its main process only; ``console`` prints them."""
    exporter = os.environ.get("OTEL_METRICS_EXPORTER", "none").lower()
    if exporter in {"", "none"}:
        return
    from opentelemetry.sdk.metrics import MeterProvider  # noqa: PLC0415 - optional SDK

    if exporter == "prometheus":
        try:
            from opentelemetry.exporter.prometheus import (  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415 - optional
                PrometheusMetricReader,
            )
            from prometheus_client import start_http_server  # noqa: PLC0415 - optional extra
        except ImportError:
            logger.warning("OTEL_METRICS_EXPORTER=prometheus needs relier[prometheus]")
            return
        settings = get_settings()
        start_http_server(settings.prometheus_port, addr=settings.prometheus_addr)
        reader: Any = PrometheusMetricReader()
    elif exporter == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415 - optional
                OTLPMetricExporter,
            )
            from opentelemetry.sdk.metrics.export import (  # noqa: PLC0415 - optional SDK
                PeriodicExportingMetricReader,
            )
        except ImportError:
            logger.warning("OTEL_METRICS_EXPORTER=otlp needs opentelemetry-exporter-otlp-proto-http")
            return
        # the reader restarts its export thread in each forked pool process, so every process
        # pushes its own metrics (pool processes have no /metrics endpoint to scrape). Forked
        # processes share one resource, so their counts travel as deltas, which add up
        # whichever process sent them (a collector's deltatocumulative turns them back)
        reader = PeriodicExportingMetricReader(OTLPMetricExporter(preferred_temporality=_delta_unless_set()))
    elif exporter == "console":
        from opentelemetry.sdk.metrics.export import (  # noqa: PLC0415 - optional SDK
            ConsoleMetricExporter,
            PeriodicExportingMetricReader,
        )

        reader = PeriodicExportingMetricReader(ConsoleMetricExporter())
    else:
        logger.warning("OTEL_METRICS_EXPORTER=%s is not supported by relier.telemetry", exporter)
        return
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[reader]))


def _delta_unless_set() -> dict[type, Any] | None:
    if os.environ.get("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"):
        return None
    from opentelemetry.sdk.metrics import Counter, Histogram  # noqa: PLC0415 - optional SDK
    from opentelemetry.sdk.metrics.export import AggregationTemporality  # noqa: PLC0415

    return {Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA}


def configure() -> bool:
    """Set up the OpenTelemetry SDK from ``OTEL_TRACES_EXPORTER`` (``console`` or ``otlp``),
    ``OTEL_METRICS_EXPORTER`` (``prometheus`` or ``console``) and ``OTEL_SERVICE_NAME``, if
    the SDK is installed and asked for; returns whether it did. Call once per process, before
    forking (workers do it in the main process at start)."""
    global _configured  # noqa: PLW0603 - one SDK setup per process
    traces = os.environ.get("OTEL_TRACES_EXPORTER", "none").lower()
    wants_metrics = os.environ.get("OTEL_METRICS_EXPORTER", "none").lower() not in {"", "none"}
    if _configured or (traces in {"", "none"} and not wants_metrics):
        return False
    try:
        from opentelemetry.sdk.resources import Resource  # noqa: PLC0415 - optional SDK
        from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
        from opentelemetry.sdk.trace.export import (  # noqa: PLC0415
            ConsoleSpanExporter,
            SimpleSpanProcessor,
        )
    except ImportError:
        logger.warning("OTEL_TRACES_EXPORTER=%s but opentelemetry-sdk is not installed "
                       "(install relier's otel extra: pip install -e '.[otel]' in relier's "
                       "checkout, or relier-<version>.whl[otel])", traces)
        return False
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "relier")})
    _configure_metrics(resource)
    _configured = True
    if traces in {"", "none"}:
        return True
    provider = TracerProvider(resource=resource)
    if traces == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    elif traces == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415 - optional
                OTLPSpanExporter,
            )
            from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415
        except ImportError:
            logger.warning("OTEL_TRACES_EXPORTER=otlp needs opentelemetry-exporter-otlp")
            return False
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True
    return True
