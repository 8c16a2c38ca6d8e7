"""The engine: dedupe, lateness, alert identity and amendment, open-alert bounds, risk, and
versioned snapshots of a customer's state."""

from __future__ import annotations

import base64
import copy
import struct
from dataclasses import replace
from typing import Any, ClassVar

import orjson
import pytest

from streamwatch.core.codec import DecodeError, event_to_dict
from streamwatch.core.detectors.base import Finding
from streamwatch.core.detectors.budget import BudgetDetector
from streamwatch.core.detectors.network_abuse import NetworkAbuseDetector
from streamwatch.core.detectors.provider_notice import ProviderNoticeDetector
from streamwatch.core.engine import ALERT_RETENTION_MS, Core, Settings
from streamwatch.core.events import ActivityEvent, Event
from streamwatch.core.ids import stable_id
from streamwatch.core.state import (
    STATE_VERSION,
    CustomerState,
    OpenAlert,
    StateVersionError,
    id_key,
)
from streamwatch.core.timeutil import format_ts, parse_ts_ms
from streamwatch.testing import (
    NOW_MS,
    FakeClock,
    activity_event,
    budget_set_event,
    decoded,
    default_policy,
    notice_event,
    run_core,
    ts,
    usage_doc,
    usage_event,
)


class ScriptedDetector:
    """Raises whatever finding a ``script.finding`` activity describes in its properties."""

    name: ClassVar[str] = "scripted"
    version: ClassVar[str] = "1"
    event_types: ClassVar[frozenset[str]] = frozenset({"activity"})

    def new_state(self) -> dict[str, int]:
        return {"seen": 0}

    def observe(self, state: dict[str, int], event: Event) -> list[Finding]:
        if not isinstance(event, ActivityEvent) or event.operation != "script.finding":
            return []
        state["seen"] += 1
        p = event.properties
        return [
            Finding(
                incident=p.get("incident", "i-1"),
                kind=p.get("kind", "spend_spike"),
                severity=p.get("severity", "low"),
                score=p.get("score", 0.3),
                event_time_ms=event.ts_ms,
                window_start_ms=event.ts_ms - 3_600_000,
                window_end_ms=event.ts_ms,
                reasons=(p.get("reason", "Spend rose."),),
                evidence=p.get("evidence", {"spend": 10}),
            )
        ]

    def dump(self, state: dict[str, int]) -> dict[str, Any]:
        return dict(state)

    def load(self, data: dict[str, Any]) -> dict[str, int]:
        return {"seen": data["seen"]}


def finding_event(event_id: str, at: str = "2026-10-01T00:00:00Z", **props: Any) -> ActivityEvent:
    return activity_event("script.finding", event_id=event_id, at=at, properties=props)


def scripted_core(**settings: Any) -> Core:
    return Core(detectors=[ScriptedDetector()], settings=Settings(**settings))


# --- dedupe and lateness ------------------------------------------------------------------


def test_repeated_event_id_is_processed_once_and_counted_as_duplicate() -> None:
    core = Core()
    state = core.new_state("cust-1")
    event = budget_set_event(1000, event_id="b-1")
    spend = usage_event(event_id="u-1", cost=600)
    core.step(state, event, NOW_MS)
    first = core.step(state, spend, NOW_MS)
    again = core.step(state, spend, NOW_MS)
    assert [a.evidence["threshold"] for a in first.alerts] == ["50%"]
    assert again.duplicate
    assert not again.alerts
    assert (state.events, state.duplicates, state.late) == (2, 1, 0)
    assert state.detectors["budget_threshold"].months["2026-10"].spend == {"USD": 600_000_000}


def test_duplicate_is_detected_by_event_id_even_if_the_content_differs() -> None:
    core = Core()
    state = core.new_state("cust-1")
    core.step(state, usage_event(event_id="u-1", cost=1), NOW_MS)
    assert core.step(state, usage_event(event_id="u-1", cost=999), NOW_MS).duplicate
    assert state.detectors["budget_threshold"].months["2026-10"].spend == {"USD": 1_000_000}


def test_dedupe_forgets_the_oldest_ids_beyond_its_capacity() -> None:
    core = Core(settings=Settings(dedupe_capacity=2))
    state = core.new_state("cust-1")
    for event_id in ("u-1", "u-2", "u-3"):
        core.step(state, usage_event(event_id=event_id), NOW_MS)
    assert len(state.seen) == 2
    assert "u-1" not in state.seen
    assert "u-2" in state.seen
    assert not core.step(state, usage_event(event_id="u-1"), NOW_MS).duplicate
    assert core.step(state, usage_event(event_id="u-3"), NOW_MS).duplicate


def test_event_id_keys_are_stable_64_bit_blake2b() -> None:
    # Snapshots hold these keys: a change of hash would forget every customer's window.
    assert id_key("e-1") == 0x317386494BF10D9F
    assert id_key("") == 0xE4A6A0577479B2B4
    assert id_key("\udc80") != id_key("")  # an id no UTF-8 encoder takes still hashes


def test_repeat_of_a_late_event_is_a_duplicate() -> None:
    core = Core(settings=Settings(usage_lateness_s=3600, dedupe_margin_s=3600))
    state = core.new_state("cust-1")
    core.step(state, usage_event(event_id="u-1", at=ts(10, 12)), NOW_MS)
    late = usage_event(event_id="u-0", at=ts(9, 12))  # a day behind: older than the window
    assert core.step(state, late, NOW_MS).late
    again = core.step(state, late, NOW_MS)
    assert again.duplicate
    assert (state.events, state.duplicates, state.late) == (2, 1, 1)


@pytest.mark.parametrize(("actor", "late"), [("streamwatch", False), ("user@example.com", True)])
def test_a_ring_link_is_never_late_input(actor: str, late: bool) -> None:
    # Links carry their sighting's time and come (through a topic, live) when the ring grows.
    core = Core(settings=Settings(allowed_lateness_s=3600))
    state = core.new_state("cust-1")
    core.step(state, usage_event(event_id="u-1", at=ts(10, 12)), NOW_MS)
    link = activity_event("ring.link", at=ts(9, 12), event_id="ring-1", actor=actor)
    assert core.step(state, link, NOW_MS).late is late
    assert state.late == int(late)


@pytest.mark.parametrize(
    ("after_s", "duplicate"),
    [
        pytest.param(0, True, id="at-once"),
        pytest.param(5400, True, id="within-lateness-plus-margin"),
        pytest.param(7200, True, id="exactly-lateness-plus-margin"),
        pytest.param(7201, False, id="one-second-past"),
        pytest.param(86400, False, id="a-day-past"),
    ],
)
def test_ids_are_kept_for_lateness_plus_margin_of_the_customers_event_time(
    after_s: int, duplicate: bool
) -> None:
    core = Core(
        settings=Settings(allowed_lateness_s=3600, usage_lateness_s=3600, dedupe_margin_s=3600)
    )
    state = core.new_state("cust-1")
    first = usage_event(event_id="u-1", at=ts(10, 12))
    core.step(state, first, NOW_MS)
    later = format_ts(first.ts_ms + after_s * 1000)
    core.step(state, usage_event(event_id="u-2", at=later), NOW_MS)
    decisions = core.step(state, first, NOW_MS)
    assert decisions.duplicate is duplicate
    # A repeat no longer recognised is processed again, and counted late when it is.
    assert decisions.late is (not duplicate and after_s > 3600)


def test_dedupe_window_bounds_the_snapshot() -> None:
    """A customer sending an event every ten seconds for a day keeps two hours of ids (the
    window: lateness one hour, margin one hour), 12 bytes each in the snapshot."""
    core = Core(detectors=[], settings=Settings(usage_lateness_s=3600, dedupe_capacity=8640))
    state = core.new_state("cust-1")
    start = parse_ts_ms(ts(10))
    for n in range(8640):
        core.step(state, usage_event(event_id=f"u-{n}", at=format_ts(start + n * 10_000)), NOW_MS)
    assert len(state.seen) == 721  # 7200 s back from the newest, both ends included
    raw = base64.b64decode(core.snapshot(state)["seen"])
    assert len(raw) == 721 * 12
    key, age = struct.unpack(">QI", raw[:12])  # oldest first
    assert (key, age) == (id_key("u-7919"), 7200)
    assert struct.unpack(">QI", raw[-12:]) == (id_key("u-8639"), 0)
    assert core.step(state, usage_event(event_id="u-7919", at=ts(10)), NOW_MS).duplicate
    assert not core.step(state, usage_event(event_id="u-7918", at=ts(10)), NOW_MS).duplicate


def test_dedupe_capacity_caps_the_window() -> None:
    core = Core(detectors=[], settings=Settings(dedupe_capacity=16))
    state = core.new_state("cust-1")
    for n in range(100):
        core.step(state, usage_event(event_id=f"u-{n}"), NOW_MS)
    assert len(state.seen) == 16
    assert len(core.snapshot(state)["seen"]) == 16 * 16  # base64 of 16 x 12 bytes
    assert core.step(state, usage_event(event_id="u-84"), NOW_MS).duplicate
    assert not core.step(state, usage_event(event_id="u-83"), NOW_MS).duplicate


def test_an_event_whose_id_hash_collides_is_counted_as_a_duplicate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a 64-bit collision (at most ``dedupe_capacity`` / 2**64 per event) does: the real
    event is not processed, but it is counted and reported as a duplicate, never lost unseen."""
    monkeypatch.setattr("streamwatch.core.engine.id_key", lambda event_id: 42)
    core = Core()
    state = core.new_state("cust-1")
    core.step(state, usage_event(event_id="u-1", cost=1), NOW_MS)
    decisions = core.step(state, usage_event(event_id="u-2", cost=2), NOW_MS)
    assert decisions.duplicate
    assert (state.events, state.duplicates) == (1, 1)


def test_version_1_snapshot_is_read_and_its_ids_expire_a_window_after_it() -> None:
    core = Core(policy=default_policy(), settings=Settings(usage_lateness_s=3600))
    state = busy_state(core)
    snapshot = core.snapshot(state)
    v1 = {**snapshot, "v": 1, "seen": ["b-1", "u-1", "u-2", "pn-1", "u-3"]}
    restored = core.restore(orjson.loads(orjson.dumps(v1)))
    assert {**core.snapshot(restored), "seen": None} == {**snapshot, "seen": None}
    assert len(restored.seen) == 5  # all taken as arrived at the watermark
    assert core.snapshot(restored)["v"] == STATE_VERSION
    assert core.step(restored, usage_event(event_id="u-2", at=ts(20)), NOW_MS).duplicate
    core.step(restored, usage_event(event_id="u-9", at=ts(5, 2, 0, 1)), NOW_MS)  # 2 h 1 s on
    assert "u-2" not in restored.seen
    assert not core.step(restored, usage_event(event_id="u-2", at=ts(4)), NOW_MS).duplicate


def test_version_1_snapshot_with_more_ids_than_the_capacity_is_cut_at_the_next_event() -> None:
    core = Core(detectors=[], settings=Settings(dedupe_capacity=4))
    state = core.new_state("cust-1")
    core.step(state, usage_event(event_id="u-0"), NOW_MS)
    v1 = {**core.snapshot(state), "v": 1, "seen": [f"u-{n}" for n in range(10)]}
    restored = core.restore(v1)
    assert len(restored.seen) == 10
    core.step(restored, usage_event(event_id="u-10"), NOW_MS)
    assert len(restored.seen) == 4
    assert "u-7" in restored.seen
    assert "u-6" not in restored.seen


@pytest.mark.parametrize(
    ("behind_s", "late"),
    [
        pytest.param(0, False, id="same-time"),
        pytest.param(1800, False, id="within-lateness"),
        pytest.param(3600, False, id="exactly-allowed-lateness"),
        pytest.param(3601, True, id="one-second-too-late"),
        pytest.param(86400, True, id="a-day-late"),
    ],
)
def test_event_older_than_allowed_lateness_is_counted_late(behind_s: int, late: bool) -> None:
    core = Core(settings=Settings(allowed_lateness_s=3600))
    state = core.new_state("cust-1")
    newest = usage_event(event_id="u-1", at=ts(10, 12))
    core.step(state, newest, NOW_MS)
    at = format_ts(newest.ts_ms - behind_s * 1000)
    decisions = core.step(state, activity_event("vm.create", at=at, event_id="a-2"), NOW_MS)
    assert decisions.late is late
    assert state.late == int(late)
    assert state.watermark_ms == newest.ts_ms


@pytest.mark.parametrize(
    ("behind_h", "late"),
    [
        pytest.param(2, False, id="two-hours"),
        pytest.param(24, False, id="a-day"),
        pytest.param(48, False, id="exactly-48-hours"),
        pytest.param(49, True, id="49-hours"),
    ],
)
def test_usage_has_an_allowed_lateness_of_its_own_48_hours_by_default(
    behind_h: int, late: bool
) -> None:
    """Billing data for an hour arrives hours after later data; activity and payments keep
    the short lateness (above)."""
    core = Core()
    assert (core.settings.allowed_lateness_s, core.settings.usage_lateness_s) == (3600, 172800)
    state = core.new_state("cust-1")
    newest = activity_event("vm.create", at=ts(10, 12), event_id="a-1")
    core.step(state, newest, NOW_MS)
    older = usage_event(event_id="u-2", at=format_ts(newest.ts_ms - behind_h * 3_600_000))
    decisions = core.step(state, older, NOW_MS)
    assert decisions.late is late
    assert state.late == int(late)


def test_a_billing_batch_sent_again_is_a_duplicate_as_late_as_the_batches_come() -> None:
    """Once a customer's usage has come later than the short lateness, its dedupe window
    covers the usage lateness: a row that came 3 hours late is still recognised when sent
    again 20 hours later, while a customer whose usage comes in order keeps two hours of ids
    (lateness and margin)."""
    core = Core()
    state = core.new_state("cust-1")
    core.step(state, activity_event("vm.create", at=ts(11, 4), event_id="a-1"), NOW_MS)
    row = usage_event(event_id="u-1", at=ts(11, 1), cost=7)  # 3 hours behind
    core.step(state, row, NOW_MS)
    assert state.usage_lag_ms == 3 * 3_600_000
    core.step(state, activity_event("vm.create", at=ts(12, 0), event_id="a-2"), NOW_MS)
    again = core.step(state, row, NOW_MS)  # 23 hours behind, 20 hours after it came
    assert again.duplicate
    assert (state.events, state.duplicates, state.late) == (3, 1, 0)
    assert state.detectors["budget_threshold"].months["2026-10"].spend == {"USD": 7_000_000}
    restored = core.restore(orjson.loads(orjson.dumps(core.snapshot(state))))
    assert restored.usage_lag_ms == state.usage_lag_ms
    assert core.step(restored, row, NOW_MS).duplicate

    in_order = core.new_state("cust-2")
    core.step(in_order, usage_event(event_id="u-1", at=ts(10, 1)), NOW_MS)
    core.step(in_order, usage_event(event_id="u-2", at=ts(10, 3, 0, 1)), NOW_MS)
    assert "u-1" not in in_order.seen
    assert "usage_lag_ms" not in core.snapshot(in_order)


def test_late_event_is_still_processed() -> None:
    core = Core()
    state = core.new_state("cust-1")
    core.step(state, budget_set_event(1000, event_id="b-1", at=ts(1)), NOW_MS)
    core.step(state, usage_event(event_id="u-1", at=ts(20), cost=100), NOW_MS)
    decisions = core.step(state, usage_event(event_id="u-2", at=ts(2), cost=500), NOW_MS)
    assert decisions.late
    assert [a.evidence["threshold"] for a in decisions.alerts] == ["50%"]
    assert decisions.alerts[0].event_time == ts(2)


# --- alert identity -----------------------------------------------------------------------


def test_alert_id_is_derived_from_customer_kind_and_incident() -> None:
    core = Core()
    state = core.new_state("cust-1")
    alert = core.step(state, notice_event("n-7", event_id="pn-1"), NOW_MS).alerts[0]
    assert alert.alert_id == stable_id("cust-1", "provider_notice", "n-7")


def test_same_evidence_gives_same_alert_ids_across_engines_and_clocks() -> None:
    stream = [budget_set_event(100, event_id="b-1"), usage_event(event_id="u-1", cost=100)]
    first = run_core(Core(), stream, FakeClock(now_ms=NOW_MS, step_ms=1000))
    second = run_core(Core(), stream, FakeClock(now_ms=0, step_ms=17))
    assert [a.alert_id for a in first.alerts] == [a.alert_id for a in second.alerts]
    assert len(first.alerts) == 3


def test_alert_ids_differ_between_customers_with_the_same_evidence() -> None:
    core = Core()
    ids = []
    for customer in ("cust-1", "cust-2"):
        state = core.new_state(customer)
        event = notice_event("n-1", customer_id=customer, event_id=f"pn-{customer}")
        ids.append(core.step(state, event, NOW_MS).alerts[0].alert_id)
    assert ids[0] != ids[1]


def test_detected_at_is_the_callers_clock_and_changes_no_decision() -> None:
    core = Core()
    state_a, state_b = core.new_state("cust-1"), core.new_state("cust-1")
    a = core.step(state_a, notice_event(), NOW_MS).alerts[0]
    b = core.step(state_b, notice_event(), NOW_MS + 12345).alerts[0]
    assert a.detected_at == format_ts(NOW_MS)
    assert b.detected_at == format_ts(NOW_MS + 12345)
    assert replace(a, detected_at="") == replace(b, detected_at="")


# --- amendment ----------------------------------------------------------------------------


def test_growing_incident_amends_its_alert_with_a_higher_revision() -> None:
    core = scripted_core()
    state = core.new_state("cust-1")
    first = core.step(state, finding_event("e-1", severity="low"), NOW_MS).alerts
    second = core.step(state, finding_event("e-2", severity="high", score=0.8), NOW_MS).alerts
    assert [a.revision for a in first + second] == [1, 2]
    assert first[0].alert_id == second[0].alert_id
    assert second[0].severity == "high"
    assert state.alerts[first[0].alert_id].revision == 2


@pytest.mark.parametrize(
    ("change", "amended"),
    [
        pytest.param({}, False, id="identical-finding"),
        pytest.param({"reason": "Spend rose again."}, False, id="only-the-wording"),
        pytest.param({"severity": "medium"}, True, id="severity"),
        pytest.param({"score": 0.5}, True, id="score"),
        pytest.param({"evidence": {"spend": 11}}, True, id="evidence"),
    ],
)
def test_alert_is_amended_only_when_the_finding_changes(
    change: dict[str, Any], amended: bool
) -> None:
    core = scripted_core()
    state = core.new_state("cust-1")
    core.step(state, finding_event("e-1"), NOW_MS)
    decisions = core.step(state, finding_event("e-2", at=ts(1, 1), **change), NOW_MS)
    assert [a.revision for a in decisions.alerts] == ([2] if amended else [])


def test_different_incidents_are_separate_alerts() -> None:
    core = scripted_core()
    state = core.new_state("cust-1")
    a = core.step(state, finding_event("e-1", incident="i-1"), NOW_MS).alerts[0]
    b = core.step(state, finding_event("e-2", incident="i-2"), NOW_MS).alerts[0]
    assert a.alert_id != b.alert_id
    assert (a.revision, b.revision) == (1, 1)


# --- open alerts: expiry, cap, risk -------------------------------------------------------


def test_open_alerts_older_than_retention_expire_when_a_new_alert_is_raised() -> None:
    core = Core()
    state = core.new_state("cust-1")
    old = core.step(state, notice_event("n-1", event_id="pn-1", at=ts(1)), NOW_MS).alerts[0]
    recent = core.step(state, notice_event("n-2", event_id="pn-2", at=ts(20)), NOW_MS).alerts[0]
    assert set(state.alerts) == {old.alert_id, recent.alert_id}
    newest = core.step(state, notice_event("n-3", event_id="pn-3", at=ts(5, month=11)), NOW_MS)
    assert set(state.alerts) == {recent.alert_id, newest.alerts[0].alert_id}


def test_open_alert_exactly_at_the_retention_horizon_is_kept() -> None:
    core = Core()
    state = core.new_state("cust-1")
    first = notice_event("n-1", event_id="pn-1", at=ts(1))
    kept = core.step(state, first, NOW_MS).alerts[0]
    later = notice_event("n-2", event_id="pn-2", at=format_ts(first.ts_ms + ALERT_RETENTION_MS))
    core.step(state, later, NOW_MS)
    assert kept.alert_id in state.alerts


def test_open_alerts_are_capped_dropping_the_oldest() -> None:
    core = Core(settings=Settings(max_open_alerts=3))
    state = core.new_state("cust-1")
    ids = [
        core.step(state, notice_event(f"n-{i}", event_id=f"pn-{i}", at=ts(1, i)), NOW_MS)
        .alerts[0]
        .alert_id
        for i in range(5)
    ]
    assert list(state.alerts) == ids[2:]


def test_risk_is_zero_without_open_alerts() -> None:
    assert Core().new_state("cust-1").risk == 0.0


def test_risk_combines_open_alerts_as_independent_chances() -> None:
    core = Core()
    state = core.new_state("cust-1")
    core.step(state, notice_event("n-1", event_id="pn-1", severity="critical"), NOW_MS)
    core.step(state, notice_event("n-2", event_id="pn-2", severity="high"), NOW_MS)
    assert state.risk == pytest.approx(1 - (1 - 0.95) * (1 - 0.8), abs=1e-4)


def test_risk_stays_within_zero_and_one_however_many_alerts() -> None:
    core = Core(settings=Settings(max_open_alerts=64))
    state = core.new_state("cust-1")
    risks = []
    for i in range(80):
        severity = ("info", "low", "medium", "high", "critical")[i % 5]
        core.step(state, notice_event(f"n-{i}", event_id=f"pn-{i}", severity=severity), NOW_MS)
        risks.append(state.risk)
    assert all(0.0 <= r <= 1.0 for r in risks)
    assert risks[:64] == sorted(risks[:64])
    assert risks[-1] == 1.0


# --- snapshots ----------------------------------------------------------------------------


def busy_state(core: Core) -> CustomerState:
    """A state that every part of the snapshot has something in."""
    state = core.new_state("cust-1")
    events = [
        budget_set_event(1000, event_id="b-1", at=ts(1)),
        usage_event(event_id="u-1", at=ts(4), cost=900.1),
        usage_event(event_id="u-2", at=ts(4), cost=1, currency="EUR", subscription_id="sub-2"),
        usage_event(event_id="u-1", at=ts(4), cost=900.1),
        notice_event("n-1", event_id="pn-1", at=ts(5), action_required="suspend"),
        usage_event(event_id="u-3", at=ts(1), cost=0.3),
    ]
    for event in events:
        core.step(state, event, NOW_MS)
    return state


def test_snapshot_round_trips_through_orjson_bytes() -> None:
    core = Core(policy=default_policy())
    state = busy_state(core)
    snapshot = core.snapshot(state)
    restored = core.restore(orjson.loads(orjson.dumps(snapshot)))
    assert restored == state
    assert core.snapshot(restored) == snapshot
    assert snapshot["v"] == STATE_VERSION
    assert snapshot["counters"] == [5, 1, 1]
    assert snapshot["cooldowns"]
    assert snapshot["alerts"]


@pytest.mark.parametrize(
    "nxt",
    [
        pytest.param(usage_event(event_id="u-9", at=ts(6), cost=200), id="usage-crossing-100"),
        pytest.param(usage_event(event_id="u-1", at=ts(6), cost=200), id="duplicate"),
        pytest.param(
            notice_event("n-2", event_id="pn-2", at=ts(5, 0, 30)), id="notice-in-cooldown"
        ),
        pytest.param(notice_event("n-1", event_id="pn-3", at=ts(7)), id="resent-notice"),
    ],
)
def test_restored_state_decides_like_the_original(nxt: Event) -> None:
    core = Core(policy=default_policy())
    state = busy_state(core)
    restored = core.restore(orjson.loads(orjson.dumps(core.snapshot(state))))
    assert core.step(restored, nxt, NOW_MS) == core.step(state, nxt, NOW_MS)
    assert restored == state


def test_snapshot_is_a_value_unaffected_by_later_steps() -> None:
    core = Core()
    state = core.new_state("cust-1")
    core.step(state, budget_set_event(1000, event_id="b-1"), NOW_MS)
    snapshot = core.snapshot(state)
    before = copy.deepcopy(snapshot)
    core.step(state, usage_event(event_id="u-1", cost=600), NOW_MS)
    core.step(state, notice_event("n-1", event_id="pn-1", action_required="suspend"), NOW_MS)
    assert snapshot == before


@pytest.mark.parametrize(
    "version",
    [
        pytest.param(STATE_VERSION + 1, id="newer"),
        pytest.param(0, id="older"),
        pytest.param(None, id="missing"),
        pytest.param(str(STATE_VERSION), id="string"),
    ],
)
def test_restore_refuses_a_snapshot_of_another_version(version: Any) -> None:
    core = Core()
    snapshot = core.snapshot(busy_state(core))
    if version is None:
        del snapshot["v"]
    else:
        snapshot["v"] = version
    with pytest.raises(StateVersionError):
        core.restore(snapshot)


def test_restore_starts_detectors_missing_from_the_snapshot_fresh() -> None:
    core = Core()
    snapshot = core.snapshot(busy_state(core))
    del snapshot["detectors"]["provider_notice"]
    restored = core.restore(snapshot)
    assert restored.detectors["provider_notice"] == ProviderNoticeDetector().new_state()
    assert restored.detectors["budget_threshold"].amount == 1000 * 1_000_000


def test_snapshot_leaves_out_what_a_fresh_state_holds() -> None:
    core = Core()
    fresh = core.new_state("cust-1")
    assert core.snapshot(fresh)["detectors"] == {}
    assert core.restore(orjson.loads(orjson.dumps(core.snapshot(fresh)))) == fresh
    core = Core(detectors=[BudgetDetector(), ProviderNoticeDetector(), NetworkAbuseDetector()])
    state = core.new_state("cust-1")
    core.step(state, budget_set_event(1000, event_id="b-1"), NOW_MS)
    dumped = core.snapshot(state)["detectors"]
    assert set(dumped) == {"budget_threshold", "network_abuse"}
    assert set(dumped["budget_threshold"]) == {"amount", "currency", "set_at_ms", "months", "@v"}
    assert set(dumped["network_abuse"]) == {"first_ms", "@v"}
    assert core.restore(orjson.loads(orjson.dumps(core.snapshot(state)))) == state


def test_snapshot_keeps_a_field_unlike_the_fresh_one_in_type_or_sign() -> None:
    """0.0 and 0, -0.0 and 0.0, False and 0 are equal in Python but not alike in JSON; a field
    holding one where a fresh state holds the other is kept."""
    core = Core(detectors=[ScriptedDetector()])
    state = core.new_state("cust-1")
    for value in (0.0, -0.0, False, 0):
        state.detectors["scripted"] = {"seen": value}
        snapshot = orjson.loads(orjson.dumps(core.snapshot(state)))
        restored = core.restore(snapshot).detectors["scripted"]["seen"]
        assert (type(restored), repr(restored)) == (type(value), repr(value))
        assert ("scripted" in snapshot["detectors"]) is (repr(value) != "0")


# --- purity -------------------------------------------------------------------------------


def test_step_does_not_mutate_the_event() -> None:
    core = Core()
    state = busy_state(core)
    event = notice_event("n-2", event_id="pn-2", at=ts(6), action_required="restrict")
    before = copy.deepcopy(event_to_dict(event))
    core.step(state, event, NOW_MS)
    assert event_to_dict(event) == before


@pytest.mark.parametrize(
    "at",
    [
        pytest.param("9999-12-31T23:59:59-01:00", id="utc-year-10000"),
        pytest.param("0001-01-01T00:00:00+01:00", id="utc-year-0"),
    ],
)
def test_timestamp_outside_utc_years_1_to_9999_is_rejected_before_the_engine(at: str) -> None:
    with pytest.raises(DecodeError) as info:
        decoded(usage_doc(at=at))
    assert (info.value.code, info.value.field) == ("invalid_timestamp", "ts")


def test_fleet_keeps_one_state_per_customer() -> None:
    stream = [
        notice_event("n-1", event_id="pn-1", customer_id="cust-1"),
        notice_event("n-1", event_id="pn-2", customer_id="cust-2"),
        notice_event("n-1", event_id="pn-3", customer_id="cust-1"),
    ]
    outcome = run_core(Core(), stream)
    assert [a.customer_id for a in outcome.alerts] == ["cust-1", "cust-2"]


def test_info_alerts_carry_no_risk() -> None:
    state = CustomerState("c")
    state.alerts["a"] = OpenAlert("spend_spike", "info", 0.5, 0, 2, "f", "resolved")
    assert state.risk == 0.0
    state.alerts["b"] = OpenAlert("chargeback", "high", 0.5, 0, 1, "g", "chargeback")
    assert state.risk == 0.5
