"""The recent hours a customer's state keeps for plots: summed per hour once per event,
bounded, and a snapshot that restores to the same thing."""

from __future__ import annotations

import orjson

from streamwatch.config import build_core
from streamwatch.core.engine import Fleet
from streamwatch.core.series import HOURS_KEPT, HourSeries
from streamwatch.core.timeutil import MS_PER_HOUR, format_ts, parse_ts_ms
from streamwatch.testing import payment_event, run, usage_event

START = parse_ts_ms("2026-10-05T00:00:00Z")


def at(hours: float) -> str:
    return format_ts(START + round(hours * MS_PER_HOUR))


def test_usage_and_payments_add_up_per_hour_and_a_redelivery_adds_nothing() -> None:
    fleet = Fleet(build_core())
    events = [
        usage_event(event_id="u1", at=at(0), cost=1.25, cpu_util=0.4, gpu_util=0.9, gpus=2),
        usage_event(event_id="u2", at=at(0.5), cost=2.5, cpu_util=0.7),
        usage_event(event_id="u2", at=at(0.5), cost=2.5, cpu_util=0.7),  # redelivered
        usage_event(event_id="u3", at=at(1), cost=1.0, currency="EUR"),  # not its currency
        payment_event("payment.succeeded", event_id="p1", at=at(1), amount=30.0, currency="USD"),
        payment_event("payment.failed", event_id="p2", at=at(1), amount=12.0, currency="USD"),
    ]
    run(fleet, events)
    first, second = fleet.states["cust-1"].series.points()
    assert (first["spend"], first["cpu"], first["gpu"], first["gpus"]) == (3.75, 0.7, 0.9, 2)
    assert (second["spend"], second["cpu"], second["paid"], second["failed"]) == (
        0.0,
        None,
        30.0,
        12.0,
    )
    assert first["expected"] is None, "no baseline given"


def test_only_the_latest_hours_are_kept_and_older_ones_are_not_added_back() -> None:
    series = HourSeries()
    for h in range(HOURS_KEPT + 10):
        series.observe(usage_event(event_id=f"u{h}", at=at(h), cost=1.0))
    series.observe(usage_event(event_id="old", at=at(0), cost=5.0))
    hours = [p["hour"] for p in series.points()]
    assert len(hours) == HOURS_KEPT
    assert hours[0] == at(10)


def test_the_snapshot_form_restores_the_same_series() -> None:
    series = HourSeries()
    series.observe(usage_event(event_id="u1", at=at(0), cost=1.5, gpu_util=0.5))
    series.observe(payment_event("chargeback", event_id="c", at=at(3), amount=9.0, currency="USD"))
    dumped = orjson.loads(orjson.dumps(series.dump()))
    assert HourSeries.load(dumped) == series
    assert HourSeries.load(dumped).points(lambda _ms: 1.0)[1]["charged_back"] == 9.0
