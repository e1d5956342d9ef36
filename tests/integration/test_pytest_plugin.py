"""The pytest fixtures relier ships for users' own tests work in a user's project: a real
server, a real worker for the user's tasks, and assertions on lifecycle events."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

USER_TASKS = '''
from relier import rl_task


@rl_task(name="user.double")
def double(n: int) -> int:
    return 2 * n
'''

USER_TEST = '''
from pathlib import Path


def test_double_runs_on_a_real_worker(relier_server, relier_worker, relier_events):
    import user_tasks

    relier_worker(include=["user_tasks"], queues=("default",), pythonpath=[str(Path(__file__).parent)])
    handle = user_tasks.double.push(21)
    assert handle.result(timeout=60) == 42
    relier_events.wait_for(handle.id, "completed", timeout=30)
    assert relier_events.types_of(handle.id)[:3] == ["dispatched", "started", "completed"]
'''


def test_a_users_test_uses_the_fixtures(tmp_path: Path) -> None:
    (tmp_path / "user_tasks.py").write_text(USER_TASKS)
    (tmp_path / "test_user.py").write_text(USER_TEST)
    env = {key: value for key, value in os.environ.items() if key != "RELIER_REDIS_URL"}
    env["PYTHONPATH"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         str(tmp_path / "test_user.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout
