"""The account-abuse scenarios and look-alikes: labelled at the events they describe, valid
contract events, and the account's people in normal traffic."""

from __future__ import annotations

from collections import Counter, defaultdict
from functools import cache
from typing import Any

from streamwatch.core.codec import event_from_dict
from streamwatch.generator import SCENARIOS, GenerationResult, GeneratorConfig, generate
from streamwatch.generator.stream import build_plans
from streamwatch.generator.timefmt import DAY_S, parse_ts

INCIDENTS = {
    "identity_mismatch": "identity_mismatch",
    "account_takeover": "privilege_escalation",
    "guest_invite_burst": "privilege_escalation",
    "stale_guest": "stale_access",
    "inactive_user": "stale_access",
    "spam_fanout": "network_abuse",
    "port_scan": "network_abuse",
    "ddos_egress": "network_abuse",
}
LOOK_ALIKES = {
    "traveller_signin": "identity_mismatch",
    "colleague_owner_grant": "privilege_escalation",
    "mail_service": "network_abuse",
    "backup_egress": "network_abuse",
}
ALL = (*INCIDENTS, *LOOK_ALIKES)


@cache
def result(days: int = 30) -> GenerationResult:
    """Two customers of each scenario over a month, or, over a hundred days (long enough for a
    user to go quiet for 90), a few with quiet users only."""
    if days > 30:
        cfg = GeneratorConfig(
            seed=3, customers=6, days=days, incidents=("inactive_user",), incident_rate=1.0
        )
    else:
        cfg = GeneratorConfig(
            seed=3, customers=len(ALL) * 2, days=days, incidents=ALL, incident_rate=1.0
        )
    return generate(cfg)


def by_customer(res: GenerationResult) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in res.events:
        out[event["customer_id"]].append(event)
    return out


def test_every_scenario_is_registered() -> None:
    assert set(ALL) <= set(SCENARIOS)


def test_each_scenario_labels_its_kind_and_look_alikes_are_benign() -> None:
    labels = [lab for lab in result().labels + result(100).labels if lab["scenario"] in ALL]
    counts = Counter(lab["scenario"] for lab in labels)
    assert set(counts) == set(ALL)
    for lab in labels:
        expected = INCIDENTS.get(lab["scenario"]) or LOOK_ALIKES[lab["scenario"]]
        assert lab["kind"] == expected
        assert lab["benign"] is (lab["scenario"] in LOOK_ALIKES)
        assert lab["start"] == lab["end"]


def test_labels_sit_on_the_event_they_describe() -> None:
    events = by_customer(result())
    anchor_ops = {
        "identity_mismatch": "customer.signup",
        "account_takeover": "role.assign",
        "colleague_owner_grant": "role.assign",
        "guest_invite_burst": "guest.invite",
        "stale_guest": "signin",
        "traveller_signin": "signin",
        "spam_fanout": "network.flow",
        "port_scan": "network.flow",
        "ddos_egress": "network.flow",
        "mail_service": "network.flow",
        "backup_egress": "network.flow",
    }
    for lab in result().labels:
        operation = anchor_ops.get(lab["scenario"])
        if operation is None:
            continue
        at = [e for e in events[lab["customer_id"]] if e["ts"] == lab["start"]]
        assert operation in {e.get("operation") for e in at}, lab


def test_an_inactive_users_label_is_dated_90_days_after_its_last_activity() -> None:
    events = by_customer(result(100))
    quiet = [lab for lab in result(100).labels if lab["scenario"] == "inactive_user"]
    assert len(quiet) >= 3
    for lab in quiet:
        user = lab["detail"]["principal"]
        acts = [e["ts"] for e in events[lab["customer_id"]] if e.get("actor") == user]
        assert acts[-1] == lab["detail"]["last_active"]
        assert parse_ts(lab["start"]) == parse_ts(acts[-1]) + 90 * DAY_S


def test_an_inactive_user_gets_no_label_when_the_stream_is_too_short_to_see_it() -> None:
    assert "inactive_user" in {p for plan in build_plans(result().config) for p in plan.scenarios}
    assert not [lab for lab in result().labels if lab["scenario"] == "inactive_user"]


def test_a_stale_guest_is_used_after_its_invitation_expired() -> None:
    for lab in result().labels:
        if lab["scenario"] == "stale_guest":
            assert lab["start"] > lab["detail"]["expires"]


def test_a_false_identity_carries_the_signals_its_label_names() -> None:
    events = by_customer(result())
    for lab in result().labels:
        if lab["scenario"] != "identity_mismatch":
            continue
        mine = events[lab["customer_id"]]
        [signup] = [e for e in mine if e.get("operation") == "customer.signup"]
        props = signup["properties"]
        signals = set(lab["detail"]["signals"])
        assert (props["phone_verified"] is False) == ("phone_unverified" in signals)
        assert (props["ip_country"] != props["country"]) == ("signup_ip_country" in signals)
        billing = {e["billing_country"] for e in mine if e.get("kind") == "instrument.added"}
        assert (billing != {props["country"]}) == ("billing_country" in signals)
        countries = {e["properties"]["ip_country"] for e in mine if e.get("operation") == "signin"}
        assert countries == {lab["detail"]["actual"]}


def test_every_event_decodes_under_the_contract() -> None:
    for event in result().events:
        if event["type"] == "activity":
            event_from_dict(event)


def test_normal_customers_have_a_team_with_roles_and_some_a_partners_guest() -> None:
    res = generate(GeneratorConfig(seed=8, customers=40, days=30, incident_rate=0.0))
    plans = {p.customer_id: p for p in build_plans(res.config)}
    created: dict[str, set[str]] = defaultdict(set)
    guests = set()
    for event in res.events:
        props = event.get("properties", {})
        if event.get("operation") == "user.create":
            created[event["customer_id"]].add(props["principal"])
        if event.get("operation") == "guest.invite":
            guests.add(event["customer_id"])
            assert props["expires"] > event["ts"]
    for cid, plan in plans.items():
        assert created.get(cid, set()) == set(plan.users[1:])
    assert 3 <= len(guests) <= 20


def test_an_established_customers_team_predates_the_stream() -> None:
    res = result()
    plans = {p.customer_id: p for p in build_plans(res.config)}
    for cid, events in by_customer(res).items():
        if "mail_service" not in plans[cid].scenarios:
            continue
        team = set(plans[cid].users)
        made = {e["properties"]["principal"] for e in events if e.get("operation") == "user.create"}
        assert not made & team
