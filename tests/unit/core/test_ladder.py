"""The enforcement ladder through the engine: rules climb it, resolved alerts bring it down.

A stand-in collections detector raises one alert per unpaid invoice (high on the first failed
payment, critical on the second) and amends it as resolved when the invoice is paid, as the
payment detectors do.
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson
import pytest

from streamwatch.core.detectors.base import Finding
from streamwatch.core.engine import Core
from streamwatch.core.events import Event, PaymentEvent
from streamwatch.core.ids import stable_id
from streamwatch.core.policy import PolicyError, Rung, parse_policy
from streamwatch.core.state import CustomerState
from streamwatch.testing import (
    NOW_MS,
    FakeClock,
    Outcome,
    make_alert,
    payment_event,
    request_view,
    run_core,
    ts,
)


class InvoiceDetector:
    """Collections in miniature: failed payments open an alert per invoice, payment resolves it."""

    name: ClassVar[str] = "test_invoices"
    version: ClassVar[str] = "1"
    event_types: ClassVar[frozenset[str]] = frozenset({"payment"})

    def new_state(self) -> dict[str, int]:
        return {}

    def observe(self, state: dict[str, int], event: Event) -> list[Finding]:
        assert isinstance(event, PaymentEvent)
        invoice = event.invoice_id or ""
        if event.kind == "payment.failed":
            state[invoice] = failures = state.get(invoice, 0) + 1
            return [
                Finding(
                    incident=invoice,
                    kind="collections",
                    severity="high" if failures == 1 else "critical",
                    score=0.6 if failures == 1 else 0.9,
                    event_time_ms=event.ts_ms,
                    window_start_ms=event.ts_ms,
                    window_end_ms=event.ts_ms,
                    reasons=(f"Invoice {invoice}: {failures} failed payment(s).",),
                    evidence={"invoice_id": invoice, "failures": failures, "status": "open"},
                    subscription_ids=("sub-1",),
                )
            ]
        if event.kind == "payment.succeeded" and state.pop(invoice, 0):
            return [
                Finding(
                    incident=invoice,
                    kind="collections",
                    severity="info",
                    score=0.0,
                    event_time_ms=event.ts_ms,
                    window_start_ms=event.ts_ms,
                    window_end_ms=event.ts_ms,
                    reasons=(f"Invoice {invoice} paid in full.",),
                    evidence={"invoice_id": invoice, "status": "resolved"},
                    subscription_ids=("sub-1",),
                )
            ]
        return []

    def dump(self, state: dict[str, int]) -> dict[str, Any]:
        return dict(state)

    def load(self, data: dict[str, Any]) -> dict[str, int]:
        return dict(data)


LADDER = """
[[rule]]
id = "collections-notify"
kinds = ["collections"]
action = "notify"
cooldown_s = 3600

[[rule]]
id = "collections-prepay"
kinds = ["collections"]
min_severity = "high"
action = "require_prepayment"
cooldown_s = 86400

[[rule]]
id = "collections-suspend"
kinds = ["collections"]
min_severity = "critical"
action = "suspend"
cooldown_s = 86400
"""


def ladder_core(text: str = LADDER) -> Core:
    return Core(policy=parse_policy(text), detectors=[InvoiceDetector()])


def failed(invoice: str, n: int, hour: int) -> PaymentEvent:
    return payment_event(
        "payment.failed", event_id=f"f-{invoice}-{n}", invoice_id=invoice, at=ts(1, hour)
    )


def paid(invoice: str, hour: int) -> PaymentEvent:
    return payment_event(
        "payment.succeeded", event_id=f"p-{invoice}-{hour}", invoice_id=invoice, at=ts(1, hour)
    )


def actions(requests: list[Any]) -> list[tuple[str, str]]:
    return [(r.action, r.policy) for r in requests]


CLIMB = [failed("INV-1", 1, 1), failed("INV-1", 2, 2)]


def test_ladder_climbs_then_resumes_every_rung_when_the_cause_clears() -> None:
    outcome = run_core(ladder_core(), [*CLIMB, paid("INV-1", 3)])
    assert actions(outcome.requests) == [
        ("notify", "collections-notify"),
        ("require_prepayment", "collections-prepay"),
        ("notify", "collections-notify"),  # the cooldown has run out: an hour later
        ("suspend", "collections-suspend"),
        ("resume", "collections-prepay"),
        ("resume", "collections-suspend"),
    ]
    resolved = outcome.alerts[-1]
    assert (resolved.severity, resolved.revision) == ("info", 3)
    lift = outcome.requests[-1]
    assert lift.reason == "Invoice INV-1 paid in full; lifting suspend by rule collections-suspend"
    assert lift.alert_ids == (resolved.alert_id,)
    assert lift.subscription_ids == ("sub-1",)
    assert lift.requires_approval is False
    assert lift.requested_at == resolved.detected_at
    assert lift.request_id == stable_id(
        "cust-1", "collections-suspend", "resume", resolved.alert_id, "3"
    )


def test_rung_is_held_until_the_last_of_its_alerts_clears() -> None:
    events = [failed("INV-1", 1, 1), failed("INV-2", 1, 2), paid("INV-1", 3), paid("INV-2", 4)]
    core = ladder_core()
    state = core.new_state("cust-1")
    clock = FakeClock(NOW_MS, step_ms=1000)
    made = [core.step(state, event, clock()) for event in events]
    # INV-2 comes within the prepay rule's cooldown: no second request, but it holds the rung.
    assert [actions(list(d.requests)) for d in made] == [
        [("notify", "collections-notify"), ("require_prepayment", "collections-prepay")],
        [("notify", "collections-notify")],
        [],
        [("resume", "collections-prepay")],
    ]
    (inv2,) = made[1].alerts
    assert made[3].requests[0].alert_ids == (inv2.alert_id,)
    assert state.rungs == {"collections-prepay": Rung([], lifted=1)}


def test_resolved_amendment_matches_no_rule() -> None:
    policy = parse_policy('[[rule]]\nid = "any"\nkinds = ["collections"]\naction = "notify"\n')
    resolved = make_alert(
        kind="collections", severity="info", evidence={"status": "resolved"}, incident="INV-1"
    )
    assert policy.decide(resolved, {}, 0, {}) == []
    assert policy.decide(make_alert(kind="collections", severity="info"), {}, 0, {}) != []


def test_resolving_an_alert_that_held_no_rung_asks_for_nothing() -> None:
    outcome = run_core(ladder_core(), [failed("INV-1", 1, 1), paid("INV-1", 2)])
    assert actions(outcome.requests) == [
        ("notify", "collections-notify"),
        ("require_prepayment", "collections-prepay"),
        ("resume", "collections-prepay"),
    ]
    text = LADDER.replace('action = "require_prepayment"', 'action = "notify"')
    outcome = run_core(ladder_core(text), [failed("INV-1", 1, 1), paid("INV-1", 2)])
    assert [r.action for r in outcome.requests] == ["notify", "notify"]
    assert len(outcome.alerts) == 2


def test_shadow_rule_resume_is_shadowed_too() -> None:
    text = LADDER.replace('action = "suspend"', 'action = "suspend"\nshadow = true')
    outcome = run_core(ladder_core(text), [*CLIMB, paid("INV-1", 3)])
    assert actions(outcome.shadowed) == [
        ("suspend", "collections-suspend"),
        ("resume", "collections-suspend"),
    ]
    assert ("resume", "collections-prepay") in actions(outcome.requests)
    assert all(r.policy != "collections-suspend" for r in outcome.requests)


def test_rule_may_opt_out_of_resuming() -> None:
    text = LADDER.replace('action = "suspend"', 'action = "suspend"\nresume_on_clear = false')
    policy = parse_policy(text)
    assert [r.resume_on_clear for r in policy.rules] == [True, True, False]
    outcome = run_core(ladder_core(text), [*CLIMB, paid("INV-1", 3)])
    assert actions(outcome.requests)[-1] == ("resume", "collections-prepay")
    assert ("resume", "collections-suspend") not in actions(outcome.requests)


@pytest.mark.parametrize("value", ['"no"', "0"])
def test_resume_on_clear_must_be_true_or_false(value: str) -> None:
    with pytest.raises(PolicyError, match=r"'r'.*resume_on_clear"):
        parse_policy(
            f'[[rule]]\nid = "r"\nkinds = ["x"]\naction = "suspend"\nresume_on_clear = {value}\n'
        )


def test_cooldown_does_not_hold_back_a_resume_and_a_lift_ends_it() -> None:
    # The same invoice fails, is paid, fails again and is paid again, within one day.
    events = [failed("INV-1", 1, 1), paid("INV-1", 2), failed("INV-1", 2, 3), paid("INV-1", 4)]
    outcome = run_core(ladder_core(), events)
    prepay = [r for r in outcome.requests if r.policy == "collections-prepay"]
    assert [r.action for r in prepay] == [
        "require_prepayment",
        "resume",
        "require_prepayment",
        "resume",
    ]
    # Put back within the day's cooldown, under an id the worker has not acted on yet.
    alert_id = _alert_id("INV-1")
    assert prepay[2].request_id == stable_id(
        "cust-1", "collections-prepay", "require_prepayment", alert_id, "after-lift-1"
    )
    assert len({r.request_id for r in prepay}) == 4
    assert [r.alert_ids for r in prepay] == [(alert_id,)] * 4


def test_snapshot_mid_ladder_restores_the_rungs_and_resumes_alike() -> None:
    events = [*CLIMB, failed("INV-2", 1, 3), paid("INV-1", 4), paid("INV-2", 5)]
    straight = run_core(ladder_core(), events)

    core = ladder_core()
    state = core.new_state("cust-1")
    clock = FakeClock(NOW_MS, step_ms=1000)
    resumed = Outcome()
    for k, event in enumerate(events):
        if k == 3:
            state = core.restore(orjson.loads(orjson.dumps(core.snapshot(state))))
            assert state.rungs == {
                "collections-prepay": Rung([straight.alerts[0].alert_id, _alert_id("INV-2")]),
                "collections-suspend": Rung([straight.alerts[0].alert_id]),
            }
        decisions = core.step(state, event, clock())
        resumed.alerts.extend(decisions.alerts)
        resumed.requests.extend(decisions.requests)
    assert [request_view(r) for r in resumed.requests] == [
        request_view(r) for r in straight.requests
    ]
    # INV-1 paid: its suspension lifts, but INV-2 still holds the prepayment rung.
    assert actions(straight.requests)[-2:] == [
        ("resume", "collections-suspend"),
        ("resume", "collections-prepay"),
    ]
    assert straight.requests[-1].alert_ids == (_alert_id("INV-2"),)


def test_snapshot_without_rungs_still_restores() -> None:
    core = ladder_core()
    state = core.new_state("cust-1")
    core.step(state, failed("INV-1", 1, 1), 0)
    data = core.snapshot(state)
    del data["rungs"]
    restored = core.restore(data)
    assert restored.rungs == {}
    assert isinstance(restored, CustomerState)


def test_same_stream_gives_the_same_ladder_every_time() -> None:
    events = [*CLIMB, failed("INV-2", 1, 3), paid("INV-1", 4), paid("INV-2", 5)]
    first = run_core(ladder_core(), events)
    again = run_core(ladder_core(), events, FakeClock(now_ms=0, step_ms=7))
    assert [request_view(r) for r in again.requests] == [request_view(r) for r in first.requests]
    # Every request has an id of its own, even the notify rule asking again for INV-1's
    # amendment: a copy under one id with a new reason would be taken for the first.
    assert len({r.request_id for r in first.requests}) == len(first.requests)


def _alert_id(invoice: str) -> str:
    return stable_id("cust-1", "collections", invoice)
