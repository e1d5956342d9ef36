"""Why Celery's tests that do not pass on relier do not: one line per cause, matched to tests.

Curated by reading each failure (the runner records the failure's first line beside it);
`classify` assigns each test that fails or errors to the first cause that matches it. A test
that also fails on plain Celery in the same run is not relier's (`PLAIN_CELERY_FAILS_TOO`);
one that no cause explains is listed as such, never hidden.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any


@dataclass(frozen=True, slots=True)
class Cause:
    """A reason Celery tests fail on relier: `tests` are fnmatch patterns over test ids,
    `reasons` regular expressions searched in the recorded failure line."""

    key: str
    title: str
    why: str
    tests: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    #: A relier bug (reported), not a limit by design.
    is_bug: bool = False
    _compiled: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", tuple(re.compile(reason) for reason in self.reasons))

    def matches(self, test_id: str, reason: str) -> bool:
        return any(fnmatchcase(test_id, pattern) for pattern in self.tests) or any(
            pattern.search(reason) for pattern in self._compiled)


PLAIN_CELERY_FAILS_TOO = Cause(
    "plain_celery_fails_too", "Fails on plain Celery too",
    "the same test, rerun in the same environment without relier (no `Relier` bound, no "
    "resurrector), fails as well: not a relier difference (Celery's CI reruns a failing test "
    "up to five times with a 300 s timeout; this run does neither)")
UNEXPLAINED = Cause(
    "unexplained", "Not yet explained",
    "fails with relier and passes on plain Celery, and no cause above matches: to be looked at")

_CANVAS = "t/integration/test_canvas.py::"
_TASKS = "t/integration/test_tasks.py::"
_GROUP_CHAINS = "t/integration/test_group_chains.py::"

#: In order: the first matching cause is a test's. Bugs first (reported to relier's owners),
#: then relier's differences by design.
CAUSES: tuple[Cause, ...] = (
    Cause(
        "chain_failure_not_propagated", "A failed chord inside a chain",
        "a failing chain step fails the rest of its chain (`chain_failed`) as Celery does, but "
        "a chord body that ends `chord_failed` because a header task failed is created "
        "without its message, so the chain after that body (a second chord, the chain's last "
        "task) is never marked: `get()` times out",
        tests=(f"{_CANVAS}test_chord::test_chain_of_implicit_chords_body_failure*",
               f"{_CANVAS}test_chain::test_header_failure_fails_the_chords_after_it*",
               f"{_CANVAS}test_chord::test_mutable_errback_called_by_chord_from_chain[[]*"),
        is_bug=True),
    Cause(
        "group_body_chord_error", "A chord with a group body whose header fails",
        "the group body is failed through Celery's `chord_error_from_stack`, so `get()` on it "
        "raises the `ChordError` (\"Dependency ... raised ...\") instead of the header task's "
        "own exception",
        tests=(f"{_CANVAS}test_chord::test_chord_error_propagation_with_different_body_types*",),
        is_bug=True),
    Cause(
        "header_part_ending_in_group", "A chord header part that ends in a group",
        "`chain(..., group(...))` as a part of a chord's header (or before a task in a chain) "
        "is refused with `UnsupportedCanvasError` naming the alternative: relier counts a "
        "chord's parts one task each",
        reasons=(r"a chord's header part ends in a group",)),
    Cause(
        "stamping", "Celery's stamping",
        "stamps (`StampingVisitor`, `revoke_by_stamped_headers`) travel as extra call options, "
        "which relier refuses at the call (`UnsupportedOptionError`, naming `headers=`)",
        reasons=(r"unknown apply_async option\(s\) (stamp|mtask_id|on_signature|monitoring_id)",)),
    Cause(
        "call_options_refused", "Call options relier does not know",
        "message properties such as `app_id=` are refused at the call "
        "(`UnsupportedOptionError`, naming `headers=`), as this page says of options relier "
        "cannot carry",
        reasons=(r"UnsupportedOptionError",)),
    Cause(
        "replaced_task_nesting", "`request.replaced_task_nesting`",
        "`self.replace()` works (the replacement gives the task its result), but the "
        "replacement's `self.request.replaced_task_nesting` stays 0: relier signs the header "
        "and does not count replacements",
        tests=(f"{_TASKS}test_task_replacement::test_replaced_task_nesting_increments*",)),
    Cause(
        "task_sent_event", "Celery's `task-sent` event",
        "relier pushes with its own script and sends no `task-sent` event "
        "(`task_send_sent_event`); its own `dispatched` event is in `rl:events`",
        tests=(f"{_TASKS}test_tasks::test_task_sent_event_respects_publish_retry_limit",)),
    Cause(
        "ids_run_once", "A task id runs once",
        "relier treats a task id (and a chord's group id) as sent once: applying a frozen chord "
        "again, or a frozen task in a second canvas, returns the first run instead of running "
        "it again",
        tests=(f"{_CANVAS}test_chord::test_reapplying_frozen_chord_dispatches_body_again",
               f"{_CANVAS}test_chord::test_mutable_errback_called_by_chord_from_chain_tail*",
               f"{_CANVAS}test_chord::test_mutable_errback_called_by_chord_from_group*")),
    Cause(
        "relier_chord", "relier's own chord",
        "the body's parent is relier's join task (`relier.chord_join`), the header is counted "
        "when the chord is sent (a generator header is unrolled at once), and `request.chord`/"
        "`self.add_to_chord()` are not available",
        tests=(f"{_CANVAS}test_chord::test_parent_ids*", f"{_CANVAS}test_chord::test_generator*",
               f"{_CANVAS}test_chord::test_add_to_chord", f"{_CANVAS}test_chord::test_add_chord_to_chord")),
    Cause(
        "chord_header_errbacks", "`task_allow_error_cb_on_chord_header`",
        "not read: a chord's errbacks go to its body (docs/api.md, Differences from Celery), so "
        "tests waiting for errbacks on the header tasks time out",
        tests=(f"{_CANVAS}test_chord::test_*_flag_allow_error_cb_on_chord_header*",
               f"{_CANVAS}test_chord::test_flag_allow_error_cb_on_chord_header_on_upgraded_chord")),
    Cause(
        "no_children", "`AsyncResult.children`",
        "a relier record does not list the tasks its task started: `children` is always empty",
        tests=(f"{_CANVAS}test_chord::test_chord_on_error",)),
    Cause(
        "exception_arguments", "Exceptions come back with their message",
        "a relier task's exception is rebuilt from its class and `str(exc)`: "
        "`ExpectedException('a', 'b')` reads back as `ExpectedException(\"('a', 'b')\")`, and "
        "an exception class this process cannot import reads back as relier's `TaskFailedError`",
        tests=(f"{_CANVAS}test_link_error::test_link_error_callback_retries",
               f"{_CANVAS}test_link_error::test_link_error_using_signature",
               f"{_TASKS}test_tasks::test_retry_with_unpickleable_exception")),
    Cause(
        "results_always_kept", "Results are always kept",
        "relier records every task's result: `ignore_result=True` is accepted without effect",
        tests=(f"{_TASKS}test_tasks::test_ignore_result", f"{_TASKS}test_tasks::test_send_task_*",
               f"{_TASKS}test_task_redis_result_backend::test_retry_preserves_ignore_result_true")),
    Cause(
        "redis_backend_subscriptions", "Redis result backend internals",
        "the test asserts the Redis backend's pub/sub subscriptions; a relier task's result is "
        "read by polling its record, with no subscription",
        tests=(f"{_TASKS}test_task_redis_result_backend::test_asyncresult_*_cancels_subscription",
               f"{_TASKS}test_task_redis_result_backend::test_ignoring_result_no_subscriptions")),
    Cause(
        "more_states", "relier reports RECEIVED and STARTED",
        "a relier record reads RECEIVED and STARTED while the task is reserved and running "
        "(Celery's backend stores STARTED only with `track_started`); the test expects RETRY "
        "as the first state after PENDING",
        tests=(f"{_TASKS}test_tasks::test_retry",)),
    Cause(
        "retry_new_arguments", "`self.retry()` with new arguments",
        "refused: relier retries the call its producer signed (this page, In the task)",
        reasons=(r"self\.retry\(\) with new arguments",)),
    Cause(
        "soft_timeout_hook", "Soft time limits run a hook",
        "relier's soft timeout runs `on_soft_timeout` beside the body and never raises "
        "`SoftTimeLimitExceeded` in it, so a body that catches it never sees it",
        tests=(f"{_CANVAS}test_chain::test_chord_soft_timeout_recuperation",
               f"{_TASKS}test_tasks::test_timeout")),
    Cause(
        "reject_is_a_failure", "`raise Reject(requeue=True)`",
        "relier decides redelivery itself: a body raising `Reject` fails (the exception is the "
        "task's error) instead of being redelivered",
        tests=(f"{_TASKS}test_tasks::test_reject_with_requeue_redelivers_and_succeeds",)),
)


def classify(test_id: str, record: Mapping[str, Any]) -> Cause:
    """The cause of a failed or erroring test (`record` as in the results document)."""
    if record.get("plain") in ("failed", "error"):
        return PLAIN_CELERY_FAILS_TOO
    reason = str(record.get("reason", ""))
    for cause in CAUSES:
        if cause.matches(test_id, reason):
            return cause
    return UNEXPLAINED


def described(cause: Cause) -> dict[str, Any]:
    """How a cause is written into the results document."""
    return {"title": cause.title, "why": cause.why, "is_bug": cause.is_bug}
