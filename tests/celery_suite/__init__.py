"""Celery's own integration tests (``t/integration`` of the Celery sdist) run against relier.

Not collected by the default suite (no ``test_*.py`` here): ``nox -s celery_suite`` (or
``python -m tests.celery_suite``) downloads the sdist of the installed Celery into a cache
directory, runs its canvas, task, result and revoke tests with `plugin` (a real Redis, relier's
resurrector, ``Relier(app, all_tasks=True)`` bound to Celery's test apps), records each test's
outcome in ``results.json`` and regenerates the marked section of ``docs/celery-compat.md``.
"""
