"""SVG snapshots of the main screens, on an empty server so every number is stable. Regenerate
with `pytest tests/tui/test_snapshots.py --snapshot-update` after an intended change, and look at
the diff report before committing."""

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
from tests.support import settings_for
from tests.tui.conftest import until

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


def test_fits_80x24(empty_server: RedisServer, snap_compare: SnapCompare) -> None:
    assert snap_compare(_console(empty_server), terminal_size=(80, 24), run_before=_after())
