"""Money sums in the detectors saturate instead of outgrowing a snapshot.

The codec bounds each record's money (``MAX_MONEY``), not how many records come: a flood of
records at that bound would, summed as they are, pass the 64-bit integers a JSON snapshot can
hold and make the customer's state unsnapshottable. The detectors that sum micro-units
saturate their sums well inside that range instead."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streamwatch.config import build_core
from streamwatch.core.codec import MAX_FACTOR, MAX_MONEY, decode_event
from streamwatch.core.detectors.budget import SPEND_CAP as BUDGET_CAP
from streamwatch.core.detectors.payments.ledger import MONEY_CAP, capped
from streamwatch.core.detectors.spend_spike.state import NEVER
from streamwatch.core.detectors.spend_spike.state import SPEND_CAP as HOUR_CAP
from streamwatch.core.engine import Core
from streamwatch.core.events import Alert, Event
from streamwatch.core.state import CustomerState
from streamwatch.core.timeutil import MS_PER_HOUR, format_ts, parse_ts_ms
from streamwatch.testing import NOW_MS, activity_doc, budget_set_doc, payment_doc, raw, usage_doc

INT64_MAX = 2**63 - 1


def hourly(hours: int, cost: float, per_hour: int = 1) -> list[Event]:
    t0 = parse_ts_ms("2026-10-01T00:00:00Z")
    return [
        decode_event(raw(usage_doc(event_id=f"u-{h}-{i}", at=format_ts(t0 + h * MS_PER_HOUR),
                                   cost=cost)))
        for h in range(hours)
        for i in range(per_hour)
    ]  # fmt: skip


def run_one(core: Core, events: list[Event]) -> tuple[CustomerState, list[Alert]]:
    state = core.new_state(events[0].customer_id)
    alerts: list[Alert] = []
    for event in events:
        alerts.extend(core.step(state, event, NOW_MS).alerts)
    for alert in alerts:
        orjson.dumps(alert.to_dict())
    return state, alerts


def snapshot(core: Core, state: CustomerState) -> dict[str, Any]:
    """The state's snapshot through JSON; it restores to a state that snapshots the same."""
    data: dict[str, Any] = orjson.loads(orjson.dumps(core.snapshot(state)))
    assert orjson.loads(orjson.dumps(core.snapshot(core.restore(data)))) == data
    return data


def test_the_caps_leave_room_inside_int64() -> None:
    assert HOUR_CAP + HOUR_CAP // 20 < NEVER < INT64_MAX  # a watched spend stays below NEVER
    assert BUDGET_CAP + MAX_MONEY * 1_000_000 < INT64_MAX
    assert MONEY_CAP + MAX_MONEY * 1_000_000 < INT64_MAX
    assert capped(MONEY_CAP + 1) == MONEY_CAP
    assert capped(-MONEY_CAP - 1) == -MONEY_CAP
    assert capped(-5) == -5


def test_a_flood_of_records_at_the_limit_saturates_the_sums_instead_of_breaking_state() -> None:
    # The codec bounds each record, not how many come: 20,000 costs of MAX_MONEY in one hour
    # (2e19 micro-units) would pass the 64-bit range of a snapshot if summed as they are.
    core = build_core()
    usage = hourly(1, MAX_MONEY, per_hour=20_000)
    state, _ = run_one(core, usage)
    snapshot(core, state)
    detectors = state.detectors
    assert detectors["budget_threshold"].months["2026-10"].spend["USD"] == BUDGET_CAP
    assert detectors["payments"].months["2026-10"].micros == MONEY_CAP
    assert detectors["payments"].unpaid_usage == MONEY_CAP
    assert detectors["spend_spike"].spend == HOUR_CAP


@pytest.mark.parametrize("kind", ["prepayment", "chargeback", "payment.succeeded"])
def test_a_flood_of_payments_at_the_limit_keeps_the_ledger_within_64_bits(kind: str) -> None:
    core = build_core()
    events = [
        decode_event(raw(payment_doc(kind, event_id=f"p-{i}", amount=MAX_MONEY,
                                     invoice_id="i-1" if kind == "payment.succeeded" else None)))
        for i in range(20_000)
    ]  # fmt: skip
    state, _ = run_one(core, events)
    snapshot(core, state)
    ledger = state.detectors["payments"]
    assert -MONEY_CAP <= ledger.credit <= MONEY_CAP
    assert all(0 <= inv.paid <= MONEY_CAP for inv in ledger.invoices.values())
    assert abs(ledger.credit) == MONEY_CAP or ledger.invoices["i-1"].paid == MONEY_CAP


def test_a_budget_below_one_micro_unit_sets_no_budget() -> None:
    # It would round to 0 micro-units, and the thresholds divide by the budget.
    events = [decode_event(raw(budget_set_doc(1e-7))), *hourly(3, 5.0)]
    state, alerts = run_one(build_core(), events)
    assert state.detectors["budget_threshold"].amount is None
    assert [a for a in alerts if a.kind == "budget_threshold"] == []


def test_a_planned_growth_factor_at_its_limit_keeps_the_spike_lines_within_64_bits() -> None:
    # Eight days learning 2e10 an hour, then an allowance of MAX_FACTOR times that: the line
    # the next hour's spend is watched against would be 2e10 x 1000 x 1e6 micro-units.
    core = build_core()
    events = hourly(24 * 8, MAX_MONEY, per_hour=20)
    last = events[-1].ts_ms
    props = {"until": format_ts(last + 48 * MS_PER_HOUR), "reason": "launch", "factor": MAX_FACTOR}
    events.append(
        decode_event(
            raw(activity_doc("feedback.expect", "fb-1", at=format_ts(last), properties=props))
        )
    )
    events.append(decode_event(raw(usage_doc("u-next", at=format_ts(last + MS_PER_HOUR)))))
    state, _ = run_one(core, events)
    spike = state.detectors["spend_spike"]
    assert spike.expect is not None
    assert spike.expect.factor == MAX_FACTOR
    assert spike.watch == NEVER
    snapshot(core, state)
