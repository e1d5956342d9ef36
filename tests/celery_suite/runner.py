"""Run Celery's integration tests on relier and record the outcome of each.

``python -m tests.celery_suite`` (``nox -s celery_suite``): fetch the sdist (`sdist`), run
`MODULES` with `plugin` bound (``Relier(app, all_tasks=True)``), rerun the tests that did not
pass on plain Celery, write `RESULTS` and regenerate the marked section of `DOCS`.
``--reclassify`` only reapplies `causes` to the recorded results and regenerates the section.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.celery_suite import causes, outcomes, report, sdist

REPO = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().with_name("results.json")
DOCS = REPO / "docs" / "celery-compat.md"
#: Celery's integration tests of canvas (chains, groups, chords), tasks (revoke, retry,
#: results, time limits) and its Redis result backend.
MODULES = (
    "t/integration/test_canvas.py",
    "t/integration/test_group_chains.py",
    "t/integration/test_tasks.py",
    "t/integration/test_redis_backend.py",
)
DEFAULT_TIMEOUT = 30.0

#: Which of Celery's test tasks relier keeps plain, for the generated docs.
STAYED_PLAIN = (
    "These of Celery's test tasks stay plain Celery tasks under relier's rules, so the tests "
    "that use only them exercise plain Celery: {tasks}.")


def run_pytest(suite: Path, site: Path, targets: Sequence[str], *, binding: str, timeout: float,
               log: Path, extra: Sequence[str] = ()) -> dict[str, Any]:
    """Run pytest on `targets` in the unpacked suite, its output in `log`; the plugin's
    outcomes document (kept beside the log)."""
    written = log.with_suffix(".json")
    written.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(site)])}
    for name in ("RELIER_REDIS_URL", "TEST_BROKER", "TEST_BACKEND"):
        env.pop(name, None)  # the plugin points them at its own server
    command = [sys.executable, "-m", "pytest", "-p", "celery.contrib.pytest",
               "-p", "tests.celery_suite.plugin", "-p", "no:cacheprovider",
               "--celery-suite-binding", binding, "--celery-suite-outcomes", str(written),
               "--celery-suite-timeout", f"{timeout:g}", "-q", "-rN", *extra, *targets]
    print(f"celery suite ({binding}): {len(targets)} target(s), log in {log}", flush=True)
    with log.open("w") as output:
        subprocess.run(command, cwd=suite, env=env, stdout=output, stderr=subprocess.STDOUT,
                       check=False)
    if not written.exists():
        raise RuntimeError(f"pytest wrote no outcomes (see {log})")
    document: dict[str, Any] = json.loads(written.read_text())
    return document


def build(run: Mapping[str, Any], plain: Mapping[str, Any] | None, *, celery: str,
          timeout: float) -> dict[str, Any]:
    """The results document from the relier run's outcomes and the plain rerun's."""
    tests: dict[str, dict[str, Any]] = {}
    plain_tests = (plain or {}).get("tests", {})
    for test_id, recorded in sorted(run["tests"].items()):
        record: dict[str, Any] = {"outcome": recorded["outcome"]}
        if recorded["reason"]:
            record["reason"] = recorded["reason"]
        if test_id in plain_tests:
            record["plain"] = plain_tests[test_id]["outcome"]
        tests[test_id] = record
    plain_tasks: dict[str, str] = run.get("plain_tasks", {})
    notes = [STAYED_PLAIN.format(tasks="; ".join(
        f"`{task}` ({why})" for task, why in sorted(plain_tasks.items())))] if plain_tasks else []
    results = {"celery": celery, "modules": list(MODULES), "timeout": timeout,
               "notes": notes, "tests": tests}
    return classified(results)


def classified(results: Mapping[str, Any]) -> dict[str, Any]:
    """`results` with each failing test's cause (`causes.classify`), the causes described and
    the counts, as the results document stores them."""
    tests = {test_id: {key: value for key, value in record.items() if key != "cause"}
             for test_id, record in results["tests"].items()}
    used: set[str] = set()
    for test_id, record in tests.items():
        if record["outcome"] in outcomes.NOT_PASSED:
            cause = causes.classify(test_id, record)
            record["cause"] = cause.key
            used.add(cause.key)
    ordered = (*causes.CAUSES, causes.PLAIN_CELERY_FAILS_TOO, causes.UNEXPLAINED)
    per_module = outcomes.counts(tests)
    return {
        **{key: value for key, value in results.items() if key not in ("tests", "causes")},
        "counts": per_module,
        "totals": outcomes.totals(per_module),
        "causes": {cause.key: causes.described(cause) for cause in ordered if cause.key in used},
        "tests": tests,
    }


def write(results: Mapping[str, Any], results_path: Path, docs: Path | None,
          modules: Sequence[str] = MODULES) -> None:
    """Write the results document and, with `docs`, regenerate its section; raises
    `RuntimeError` if the results are inconsistent or a module in `modules` has no test."""
    problems = outcomes.problems(results, modules)
    if problems:
        raise RuntimeError("inconsistent results: " + "; ".join(problems))
    results_path.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    if docs is not None:
        docs.write_text(report.replace_section(docs.read_text(), report.render(results)))
    totals = results["totals"]
    print(f"celery suite: {sum(totals.values())} tests, "
          + ", ".join(f"{count} {outcome}" for outcome, count in totals.items()), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.celery_suite", description=__doc__)
    parser.add_argument("--cache", type=Path, default=sdist.default_cache(),
                        help="where the sdist is downloaded and unpacked")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per test")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--docs", type=Path, default=None,
                        help="the page whose section to regenerate (default: docs/celery-compat.md "
                             "when writing the committed results, none otherwise)")
    parser.add_argument("--reclassify", action="store_true",
                        help="reapply the causes to the recorded results; run nothing")
    parser.add_argument("--no-plain-rerun", action="store_true",
                        help="do not rerun the tests that fail on plain Celery")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args(argv)
    partial = bool(args.pytest_args)
    if partial and args.results.resolve() == RESULTS:
        parser.error("pytest arguments run part of the suite: write it elsewhere (--results PATH)")
    docs = args.docs or (DOCS if args.results.resolve() == RESULTS else None)

    if args.reclassify:
        write(classified(json.loads(args.results.read_text())), args.results, docs)
        return 0
    version = sdist.celery_version()
    suite = sdist.fetch(args.cache, version)
    site = sdist.install_plugins(args.cache, version)
    logs = suite.parent
    run = run_pytest(suite, site, MODULES, binding="relier", timeout=args.timeout,
                     log=logs / "relier.log", extra=args.pytest_args)
    failing = [test_id for test_id, record in run["tests"].items()
               if record["outcome"] in outcomes.NOT_PASSED]
    plain = None
    if failing and not args.no_plain_rerun:
        plain = run_pytest(suite, site, failing, binding="plain", timeout=args.timeout,
                           log=logs / "plain.log", extra=args.pytest_args)
    write(build(run, plain, celery=version, timeout=args.timeout), args.results, docs,
          modules=() if partial else MODULES)
    return 0
