"""What the report plots show, computed from events and alerts."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streamwatch import testing as build
from streamwatch.core.timeutil import parse_ts_ms
from streamwatch.reports.series import (
    MS_PER_HOUR,
    alerts_by_kind_and_day,
    hourly_spend,
    money_at_risk_over_time,
    spend_around,
    usage_of,
)


def usage(customer: str, ts: str, cost: float, **fields: Any) -> Any:
    return build.decoded(build.usage(customer, ts=ts, cost=cost, **fields))


def test_hourly_spend_spreads_a_record_over_its_interval() -> None:
    events = [
        usage("c", "2026-10-01T00:00:00Z", 24.0, interval_s=86400, event_id="day"),
        usage("c", "2026-10-01T05:30:00Z", 1.0, event_id="hour"),
        usage("other", "2026-10-01T05:00:00Z", 99.0, event_id="other"),
    ]
    (currency,) = hourly_spend(events, "c").values()
    assert len(currency) == 24
    assert set(currency.values()) == {1.0, 2.0}
    assert currency[parse_ts_ms("2026-10-01T05:00:00Z")] == 2.0


def test_baseline_is_the_mean_at_that_hour_of_the_day_over_the_week_before() -> None:
    # Every day at 03:00 the customer spends 7; once, at 04:00, 14 (a mean of 2 over 7 days).
    events = [usage("c", f"2026-10-0{d}T03:00:00Z", 7.0, event_id=f"d{d}") for d in range(1, 8)]
    events.append(usage("c", "2026-10-05T04:00:00Z", 14.0, event_id="once"))
    events.append(usage("c", "2026-10-10T03:00:00Z", 50.0, event_id="spike"))
    at = parse_ts_ms("2026-10-10T03:00:00Z")
    (window,) = spend_around(hourly_spend(events, "c"), "c", at, before_h=24, after_h=24)
    assert window.start_ms == parse_ts_ms("2026-10-09T03:00:00Z")
    assert window.baseline is not None
    by_hour = dict(zip(window.hours(), window.baseline, strict=True))
    # The window starts 2026-10-09T03:00; the week before it is 10-02T03:00 to 10-09T03:00,
    # which holds six of the seven 03:00 records (10-02..10-07) and the 04:00 one.
    assert by_hour[at] == pytest.approx(6 * 7.0 / 7)
    assert by_hour[at + MS_PER_HOUR] == pytest.approx(14.0 / 7)
    assert dict(zip(window.hours(), window.spend, strict=True))[at] == 50.0


def test_no_baseline_without_usage_in_the_week_before() -> None:
    events = [usage("c", "2026-10-10T03:00:00Z", 50.0)]
    (window,) = spend_around(hourly_spend(events, "c"), "c", parse_ts_ms("2026-10-10T03:00:00Z"))
    assert window.baseline is None
    assert len(window.spend) == 96
    assert sum(window.spend) == 50.0


def alert(customer: str, at: str, revision: int, amount: float | None, **kw: Any) -> dict:
    money = None if amount is None else {"amount": amount, "currency": kw.pop("cur", "USD")}
    return {"alert_id": kw.pop("alert_id", f"{customer}-a"), "customer_id": customer,
            "kind": kw.pop("kind", "spend_spike"), "event_time": at, "revision": revision,
            "money_at_risk": money, **kw}  # fmt: skip


def test_money_at_risk_sums_each_customers_latest_amount() -> None:
    alerts = [
        alert("a", "2026-10-01T00:00:00Z", 1, 100.0),
        alert("b", "2026-10-01T06:00:00Z", 1, 50.0),
        alert("a", "2026-10-02T00:00:00Z", 2, 30.0),  # a's amount falls: replaced, not added
        alert("e", "2026-10-02T00:00:00Z", 1, 9.0, cur="EUR"),
        alert("b", "2026-10-03T00:00:00Z", 2, None),  # nothing known: the step stays
    ]
    assert money_at_risk_over_time(alerts) == {
        "EUR": [(parse_ts_ms("2026-10-02T00:00:00Z"), 9.0)],
        "USD": [
            (parse_ts_ms("2026-10-01T00:00:00Z"), 100.0),
            (parse_ts_ms("2026-10-01T06:00:00Z"), 150.0),
            (parse_ts_ms("2026-10-02T00:00:00Z"), 80.0),
        ],
    }


def test_alerts_count_once_on_their_first_day_and_every_day_is_shown() -> None:
    alerts = [
        alert("a", "2026-10-01T10:00:00Z", 1, None, kind="chargeback", alert_id="x"),
        alert("a", "2026-10-03T10:00:00Z", 2, None, kind="chargeback", alert_id="x"),
        alert("b", "2026-10-03T23:59:59Z", 1, None, kind="spend_spike", alert_id="y"),
        alert("c", "2026-10-03T00:00:00Z", 1, None, kind="spend_spike", alert_id="z"),
    ]
    got = alerts_by_kind_and_day(alerts)
    assert got.days == ["2026-10-01", "2026-10-02", "2026-10-03"]
    assert got.counts == {"chargeback": [1, 0, 0], "spend_spike": [0, 0, 2]}


def test_usage_of_reads_only_the_chosen_customers_valid_usage() -> None:
    lines = [
        orjson.dumps(build.usage("cust-1", cost=2.0, event_id="a")),
        orjson.dumps(build.usage("cust-10", cost=3.0, event_id="b")),  # a longer id, not cust-1
        orjson.dumps(build.usage("cust-1", cost=-1.0, event_id="c")),  # invalid: passed over
        b"not json usage",
        orjson.dumps(build.payment("payment.succeeded", "cust-1", amount=5.0)),
    ]
    assert [e.event_id for e in usage_of(lines, ["cust-1"])] == ["a"]
