"""relier's benchmarks: ``python -m bench [--scale] [NAME] [options]``.

Without NAME every benchmark runs (relier beside vanilla Celery, with its defaults and with
``acks_late``), then ``docs/benchmarks.md`` and its plots are regenerated from the results.
A benchmark is a module exposing ``BENCHMARK``, a `Benchmark`; ``bench/__main__.py`` lists them
in its registry. Results go to ``bench/results/`` as JSON, with a table on stdout.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Benchmarks run on throwaway local servers and sign with the public development key.
os.environ.setdefault("RELIER_ENV", "test")


@dataclass(frozen=True, slots=True)
class Benchmark:
    """One named benchmark: its CLI options and how to run it (returns an exit status).

    `scale` holds the option values (argparse ``dest`` -> value) that ``--scale`` sets: the
    larger samples of a full-size run. Options given on the command line still win.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    scale: Mapping[str, Any] = field(default_factory=dict)
    #: Result files its options write besides its own (``ceiling --cells``: ``ceiling-cells``),
    #: placed after it on the page when present.
    results: tuple[str, ...] = ()
