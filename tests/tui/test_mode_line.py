"""The mode line (issue 19): LIVE or PAUSED, the filter in force, the connection, Redis memory
headroom as the reconcile loop last read it (the render path reads nothing), and where the keys
go; every part stays on an 80-column line, and the line is on screen at 80x24."""

from __future__ import annotations

import pytest

from relier.preflight import MemoryHeadroom
from relier.testing import RedisServer
from relier_tui.screens import ConfirmScreen
from relier_tui.widgets.health import MIB
from relier_tui.widgets.mode_line import ModeLine, mode_text
from tests.tui.conftest import until
from tests.tui.keyboard import console, mode, start

FULL = MemoryHeadroom(used=400 * MIB, limit=512 * MIB)


@pytest.mark.parametrize("width", [80, 100, 160])
@pytest.mark.parametrize("paused", [False, True])
def test_every_part_fits_the_width(width: int, paused: bool) -> None:
    line = mode_text(paused=paused, missed=12, filter_text="queue=default worker=demo1", connected=True,
                     typing=False, memory=FULL, memory_warning=0.8, panes=7, width=width)
    assert line.cell_len <= width
    assert ("PAUSED" in line.plain and "12 new" in line.plain) if paused else "LIVE" in line.plain
    assert "filter: queue=default" in line.plain
    assert "redis" in line.plain
    assert "mem 78%" in line.plain
    assert "help" in line.plain


def test_a_long_filter_is_cut_with_an_ellipsis_and_the_states_stay() -> None:
    line = mode_text(paused=True, missed=3, filter_text="task=" + "x" * 200, connected=False, typing=True,
                     memory=FULL, width=80)
    assert line.cell_len <= 80
    assert "…" in line.plain
    for state in ("PAUSED", "redis DOWN", "mem ?", "typing: Esc"):
        assert state in line.plain


@pytest.mark.parametrize(("memory", "connected", "long", "short"), [
    (FULL, True, "mem 78% (112 MiB free)", "mem 78%"),
    (MemoryHeadroom(used=3 * MIB, limit=0), True, "mem 3 MiB, no limit", "mem 3 MiB"),
    (None, True, "mem ?", "mem ?"),  # not read yet, or INFO refused
    (FULL, False, "mem ?", "mem ?"),  # Redis unreachable: the last reading is stale
    (FULL, None, "mem 78% (112 MiB free)", "mem 78%"),
])
def test_memory_headroom(memory: MemoryHeadroom | None, connected: bool | None, long: str,
                         short: str) -> None:
    roomy = mode_text(paused=False, missed=0, filter_text="", connected=connected, typing=False,
                      memory=memory, width=200)
    narrow = mode_text(paused=True, missed=99999, filter_text="", connected=connected, typing=True,
                       memory=memory, width=60)
    assert long in roomy.plain
    assert short in narrow.plain


@pytest.mark.parametrize(("connected", "words"), [(True, "redis connected"), (False, "redis DOWN"),
                                                  (None, "connecting")])
def test_connection_state(connected: bool | None, words: str) -> None:
    assert words in mode_text(paused=False, missed=0, filter_text="", connected=connected,
                              typing=False, width=120).plain


def test_the_key_hint_counts_the_panes() -> None:
    assert "1-9 panes" in mode_text(paused=False, missed=0, filter_text="", connected=True, typing=False,
                                    panes=9, width=200).plain


async def test_the_mode_line_is_on_screen_at_80x24_from_every_state(empty_server: RedisServer) -> None:
    app = console(empty_server)
    reads: list[MemoryHeadroom] = []

    def memory() -> MemoryHeadroom:
        reads.append(FULL)
        return FULL

    app.source.memory = memory  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app, "workers")
        line = app.query_one(ModeLine)
        assert line.region.height == 1
        assert 0 < line.region.bottom <= 23  # above the footer, inside the terminal
        assert line.region.width == 80
        assert "LIVE" in mode(app)
        assert "redis connected" in mode(app) or "redis ok" in mode(app)
        assert "mem 78%" in mode(app)
        await pilot.press("space")
        await pilot.pause()
        assert "PAUSED" in mode(app)
        await pilot.press("slash", *"state=draining")
        await until(pilot, lambda: "filter: state=draining" in mode(app), what="the filter")
        assert "typing: Esc" in mode(app)
        await pilot.press("escape")
        await pilot.pause()
        assert "filter: state=draining" in mode(app)  # still in force after leaving the box
        assert "PAUSED" in mode(app)
        await pilot.press("1")
        await pilot.pause()
        assert "no filter" in mode(app)  # the filter of the pane shown
        await pilot.resize_terminal(160, 40)
        await pilot.pause()
        assert "mem 78% (112 MiB free)" in mode(app)
        assert reads == [FULL]  # read once, by the reconcile loop; rendering reads nothing


@pytest.mark.parametrize("width", [80, 160])
async def test_a_dialog_opened_from_a_field_names_its_own_keys(width: int, empty_server: RedisServer) -> None:
    """ctrl+s in the Admission form asks first: while the question is open the mode line says
    what the dialog takes (y, n or Esc), not "typing"; after it, the field has the keys again."""
    app = console(empty_server)
    async with app.run_test(size=(width, 24)) as pilot:
        await start(pilot, app, "admission", "#limit-name")
        await pilot.press(*"default", "tab", *"5")
        await until(pilot, lambda: "typing: Esc" in mode(app), what="typing in the form")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.pause()
        assert "typing" not in mode(app)
        assert ("dialog: y Yes, n/esc No" if width > 80 else "y/n/esc") in mode(app)
        assert len(mode(app)) <= width
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="the dialog to close")
        await pilot.pause()
        assert "typing: Esc" in mode(app)  # back in the field


def test_a_dialog_without_keys_of_its_own_says_esc() -> None:
    line = mode_text(paused=False, missed=0, filter_text="", connected=True, typing=True, width=160,
                     dialog=())
    assert "dialog: esc closes" in line.plain
    assert "typing" not in line.plain
