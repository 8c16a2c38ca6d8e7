"""spend_spike on usage that arrives late: billing batches per subscription hours after the
hour, after data for later hours. The detector must learn whole hours, find a spike as soon as
its usage arrives, and count what comes too late instead of dropping it."""

from __future__ import annotations

import orjson

from streamwatch.core.detectors.base import Finding
from streamwatch.core.detectors.spend_spike.detector import SpendSpikeDetector, expected_spend
from streamwatch.core.detectors.spend_spike.state import SpikeState
from streamwatch.core.events import UsageEvent
from streamwatch.core.timeutil import MS_PER_HOUR, format_ts, parse_ts_ms
from streamwatch.testing import usage_event

START = parse_ts_ms("2026-10-05T00:00:00Z")  # a Monday
LAG_H = 6
"""Subscription ``sub-b``'s batches arrive this many hours after their hour."""
HISTORY_H = 24 * 21


def hour_at(h: int) -> int:
    return START + h * MS_PER_HOUR


def usage(sub: str, h: int, cost: float, sku: str = "Standard_D4s_v5") -> UsageEvent:
    return usage_event(
        event_id=f"{sub}-{h}-{sku}",
        at=format_ts(hour_at(h) + 5 * 60_000),
        cost=cost,
        sku=sku,
        subscription_id=sub,
    )


def history(hours: range) -> dict[int, list[UsageEvent]]:
    """Two subscriptions of one customer at 2 an hour each, by hour."""
    return {h: [usage("sub-a", h, 2.0), usage("sub-b", h, 2.0)] for h in hours}


def event_time_order(by_hour: dict[int, list[UsageEvent]]) -> list[UsageEvent]:
    return [e for h in sorted(by_hour) for e in by_hour[h]]


def arrival_order(by_hour: dict[int, list[UsageEvent]]) -> list[UsageEvent]:
    """``sub-b``'s usage of hour h delivered after everything of hour h + ``LAG_H``."""
    arrivals: list[tuple[int, int, UsageEvent]] = []
    for h, events in by_hour.items():
        for n, e in enumerate(events):
            arrivals.append((h + LAG_H if e.subscription_id == "sub-b" else h, n, e))
    return [e for _, _, e in sorted(arrivals, key=lambda a: (a[0], a[1]))]


def feed(
    detector: SpendSpikeDetector, state: SpikeState, events: list[UsageEvent]
) -> list[Finding]:
    return [f for e in events for f in detector.observe(state, e)]


def run(events: list[UsageEvent]) -> tuple[SpendSpikeDetector, SpikeState, list[Finding]]:
    detector = SpendSpikeDetector()
    state = detector.new_state()
    return detector, state, feed(detector, state, events)


def test_late_batches_are_learned_as_whole_hours_as_in_event_time_order() -> None:
    by_hour = history(range(HISTORY_H))
    _, in_order, found_in_order = run(event_time_order(by_hour))
    _, late, found_late = run(arrival_order(by_hour))
    assert found_in_order == found_late == []
    hour = hour_at(HISTORY_H - 24)
    assert expected_spend(in_order, hour) == 4.0
    # Learning each hour with only sub-a's batch would expect 2.0.
    assert expected_spend(late, hour) == 4.0
    assert late.late_h == LAG_H
    assert 0 < late.too_late <= LAG_H  # only the first batches, before the lag was known


def test_a_spike_in_a_late_batch_alerts_when_it_arrives_and_names_its_own_hour() -> None:
    by_hour = history(range(HISTORY_H))
    spike = HISTORY_H - 3 * LAG_H
    by_hour[spike].append(usage("sub-b", spike, 300.0, sku="Standard_NC24ads_A100_v4"))
    events = arrival_order(by_hour)
    detector, state, _ = run(events[: events.index(by_hour[spike][-1])])
    found = detector.observe(state, by_hour[spike][-1])
    assert [f.incident for f in found] == [format_ts(hour_at(spike))]
    assert found[0].evidence["spend"] == 304.0  # the hour's whole spend: sub-a's came first


def test_a_spike_on_time_is_not_held_back_by_another_subscriptions_lag() -> None:
    by_hour = history(range(HISTORY_H))
    events = arrival_order(by_hour)
    detector, state, found = run(events)
    assert found == []
    h = HISTORY_H
    assert feed(detector, state, [usage("sub-a", h, 2.0)]) == []
    found = feed(detector, state, [usage("sub-a", h, 250.0, sku="Standard_NC24ads_A100_v4")])
    assert [f.incident for f in found] == [format_ts(hour_at(h))]


def test_usage_later_than_the_hours_kept_open_is_counted_not_dropped_silently() -> None:
    detector, state, _ = run(arrival_order(history(range(HISTORY_H))))
    counted = state.too_late
    old = HISTORY_H - 3 * LAG_H
    assert detector.observe(state, usage("sub-b", old, 900.0, sku="Standard_NC6s_v3")) == []
    assert state.too_late == counted + 1


def test_held_hours_survive_a_restore_and_decide_the_same() -> None:
    by_hour = history(range(HISTORY_H))
    events = arrival_order(by_hour)
    detector, state, _ = run(events[:-5])
    assert state.ahead  # hours after the current one hold usage
    twin = detector.load(orjson.loads(orjson.dumps(detector.dump(state))))
    assert twin == state
    rest = [*events[-5:], usage("sub-a", HISTORY_H, 250.0, sku="Standard_NC24ads_A100_v4")]
    assert feed(detector, twin, rest) == feed(detector, state, rest) != []
