"""privilege_escalation: Owner and administrator roles granted to guests or new principals,
above all after sign-ins from a new country, and bursts of guest invitations."""

from __future__ import annotations

from typing import Any

import pytest

from streamwatch.core.detectors.privilege_escalation import PrivilegeEscalationDetector
from streamwatch.core.engine import Core
from streamwatch.core.events import Event
from streamwatch.testing import activity_event, default_policy, run_core, ts

ATTACKER_IP = "14.1.2.3"


class Log:
    """An account's activity log, built in order with sequential event ids."""

    def __init__(self, country: str | None = "US") -> None:
        self.events: list[Event] = []
        if country is not None:
            props = {"country": country, "ip_country": country}
            self.add("customer.signup", ts(1, 8), properties=props, actor="admin@a.test")

    def add(self, operation: str, at: str, **kw: Any) -> None:
        kw.setdefault("actor", "admin@a.test")
        event_id = f"e{len(self.events):04d}"
        self.events.append(activity_event(operation, event_id=event_id, at=at, **kw))

    def signin(self, at: str, country: str, **kw: Any) -> None:
        self.add("signin", at, properties={"ip_country": country}, **kw)

    def grant(
        self, at: str, principal: str, role: str = "Owner", kind: str = "guest", **kw: Any
    ) -> None:
        props = {"role": role, "principal": principal, "principal_type": kind}
        self.add("role.assign", at, properties=props, **kw)

    def routine(self, days: range, country: str = "US", actor: str = "admin@a.test") -> None:
        for day in days:
            self.signin(ts(day, 9), country, actor=actor)


def core() -> Core:
    return Core(policy=default_policy(), detectors=[PrivilegeEscalationDetector()])


def takeover(*, failed: int = 4, succeeded: bool = True, guest: bool = True) -> Log:
    log = Log()
    log.routine(range(1, 10))
    for i in range(failed):
        log.signin(ts(10, 3, i), "VN", status="failed", actor_ip=ATTACKER_IP)
    if succeeded:
        log.signin(ts(10, 3, 20), "VN", actor_ip=ATTACKER_IP)
    if guest:
        log.add("guest.invite", ts(10, 3, 30), properties={"principal": "x@evil.test"})
        log.grant(ts(10, 3, 32), "x@evil.test", actor_ip=ATTACKER_IP)
    else:
        log.add("user.create", ts(10, 3, 30), properties={"principal": "ops9@a.test"})
        log.grant(ts(10, 3, 32), "ops9@a.test", kind="user", actor_ip=ATTACKER_IP)
    return log


def test_owner_to_a_new_guest_after_failed_sign_ins_from_a_new_country_is_a_takeover() -> None:
    outcome = run_core(core(), takeover().events)
    [alert] = outcome.alerts
    assert alert.kind == "privilege_escalation"
    assert alert.severity == "critical"
    assert alert.event_time == ts(10, 3, 32)
    assert alert.evidence["takeover"] == "confirmed"
    assert alert.evidence["failed_signins"] == 4
    assert alert.evidence["failed_signin_country"] == "VN"
    assert alert.evidence["from_signin_ip"] is True
    assert alert.evidence["grants"][0]["principal"] == "x@evil.test"
    assert alert.reasons[0].startswith("Account takeover")
    actions = sorted((r.action, r.requires_approval) for r in outcome.requests)
    assert actions == [("notify", False), ("restrict", True)]


@pytest.mark.parametrize(
    ("log", "severity", "takeover"),
    [
        pytest.param(takeover(failed=0, succeeded=False), "low", "none", id="guest-alone"),
        pytest.param(takeover(failed=0), "high", "suspected", id="new-country-sign-in"),
        pytest.param(takeover(succeeded=False, guest=False), "high", "confirmed", id="new-user"),
    ],
)
def test_each_sign_of_a_takeover_raises_the_severity(
    log: Log, severity: str, takeover: str
) -> None:
    [alert] = run_core(core(), log.events).alerts
    assert (alert.severity, alert.evidence["takeover"]) == (severity, takeover)


def test_owner_for_a_long_standing_colleague_is_not_alerted() -> None:
    log = Log()
    log.add("user.create", ts(1, 9), properties={"principal": "colleague@a.test"})
    log.routine(range(1, 20), actor="colleague@a.test")
    log.grant(ts(20, 10), "colleague@a.test", kind="user")
    assert run_core(core(), log.events).alerts == []


def test_a_new_user_made_owner_without_a_takeover_sign_is_not_alerted() -> None:
    log = Log()
    log.routine(range(1, 10))
    log.add("user.create", ts(10, 10), properties={"principal": "hire@a.test"})
    log.grant(ts(10, 11), "hire@a.test", kind="user")
    # In the account's first days, its team is being set up.
    log.add("user.create", ts(1, 9), properties={"principal": "cofounder@a.test"})
    log.grant(ts(1, 9, 5), "cofounder@a.test", kind="user")
    assert run_core(core(), sorted(log.events, key=lambda e: e.ts_ms)).alerts == []


def test_roles_that_cannot_grant_access_and_service_principals_are_ignored() -> None:
    log = Log()
    log.routine(range(1, 10))
    log.grant(ts(10, 10), "g@outside.test", role="Reader")
    log.grant(ts(10, 11), "app-1", kind="service")
    assert run_core(core(), log.events).alerts == []


def test_a_burst_of_guest_invitations_alerts_once_and_is_amended_at_ten() -> None:
    log = Log()
    log.routine(range(1, 5))
    for i in range(12):
        log.add("guest.invite", ts(5, 14, i * 3), properties={"principal": f"g{i}@x.test"})
    outcome = run_core(core(), log.events)
    assert [(a.revision, a.evidence["guest_invites_per_hour"]) for a in outcome.alerts] == [
        (1, 5),
        (2, 10),
    ]
    assert outcome.alerts[0].event_time == ts(5, 14, 12)


def test_invitations_spread_over_the_day_are_no_burst() -> None:
    log = Log()
    for i in range(8):
        log.add("guest.invite", ts(5, 8 + i), properties={"principal": f"g{i}@x.test"})
    assert run_core(core(), log.events).alerts == []


def test_grants_within_a_day_amend_one_episode_and_a_later_one_is_another() -> None:
    log = takeover()
    log.grant(ts(10, 5), "y@evil.test", role="User Access Administrator")
    log.grant(ts(14, 5), "z@evil.test")
    outcome = run_core(core(), log.events)
    ids = [a.alert_id for a in outcome.alerts]
    assert ids[0] == ids[1] != ids[2]
    assert outcome.alerts[1].evidence["grant_count"] == 2
    assert outcome.alerts[2].evidence["takeover"] == "none", "the sign-ins are days old"


def test_failed_sign_ins_from_a_known_country_are_no_takeover_sign() -> None:
    log = Log()
    log.routine(range(1, 10))
    log.signin(ts(10, 3), "US", status="failed")
    log.add("user.create", ts(10, 3, 30), properties={"principal": "ops9@a.test"})
    log.grant(ts(10, 3, 32), "ops9@a.test", kind="user")
    assert run_core(core(), log.events).alerts == []
