"""`python -m chaos [--profile short|full]`: run every scenario against a fresh local server and
write chaos/results/<time>.json and a markdown table beside it (`nox -s chaos` runs `full`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "short": {"task-corrupt": {"rounds": 1}, "slow-task": {"tasks": 1},
              "worker-kill": {"tasks": 4, "kills": 2, "seconds": 1.0},
              "worker-pause": {}, "resurrector-kill": {"tasks": 2},
              "load-spike": {"duration": 2.0}, "network-partition": {},
              "redis-restart": {"duration": 2.0}, "rolling-deploy": {"rounds": 2, "tasks": 4}},
    "full": {"task-corrupt": {"rounds": 10}, "slow-task": {"tasks": 4},
             "worker-kill": {"tasks": 20, "kills": 10, "seconds": 2.0},
             "worker-kill/whole": {"tasks": 10, "kills": 3, "seconds": 3.0, "whole_worker": True},
             "worker-pause": {"seconds": 8.0, "pause": 5.0}, "resurrector-kill": {"tasks": 8},
             "load-spike": {"rate": 500.0, "duration": 10.0, "producers": 8},
             "network-partition": {"tasks": 6, "seconds": 6.0, "task_seconds": 4.0},
             "network-partition/cut": {"tasks": 6, "seconds": 6.0, "mode": "cut"},
             "network-partition/drop": {"tasks": 6, "seconds": 6.0, "mode": "drop"},
             "redis-restart": {"rate": 200.0, "duration": 10.0, "down_seconds": 2.0},
             "redis-restart/always": {"rate": 200.0, "duration": 10.0, "down_seconds": 2.0,
                                      "appendfsync": "always"},
             "rolling-deploy": {"rounds": 6, "tasks": 10}},
}
RESULTS = Path(__file__).parent / "results"


def _shown(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="short")
    parser.add_argument("--out", type=Path, default=RESULTS)
    options = parser.parse_args(argv)
    from relier.devserver import RedisServer  # noqa: PLC0415 - set the URL before relier loads

    with tempfile.TemporaryDirectory(prefix="relier-chaos-suite-") as tmp:
        server = RedisServer(Path(tmp) / "redis").start()
        os.environ["RELIER_REDIS_URL"] = server.url
        try:
            from relier.chaos.engine import ChaosContext, LocalCluster  # noqa: PLC0415
            from relier.chaos.scenarios import run  # noqa: PLC0415
            from relier.tasks import relier  # noqa: PLC0415

            verdicts = []
            for label, overrides in PROFILES[options.profile].items():
                scenario = label.partition("/")[0]
                logs = Path(tmp) / label.replace("/", "-")
                logs.mkdir()
                began = time.monotonic()
                ctx = ChaosContext(relier, LocalCluster(relier, logs), lambda *_: None, server=server)
                verdict = run(scenario, ctx, overrides).as_dict()
                verdict.update(label=label, seconds=round(time.monotonic() - began, 1))
                verdicts.append(verdict)
                print(f"{label}: {'HELD' if verdict['held'] else 'VIOLATED'} {verdict['numbers']}")
        finally:
            server.stop()
    options.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    report = {"profile": options.profile, "date": stamp, "python": sys.version.split()[0],
              "cpus": os.cpu_count(), "verdicts": verdicts}
    (options.out / f"chaos-{options.profile}-{stamp}.json").write_text(json.dumps(report, indent=2))
    lines = ["| scenario | verdict | seconds | numbers |", "| --- | --- | --- | --- |"]
    lines += [f"| {v['label']} | {'held' if v['held'] else '**violated**'} | {v['seconds']} | "
              + ", ".join(f"{k}={_shown(val)}" for k, val in v["numbers"].items()) + " |" for v in verdicts]
    (options.out / f"chaos-{options.profile}-{stamp}.md").write_text("\n".join(lines) + "\n")
    return 0 if all(v["held"] for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
