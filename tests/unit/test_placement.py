"""Placement: a stable, even hash over cell names that moves little when cells change."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest

from relier.placement import (
    Placement,
    cell_in_task_id,
    cell_key_text,
    new_task_id,
    placement_for,
    ranked_cells,
)

THREE = ("east", "west", "north")
KEYS = [f"customer-{index}" for index in range(30_000)]


def test_the_ranking_is_the_same_whatever_order_the_cells_are_listed_in() -> None:
    for key in KEYS[:200]:
        assert ranked_cells(key, THREE) == ranked_cells(key, tuple(reversed(THREE)))
        assert sorted(ranked_cells(key, THREE)) == sorted(THREE)


def test_the_ranking_is_fixed_across_processes() -> None:
    """Not Python's salted hash(): these values hold in every process and release."""
    assert ranked_cells("customer-1", THREE) == ("west", "east", "north")
    assert ranked_cells("customer-4", THREE) == ("north", "west", "east")


def test_keys_spread_evenly() -> None:
    counts = Counter(ranked_cells(key, THREE)[0] for key in KEYS)
    assert set(counts) == set(THREE)
    for cell in THREE:
        assert abs(counts[cell] - len(KEYS) / 3) < 0.03 * len(KEYS) / 3, counts


def test_adding_a_cell_moves_about_a_quarter_of_the_keys_and_only_to_it() -> None:
    four = (*THREE, "south")
    moved = [key for key in KEYS if ranked_cells(key, THREE)[0] != ranked_cells(key, four)[0]]
    assert all(ranked_cells(key, four)[0] == "south" for key in moved)
    assert abs(len(moved) / len(KEYS) - 1 / 4) < 0.02


def test_removing_a_cell_moves_only_its_keys_to_their_next_choice() -> None:
    for key in KEYS[:2000]:
        ranked = ranked_cells(key, THREE)
        without_north = ranked_cells(key, ("east", "west"))
        assert without_north == tuple(cell for cell in ranked if cell != "north")


def test_task_ids_carry_their_cell() -> None:
    task_id = new_task_id("east")
    assert task_id.startswith("east~")
    assert uuid.UUID(task_id.removeprefix("east~"))
    assert cell_in_task_id(task_id, THREE) == "east"
    assert cell_in_task_id(str(uuid.uuid4()), THREE) is None
    assert cell_in_task_id("south~1", THREE) is None


def test_only_a_generated_id_may_move() -> None:
    assert placement_for(unique="u1") == Placement("u1", is_pinned=False, source="task id")
    assert placement_for(task_id="mine", unique="u1") == Placement("mine", True, "task id")
    assert placement_for(idempotency_digest="d", task_id="mine") == Placement(
        "d", True, "idempotency key")
    assert placement_for(canvas_root="r", idempotency_digest="d") == Placement("r", True, "canvas")
    assert placement_for(cell_key=42, canvas_root="r") == Placement("42", True, "cell_key")


def test_a_pinned_task_is_tried_on_its_first_cell_only() -> None:
    ranked = ranked_cells("k", THREE)
    assert Placement("k", is_pinned=True, source="cell_key").cells(THREE) == ranked[:1]
    assert Placement("k", is_pinned=False, source="task id").cells(THREE) == ranked


@pytest.mark.parametrize("bad", [1.5, b"bytes", True, ("a",)])
def test_a_cell_key_is_text_or_a_whole_number(bad: object) -> None:
    with pytest.raises(TypeError, match="cell_key must be a str or an int"):
        cell_key_text(bad)
