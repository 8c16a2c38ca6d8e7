"""Real tenants and the review's scenarios: local clocks with DST, daily records, late usage,
back-filled sign-ups, and what each attack and look-alike puts into the stream."""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from typing import Any

import pytest

from streamwatch.generator import GenerationResult, GeneratorConfig, generate
from streamwatch.generator.archetypes import add_vm, build_plan
from streamwatch.generator.rhythm import office_hours
from streamwatch.generator.scenarios import LOOKALIKES
from streamwatch.generator.scenarios.mining_kit import weeks_before
from streamwatch.generator.scenarios.tenant_kit import LATE_USAGE_S
from streamwatch.generator.stream import build_plans
from streamwatch.generator.timefmt import HOUR_S, parse_ts, zone_offset_h
from streamwatch.generator.timeline import customer_events
from streamwatch.trial import SCENARIOS

ATTACKS = tuple(s for s in SCENARIOS if s not in LOOKALIKES)
# Late October: the EU leaves summer time on the 25th, the US on 1 November.
CONFIG = GeneratorConfig(
    seed=11,
    customers=2 * len(SCENARIOS),
    days=21,
    start="2026-10-14T00:00:00Z",
    incidents=SCENARIOS,
    incident_rate=1.0,
)


@cache
def result() -> GenerationResult:
    return generate(CONFIG)


@cache
def plans() -> dict[str, Any]:
    return {p.customer_id: p for p in build_plans(CONFIG)}


@cache
def by_customer() -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in result().events:
        out[event["customer_id"]].append(event)
    return out


def played(scenario: str) -> list[str]:
    return sorted(c for c, p in plans().items() if p.scenarios and p.scenarios[-1] == scenario)


def test_every_attack_is_labelled_with_the_loss_that_followed() -> None:
    for scenario in ATTACKS:
        labels = [
            lab
            for lab in result().labels
            if lab["scenario"] == scenario and not lab["benign"] and "loss" in lab["detail"]
        ]
        assert labels, scenario
        assert all(lab["detail"]["loss"] > 0 for lab in labels), scenario


def test_look_alikes_are_registered_as_such_and_carry_no_required_label() -> None:
    for scenario in ("ml_first_training", "corporate_card", "neighbour_billing", "local_tenant"):
        assert scenario in LOOKALIKES
        assert not [
            lab for lab in result().labels if lab["scenario"] == scenario and not lab["benign"]
        ]


def test_zone_offsets_follow_daylight_saving() -> None:
    before, after = parse_ts("2026-10-24T12:00:00Z"), parse_ts("2026-10-26T12:00:00Z")
    assert zone_offset_h("Europe/Berlin", before // HOUR_S) == 2
    assert zone_offset_h("Europe/Berlin", after // HOUR_S) == 1
    assert zone_offset_h("America/New_York", after // HOUR_S) == -4
    assert zone_offset_h("America/New_York", parse_ts("2026-11-02T12:00:00Z") // HOUR_S) == -5


def test_office_hours_move_in_utc_when_the_clock_changes() -> None:
    """A Berlin office VM (08:00-18:00 local) starts at 06:00 UTC in summer, 07:00 after."""
    plan = build_plan(3, 0, CONFIG.start_s, CONFIG.end_s)
    plan.tz = "Europe/Berlin"
    plan.resources = []
    add_vm(plan, CONFIG.start_s, "rg", "vm-office", "Standard_D2s_v5", "fixed", 1.0,
           office_hours(8, 18))  # fmt: skip
    first: dict[str, int] = {}
    for _, _, e in customer_events(plan, 3, []):
        if e["type"] == "usage" and e["meter"] == "compute":
            first.setdefault(e["ts"][:10], int(e["ts"][11:13]))
    assert first["2026-10-23"] == 6
    assert first["2026-10-26"] == 7


def test_daily_records_cover_a_day_and_start_at_midnight() -> None:
    daily = [e for e in result().events if e["type"] == "usage" and e["interval_s"] == 86_400]
    assert daily
    assert {e["meter"] for e in daily} <= {"egress", "storage"}
    assert all(e["ts"].endswith("T00:00:00Z") for e in daily)


def test_late_usage_arrives_out_of_order_but_within_the_allowed_lateness() -> None:
    late = [c for c, p in plans().items() if p.usage_delay_s]
    assert late
    disorder = 0
    for cid in late:
        newest = 0
        for e in by_customer()[cid]:
            ts = parse_ts(e["ts"])
            assert ts > newest - LATE_USAGE_S - HOUR_S
            disorder += ts < newest
            newest = max(newest, ts)
    assert disorder > 0


def test_back_filled_history_opens_with_a_sign_up_years_old() -> None:
    start = parse_ts(CONFIG.start)
    backfilled = [c for c, p in plans().items() if p.backfilled]
    assert backfilled
    for cid in backfilled:
        first = by_customer()[cid][0]
        assert first["operation"] == "customer.signup"
        assert start - parse_ts(first["ts"]) >= 365 * 86_400
        assert "@" not in first["actor"], "an import, not a person who then looks inactive"


def test_an_established_rhythm_that_began_late_is_repeated_back_to_the_start() -> None:
    week = 168
    runs = frozenset({1000 + 2 * week + 5, 1000 + 2 * week + 6, 1000 + 2 * week + 100})
    filled = weeks_before(runs, 1000)
    assert filled >= runs
    assert {1005, 1006, 1100, 1000 + week + 5, 1000 + week + 100} <= filled
    assert min(filled) == 1005  # nothing before the start
    assert weeks_before(frozenset({1000 + 30}), 1000) == frozenset({1030})  # began in week one


def test_patient_miner_grows_mid_size_machines_in_the_home_region() -> None:
    for cid in played("patient_miner"):
        creates = [e for e in by_customer()[cid] if e.get("operation") == "vm.create"]
        mine = [e for e in creates if e["properties"]["sku"] == "Standard_D8s_v5"]
        assert len(mine) >= 10
        assert {e["region"] for e in mine} == {plans()[cid].region}
        span = parse_ts(mine[-1]["ts"]) - parse_ts(mine[0]["ts"])
        assert 2 * 86_400 <= span <= 4 * 86_400


def test_corporate_card_colleagues_share_card_ip_and_domain_within_two_days() -> None:
    for cid in played("corporate_card"):
        team = [c for c in by_customer() if c == cid or c.startswith(cid + "-")]
        assert len(team) >= 2
        cards, ips, domains, signups = set(), set(), set(), []
        for member in team:
            for e in by_customer()[member]:
                if e.get("kind") == "instrument.added":
                    cards.add(e["instrument"]["fingerprint"])
                if e.get("operation") == "customer.signup":
                    ips.add(e["actor_ip"])
                    domains.add(e["properties"]["email_domain"])
                    signups.append(parse_ts(e["ts"]))
        assert len(cards) == len(ips) == len(domains) == 1
        assert max(signups) - min(signups) <= 2 * 86_400


@pytest.mark.parametrize("scenario", ["prepaid_gpu", "prepaid_gpu_ring"])
def test_token_prepayment_comes_before_any_gpu(scenario: str) -> None:
    for cid in played(scenario):
        events = by_customer()[cid]
        prepaid = [e for e in events if e.get("kind") == "prepayment"]
        gpu = [e for e in events if e["type"] == "usage" and e.get("meter") == "gpu"]
        assert prepaid
        assert gpu
        assert 20 <= prepaid[0]["amount"] <= 50
        assert prepaid[0]["ts"] < gpu[0]["ts"]
        assert sum(e["cost"] for e in gpu) > 5 * prepaid[0]["amount"]
