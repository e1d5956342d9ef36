"""The optional Prometheus exporter serves relier's metrics."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request

from relier.testing import free_port

SCRIPT = """
import sys, time
from relier import telemetry
assert telemetry.configure()
telemetry.count("relier.tasks.dispatched", 3, task="t.probe")
print("ready", flush=True)
sys.stdin.readline()
"""


def test_metrics_endpoint_serves_counters() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "OTEL_METRICS_EXPORTER": "prometheus",
             "RELIER_PROMETHEUS_PORT": str(port)},
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            body = response.read().decode()
    finally:
        process.kill()
        process.wait(10)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
    line = next(line for line in body.splitlines()
                if line.startswith("relier_tasks_dispatched") and 't.probe' in line)
    assert line.endswith(" 3.0")
