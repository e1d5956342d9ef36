"""Regenerate the console screenshots in docs/img/ from a live demo cluster:
`.venv/bin/python tools/console_screenshots.py` (a server, two workers, a resurrector and demo
traffic run for the occasion; nothing outside a temp dir is touched)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from relier.binding import Relier
from relier.devserver import RedisServer
from relier.testing import CeleryWorker
from relier_tui.app import RelierConsole
from relier_tui.screens import DetailScreen
from relier_tui.widgets.inflight import InflightPane

OUT = Path(__file__).resolve().parents[1] / "docs" / "img"
PANES = {"1": "inflight", "2": "workers", "3": "events", "4": "dead-letters", "5": "chaos",
         "6": "dispatch", "7": "admission"}


async def shoot(relier: Relier) -> None:
    app = RelierConsole(relier)
    async with app.run_test(size=(120, 34)) as pilot:
        deadline = time.monotonic() + 60
        while app.health is None or not app.health.dead_letters:
            if time.monotonic() > deadline:
                raise RuntimeError("no dead letter appeared in the demo traffic")
            await pilot.pause(0.2)
        for key, name in PANES.items():
            await pilot.press(key)
            await pilot.pause(1.5)
            app.save_screenshot(str(OUT / f"console-{name}.svg"))
        await pilot.press("4")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen), "the dead letter's view")
        await pilot.pause(0.5)
        app.save_screenshot(str(OUT / "console-dead-letter-detail.svg"))
        await pilot.press("escape")
        await pilot.press("1")
        inflight = app.query_one(InflightPane)
        await wait_for(pilot, lambda: bool(inflight.table.keys), "a task inflight")
        inflight.open_task(inflight.table.keys[0])  # the demo's tasks are short: open it now
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen), "the task's view")
        await pilot.pause(0.5)
        app.save_screenshot(str(OUT / "console-task-detail.svg"))
        await pilot.press("escape")
        await pilot.press("question_mark")
        await pilot.pause(0.5)
        app.save_screenshot(str(OUT / "console-help.svg"))
        await pilot.press("escape")
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: len(inflight.table.keys) >= 2, "two tasks inflight at 80x24")
        app.save_screenshot(str(OUT / "console-inflight-80x24.svg"))


async def wait_for(pilot: Pilot[None], condition: Callable[[], bool], what: str) -> None:
    """Let the console run until `condition` holds (60 s at most)."""
    deadline = time.monotonic() + 60
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="relier-screenshots-") as tmp:
        server = RedisServer(Path(tmp) / "server").start()
        os.environ["RELIER_REDIS_URL"] = server.url
        workers = [CeleryWorker("relier.tasks.app", redis_url=server.url, include=["relier.demo"],
                                queues=("high_priority", "default", "low_priority"),
                                log_path=Path(tmp) / f"worker{n}.log", hostname=f"demo{n}@%h").start()
                   for n in (1, 2)]
        resurrector = subprocess.Popen([sys.executable, "-m", "relier.cli", "run-resurrector"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stop = threading.Event()
        try:
            for worker in workers:
                worker.wait_ready()
            from relier.demo import Traffic  # noqa: PLC0415 - after RELIER_REDIS_URL is set
            from relier.tasks import relier  # noqa: PLC0415

            traffic = Traffic(rate=8)
            threading.Thread(target=traffic.run, args=(None, lambda _: None, stop.is_set),
                             daemon=True).start()
            asyncio.run(shoot(relier))
        finally:
            stop.set()
            for worker in workers:
                worker.stop()
            resurrector.terminate()
            resurrector.wait(15)
            server.stop()
    print(f"wrote console screenshots to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
