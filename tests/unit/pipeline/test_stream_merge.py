"""StreamMerge: a partition's streams merged by event time, each in offset order, with one
release policy, and events far ahead of their stream held aside."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from streamwatch import testing as build
from streamwatch.config import build_core
from streamwatch.core.codec import DecodeError
from streamwatch.core.engine import Core
from streamwatch.core.events import Event
from streamwatch.core.policy import Policy
from streamwatch.pipeline.ordering import Message, StreamMerge
from streamwatch.pipeline.partition import DictStore, PartitionPipeline

STREAMS = ("usage", "activity", "payment")


def never(_stream: str, _ts: int) -> bool:
    return False


def always(_stream: str, _ts: int) -> bool:
    return True


START_MS = build.decoded(build.usage(ts="2026-10-01T00:00:00Z")).ts_ms


class Feed:
    """A partition's merge; its event time at start is ``START_MS`` unless told (None: a
    fresh start, where each stream's first event waits to be judged by its successor)."""

    def __init__(self, clock_ms: int | None = START_MS) -> None:
        self.merge = StreamMerge(STREAMS, clock_ms)
        self.offsets = dict.fromkeys(STREAMS, 0)

    def add(self, stream: str, ts: str, event_id: str) -> None:
        doc = (
            build.usage(ts=ts, event_id=event_id)
            if stream == "usage"
            else build.activity("signin", "cust-1", ts, {}, event_id=event_id)
            if stream == "activity"
            else build.payment("prepayment", "cust-1", ts, event_id=event_id)
        )
        self._add(stream, build.decoded(doc))

    def bad(self, stream: str) -> None:
        self._add(stream, DecodeError("invalid_json", "not JSON"))

    def _add(self, stream: str, decoded: Event | DecodeError) -> None:
        offset = self.offsets[stream]
        self.offsets[stream] += 1
        self.merge.add(Message(stream, offset, b"k", b"raw"), decoded)

    def drain(self, caught_up: Any = never, final: bool = False) -> list[str]:
        out = []
        while (held := self.merge.next(caught_up, final)) is not None:
            self.merge.pop(held)
            decoded = held.decoded
            out.append(decoded.code if isinstance(decoded, DecodeError) else decoded.event_id)
        return out


def test_streams_interleave_by_event_time_once_each_has_a_message() -> None:
    feed = Feed()
    feed.add("usage", "2026-10-01T01:00:00Z", "u1")
    feed.add("usage", "2026-10-01T03:00:00Z", "u3")
    feed.add("activity", "2026-10-01T02:00:00Z", "a2")
    assert feed.drain() == [], "payments could still deliver something earlier"
    feed.add("payment", "2026-10-01T02:30:00Z", "p2")
    assert feed.drain() == ["u1", "a2"], "activity could still deliver something before p2"
    assert feed.drain(always) == ["p2", "u3"], "caught up: nothing earlier can come"


def test_a_stream_keeps_its_offset_order_even_when_out_of_event_time_order() -> None:
    feed = Feed()
    feed.add("usage", "2026-10-01T02:00:00Z", "u2")
    feed.add("usage", "2026-10-01T01:00:00Z", "u1")
    feed.add("activity", "2026-10-01T01:30:00Z", "a1")
    assert feed.drain(always) == ["a1", "u2", "u1"]


def test_arrival_order_across_streams_does_not_change_the_order() -> None:
    orders = []
    for first in STREAMS:
        feed = Feed()
        rest = [s for s in STREAMS if s != first]
        for stream in (first, *rest):
            feed.add(stream, "2026-10-01T01:00:00Z", f"{stream}-1")
            feed.add(stream, f"2026-10-01T0{1 + STREAMS.index(stream)}:30:00Z", f"{stream}-2")
        orders.append(feed.drain(final=True))
    assert orders[0] == orders[1] == orders[2]
    assert orders[0][:3] == ["activity-1", "payment-1", "usage-1"], "ties go by event id"


def test_messages_that_do_not_decode_go_as_soon_as_they_head_their_stream() -> None:
    feed = Feed()
    feed.add("usage", "2026-10-01T01:00:00Z", "u1")
    feed.bad("usage")
    feed.bad("activity")
    assert feed.drain() == ["invalid_json"], "the usage one waits behind u1"
    feed.add("activity", "2026-10-01T00:30:00Z", "a0")
    feed.add("activity", "2026-10-01T05:00:00Z", "a5")
    feed.add("payment", "2026-10-01T04:00:00Z", "p4")
    assert feed.drain() == ["a0", "u1", "invalid_json"], "then usage has nothing: all wait"


def test_an_event_years_ahead_of_its_stream_is_held_aside_when_the_stream_comes_back() -> None:
    feed = Feed()
    feed.add("usage", "2026-10-01T01:00:00Z", "u1")
    feed.add("usage", "2030-01-01T00:00:00Z", "u-future")
    feed.add("usage", "2026-10-01T02:00:00Z", "u2")
    assert feed.drain(always) == ["u1", "future_event", "u2"]
    assert feed.merge.future == 1
    assert feed.merge.clock_ms is not None
    assert feed.merge.clock_ms < build.decoded(build.usage(ts="2026-10-02T00:00:00Z")).ts_ms


def test_a_suspect_waits_for_its_successor_and_holds_back_later_events() -> None:
    feed = Feed()
    feed.add("usage", "2026-10-01T01:00:00Z", "u1")
    feed.add("activity", "2026-10-01T01:30:00Z", "a1")
    feed.add("usage", "2026-10-05T00:00:00Z", "u-jump")
    feed.add("activity", "2026-10-06T00:00:00Z", "a-late")
    assert feed.drain(always) == ["u1", "a1", "u-jump", "a-late"], (
        "another stream already beyond it: the partition moved on"
    )


def test_a_lone_suspect_waits_live_and_is_taken_at_the_end_of_a_replay() -> None:
    feed = Feed()
    feed.add("usage", "2026-11-01T00:00:00Z", "u-next-month")
    assert feed.drain(always) == [], "nothing says yet whether it is an outlier"
    assert feed.drain(always, final=True) == ["u-next-month"]


def test_on_a_fresh_start_a_first_event_far_ahead_of_the_next_is_held_aside() -> None:
    feed = Feed(clock_ms=None)
    feed.add("usage", "9998-12-29T00:00:00Z", "u-future")
    feed.add("usage", "2026-10-01T01:00:00Z", "u1")
    feed.add("usage", "2026-10-01T02:00:00Z", "u2")
    assert feed.drain(always) == ["future_event", "u1", "u2"]
    assert feed.merge.future == 1


def test_pop_takes_heads_only() -> None:
    feed = Feed()
    feed.add("usage", "2026-10-01T01:00:00Z", "u1")
    feed.add("usage", "2026-10-01T02:00:00Z", "u2")
    head = feed.merge.next(always)
    assert head is not None
    feed.merge.pop(head)
    with pytest.raises(ValueError, match="not a head"):
        feed.merge.pop(head)


class Exploding:
    """A detector that fails on one event id, as a bug would."""

    name: ClassVar[str] = "exploding"
    version: ClassVar[str] = "1"
    event_types: ClassVar[frozenset[str]] = frozenset({"usage"})

    def new_state(self) -> dict[str, int]:
        return {"seen": 0}

    def observe(self, state: dict[str, int], event: Event) -> list[Any]:
        if event.event_id == "boom":
            state["seen"] = 2**70  # and leaves the state unwritable
            raise ZeroDivisionError("division by zero")
        state["seen"] += 1
        return []

    def dump(self, state: dict[str, int]) -> dict[str, Any]:
        return dict(state)

    def load(self, data: dict[str, Any]) -> dict[str, int]:
        return {"seen": int(data["seen"])}


def test_an_event_the_core_fails_on_is_dead_lettered_and_the_partition_moves_on() -> None:
    core = Core(Policy(), [Exploding(), *build_core().detectors])
    store = DictStore(core)
    pipeline = PartitionPipeline(
        core, ("usage",), store, clock=lambda: 0, origin=lambda m: {"offset": m.offset}
    )
    for n, event_id in enumerate(["a", "boom", "c"]):
        raw = build.raw(build.usage(ts=f"2026-10-01T0{n}:00:00Z", event_id=event_id))
        pipeline.add(Message("usage", n, b"cust-1", raw))
    steps = pipeline.release(always, final=True)
    assert [s.dead_letter["code"] if s.dead_letter else None for s in steps] == [
        None,
        "processing_error",
        None,
    ]
    record = steps[1].dead_letter
    assert record is not None
    assert "ZeroDivisionError" in record["reason"]
    assert record["source"] == {"offset": 1}
    assert pipeline.counts["processing_errors"] == 1
    assert pipeline.counts["state_resets"] == 1, "the state could not be written any more"
    state = store.get("cust-1")
    assert state.detectors["exploding"] == {"seen": 1}, "reset, then event c"
