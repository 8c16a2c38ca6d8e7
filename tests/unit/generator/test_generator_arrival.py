"""Arrival-order delivery: the same events, usage reordered by when billing delivers it."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter, defaultdict
from typing import Any

import pytest

from streamwatch.generator import GeneratorConfig, generate
from streamwatch.generator.arrival import ARRIVAL_MAX_S, ARRIVAL_MIN_S, arrival_order
from streamwatch.generator.ids import rng_for
from streamwatch.generator.stream import build_plans
from streamwatch.generator.timefmt import parse_ts
from streamwatch.generator.timeline import customer_events

# Localised tenants (usage_delay_s, daily meters) are among the review scenarios.
BASE = GeneratorConfig(
    seed=7,
    customers=12,
    days=6,
    incidents=("local_tenant", "patient_miner", "card_ramp_chargeback"),
    incident_rate=0.5,
)


def cfg(**changes: Any) -> GeneratorConfig:
    return dataclasses.replace(BASE, **changes)


def canon(event: dict[str, Any]) -> str:
    return json.dumps(event, sort_keys=True)


def test_arrival_keeps_the_multiset_of_events() -> None:
    in_order = generate(cfg()).events
    arrived = generate(cfg(delivery="arrival", redelivery_rate=0.0)).events
    assert Counter(map(canon, arrived)) == Counter(map(canon, in_order))
    assert [canon(e) for e in arrived] != [canon(e) for e in in_order]


def test_only_usage_moves() -> None:
    in_order = generate(cfg()).events
    arrived = generate(cfg(delivery="arrival", redelivery_rate=0.0)).events
    others = [e["event_id"] for e in in_order if e["type"] != "usage"]
    assert others
    assert [e["event_id"] for e in arrived if e["type"] != "usage"] == others


def test_usage_arrives_in_batches_1_to_24_hours_late() -> None:
    config = cfg(delivery="arrival")
    arrivals: dict[tuple[str, str], set[int]] = defaultdict(set)
    late = []
    for plan in build_plans(config):
        keyed = arrival_order(
            customer_events(plan, config.seed, [], delayed=False),
            rng_for(config.seed, plan.customer_id, "arrival"),
        )
        previous = None
        for arrival, _, event in keyed:
            assert previous is None or arrival >= previous  # in arrival order
            previous = arrival
            ts = parse_ts(event["ts"])
            if event["type"] != "usage":
                assert arrival == ts
                continue
            late.append(arrival - ts)
            arrivals[(event["subscription_id"], event["ts"])].add(arrival)
    assert late
    assert all(ARRIVAL_MIN_S <= d <= ARRIVAL_MAX_S for d in late)
    assert max(late) - min(late) > 12 * 3600  # spread over the range, not a constant
    assert all(len(times) == 1 for times in arrivals.values())  # one delay per batch


def test_later_hours_overtake_earlier_ones() -> None:
    events = generate(cfg(delivery="arrival", redelivery_rate=0.0)).events
    newest = ""
    overtaken = 0
    for event in events:
        if event["type"] == "usage":
            overtaken += event["ts"] < newest
            newest = max(newest, event["ts"])
    assert overtaken > len(events) // 4


def test_redelivered_batches_repeat_earlier_events_half_of_them_restated() -> None:
    result = generate(cfg(delivery="arrival", redelivery_rate=0.2))
    first: dict[str, dict[str, Any]] = {}
    repeats = restated = 0
    for event in result.events:
        eid = event["event_id"]
        if eid not in first:
            first[eid] = event
            continue
        assert event["type"] == "usage"
        repeats += 1
        before = first[eid]
        # The same record, but for its cost: unchanged, or restated by 1 to 10%.
        assert {**event, "cost": 0} == {**before, "cost": 0}
        if event["cost"] != before["cost"]:
            restated += 1
            change = abs(event["cost"] - before["cost"])  # costs are rounded to 6 decimals
            assert 0.01 * before["cost"] - 1e-6 <= change <= 0.1 * before["cost"] + 1e-6
    assert repeats == result.duplicates > 0
    assert 0.3 * repeats < restated < 0.7 * repeats
    plain = generate(cfg(delivery="arrival", redelivery_rate=0.0)).events
    assert {canon(e) for e in plain} == {canon(e) for e in first.values()}


def test_deterministic_per_seed() -> None:
    def ids(seed: int) -> list[str]:
        return [e["event_id"] for e in generate(cfg(seed=seed, delivery="arrival")).events]

    assert ids(7) == ids(7)
    assert ids(7) != ids(8)


def test_event_time_delivery_is_unchanged_by_the_new_fields() -> None:
    assert generate(cfg(redelivery_rate=0.5)).events == generate(cfg()).events


def test_unknown_delivery_is_refused() -> None:
    with pytest.raises(ValueError, match="delivery"):
        GeneratorConfig(delivery="sorted")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="redelivery_rate"):
        GeneratorConfig(redelivery_rate=1.5)
