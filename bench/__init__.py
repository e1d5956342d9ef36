"""relier's benchmarks: ``python -m bench [NAME] [options]`` (no NAME runs every benchmark).

A benchmark is a module exposing ``BENCHMARK``, a `Benchmark`; ``bench/__main__.py`` lists
them in its registry. Results go to ``bench/results/`` as JSON, with a table on stdout.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Benchmark:
    """One named benchmark: its CLI options and how to run it (returns an exit status)."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
