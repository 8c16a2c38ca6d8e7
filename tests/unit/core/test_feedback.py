"""Feedback that changes decisions: suppressions of any kind, and "not an anomaly" that a
detector learns as normal (spend_spike, network_abuse) or that suppresses the same pattern."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from streamwatch.config import build_core
from streamwatch.core import feedback
from streamwatch.core.codec import DecodeError, decode_event, event_from_dict
from streamwatch.core.detectors.network_abuse import NetworkAbuseDetector
from streamwatch.core.detectors.spend_spike.detector import SpendSpikeDetector
from streamwatch.core.engine import Core, Fleet
from streamwatch.core.events import Alert, Event
from streamwatch.core.timeutil import MS_PER_HOUR, format_ts, parse_ts_ms
from streamwatch.testing import (
    Outcome,
    activity_event,
    default_policy,
    not_anomaly_doc,
    notice_event,
    run,
    suppress_doc,
    usage_event,
)

CUSTOMER = "cust-1"


def suppress(**kw: Any) -> Event:
    kw.setdefault("event_id", "fb-1")
    kw.setdefault("at", "2026-10-02T08:00:00Z")
    return event_from_dict(suppress_doc(**kw))


def not_anomaly(alert: Alert, **kw: Any) -> Event:
    kw.setdefault("event_id", "fb-na")
    return event_from_dict(not_anomaly_doc(alert, **kw))


def notice(n: int, at: str, category: str = "aup.crypto_mining") -> Event:
    return notice_event(f"N-{n}", event_id=f"n{n}", at=at, category=category)


def run_events(events: list[Event], fleet: Fleet | None = None) -> tuple[Outcome, Fleet]:
    fleet = fleet or Fleet(build_core())
    return run(fleet, events), fleet


def test_a_suppressed_alert_is_not_sent_nor_acted_on_but_counted_and_shown() -> None:
    events = [
        suppress(kind="provider_notice", match={"category": "aup.crypto*"}),
        notice(1, "2026-10-02T09:00:00Z"),
    ]
    outcome, fleet = run_events(events)
    assert outcome.alerts == []
    assert outcome.requests == []
    [(alert, suppression_id)] = outcome.suppressed
    assert alert.kind == "provider_notice"
    state = fleet.states[CUSTOMER]
    assert state.alerts[alert.alert_id].suppressed == suppression_id
    assert state.risk == 0.0, "a suppressed alert carries no risk"
    assert list(state.suppressions) == [suppression_id]


def test_without_the_suppression_the_same_notice_is_sent_and_acted_on() -> None:
    outcome, _ = run_events([notice(1, "2026-10-02T09:00:00Z")])
    assert [a.kind for a in outcome.alerts] == ["provider_notice"]
    assert outcome.requests


@pytest.mark.parametrize(
    ("kind", "match"),
    [
        ("budget_threshold", {}),
        ("provider_notice", {"category": "aup.spam"}),
        ("provider_*", {"category": "aup.crypto", "severity": "high"}),
        ("*", {"no_such_field": "?*"}),
    ],
    ids=["other-kind", "other-category", "glob-not-whole-value", "missing-field"],
)
def test_a_suppression_holds_back_only_what_it_matches(kind: str, match: dict[str, str]) -> None:
    outcome, _ = run_events([suppress(kind=kind, match=match), notice(1, "2026-10-02T09:00:00Z")])
    assert [a.kind for a in outcome.alerts] == ["provider_notice"]
    assert outcome.suppressed == []


def test_a_suppression_expires_at_its_until_in_event_time() -> None:
    events = [
        suppress(kind="provider_notice", until="2026-10-03T00:00:00Z"),
        notice(1, "2026-10-02T09:00:00Z"),
        notice(2, "2026-10-03T09:00:00Z"),
    ]
    outcome, fleet = run_events(events)
    assert [a.evidence["notice_id"] for a in outcome.alerts] == ["N-2"]
    assert [a.evidence["notice_id"] for a, _ in outcome.suppressed] == ["N-1"]
    assert fleet.states[CUSTOMER].suppressions == {}, "dropped once event time passed it"


def test_suppressing_the_same_scope_again_replaces_it_and_an_until_in_the_past_withdraws_it() -> (
    None
):
    scope: dict[str, Any] = {"kind": "provider_notice", "match": {"category": "aup.*"}}
    first = suppress(**scope, event_id="fb-1", until="2026-11-01T00:00:00Z")
    again = suppress(**scope, event_id="fb-2", at="2026-10-02T08:30:00Z", reason="longer")
    _, fleet = run_events([first, again])
    [kept] = fleet.states[CUSTOMER].suppressions.values()
    assert kept.reason == "longer"
    assert kept.until_ms == parse_ts_ms("2026-12-01T00:00:00Z")
    withdraw = suppress(**scope, event_id="fb-3", at="2026-10-02T09:00:00Z", until=format_ts(0))
    outcome, fleet = run_events([withdraw, notice(1, "2026-10-02T10:00:00Z")], fleet)
    assert fleet.states[CUSTOMER].suppressions == {}
    assert [a.kind for a in outcome.alerts] == ["provider_notice"]


def test_a_customer_keeps_a_bounded_number_of_suppressions() -> None:
    events = [
        suppress(
            kind=f"kind-{i}",
            event_id=f"fb-{i}",
            at=format_ts(parse_ts_ms("2026-10-02T08:00:00Z") + i),
        )
        for i in range(feedback.MAX_SUPPRESSIONS + 5)
    ]
    _, fleet = run_events(events)
    kept = fleet.states[CUSTOMER].suppressions.values()
    assert len(kept) == feedback.MAX_SUPPRESSIONS
    assert min(s.kind for s in kept) == "kind-10", "the oldest set went first"


@pytest.mark.parametrize(
    ("operation", "properties", "field"),
    [
        ("feedback.suppress", {"until": "soon"}, "properties.until"),
        (
            "feedback.suppress",
            {"match": {"a": 1}, "until": "2026-12-01T00:00:00Z"},
            "properties.match",
        ),
        ("feedback.suppress", {"kind": "", "until": "2026-12-01T00:00:00Z"}, "properties.kind"),
        ("feedback.not_anomaly", {"kind": "spend_spike"}, "properties.alert_id"),
        (
            "feedback.not_anomaly",
            {"alert_id": "a", "kind": "x", "evidence": []},
            "properties.evidence",
        ),
    ],
    ids=["until-not-a-time", "match-not-text", "empty-kind", "no-alert-id", "evidence-not-object"],
)
def test_unusable_feedback_is_dead_lettered_with_the_field(
    operation: str, properties: dict[str, Any], field: str
) -> None:
    doc = {
        "event_id": "fb",
        "type": "activity",
        "customer_id": CUSTOMER,
        "ts": "2026-10-02T08:00:00Z",
        "operation": operation,
        "actor": "ops",
        "status": "succeeded",
        "properties": properties,
    }
    with pytest.raises(DecodeError) as caught:
        decode_event(orjson.dumps(doc))
    assert caught.value.code == "invalid_value"
    assert caught.value.field == field


def test_suppressions_and_suppressed_alerts_survive_a_snapshot() -> None:
    core = build_core()
    events = [suppress(kind="provider_notice"), notice(1, "2026-10-02T09:00:00Z")]
    _, fleet = run_events(events, Fleet(core))
    state = fleet.states[CUSTOMER]
    data = orjson.loads(orjson.dumps(core.snapshot(state)))
    restored = core.restore(data)
    assert restored.suppressions == state.suppressions
    assert restored.alerts == state.alerts
    assert core.snapshot(restored) == data


def test_snapshots_without_feedback_keep_their_earlier_form() -> None:
    core = build_core()
    _, fleet = run_events([notice(1, "2026-10-02T09:00:00Z")], Fleet(core))
    data = core.snapshot(fleet.states[CUSTOMER])
    assert "suppressions" not in data
    assert all(len(fields) == 7 for fields in data["alerts"].values())


# --- "not an anomaly" ----------------------------------------------------------------------


def test_not_an_anomaly_on_a_kind_that_cannot_learn_suppresses_the_same_pattern() -> None:
    outcome, fleet = run_events([notice(1, "2026-10-02T09:00:00Z")])
    [alert] = outcome.alerts
    events = [
        not_anomaly(alert, at="2026-10-02T10:00:00Z"),
        notice(2, "2026-10-03T09:00:00Z"),  # the same category, resource and severity
        notice(3, "2026-10-03T10:00:00Z", category="aup.spam"),
    ]
    outcome, fleet = run_events(events, fleet)
    assert [a.evidence["notice_id"] for a, _ in outcome.suppressed] == ["N-2"]
    assert [a.evidence["category"] for a in outcome.alerts] == ["aup.spam"]
    [made] = fleet.states[CUSTOMER].suppressions.values()
    assert made.alert_id == alert.alert_id
    assert made.until_ms == parse_ts_ms("2026-10-02T10:00:00Z") + 90 * 24 * MS_PER_HOUR
    assert "notice_id" not in dict(made.match), "an occurrence's own id is not its pattern"


def test_the_pattern_of_evidence_leaves_out_times_numbers_and_occurrence_ids() -> None:
    evidence = {
        "category": "aup.*",
        "notice_id": "N-1",
        "status": "open",
        "since": "2026-10-02T09:00:00Z",
        "first_at": "x",
        "spend": 12.5,
        "new_region": True,
        "top": [{"sku": "a"}],
    }
    assert feedback.pattern_of(evidence) == {"category": "aup.[*]", "new_region": "True"}


START = parse_ts_ms("2026-10-05T00:00:00Z")  # a Monday


def usage_at(h: int, cost: float, n: int) -> Event:
    return usage_event(event_id=f"u{n}", at=format_ts(START + h * MS_PER_HOUR + 300_000), cost=cost)


def spend_history(days: int, spikes: dict[int, float]) -> list[Event]:
    """Two dollars an hour, every hour, with the given hours (from START) spending more."""
    return [usage_at(h, spikes.get(h, 2.0), h) for h in range(days * 24)]


def spike_core() -> Core:
    return Core(policy=default_policy(), detectors=[SpendSpikeDetector()])


def test_not_an_anomaly_teaches_spend_spike_the_level_so_it_recurs_without_an_alert() -> None:
    first, again = 24 * 20 + 12, 24 * 22 + 12
    history = spend_history(24, {first: 60.0, again: 60.0})
    fleet = Fleet(spike_core())
    before = run(fleet, [e for e in history if e.ts_ms <= START + first * MS_PER_HOUR + 1e6])
    [alert] = before.alerts
    assert alert.kind == "spend_spike"
    said = not_anomaly(alert, at=format_ts(START + first * MS_PER_HOUR + 600_000))
    after = run(fleet, [said, *(e for e in history if e.ts_ms > START + first * MS_PER_HOUR + 1e6)])
    assert [a.alert_id for a in after.alerts] == [alert.alert_id], "no new incident"
    assert after.alerts[0].evidence["status"] in {"resolved", "absorbed"}, "the open one ends"
    # The control: without the feedback the repeat two days later is a new spike.
    control = run(Fleet(spike_core()), history)
    assert [a.evidence["status"] for a in control.alerts].count("open") >= 2


def mail(hour: int, servers: int, rng: random.Random, tag: str, n: list[int]) -> list[Event]:
    out = []
    for i in range(servers):
        n[0] += 1
        props = {
            "dst_host": f"mx{i}.{tag}.test",
            "dst_port": 25,
            "protocol": "tcp",
            "bytes_out": 5000,
        }
        at = format_ts(START + round((hour + rng.random() * 0.99) * MS_PER_HOUR))
        out.append(activity_event("network.flow", event_id=f"f{n[0]}", at=at, properties=props))
    return sorted(out, key=lambda e: e.ts_ms)


def test_not_an_anomaly_raises_network_abuse_peak_so_the_same_fan_out_is_normal() -> None:
    rng, n = random.Random(5), [0]
    usual = [e for h in range(72) for e in mail(h, 40, rng, f"usual{h % 5}", n)]
    fleet = Fleet(Core(policy=default_policy(), detectors=[NetworkAbuseDetector()]))
    burst = mail(73, 300, rng, "burst", n)
    [alert, *_] = run(fleet, [*usual, *burst]).alerts
    assert alert.evidence["pattern"] == "spam"
    said = not_anomaly(alert, at=format_ts(START + 75 * MS_PER_HOUR))
    repeat = mail(80, 300, rng, "repeat", n)
    assert run(fleet, [said, *repeat]).alerts == []
    # The control: without the feedback the repeat is alerted.
    control = Fleet(Core(policy=default_policy(), detectors=[NetworkAbuseDetector()]))
    run(control, [*usual, *burst])
    assert run(control, repeat).alerts


def test_the_resolution_of_an_alert_holding_a_rung_goes_out_though_suppressed() -> None:
    """A suppression set after a rung was put in place must not keep the customer on it."""
    signup = activity_event(
        "customer.signup", event_id="s", at="2026-10-02T00:00:00Z", properties={"country": "DE"}
    )
    spent = usage_event(event_id="u1", at="2026-10-02T01:00:00Z", cost=80)
    outcome, fleet = run_events([signup, spent])
    assert "require_prepayment" in [r.action for r in outcome.requests]
    events = [
        suppress(kind="usage_before_payment", event_id="fb-ubp", at="2026-10-02T02:00:00Z"),
        event_from_dict(
            {
                "event_id": "p1",
                "type": "payment",
                "customer_id": CUSTOMER,
                "ts": "2026-10-02T03:00:00Z",
                "kind": "prepayment",
                "amount": 500.0,
                "currency": "USD",
            }
        ),
    ]
    outcome, _ = run_events(events, fleet)
    resolved = [a for a in outcome.alerts if a.kind == "usage_before_payment"]
    assert [a.evidence["status"] for a in resolved] == ["resolved"]
    assert "resume" in [r.action for r in outcome.requests]
