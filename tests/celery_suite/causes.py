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
        "inspect_active_unencodable", "`inspect().active()` while a relier task runs",
        "the worker's reply lists the running request, whose argument is relier's `Envelope`: "
        "kombu cannot JSON-encode it (`Control command error: EncodeError(... Envelope is not "
        "JSON serializable)` in the worker's log), so no reply is sent and `active()` returns "
        "None (Celery's test manager's `wait_until_idle()` relies on it)",
        tests=(f"{_GROUP_CHAINS}test_group_chains::test_pending_chord_keeps_header_errback*",),
        is_bug=True),
    Cause(
        "chain_failure_not_propagated", "A chain failing before its last task, in a group or chord",
        "Celery marks the rest of a failed chain failed, so whatever waits on the chain's last "
        "task (the chord or group it is part of, the caller's `get()`) gets the error; relier "
        "dead-letters the failed task only (or, for a chord inside the chain whose header "
        "fails, its body) and the chain's last task stays PENDING: `get()` times out and the "
        "chord's errbacks may not run",
        tests=(f"{_CANVAS}test_chord::test_error_propagates_to_chord_from_chain",
               f"{_CANVAS}test_chord::test_immutable_errback_called_by_chord_from_chain",
               f"{_CANVAS}test_chord::test_mutable_errback_called_by_chord_from_chain[[]*",
               f"{_CANVAS}test_chord::test_chord_unlock_with_failed_task_in_nested_chain_member",
               f"{_CANVAS}test_chord::test_chain_of_implicit_chords_body_failure*",
               f"{_CANVAS}test_chain::test_header_failure_fails_the_chords_after_it*"),
        is_bug=True),
    Cause(
        "nested_chain_ending_in_group", "A chain ending in a group, inside a group or chord",
        "the result of the inner group never completes and `get()` times out (the same chain "
        "on its own completes)",
        tests=(f"{_CANVAS}test_chain::test_group_result_not_has_cache",
               f"{_CANVAS}test_group::test_group_ending_a_chain_in_a_group_gets_its_own_id",
               f"{_CANVAS}test_chord::test_nested_chord_group_chain_group_tail"),
        is_bug=True),
    Cause(
        "relier_only_canvas_refused", "A canvas of relier tasks refused as mixed",
        "`chain(a, group(b, chain(c, group(d, e))), f)`, every task a relier task, is refused "
        "with `UnsupportedCanvasError` (\"mixes relier tasks and plain Celery tasks\")",
        reasons=(r"UnsupportedCanvasError",), is_bug=True),
    Cause(
        "group_body_chord_error", "A chord with a group body whose header fails",
        "relier hands the group body to Celery's `chord_error_from_stack` outside an exception "
        "handler; Celery fails on the missing traceback (`'NoneType' object has no attribute "
        "'tb_frame'`, in the worker's log) and revokes the body's tasks, so `get()` raises "
        "`TaskRevokedError` instead of the header's error and the body's errbacks do not run",
        reasons=(r"TaskRevokedError: revoked",), is_bug=True),
    Cause(
        "errback_stored_arguments", "Old-style errbacks with stored arguments",
        "relier picks `(request, exc, traceback)` errbacks by arity counting the arguments "
        "stored on the signature; Celery 5.7 counts only the ones the failure supplies, so "
        "`errback.s('label')` taking `(task_id, label)` is called with a request and never runs",
        tests=(f"{_CANVAS}test_link_error::test_mutable_errback_with_stored_arguments[[]old-style*",),
        is_bug=True),
    Cause(
        "returned_result_unencodable", "A task returning an `AsyncResult`",
        "Celery stores a returned result as its id tuple; relier cannot encode it and "
        "dead-letters the task `result_unencodable`",
        reasons=(r"result_unencodable",), is_bug=True),
    Cause(
        "publish_signals", "Celery's publish signals",
        "`before_task_publish` (and `after_task_publish`) are not sent for relier tasks, which "
        "relier pushes itself: receivers of these signals (tracing, auditing) miss them",
        tests=(f"{_TASKS}test_signal_bound_method_receivers::*",
               f"{_GROUP_CHAINS}test_group_chains::test_large_group_pipeline"),
        is_bug=True),
    Cause(
        "request_eta", "`self.request.eta`",
        "a task delayed with `countdown=`/`eta=` waits in relier's delayed set and runs with "
        "`self.request.eta` None",
        tests=(f"{_CANVAS}test_chord::test_group_or_task_countdown_delays_header",), is_bug=True),
    Cause(
        "task_replace", "`self.replace()`",
        "relier records the `Ignore` that `Task.replace()` raises as the task's failure (a dead "
        "letter): the caller gets `celery.exceptions.Ignore`, or waits for a result the "
        "replacement never writes under the replaced task's id. Replacing is neither supported "
        "nor refused at the call",
        tests=(f"{_CANVAS}test_chain::test_complex_chain",
               f"{_CANVAS}test_chord::test_chord_body_chain_child_replaced_with_chain_*",
               f"{_CANVAS}test_chord::test_replaced_nested_chord",
               f"{_TASKS}test_task_replacement::*"),
        reasons=(r"Ignore: Replaced by new task",), is_bug=True),
    Cause(
        "stamping", "Celery's stamping",
        "stamps (`StampingVisitor`, `revoke_by_stamped_headers`) travel as extra call options, "
        "which relier refuses at the call (`UnsupportedOptionError`)",
        reasons=(r"unknown apply_async option\(s\) (stamp|mtask_id|on_signature|monitoring_id)",)),
    Cause(
        "call_options_refused", "Call options relier does not know",
        "message properties such as `app_id=` are refused at the call "
        "(`UnsupportedOptionError`), as this page says of options relier cannot carry",
        reasons=(r"UnsupportedOptionError",)),
    Cause(
        "send_task_by_name", "`app.send_task(name)`",
        "sends a plain Celery message for a relier task, which relier's worker refuses "
        "(`content_refused` dead letter, relier tasks are signed envelopes): it never runs "
        "(`Relier.push_by_name` is relier's call by name)",
        tests=(f"{_TASKS}test_tasks::test_send_task_*",
               f"{_TASKS}test_tasks::test_task_sent_event_respects_publish_retry_limit")),
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
        "no_children", "`AsyncResult.children`",
        "a relier record does not list the tasks its task started: `children` is always empty",
        tests=(f"{_CANVAS}test_chord::test_chord_on_error",)),
    Cause(
        "exception_arguments", "Exceptions come back with their message",
        "a relier task's exception is rebuilt from its class and `str(exc)`: "
        "`ExpectedException('a', 'b')` reads back as `ExpectedException(\"('a', 'b')\")`",
        tests=(f"{_CANVAS}test_link_error::test_link_error_callback_retries",
               f"{_CANVAS}test_link_error::test_link_error_using_signature")),
    Cause(
        "results_always_kept", "Results are always kept",
        "relier records every task's result: `ignore_result=True` is accepted without effect",
        tests=(f"{_TASKS}test_tasks::test_ignore_result",
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
        tests=(f"{_TASKS}test_tasks::test_retry_with_unpickleable_exception",)),
    Cause(
        "retry_new_arguments", "`self.retry()` with new arguments",
        "refused: relier retries the call its producer signed (this page, In the task)",
        reasons=(r"self\.retry\(\) with new arguments",)),
    Cause(
        "soft_timeout_hook", "Soft time limits run a hook",
        "relier's soft timeout runs `on_soft_timeout` beside the body and never raises "
        "`SoftTimeLimitExceeded` in it, so a body that catches it never sees it",
        tests=(f"{_CANVAS}test_chain::test_chord_soft_timeout_recuperation",)),
    Cause(
        "reject_is_a_failure", "`raise Reject(requeue=True)`",
        "relier decides redelivery itself: a body raising `Reject` fails (the exception is the "
        "task's error) instead of being redelivered",
        tests=(f"{_TASKS}test_tasks::test_reject_with_requeue_redelivers_and_succeeds",)),
    Cause(
        "argument_checking", "Arguments are checked in the worker",
        "relier tasks set `typing = False` (docs/api.md): `delay()` with wrong arguments is "
        "accepted and the task fails in the worker instead of raising `TypeError` at the call",
        tests=(f"{_TASKS}test_tasks::test_wrong_arguments",)),
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
