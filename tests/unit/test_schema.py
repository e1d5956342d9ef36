"""Migration chains: order, gaps, errors and versions newer than the worker."""

from __future__ import annotations

import pytest

from relier.schema import Arguments, MigrationChain, MigrationError, SchemaTooNewError


def append(tag: str):  # type: ignore[no-untyped-def]
    return lambda arguments: Arguments((*arguments.args, tag), arguments.kwargs)


def test_steps_apply_in_order() -> None:
    chain = MigrationChain("t", current=4)
    chain.register(3, append("3->4"))
    chain.register(1, append("1->2"))
    chain.register(2, append("2->3"))
    assert chain.upgrade(1, Arguments((), {})).args == ("1->2", "2->3", "3->4")
    assert chain.upgrade(3, Arguments((), {})).args == ("3->4",)
    assert chain.upgrade(4, Arguments(("x",), {})).args == ("x",)


def test_missing_step_is_an_error() -> None:
    chain = MigrationChain("t", current=3)
    chain.register(2, append("2->3"))
    assert chain.missing_steps() == [1]
    with pytest.raises(MigrationError, match="no migration from version 1") as raised:
        chain.upgrade(1, Arguments((), {}))
    assert "migration(from_version=1)" in str(raised.value)


def test_newer_version_is_refused() -> None:
    with pytest.raises(SchemaTooNewError, match="version 3") as raised:
        MigrationChain("t", current=2).upgrade(3, Arguments((), {}))
    assert "declares @rl_task(version=3)" in str(raised.value)


def test_raising_migration_is_wrapped() -> None:
    chain = MigrationChain("t", current=2)

    def broken(arguments: Arguments) -> Arguments:
        raise KeyError("customer")

    chain.register(1, broken)
    with pytest.raises(MigrationError, match="1->2 raised KeyError"):
        chain.upgrade(1, Arguments((), {}))


def test_migration_must_return_arguments() -> None:
    chain = MigrationChain("t", current=2)
    chain.register(1, lambda arguments: {"not": "arguments"})  # type: ignore[arg-type, return-value]
    with pytest.raises(MigrationError, match="returned dict"):
        chain.upgrade(1, Arguments((), {}))


@pytest.mark.parametrize("from_version", [0, 2, 5])
def test_register_rejects_out_of_range(from_version: int) -> None:
    with pytest.raises(ValueError, match="must start at 1"):
        MigrationChain("t", current=2).register(from_version, append("x"))


def test_a_migration_beyond_the_declared_version_names_the_version_to_declare() -> None:
    with pytest.raises(ValueError, match=r"declare @rl_task\(version=3\)"):
        MigrationChain("t", current=2).register(2, append("2->3"))


def test_an_invalid_message_version_says_versions_start_at_1() -> None:
    with pytest.raises(MigrationError, match="start at 1"):
        MigrationChain("t", current=2).upgrade(0, Arguments((), {}))
