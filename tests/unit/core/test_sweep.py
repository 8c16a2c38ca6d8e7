"""Timed detectors: advanced at hour marks of event time, by the customer's own events and by
sweeps of the whole fleet, with the same findings whichever comes first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson

from streamwatch.core.codec import event_to_dict
from streamwatch.core.detectors.base import Capability, Finding
from streamwatch.core.engine import NOTHING, Core, Fleet
from streamwatch.core.events import Event
from streamwatch.core.timeutil import MS_PER_HOUR, parse_ts_ms
from streamwatch.replay.runner import ListSink, Replay, Source
from streamwatch.testing import usage_event

DAY_MS = 24 * MS_PER_HOUR


@dataclass
class DueState:
    due_ms: int | None = None
    raised: list[int] = field(default_factory=list)
    advanced_to: list[int] = field(default_factory=list)


class DueDetector:
    """Raises one finding when event time passes a day after the customer's first usage."""

    name: ClassVar[str] = "due"
    version: ClassVar[str] = "1"
    event_types: ClassVar[frozenset[str]] = frozenset({"usage"})
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.TIMED})

    def new_state(self) -> DueState:
        return DueState()

    def observe(self, state: DueState, event: Event) -> list[Finding]:
        if state.due_ms is None:
            state.due_ms = event.ts_ms + DAY_MS
        return []

    def advance(self, state: DueState, until_ms: int) -> list[Finding]:
        assert until_ms % MS_PER_HOUR == 0, "advanced to hour marks only"
        if state.due_ms is None or state.raised or until_ms < state.due_ms:
            return []
        state.raised.append(until_ms)
        return [
            Finding(
                incident="due",
                kind="collections",
                severity="low",
                score=0.3,
                event_time_ms=state.due_ms,
                window_start_ms=state.due_ms - DAY_MS,
                window_end_ms=state.due_ms,
                reasons=("a day passed",),
            )
        ]

    def dump(self, state: DueState) -> dict[str, Any]:
        return {"due_ms": state.due_ms, "raised": state.raised}

    def load(self, data: dict[str, Any]) -> DueState:
        return DueState(data["due_ms"], list(data["raised"]))


def core() -> Core:
    return Core(detectors=[DueDetector()])


def test_a_customers_own_later_event_advances_it_before_the_event_is_folded_in() -> None:
    fleet = Fleet(core())
    fleet.step(usage_event(event_id="u1", customer_id="c", at="2026-10-01T10:30:00Z"), 0)
    quiet = fleet.step(usage_event(event_id="u2", customer_id="c", at="2026-10-02T09:00:00Z"), 0)
    assert quiet is NOTHING
    found = fleet.step(usage_event(event_id="u3", customer_id="c", at="2026-10-02T11:05:00Z"), 0)
    assert [a.kind for a in found.alerts] == ["collections"]
    assert found.alerts[0].event_time == "2026-10-02T10:30:00Z"
    assert fleet.states["c"].swept_ms == parse_ts_ms("2026-10-02T11:00:00Z")


def test_a_sweep_ages_a_quiet_customer_and_finds_the_same_alert_once() -> None:
    by_event, by_sweep = Fleet(core()), Fleet(core())
    for fleet in (by_event, by_sweep):
        fleet.step(usage_event(event_id="u1", customer_id="c", at="2026-10-01T10:30:00Z"), 0)
    swept = by_sweep.sweep(parse_ts_ms("2026-10-02T12:59:00Z"), 0)
    again = by_sweep.sweep(parse_ts_ms("2026-10-02T13:30:00Z"), 0)
    stepped = by_event.step(
        usage_event(event_id="u2", customer_id="c", at="2026-10-02T12:00:00Z"), 0
    )
    assert again.alerts == ()
    assert [a.alert_id for a in swept.alerts] == [a.alert_id for a in stepped.alerts]
    assert [a.event_time for a in swept.alerts] == [a.event_time for a in stepped.alerts]
    assert by_sweep.states["c"].detectors["due"].raised == [parse_ts_ms("2026-10-02T12:00:00Z")]


def test_a_sweep_before_the_next_hour_mark_does_nothing() -> None:
    fleet = Fleet(core())
    fleet.step(usage_event(event_id="u1", customer_id="c", at="2026-10-01T10:30:00Z"), 0)
    assert fleet.sweep(parse_ts_ms("2026-10-01T10:59:59Z"), 0).alerts == ()
    assert fleet.states["c"].swept_ms == parse_ts_ms("2026-10-01T10:00:00Z")


def test_the_swept_mark_survives_a_snapshot() -> None:
    engine = core()
    fleet = Fleet(engine)
    fleet.step(usage_event(event_id="u1", customer_id="c", at="2026-10-01T10:30:00Z"), 0)
    restored = engine.restore(engine.snapshot(fleet.states["c"]))
    assert restored.swept_ms == parse_ts_ms("2026-10-01T10:00:00Z")


def test_replay_sweeps_customers_gone_quiet_when_the_stream_passes_an_hour_mark() -> None:
    # One partition: sweeps visit the customers of the partition whose event time passed the
    # mark, as the live worker's do.
    lines = [
        usage_event(event_id="u1", customer_id="quiet", at="2026-10-01T10:30:00Z"),
        usage_event(event_id="u2", customer_id="busy", at="2026-10-03T08:00:00Z"),
    ]
    raw = [(orjson.dumps(event_to_dict(e)), i) for i, e in enumerate(lines)]
    sink = ListSink()
    Replay(core(), sink, clock=lambda: 0, partitions=1).run([Source(raw, lambda i: {"line": i})])
    assert [(a.customer_id, a.event_time) for a in sink.alerts] == [
        ("quiet", "2026-10-02T10:30:00Z")
    ]
