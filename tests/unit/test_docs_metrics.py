"""docs/metrics.md lists every metric and span the code emits, and no other."""

from __future__ import annotations

import re
from pathlib import Path

from relier.telemetry import METRICS, SPANS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text()


def test_metrics_and_spans_match_the_code() -> None:
    rows = re.findall(r"^\| `(relier\.[a-z_.]+)` \|", DOC, flags=re.MULTILINE)
    assert sorted(rows) == sorted([*METRICS, *SPANS])
