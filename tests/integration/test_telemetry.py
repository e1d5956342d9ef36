"""One trace from dispatch to execution, across real processes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import ModuleType

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from relier.testing import RedisServer, wait_until
from tests.conftest import start_worker


def execute_spans(log: str) -> list[dict[str, object]]:
    """The `relier.execute` spans the console exporter printed into the worker's log."""
    spans = []
    for block in re.findall(r"^\{\n.*?^\}$", log, flags=re.DOTALL | re.MULTILINE):
        span = json.loads(block)
        if span.get("name") == "relier.execute":
            spans.append(span)
    return spans


def test_dispatch_and_execute_share_one_trace(
    basic_tasks: ModuleType, redis_server: RedisServer, tmp_path: Path
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    worker = start_worker(redis_server, tmp_path, queues=("otel",),
                          env={"OTEL_TRACES_EXPORTER": "console",
                               "OTEL_SERVICE_NAME": "relier-test-worker"}).wait_ready()
    try:
        handle = basic_tasks.add.push_with((1, 2), queue="otel")
        assert handle.result(timeout=30) == 3
        dispatch = next(span for span in exporter.get_finished_spans()
                        if span.name == "relier.dispatch" and
                        span.attributes is not None and
                        span.attributes.get("relier.task.id") == handle.id)
        trace_id = f"0x{dispatch.context.trace_id:032x}"
        spans = wait_until(lambda: [s for s in execute_spans(worker.log())
                                    if s["context"]["trace_id"] == trace_id],  # type: ignore[index]
                           timeout=30, message="no execute span in the dispatch's trace")
    finally:
        worker.stop()
    span = spans[0]
    assert span["parent_id"] == f"0x{dispatch.context.span_id:016x}"
    assert span["kind"] == "SpanKind.CONSUMER"
    attributes = span["attributes"]
    assert attributes["relier.task.id"] == handle.id  # type: ignore[index]
    assert attributes["messaging.destination.name"] == "otel"  # type: ignore[index]
    assert attributes["relier.attempt"] == 1  # type: ignore[index]
