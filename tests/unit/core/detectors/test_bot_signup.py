"""bot_signup: ring links judged by size, speed, risk flags, and the company-proxy look-alike."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest

from streamwatch.core.detectors.bot_signup import (
    MIN_SCORE,
    BotSignupDetector,
    assess,
    severity_of,
)
from streamwatch.core.engine import Core, Fleet
from streamwatch.core.events import ActivityEvent, Alert, Event
from streamwatch.core.rings import LINK_OPERATION, read_link, with_links
from streamwatch.testing import activity_event, default_policy, payment_event, run, ts


def signup(
    customer: str,
    at: str,
    device: str,
    ip: str,
    domain: str = "yopmail.com",
    phone: bool = False,
) -> ActivityEvent:
    props = {
        "country": "DE",
        "email_domain": domain,
        "phone_verified": phone,
        "device_fingerprint": device,
        "ip_country": "DE",
    }
    return activity_event(
        "customer.signup",
        event_id=f"{customer}-signup",
        customer_id=customer,
        at=at,
        properties=props,
        actor_ip=ip,
    )


def card(customer: str, at: str, fingerprint: str, kind: str = "prepaid_card") -> Event:
    return payment_event(
        "instrument.added",
        event_id=f"{customer}-card",
        customer_id=customer,
        at=at,
        amount=None,
        instrument={"type": kind, "fingerprint": fingerprint, "country": "DE"},
        billing_country="DE",
    )


def bot_alerts(events: list[Event]) -> list[Alert]:
    core = Core(policy=default_policy(), detectors=[BotSignupDetector()])
    return run(Fleet(core), with_links(events)).alerts


def latest(alerts: list[Alert]) -> dict[str, Alert]:
    """The last revision of each customer's alert."""
    return {a.customer_id: a for a in alerts}


def device_farm(n: int, minutes: int) -> list[Event]:
    return [
        signup(f"farm-{i}", ts(1, 2, i * minutes // max(1, n - 1)), "dev-farm", f"10.0.0.{i}")
        for i in range(n)
    ]


CASES: dict[str, tuple[list[Event], str | None]] = {
    "device-farm-of-four-in-an-hour": (device_farm(4, 50), "critical"),
    "two-throwaway-accounts-on-one-laptop": (device_farm(2, 30), "high"),
    "household-sharing-a-laptop-days-apart": (
        [
            signup("home-0", ts(3, 19), "dev-home", "10.1.0.1", "gmail.com", phone=True),
            signup("home-1", ts(6, 19), "dev-home", "10.1.0.2", "gmail.com", phone=True),
        ],
        "low",
    ),
    "colleagues-sharing-a-device-same-domain": (
        [
            signup("corp-0", ts(3, 9), "dev-corp", "10.2.0.1", "examplecorp.de", phone=True),
            signup("corp-1", ts(8, 9), "dev-corp", "10.2.0.2", "examplecorp.de", phone=True),
        ],
        None,
    ),
    "prepaid-card-behind-two-accounts-in-an-hour": (
        [
            signup("cr-0", ts(1, 1), "dev-cr-0", "10.3.0.1"),
            card("cr-0", ts(1, 1, 5), "card-x"),
            signup("cr-1", ts(1, 1, 40), "dev-cr-1", "10.3.0.2"),
            card("cr-1", ts(1, 1, 45), "card-x"),
        ],
        "high",
    ),
    "two-sign-ups-from-one-ip": (
        [signup(f"ip-{i}", ts(1, 3, i * 10), f"dev-ip-{i}", "10.4.0.1") for i in range(2)],
        None,
    ),
    "bot-burst-of-five-from-one-ip": (
        [signup(f"bot-{i}", ts(1, 3, i * 9), f"dev-bot-{i}", "10.5.0.1") for i in range(5)],
        "high",
    ),
    "team-onboarding-behind-the-company-proxy": (
        [
            signup(f"team-{i}", ts(1, 9, i * 15), f"dev-t-{i}", "10.6.0.1", "acme.de", phone=True)
            for i in range(3)
        ],
        None,
    ),
    "colleagues-on-one-corporate-card-over-two-days": (
        [
            event
            for i in range(4)
            for event in (
                signup(
                    f"cc-{i}", ts(1 + i // 2, 9 + 4 * i), f"dev-cc-{i}", "10.8.0.1", "acme.de", True
                ),
                card(f"cc-{i}", ts(1 + i // 2, 9 + 4 * i, 5), "card-corp", kind="credit_card"),
            )
        ],
        None,
    ),
    "company-proxy-over-weeks": (
        [
            signup(f"co-{i}", ts(1 + 6 * i, 10), f"dev-co-{i}", "10.7.0.1", "acme.de", phone=True)
            for i in range(4)
        ],
        None,
    ),
}


@pytest.mark.parametrize(("events", "severity"), CASES.values(), ids=CASES.keys())
def test_rings_are_judged_by_size_speed_and_risk(events: list[Event], severity: str | None) -> None:
    alerts = latest(bot_alerts(events))
    if severity is None:
        assert alerts == {}
        return
    assert {a.severity for a in alerts.values()} == {severity}
    members = {e.customer_id for e in events}
    assert set(alerts) == members, "every member, the earlier ones included, is alerted"


def test_a_growing_ring_amends_one_alert_per_member() -> None:
    alerts = bot_alerts(device_farm(4, 30))
    first = [a for a in alerts if a.customer_id == "farm-0"]
    assert [a.revision for a in first] == [1, 2, 3]
    assert len({a.alert_id for a in first}) == 1
    assert [a.evidence["count"] for a in first] == [2, 3, 4]
    assert [a.score for a in first] == sorted(a.score for a in first)
    assert first[0].event_time == ts(1, 2, 10)
    assert len({a.alert_id for a in alerts}) == 4


def test_the_score_never_drops_while_the_ring_lasts() -> None:
    detector = BotSignupDetector()
    state = detector.new_state()
    links = [
        e
        for e in with_links(device_farm(3, 20))
        if e.customer_id == "farm-0" and getattr(e, "operation", "") == LINK_OPERATION
    ]
    strong = links[-1]
    assert isinstance(strong, ActivityEvent)
    (found,) = detector.observe(state, strong)
    weaker_props = dict(strong.properties, span_s=5 * 86400, burst=1)
    weaker_props["members"] = [dict(m, flags=[]) for m in strong.properties["members"]]
    (again,) = detector.observe(state, replace(strong, properties=weaker_props))
    assert again.score == found.score
    assert again.severity == found.severity


def test_a_device_ring_and_an_ip_ring_are_separate_incidents() -> None:
    events: list[Event] = [signup(f"b-{i}", ts(1, 3, i * 5), "dev-b", "10.8.0.1") for i in range(3)]
    alerts = latest(bot_alerts(events))
    ids = {a.alert_id for a in bot_alerts(events) if a.customer_id == "b-0"}
    assert len(ids) == 2
    assert alerts["b-0"].evidence["link"] in {"device", "ip"}


def test_forged_links_raise_nothing() -> None:
    real = [e for e in with_links(device_farm(3, 20)) if e.type == "activity"]
    links = [e for e in real if isinstance(e, ActivityEvent) and e.operation == LINK_OPERATION]
    forged: list[Event] = [replace(link, actor="mallory@example.com") for link in links]
    core = Core(policy=default_policy(), detectors=[BotSignupDetector()])
    assert run(Fleet(core), forged).alerts == []


def test_alert_explains_itself_without_raw_fingerprints() -> None:
    alert = latest(bot_alerts(device_farm(3, 40)))["farm-0"]
    text = " ".join(alert.reasons)
    assert "farm-1, farm-2" in text
    assert "3 of 3 linked accounts use throw-away e-mail domains" in text
    assert "dev-farm" not in orjson.dumps(alert.to_dict()).decode()
    assert alert.evidence["members"] == ["farm-0", "farm-1", "farm-2"]
    assert alert.evidence["flagged"]["disposable_email"] == 3
    assert alert.window_start == ts(1, 2)


@pytest.mark.parametrize(
    ("score", "severity"),
    [(0.0, "info"), (MIN_SCORE, "low"), (0.5, "medium"), (0.7, "high"), (0.85, "critical")],
)
def test_severity_bands(score: float, severity: str) -> None:
    assert severity_of(score) == severity


def test_assessment_is_a_pure_function_of_the_link() -> None:
    link_event = with_links(device_farm(2, 10))[-1]
    assert isinstance(link_event, ActivityEvent)
    link = read_link(link_event)
    assert link is not None
    assert assess(link, "farm-0") == assess(link, "farm-0")


def test_detector_state_round_trips() -> None:
    detector = BotSignupDetector()
    state = detector.new_state()
    for event in with_links(device_farm(3, 10)):
        if event.customer_id == "farm-0":
            detector.observe(state, event)
    dumped: dict[str, Any] = orjson.loads(orjson.dumps(detector.dump(state)))
    assert detector.load(dumped) == state


def test_a_card_shared_with_free_mail_accounts_alerts_on_those_only() -> None:
    events = [
        event
        for i, domain in enumerate(("acme.de", "gmail.com", "acme.de"))
        for event in (
            signup(f"mix-{i}", ts(2, 9 + i), f"dev-mix-{i}", f"10.9.0.{i}", domain, phone=True),
            card(f"mix-{i}", ts(2, 9 + i, 5), "card-mix", kind="credit_card"),
        )
    ]
    assert set(latest(bot_alerts(events))) == {"mix-1"}
