"""``crypto_mining`` with usage delivered as billing systems deliver it: each hour's usage 1 to
24 hours late, after later hours (``generator.arrival``). A fleet's run is built from the
hours as they arrive (``Group.place``), so the decisions are those of event-time order."""

from __future__ import annotations

import random
from typing import Any

from streamwatch.core.detectors.base import Finding
from streamwatch.core.detectors.crypto_mining.detector import CryptoMiningDetector
from streamwatch.core.detectors.crypto_mining.state import MiningState
from streamwatch.core.events import Event, UsageEvent
from streamwatch.core.timeutil import MS_PER_DAY, MS_PER_HOUR, format_ts, parse_ts_ms
from streamwatch.indicators import load_indicators
from streamwatch.testing import activity_event, payment_event, usage_event

START = parse_ts_ms("2026-10-01T00:00:00Z")
START_H = START // MS_PER_HOUR
A10 = {"sku": "Standard_NV36ads_A10_v5", "vcpus": 36, "gpus": 1}
D4 = {"sku": "Standard_D4s_v5", "vcpus": 4, "gpus": 0}


class Timeline:
    """One customer's events in event-time order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def _common(self, at_ms: int) -> dict[str, Any]:
        n = len(self.events) + 1
        return {"event_id": f"e-{n:05d}", "customer_id": "cust-1", "at": format_ts(at_ms)}

    def activity(self, operation: str, at_ms: int, **kw: Any) -> None:
        self.events.append(activity_event(operation, **kw, **self._common(at_ms)))

    def usage(self, hour: int, machine: dict[str, Any], util: float, region: str) -> None:
        gpu = machine["gpus"] > 0
        fields: dict[str, Any] = {
            "meter": "gpu" if gpu else "compute",
            "sku": machine["sku"],
            "region": region,
            "vcpus": machine["vcpus"],
            "quantity": 1.0,
            "cost": 3.2 if gpu else 0.2,
        }
        fields.update({"gpus": machine["gpus"], "gpu_util": util} if gpu else {"cpu_util": util})
        self.events.append(usage_event(**fields, **self._common(START + hour * MS_PER_HOUR)))


def night_miner(gpu_hours: list[int]) -> list[Event]:
    """An established customer whose people work 08:00 to 15:00 UTC, with an ordinary machine
    running for ten days, who then starts a GPU at 22:00 UTC of day 10 running ``gpu_hours``
    (hours since START) pinned at 0.98."""
    t = Timeline()
    t.activity("customer.signup", START - 90 * MS_PER_DAY, properties={"country": "DE"})
    t.events.append(payment_event("payment.succeeded", invoice_id="i-1", **t._common(START)))
    for day in range(10):
        for hour in (8, 11, 14):
            at = START + day * MS_PER_DAY + hour * MS_PER_HOUR
            t.activity("signin", at, properties={"ip_country": "DE"})
    for hour in range(10 * 24):
        t.usage(hour, D4, 0.4, "westeurope")
    start_h = 10 * 24 + 22
    t.activity(
        "vm.create",
        START + start_h * MS_PER_HOUR - 900_000,
        properties={**A10, "count": 1},
        region="westeurope",
    )
    for hour in gpu_hours:
        t.usage(hour, A10, 0.98, "westeurope")
    return sorted(t.events, key=lambda e: e.ts_ms)


def arrival_order(events: list[Event], seed: int) -> list[Event]:
    """``events`` as delivered: each hour's usage 1 to 24 hours after the hour's start (one
    delay per hour), activity and payments at their time."""
    rng = random.Random(seed)
    delays: dict[int, int] = {}
    keyed = []
    for n, event in enumerate(events):
        at = event.ts_ms
        if isinstance(event, UsageEvent):
            hour = event.ts_ms // MS_PER_HOUR
            if hour not in delays:
                delays[hour] = rng.randint(MS_PER_HOUR, MS_PER_DAY)
            at += delays[hour]
        keyed.append((at, n, event))
    return [event for _, _, event in sorted(keyed)]


def run(events: list[Event]) -> tuple[list[Finding], MiningState]:
    detector = CryptoMiningDetector(load_indicators())
    state = detector.new_state()
    out = [f for event in events for f in detector.observe(state, event)]
    return out, state


def test_a_miner_delivered_late_and_out_of_order_is_found_as_in_event_order() -> None:
    start_h = 10 * 24 + 22
    events = night_miner(list(range(start_h, start_h + 30)))
    in_order, ordered_state = run(events)
    assert in_order, "a first GPU pinned from a night start alerts in event-time order"
    for seed in range(5):
        late, state = run(arrival_order(events, seed))
        assert {(f.kind, f.severity) for f in late} == {(f.kind, f.severity) for f in in_order}
        first = min(f.event_time_ms for f in late)
        # Stamped when the run reached six hours, or, when its first hour arrived after a
        # later milestone, when it reached that one: at most the hours the data was late.
        assert 0 <= first - in_order[0].event_time_ms <= MS_PER_HOUR
        (group,) = (g for key, g in state.groups.items() if "A10" in key)
        (ordered,) = (g for key, g in ordered_state.groups.items() if "A10" in key)
        assert (
            (group.start_h, group.hours)
            == (ordered.start_h, ordered.hours)
            == (START_H + start_h, 30)
        )
        assert group.prior == [], "every gap filled: one run"


def test_a_real_restart_stays_a_restart_in_arrival_order() -> None:
    start_h = 10 * 24 + 22
    hours = [*range(start_h, start_h + 4), *range(start_h + 30, start_h + 34)]
    events = night_miner(hours)
    in_order, ordered_state = run(events)
    late, state = run(arrival_order(events, 3))
    assert in_order == late == [], "two four-hour runs a day apart are no unbroken run"
    (group,) = (g for key, g in state.groups.items() if "A10" in key)
    assert (group.start_h, group.hours) == (START_H + start_h + 30, 4)
    assert [[int(r[0]), int(r[1])] for r in group.prior] == [
        [START_H + start_h, START_H + start_h + 3]
    ]
    assert state.restarts == ordered_state.restarts == 1
