"""The ring scenarios: fraud rings, sign-up bursts and colleagues behind one company proxy."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from streamwatch.generator import GenerationResult, GeneratorConfig, generate
from streamwatch.generator.stream import build_plans
from streamwatch.generator.timefmt import DAY_S, HOUR_S, parse_ts

CONFIG = GeneratorConfig(
    seed=4,
    customers=40,
    days=21,
    incidents=("fraud_ring", "signup_burst", "company_proxy"),
    incident_rate=0.45,
)


@pytest.fixture(scope="module")
def result() -> GenerationResult:
    return generate(CONFIG)


def accounts(result: GenerationResult, scenario: str, group: str) -> dict[str, list[str]]:
    """Customers of each ring (or burst, or company) of ``scenario``, by its first account."""
    out: dict[str, list[str]] = defaultdict(list)
    for label in result.labels:
        if label["scenario"] == scenario:
            out[label["detail"][group]].append(label["customer_id"])
    return out


def signups(result: GenerationResult) -> dict[str, dict[str, Any]]:
    return {e["customer_id"]: e for e in result.events if e.get("operation") == "customer.signup"}


def cards(result: GenerationResult) -> dict[str, dict[str, Any]]:
    return {e["customer_id"]: e for e in result.events if e.get("kind") == "instrument.added"}


def test_fraud_rings_share_a_device_or_a_card_within_hours(result: GenerationResult) -> None:
    rings = accounts(result, "fraud_ring", "ring")
    assert len(rings) >= 4
    up, paid = signups(result), cards(result)
    for first, members in rings.items():
        assert members[0] == first
        assert 3 <= len(members) <= 8
        assert all(m == first or m.startswith(f"{first}-") for m in members)
        devices = {up[m]["properties"]["device_fingerprint"] for m in members}
        card_prints = {paid[m]["instrument"]["fingerprint"] for m in members}
        assert len(devices) == 1 or len(card_prints) == 1
        times = sorted(parse_ts(up[m]["ts"]) for m in members)
        assert times[-1] - times[0] <= len(members) * 90 * 60


def test_burst_accounts_come_from_one_ip_within_an_hour(result: GenerationResult) -> None:
    bursts = accounts(result, "signup_burst", "burst")
    assert len(bursts) >= 4
    up = signups(result)
    for members in bursts.values():
        assert 4 <= len(members) <= 10
        assert len({up[m]["actor_ip"] for m in members}) == 1
        assert len({up[m]["properties"]["device_fingerprint"] for m in members}) == len(members)
        times = sorted(parse_ts(up[m]["ts"]) for m in members)
        assert times[-1] - times[0] <= HOUR_S


def test_colleagues_look_like_colleagues_and_are_benign(result: GenerationResult) -> None:
    companies = accounts(result, "company_proxy", "company")
    assert len(companies) >= 4
    up, paid = signups(result), cards(result)
    for members in companies.values():
        docs = [up[m] for m in members]
        assert len({d["actor_ip"] for d in docs}) == 1
        assert len({d["properties"]["email_domain"] for d in docs}) == 1
        assert all(d["properties"]["phone_verified"] for d in docs)
        assert len({d["properties"]["device_fingerprint"] for d in docs}) == len(docs)
        assert {paid[m]["instrument"]["type"] for m in members} == {"credit_card"}
    assert all(label["benign"] for label in result.labels if label["scenario"] == "company_proxy")
    spreads = [
        max(parse_ts(up[m]["ts"]) for m in ms) - min(parse_ts(up[m]["ts"]) for m in ms)
        for ms in companies.values()
        if len(ms) > 2
    ]
    assert max(spreads) >= 2 * DAY_S


def test_ring_labels_run_from_the_signup_until_the_ring_is_complete(
    result: GenerationResult,
) -> None:
    up = signups(result)
    for label in result.labels:
        if label["kind"] != "bot_signup":
            continue
        assert label["start"] == up[label["customer_id"]]["ts"]
        assert parse_ts(label["end"]) >= parse_ts(label["start"])
        if not label["benign"]:
            assert parse_ts(label["detail"]["formed"]) <= parse_ts(label["end"])


def test_ring_accounts_follow_their_first_account_in_the_plans() -> None:
    plans = build_plans(CONFIG)
    ids = [p.customer_id for p in plans]
    assert len(ids) == len(set(ids)) > CONFIG.customers
    for index, plan in enumerate(plans):
        for offset, companion in enumerate(plan.companions, start=1):
            assert ids[index + offset] == companion.customer_id


def test_ring_scenarios_are_deterministic(result: GenerationResult) -> None:
    again = generate(CONFIG)
    assert again.events == result.events
    assert again.labels == result.labels
