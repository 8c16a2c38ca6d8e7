"""The suspension worker's state machine: what a request or a decision leads to, given what is
recorded about it."""

from __future__ import annotations

import pytest
from enforce_builders import dec, rec, req

from streamwatch.enforce.decide import (
    Apply,
    CheckCap,
    Hold,
    Nothing,
    RecordDryRun,
    Refuse,
    Withdraw,
    after_cap,
    hour_bucket,
    hour_start_ms,
    on_decision,
    on_request,
)

T = 1_790_823_600_000  # 2026-10-01T03:00:00Z


@pytest.mark.parametrize(
    ("overrides", "cap", "want"),
    [
        ({}, None, Apply()),
        ({}, 5, CheckCap(5)),
        ({"dry_run": True}, 5, RecordDryRun()),
        ({"dry_run": True, "requires_approval": True}, None, RecordDryRun()),
    ],
    ids=["plain", "capped-rule", "dry-run", "dry-run-needs-no-approval"],
)
def test_first_delivery_of_a_request(overrides, cap, want):
    assert on_request(req(**overrides), None, cap) == want


def test_request_requiring_approval_is_held_with_the_command_to_approve_it():
    request = req(requires_approval=True)
    step = on_request(request, None, 5)
    assert isinstance(step, Hold), "approval comes first; the cap is not counted"
    assert "rule 'rule-a' requires a person's approval to suspend" in step.reason
    assert step.reason.endswith(f"streamwatch approve {request.request_id}")


@pytest.mark.parametrize(
    "state", ["awaiting_approval", "done", "failed", "refused", "withdrawn", "withdraw_failed"]
)
def test_request_seen_again_is_not_acted_on_again(state):
    step = on_request(req(), rec(state), None)
    assert step == Nothing(f"request already seen; it is {state}")


def test_request_found_applying_is_retried_as_approved_before():
    step = on_request(req(), rec("applying", approved_by="alice", attempt=1), 5)
    assert step == Apply(approved_by="alice", retry=True)


def test_request_found_withdrawing_retries_the_withdrawal_as_decided():
    record = rec("withdrawing", rejected_by="bob", note="paid", decided_at="2026-10-02T00:00:00Z")
    assert on_request(req(), record, None) == Withdraw("bob", "paid", "2026-10-02T00:00:00Z", True)


def test_cap_admits_or_holds_naming_the_cap_and_the_hour():
    assert after_cap(req(), 5, admitted=True, now_ms=T + 1234) == Apply()
    held = after_cap(req(), 5, admitted=False, now_ms=T + 1234)
    assert held == Hold(
        "held for approval: rule 'rule-a' has already acted on its cap of 5 customers in the "
        "hour from 2026-10-01T03:00:00Z (max_customers_per_hour); a person must approve any more"
    )
    single = after_cap(req(), 1, admitted=False, now_ms=T)
    assert isinstance(single, Hold)
    assert "cap of 1 customer in" in single.reason


@pytest.mark.parametrize(
    ("decision", "record", "want"),
    [
        (dec("approve"), rec("awaiting_approval"), Apply(approved_by="alice")),
        (dec("approve"), rec("failed", attempt=1), Apply(approved_by="alice")),
        (
            dec("approve"),
            rec("applying", approved_by="bob"),
            Apply(approved_by="bob", retry=True),
        ),
        (
            dec("reject", note="false positive"),
            rec("awaiting_approval"),
            Refuse("alice", "false positive"),
        ),
        (
            dec("reject", note="paid"),
            rec("done"),
            Withdraw("alice", "paid", "2026-10-01T04:00:00Z"),
        ),
        (
            dec("reject"),
            rec("withdrawing", rejected_by="bob", note="n", decided_at="2026-10-02T00:00:00Z"),
            Withdraw("bob", "n", "2026-10-02T00:00:00Z", retry=True),
        ),
    ],
    ids=[
        "approve-held",
        "approve-failed-retries",
        "approve-applying-retries",
        "reject-held",
        "reject-applied-withdraws",
        "reject-withdrawing-retries",
    ],
)
def test_decision_that_changes_something(decision, record, want):
    assert on_decision(decision, record) == want


@pytest.mark.parametrize(
    ("decision", "record", "says"),
    [
        (dec("approve"), rec("done", approved_by="bob"), "is already done (approved by bob)"),
        (dec("approve"), rec("refused", rejected_by="bob"), "it is refused by bob"),
        (dec("approve"), rec("done", req(dry_run=True)), "it was a dry run, nothing applied"),
        (dec("reject"), rec("done", req(action="notify")), "a notify cannot be reversed"),
        (dec("reject"), rec("done", req(action="resume")), "a resume cannot be reversed"),
        (dec("reject"), rec("applying"), "is being applied; once it is done, reject it again"),
        (dec("reject"), rec("withdrawn", rejected_by="bob"), "it is withdrawn by bob"),
        (dec("reject"), rec("failed"), "cannot reject request"),
    ],
    ids=[
        "approve-done",
        "approve-refused",
        "approve-dry-run",
        "withdraw-notify",
        "withdraw-resume",
        "reject-while-applying",
        "reject-withdrawn",
        "reject-failed",
    ],
)
def test_decision_that_comes_too_late_changes_nothing_and_says_why(decision, record, says):
    step = on_decision(decision, record)
    assert isinstance(step, Nothing)
    assert says in step.reason


def test_record_knows_whether_its_latest_result_was_published():
    assert not rec("done").unpublished
    assert rec("done", result={"result_id": "r1"}).unpublished
    assert not rec("done", result={"result_id": "r1"}, published="r1").unpublished
    assert rec("done", result={"result_id": "r2"}, published="r1").unpublished


def test_cap_hours_are_wall_clock_hours_in_utc():
    assert hour_start_ms(T + 3_599_999) == T
    assert hour_bucket(T) == "2026100103"
    assert hour_bucket(T + 3_600_000) == "2026100104"
