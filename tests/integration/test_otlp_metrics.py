"""With OTEL_METRICS_EXPORTER=otlp every process pushes its metrics, so a prefork worker's
pool processes (where tasks run) are counted, not only its main process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from relier.testing import RedisServer, wait_until
from tests.conftest import start_worker


class Receiver:
    """A minimal OTLP/HTTP metrics endpoint on loopback: adds up the delta counter points it
    receives, per metric, and notes which exports carried them."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.exports_with: dict[str, int] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportMetricsServiceRequest.FromString(body)
                for resource in request.resource_metrics:
                    for scope in resource.scope_metrics:
                        for metric in scope.metrics:
                            if metric.HasField("sum") and metric.sum.aggregation_temporality == 1:
                                delta = sum(p.as_double or p.as_int for p in metric.sum.data_points)
                                with receiver.lock:
                                    receiver.sums[metric.name] = receiver.sums.get(metric.name, 0) + delta
                                    if delta:
                                        receiver.exports_with[metric.name] = (
                                            receiver.exports_with.get(metric.name, 0) + 1)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def total(self, metric: str) -> float:
        with self.lock:
            return self.sums.get(metric, 0.0)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def test_prefork_pool_processes_push_their_metrics(redis_server: RedisServer, basic_tasks: ModuleType,
                                                   receiver: Receiver, tmp_path: Path) -> None:
    worker = start_worker(redis_server, tmp_path, queues=("otlp",), env={
        "OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}",
        "OTEL_METRIC_EXPORT_INTERVAL": "300", "OTEL_RESOURCE_ATTRIBUTES": "service.name=otlp-test",
    }).wait_ready()
    try:
        handles = [basic_tasks.add.push_with((n, 1), {}, queue="otlp") for n in range(12)]
        assert [h.result(timeout=30) for h in handles] == [n + 1 for n in range(12)]
        # completions are counted in the pool processes: only their own exports can carry them
        wait_until(lambda: receiver.total("relier.tasks.completed") == 12, timeout=30,
                   message=lambda: f"metrics received: {receiver.sums}")
    finally:
        worker.stop()
