"""``provider_notice``: the rule in the module docstring of
streamwatch.core.detectors.provider_notice."""

from __future__ import annotations

import pytest

from streamwatch.core.detectors.base import Finding
from streamwatch.core.detectors.provider_notice import (
    NOTICES_KEPT,
    NoticeState,
    ProviderNoticeDetector,
)
from streamwatch.core.engine import Core
from streamwatch.core.events import Event
from streamwatch.testing import RESOURCE, activity_event, notice_event, run_core


def observe_all(events: list[Event], state: NoticeState | None = None) -> list[list[Finding]]:
    detector = ProviderNoticeDetector()
    state = state if state is not None else detector.new_state()
    return [detector.observe(state, event) for event in events]


def test_notice_raises_one_finding_at_its_event_time() -> None:
    event = notice_event("n-1", event_id="pn-1", at="2026-10-05T12:30:00Z")
    ((finding,),) = observe_all([event])
    assert finding.kind == "provider_notice"
    assert finding.incident == "n-1"
    assert finding.event_time_ms == finding.window_start_ms == finding.window_end_ms
    assert finding.event_time_ms == event.ts_ms


def test_resent_notice_with_the_same_id_raises_nothing() -> None:
    events = [
        notice_event("n-1", event_id="pn-1"),
        notice_event("n-1", event_id="pn-2", severity="critical", action_required="suspend"),
        notice_event("n-2", event_id="pn-3"),
    ]
    assert [len(f) for f in observe_all(events)] == [1, 0, 1]


def test_resent_notice_raises_no_alert_through_the_engine() -> None:
    events = [notice_event("n-1", event_id="pn-1"), notice_event("n-1", event_id="pn-2")]
    assert len(run_core(Core(), events).alerts) == 1


def test_notice_without_id_is_identified_by_its_event_id() -> None:
    events = [notice_event(None, event_id="pn-1"), notice_event(None, event_id="pn-2")]
    per_event = observe_all(events)
    assert [f[0].incident for f in per_event] == ["pn-1", "pn-2"]
    assert per_event[0][0].evidence["notice_id"] == "pn-1"


def test_detector_remembers_the_most_recent_notices_only() -> None:
    detector = ProviderNoticeDetector()
    state = detector.new_state()
    for i in range(NOTICES_KEPT + 1):
        assert detector.observe(state, notice_event(f"n-{i}", event_id=f"pn-{i}"))
    assert len(state.seen) == NOTICES_KEPT
    assert detector.observe(state, notice_event(f"n-{NOTICES_KEPT}", event_id="again")) == []
    assert detector.observe(state, notice_event("n-0", event_id="again-0"))


@pytest.mark.parametrize(
    ("given", "severity", "score"),
    [
        pytest.param("info", "info", 0.1, id="info"),
        pytest.param("low", "low", 0.3, id="low"),
        pytest.param("medium", "medium", 0.6, id="medium"),
        pytest.param("high", "high", 0.8, id="high"),
        pytest.param("critical", "critical", 0.95, id="critical"),
        pytest.param("catastrophic", "high", 0.8, id="unknown-reads-as-high"),
        pytest.param("", "high", 0.8, id="empty-reads-as-high"),
    ],
)
def test_notice_severity_maps_to_alert_severity_and_score(
    given: str, severity: str, score: float
) -> None:
    ((finding,),) = observe_all([notice_event("n-1", severity=given)])
    assert (finding.severity, finding.score) == (severity, score)


def test_notice_without_severity_is_high() -> None:
    event = activity_event("provider.notice", properties={"notice_id": "n-1"})
    ((finding,),) = observe_all([event])
    assert (finding.severity, finding.score) == ("high", 0.8)
    assert finding.evidence["category"] == "unspecified"
    assert finding.evidence["action_required"] == "none"


def test_reason_states_category_severity_resource_notice_and_required_action() -> None:
    event = notice_event(
        "n-42", category="aup.ddos", severity="critical", action_required="suspend"
    )
    ((finding,),) = observe_all([event])
    (reason,) = finding.reasons
    for text in ("aup.ddos", "severity critical", RESOURCE, "n-42", "suspended"):
        assert text in reason, (text, reason)
    assert finding.evidence == {
        "notice_id": "n-42",
        "category": "aup.ddos",
        "severity": "critical",
        "action_required": "suspend",
        "resource_id": RESOURCE,
    }


def test_reason_keeps_the_providers_own_severity_word() -> None:
    ((finding,),) = observe_all([notice_event("n-1", severity="sev2")])
    assert "severity sev2" in finding.reasons[0]
    assert finding.evidence["severity"] == "sev2"


def test_reason_without_required_action_asks_for_nothing() -> None:
    ((finding,),) = observe_all([notice_event("n-1", action_required="none")])
    assert "requires" not in finding.reasons[0]


@pytest.mark.parametrize(
    ("resource_id", "props", "expected"),
    [
        pytest.param(RESOURCE, {}, ("sub-1",), id="from-resource-id"),
        pytest.param(RESOURCE, {"subscription_id": "sub-9"}, ("sub-9",), id="from-properties"),
        pytest.param("", {}, (), id="none"),
        pytest.param("/resourceGroups/rg", {}, (), id="resource-without-subscription"),
    ],
)
def test_notice_names_its_subscription(
    resource_id: str, props: dict[str, str], expected: tuple[str, ...]
) -> None:
    event = activity_event(
        "provider.notice",
        resource_id=resource_id,
        properties={"notice_id": "n-1", "category": "aup.spam", **props},
    )
    ((finding,),) = observe_all([event])
    assert finding.subscription_ids == expected


@pytest.mark.parametrize(
    "operation", ["signin", "budget.set", "provider.notices", "vm.create", "provider.notice.ack"]
)
def test_other_operations_raise_nothing(operation: str) -> None:
    event = activity_event(operation, properties={"notice_id": "n-1", "severity": "critical"})
    assert observe_all([event]) == [[]]


def test_dump_and_load_round_trip_the_state() -> None:
    detector = ProviderNoticeDetector()
    state = detector.new_state()
    observe_all([notice_event(f"n-{i}", event_id=f"pn-{i}") for i in range(3)], state)
    loaded = detector.load(detector.dump(state))
    assert loaded == state
    assert detector.observe(loaded, notice_event("n-1", event_id="pn-9")) == []
