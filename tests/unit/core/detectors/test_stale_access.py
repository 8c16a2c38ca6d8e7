"""stale_access: guests used after their invitation expired, and users inactive for 90 days,
found on the passage of event time (``advance``) and resolved when cleared."""

from __future__ import annotations

from typing import Any

import pytest

from streamwatch.core.detectors.stale_access import StaleAccessDetector
from streamwatch.core.engine import Core, Fleet
from streamwatch.core.events import Event
from streamwatch.core.timeutil import MS_PER_DAY, MS_PER_HOUR, format_ts, parse_ts_ms
from streamwatch.testing import activity_event, run_core, ts, usage_event

START = parse_ts_ms(ts(1))


def at(days: float) -> str:
    return format_ts(START + round(days * MS_PER_DAY))


class Log:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def add(self, operation: str, days: float, actor: str = "admin@a.test", **kw: Any) -> None:
        event_id = f"e{len(self.events):04d}"
        self.events.append(
            activity_event(operation, event_id=event_id, at=at(days), actor=actor, **kw)
        )

    def create(self, days: float, user: str, role: str | None = None) -> None:
        self.add("user.create", days, properties={"principal": user})
        if role is not None:
            props = {"role": role, "principal": user, "principal_type": "user"}
            self.add("role.assign", days + 0.001, properties=props)

    def signin(self, days: float, actor: str) -> None:
        self.add("signin", days, actor=actor, properties={"ip_country": "DE"})

    def heartbeat(self, until_days: int, every_days: int = 1) -> None:
        """The admin signing in every so often: the customer's own events move its time on."""
        for day in range(0, until_days, every_days):
            self.signin(day + 0.3, "admin@a.test")

    def ordered(self) -> list[Event]:
        return sorted(self.events, key=lambda e: e.ts_ms)


def core(**kw: Any) -> Core:
    return Core(detectors=[StaleAccessDetector(**kw)])


def test_a_user_quiet_for_90_days_is_found_when_the_line_is_crossed() -> None:
    log = Log()
    log.create(1, "bob@a.test", role="Owner")
    log.signin(2.5, "bob@a.test")
    log.heartbeat(100)
    [alert] = run_core(core(), log.ordered()).alerts
    assert alert.kind == "stale_access"
    assert alert.event_time == at(92.5), "90 days after its last activity, not the next event"
    assert alert.severity == "medium", "it holds Owner"
    assert alert.evidence["status"] == "open"
    assert alert.evidence["rule"] == "inactive"
    assert alert.evidence["last_active"] == at(2.5)
    assert "Owner" in alert.reasons[0]


def test_the_inactivity_line_is_configurable() -> None:
    log = Log()
    log.create(1, "bob@a.test")
    log.heartbeat(40)
    [alert] = run_core(core(inactive_days=30), log.ordered()).alerts
    assert (alert.event_time, alert.severity) == (at(31), "low")
    with pytest.raises(ValueError, match="inactive_days"):
        StaleAccessDetector(inactive_days=0)


def test_the_same_finding_comes_from_the_customers_own_events_or_a_fleet_sweep() -> None:
    log = Log()
    log.create(1, "bob@a.test", role="Contributor")
    quiet, busy = Fleet(core()), Fleet(core())
    for event in log.ordered():
        quiet.step(event, 0)
        busy.step(event, 0)
    # One customer's own later event brings its time past the line...
    later = usage_event(event_id="late-1", at=at(95))
    by_event = busy.step(later, 0).alerts
    # ...the other has gone quiet, and the fleet sweep (the stream passing hour marks) finds it.
    swept = quiet.sweep(parse_ts_ms(at(91)) - MS_PER_HOUR, 0).alerts
    assert swept == ()
    swept = quiet.sweep(parse_ts_ms(at(95)), 0).alerts
    again = quiet.sweep(parse_ts_ms(at(96)), 0).alerts
    assert [(a.alert_id, a.event_time, a.evidence) for a in swept] == [
        (a.alert_id, a.event_time, a.evidence) for a in by_event
    ]
    assert [(a.evidence["principal"], a.event_time) for a in swept] == [
        ("bob@a.test", at(91)),
        ("admin@a.test", at(91.001)),  # its last act: granting bob a role
    ]
    assert again == ()


def test_advance_changes_nothing_when_nothing_is_due() -> None:
    detector = StaleAccessDetector()
    state = detector.new_state()
    props = {"principal": "u@a.test"}
    created = activity_event(
        "user.create", event_id="c", at=at(1), actor="portal", properties=props
    )
    detector.observe(state, created)
    before = detector.dump(state)
    assert detector.advance(state, parse_ts_ms(at(90))) == []
    assert detector.dump(state) == before
    assert state.due_ms == parse_ts_ms(at(91))
    assert len(detector.advance(state, parse_ts_ms(at(91)))) == 1
    assert detector.advance(state, parse_ts_ms(at(200))) == [], "raised once"


def test_an_inactive_user_active_again_resolves_the_same_incident() -> None:
    log = Log()
    log.create(1, "bob@a.test")
    log.heartbeat(100)
    log.signin(95.2, "bob@a.test")
    opened, resolved = run_core(core(), log.ordered()).alerts
    assert opened.alert_id == resolved.alert_id
    assert (resolved.revision, resolved.severity) == (2, "info")
    assert resolved.evidence["status"] == "resolved"
    assert resolved.evidence["resolution"] == "active again"
    assert resolved.event_time == at(95.2)


def test_a_deleted_user_resolves_and_is_forgotten() -> None:
    log = Log()
    log.create(1, "carol@a.test", role="Owner")
    log.heartbeat(100)
    log.add("user.delete", 96, properties={"principal": "carol@a.test"})
    log.heartbeat(200, every_days=10)
    outcome = run_core(core(), log.ordered())
    assert [a.evidence["status"] for a in outcome.alerts] == ["open", "resolved"]
    assert outcome.alerts[1].evidence["resolution"] == "deleted"


def test_a_guest_used_after_its_invitation_expired_is_found_at_that_use() -> None:
    log = Log()
    props = {"principal": "g@partner.test", "expires": at(5)}
    log.add("guest.invite", 1, properties=props)
    grant = {"role": "Owner", "principal": "g@partner.test", "principal_type": "guest"}
    log.add("role.assign", 1.01, properties=grant)
    log.signin(3, "g@partner.test")
    for i in range(12):
        log.signin(6 + i * 0.5, "g@partner.test")
    log.add("user.delete", 20, properties={"principal": "g@partner.test"})
    outcome = run_core(core(), log.ordered())
    statuses = [(a.evidence["status"], a.evidence.get("uses_after_expiry")) for a in outcome.alerts]
    assert statuses == [("open", 1), ("open", 10), ("resolved", 12)]
    first = outcome.alerts[0]
    assert (first.event_time, first.severity) == (at(6), "high")
    assert first.evidence["rule"] == "expired_guest"
    assert first.evidence["expires"] == at(5)
    assert len({a.alert_id for a in outcome.alerts}) == 1


def test_a_guest_renewed_before_use_and_one_that_lapses_unused_raise_nothing() -> None:
    log = Log()
    log.add("guest.invite", 1, properties={"principal": "g@p.test", "expires": at(5)})
    log.add("guest.invite", 4, properties={"principal": "g@p.test", "expires": at(40)})
    log.signin(10, "g@p.test")
    log.add("guest.invite", 2, properties={"principal": "h@p.test", "expires": at(8)})
    log.heartbeat(150, every_days=5)
    # Neither is held inactive either: their access lapsed before 90 quiet days were over.
    assert run_core(core(), log.ordered()).alerts == []


def test_an_expired_guest_invited_anew_is_resolved() -> None:
    log = Log()
    log.add("guest.invite", 1, properties={"principal": "g@p.test", "expires": at(5)})
    log.signin(6, "g@p.test")
    log.add("guest.invite", 7, properties={"principal": "g@p.test", "expires": at(60)})
    log.signin(8, "g@p.test")
    outcome = run_core(core(), log.ordered())
    assert [a.evidence["status"] for a in outcome.alerts] == ["open", "resolved"]
    assert outcome.alerts[1].evidence["resolution"] == "invited again"


def test_the_provider_and_usage_are_not_the_customers_people() -> None:
    events = [
        activity_event("provider.notice", event_id="n", at=at(1), actor="abuse@provider.test"),
        usage_event(event_id="u", at=at(1)),
    ]
    detector = StaleAccessDetector()
    state = detector.new_state()
    for event in events:
        detector.observe(state, event)
    assert state.principals == {}
