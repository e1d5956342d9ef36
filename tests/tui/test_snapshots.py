"""SVG snapshots of the main screens, on an empty server so every number is stable; the
Inflight table with rows and a task's detail view at 80x24 and 160x48, from fixed data (their
ages do not move: the pane's clock is stopped, the view's times are Redis's at a fixed read, in
UTC). Regenerate with `pytest tests/tui/test_snapshots.py --snapshot-update` after an intended
change, and look at the diff report before committing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery import Celery
from textual.pilot import Pilot

from relier.binding import Relier
from relier.preflight import MemoryHeadroom
from relier.testing import RedisServer
from relier_tui.app import RelierConsole
from relier_tui.screens import DetailScreen
from relier_tui.task_sections import task_sections
from relier_tui.task_view import TaskRead, task_view
from relier_tui.widgets.inflight import InflightPane
from tests.support import settings_for
from tests.tui.conftest import until
from tests.tui.task_records import KEYS, NOW_MS, history_entries, inflight_tasks, running_record

SnapCompare = Callable[..., bool]


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(Path(tmp_path_factory.mktemp("snapshot-redis"))).start()
    yield server
    server.stop()


def _console(server: RedisServer) -> RelierConsole:
    settings = settings_for(server.url)
    own = Relier(Celery("snapshots", set_as_current=False), settings=settings)
    console = RelierConsole(own, reconcile_interval=30.0)
    # INFO memory moves by kilobytes from run to run: the header's number is pinned
    console.source.memory = lambda: MemoryHeadroom(used=2**20, limit=0)  # type: ignore[method-assign]
    return console


def _after(*keys: str) -> Callable[[Pilot[None]], object]:
    async def run_before(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, RelierConsole)
        await until(pilot, lambda: app.health is not None, what="the first read")
        for key in keys:
            await pilot.press(key)
        await pilot.pause(0.2)

    return run_before


@pytest.mark.parametrize(("name", "keys"), [
    ("inflight", ()), ("workers", ("2",)), ("dead_letters", ("4",)), ("chaos", ("5",)),
    ("dispatch", ("6",)), ("admission", ("7",)), ("help", ("question_mark",)),
])
def test_screen(name: str, keys: tuple[str, ...], empty_server: RedisServer,
                snap_compare: SnapCompare) -> None:
    assert snap_compare(_console(empty_server), terminal_size=(100, 30), run_before=_after(*keys))


SIZES = [(80, 24), (160, 48)]
SIZE_IDS = [f"{width}x{height}" for width, height in SIZES]


async def _with_rows(pilot: Pilot[None]) -> None:
    """The Inflight pane showing fixed rows that do not age."""
    await _after()(pilot)
    pane = pilot.app.query_one(InflightPane)
    pane.leases.clock = lambda: 0.0
    pane.replace(inflight_tasks())
    await pilot.pause(0.2)


async def _with_detail(pilot: Pilot[None]) -> None:
    """A running task's detail view, read at a fixed moment."""
    await _after()(pilot)
    app = pilot.app
    assert isinstance(app, RelierConsole)
    read = TaskRead("3f2c9a1e-0000-4000-8000-000000000001", running_record(), history_entries(),
                    NOW_MS, NOW_MS - 1_200)
    view = task_view(read, KEYS, app.source.mask)
    await app.push_screen(DetailScreen(f"task {read.id}", task_sections(view, app.source.lease_limits)))
    await pilot.pause(0.2)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_inflight_fits(size: tuple[int, int], empty_server: RedisServer, snap_compare: SnapCompare) -> None:
    assert snap_compare(_console(empty_server), terminal_size=size, run_before=_with_rows)


@pytest.mark.usefixtures("utc")
@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_task_detail(size: tuple[int, int], empty_server: RedisServer, snap_compare: SnapCompare) -> None:
    assert snap_compare(_console(empty_server), terminal_size=size, run_before=_with_detail)
