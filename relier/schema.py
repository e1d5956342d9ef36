"""Versioned task arguments: migration chains applied on the worker, in order.

A task declared with ``version=3`` registers migrations from 1 and from 2; an envelope of
version 1 passes through ``1->2`` then ``2->3`` before the body sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec


class Arguments(msgspec.Struct, frozen=True):
    """A call's positional and keyword arguments, as migrations see them."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]


Migration = Callable[[Arguments], Arguments]


class MigrationError(Exception):
    """A migration step is missing, raised, or returned something other than `Arguments`."""


class SchemaTooNewError(Exception):
    """The envelope's version is newer than this worker's code knows."""


@dataclass
class MigrationChain:
    """The migrations of one task, keyed by the version they upgrade from."""

    task: str
    current: int = 1
    steps: dict[int, Migration] = field(default_factory=dict)

    def register(self, from_version: int, migration: Migration) -> None:
        """Add the step from `from_version`; raises `ValueError` naming the version to declare
        when the step does not fit the task's declared version."""
        if from_version < 1:
            raise ValueError(
                f"task {self.task}: a migration from version {from_version} must start at 1 "
                "(argument versions start at 1)"
            )
        if from_version >= self.current:
            raise ValueError(
                f"task {self.task}: a migration from version {from_version} must start at 1 "
                f"and end at most at the task's version {self.current}: declare "
                f"@rl_task(version={from_version + 1}) on the task to migrate version "
                f"{from_version} arguments to {from_version + 1}"
            )
        if from_version in self.steps:
            raise ValueError(f"task {self.task}: migration from {from_version} registered twice")
        self.steps[from_version] = migration

    def missing_steps(self) -> list[int]:
        return [v for v in range(1, self.current) if v not in self.steps]

    def upgrade(self, version: int, arguments: Arguments) -> Arguments:
        """Apply each step from `version` up to the current version."""
        if version > self.current:
            raise SchemaTooNewError(
                f"task {self.task}: message has version {version}, this worker knows up to "
                f"{self.current}: run workers whose code declares @rl_task(version={version}) "
                f"(with a .migration(from_version=n) for each n from 1 to {version - 1})"
            )
        if version < 1:
            raise MigrationError(
                f"task {self.task}: invalid version {version} (argument versions start at 1)")
        for step in range(version, self.current):
            migration = self.steps.get(step)
            if migration is None:
                raise MigrationError(
                    f"task {self.task}: no migration from version {step} (to {step + 1}; the "
                    f"task declares version {self.current}): register one with "
                    f"@<task>.migration(from_version={step})"
                )
            try:
                upgraded = migration(arguments)
            except Exception as exc:
                raise MigrationError(
                    f"task {self.task}: migration {step}->{step + 1} raised "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            if not isinstance(upgraded, Arguments):
                raise MigrationError(
                    f"task {self.task}: migration {step}->{step + 1} returned "
                    f"{type(upgraded).__name__}, expected Arguments"
                )
            arguments = upgraded
        return arguments
