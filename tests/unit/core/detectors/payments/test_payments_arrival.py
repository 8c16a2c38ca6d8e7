"""usage_before_payment when usage arrives late and out of order (billing data for an hour
comes hours later, after later hours): its lines are stamped at the event time they were
crossed in event-time order, and an alert opened later than that is amended earlier."""

from __future__ import annotations

import orjson
import pytest

from streamwatch.core.detectors.base import Finding
from streamwatch.core.detectors.payments import PaymentsDetector
from streamwatch.core.detectors.payments.ledger import PaymentsState
from streamwatch.core.events import Event
from streamwatch.core.timeutil import MS_PER_HOUR
from streamwatch.testing import activity_event, payment_event, ts, usage_event

CUSTOMER = "cust-1"


def signup() -> Event:
    return activity_event(
        "customer.signup",
        event_id="signup",
        customer_id=CUSTOMER,
        at=ts(1),
        properties={"country": "DE", "ip_country": "DE"},
    )


def instrument(kind: str) -> Event:
    return payment_event(
        "instrument.added",
        event_id="instrument",
        customer_id=CUSTOMER,
        at=ts(1, 0, 5),
        amount=None,
        instrument={"type": kind, "fingerprint": "card-1", "country": "DE"},
        billing_country="DE",
    )


def prepayment(amount: float) -> Event:
    return payment_event(
        "prepayment", event_id="prepay", customer_id=CUSTOMER, at=ts(1, 0, 30), amount=amount
    )


def hour_of_usage(hour: int, cost: float) -> Event:
    return usage_event(event_id=f"u-{hour}", customer_id=CUSTOMER, at=ts(1, hour), cost=cost)


def observe(events: list[Event]) -> tuple[PaymentsState, list[Finding]]:
    detector = PaymentsDetector()
    state = detector.new_state()
    found = [f for event in events for f in detector.observe(state, event)]
    return state, found


def stamps(found: list[Finding], incident: str) -> list[tuple[str, int]]:
    """(severity, hour of day) of each open finding of ``incident``."""
    return [
        (f.severity, f.event_time_ms // MS_PER_HOUR % 24)
        for f in found
        if f.incident == incident and f.evidence["status"] == "open"
    ]


# A prepayment of 30 allows 50 + 2 x 30 = 110 unsecured; 40 an hour from hour 3 is past it
# (160 - 30 > 110) in hour 6, past twice it (> 250 used) in hour 9, four times (> 470) in 14.
EXPOSURE_HOURS = list(range(3, 15))
ARRIVED = [3, 4, 8, 9, 10, 5, 6, 7, 11, 12, 13, 14]


def exposure_run(order: list[int]) -> list[Finding]:
    events = [signup(), instrument("prepaid_card"), prepayment(30.0)]
    events += [hour_of_usage(hour, 40.0) for hour in order]
    return observe(events)[1]


def test_unsecured_exposure_in_event_time_order_is_stamped_at_the_rows_that_cross() -> None:
    found = exposure_run(EXPOSURE_HOURS)
    assert stamps(found, "unsecured-exposure") == [("medium", 6), ("high", 9), ("critical", 14)]
    assert all("stamped_at" not in f.evidence for f in found)
    assert not any("event-time order" in f.reasons[0] for f in found)


def test_unsecured_exposure_of_late_usage_is_stamped_at_its_event_time_and_amended() -> None:
    found = exposure_run(ARRIVED)
    # Hour 9's row finds 160 used (hours 3, 4, 8, 9): medium at its own time. Hour 5's row
    # moves the crossing to hour 8 (40 + 40 + 40 + 40 by then), hour 6's to hour 6 itself,
    # and takes the exposure past twice the allowance: in hour 10 counted in event-time
    # order (the hours before it arrived so far sum to 280 there), not at hour 6's row.
    assert stamps(found, "unsecured-exposure") == [
        ("medium", 9),
        ("medium", 8),
        ("medium", 6),
        ("high", 10),
        ("critical", 14),
    ]
    amended = [f for f in found if f.incident == "unsecured-exposure"][1]
    assert amended.evidence["stamped_at"] == ts(1, 8)
    assert amended.reasons[0].endswith(
        f"Counted in event-time order it went past 1x the allowance in the hour from {ts(1, 8)}."
    )
    assert amended.window_start_ms <= amended.event_time_ms <= amended.window_end_ms


@pytest.mark.parametrize("late", [False, True])
def test_unsecured_exposure_is_not_stamped_in_an_hour_before_money_cleared(late: bool) -> None:
    # A bank-transfer customer used 200 in hours 3 and 4, then prepaid 5 at 05:30: counted
    # hour by hour the exposure was past 50 + 2 x 5 from hour 3, but the rule judges it only
    # once money cleared, and judged it on the next usage, hour 6's: there, in either order
    # (hours 3 and 4 arriving after hour 6 take it up a level each, stamped in hour 6 too).
    usage = [hour_of_usage(hour, 100.0) for hour in (3, 4)]
    money = payment_event(
        "prepayment", event_id="prepay", customer_id=CUSTOMER, at=ts(1, 5, 30), amount=5.0
    )
    events = [signup(), instrument("bank_transfer")]
    events += [money, hour_of_usage(6, 100.0), *usage] if late else [*usage, money]
    if not late:
        events.append(hour_of_usage(6, 100.0))
    levels = ["medium", "high", "critical"] if late else ["critical"]
    assert stamps(observe(events)[1], "unsecured-exposure") == [(s, 6) for s in levels]


# A bank-transfer customer that never pays: medium from its first usage; 30 an hour from hour
# 3 reaches 100 in hour 6.
UNPAID_ARRIVED = [5, 6, 7, 3, 4, 8]


def unpaid_run(order: list[int]) -> tuple[PaymentsState, list[Finding]]:
    events = [signup(), instrument("bank_transfer")]
    events += [hour_of_usage(hour, 30.0) for hour in order]
    return observe(events)


def test_usage_before_payment_in_event_time_order_is_raised_at_the_first_usage() -> None:
    found = unpaid_run(sorted(UNPAID_ARRIVED))[1]
    assert stamps(found, "unpaid-usage") == [("medium", 3), ("high", 6)]


def test_usage_before_payment_of_late_usage_opens_at_the_first_usage_and_amends() -> None:
    state, found = unpaid_run(UNPAID_ARRIVED)
    # Hour 5's row opens it; hour 3's, arriving later, is the first usage: the alert is
    # amended with it, and the 120 it brings reaches 100 counted in event-time order in hour
    # 7 (hours 3, 5, 6, 7 arrived so far), not at hour 3's own row.
    assert stamps(found, "unpaid-usage") == [("medium", 5), ("medium", 3), ("high", 7)]
    amended, high = found[1], found[2]
    assert "stamped_at" not in amended.evidence, "hour 3's own row: its own time"
    assert high.reasons[0].endswith(
        f"Counted in event-time order it was high in the hour from {ts(1, 7)}."
    )
    assert state.ubp_at == amended.event_time_ms


@pytest.mark.parametrize("order", [ARRIVED, EXPOSURE_HOURS])
def test_the_hours_kept_and_stamps_survive_a_snapshot(order: list[int]) -> None:
    detector = PaymentsDetector()
    state = detector.new_state()
    events = [signup(), instrument("prepaid_card"), prepayment(30.0)]
    events += [hour_of_usage(hour, 40.0) for hour in order[:6]]
    for event in events:
        detector.observe(state, event)
    dumped = orjson.loads(orjson.dumps(detector.dump(state)))
    restored = detector.load(dumped)
    assert restored == state
    assert restored.recent
    assert restored.ux_at is not None
    rest = [hour_of_usage(hour, 40.0) for hour in order[6:]]
    assert [f for e in rest for f in detector.observe(restored, e)] == [
        f for e in rest for f in detector.observe(state, e)
    ]
    del dumped["arrival"]  # as written before: no hours kept, no stamps
    old = detector.load(dumped)
    assert (old.recent, old.floor_ms, old.ux_at) == ({}, None, None)
