"""Alignment: each partition's three input topics processed in event-time order, each topic in
offset order, without letting a quiet topic stall the others or a backlog fill memory."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from faust.types import TP

from streamwatch import testing as build
from streamwatch.core.codec import DecodeError
from streamwatch.live.alignment import Alignment, Decoded, Held
from streamwatch.live.ordering import Incoming

USAGE, ACTIVITY, PAYMENTS = "t.usage", "t.activity", "t.payments"
TOPICS = (USAGE, ACTIVITY, PAYMENTS)
HOLD = 0.5


class Clock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Feed:
    """An Alignment under test, with the next offset of each topic partition and the order in
    which messages were processed (their names)."""

    def __init__(self, max_held: int = 1000, processed: dict[TP, int] | None = None) -> None:
        self.clock = Clock()
        self.allowed = True
        self.processed = processed or {}
        self.alignment = Alignment(
            TOPICS,
            self.processed.get,
            can_process=lambda: self.allowed,
            hold_s=HOLD,
            max_held=max_held,
            clock=self.clock,
        )
        self.offsets: dict[TP, int] = {}
        self.done: list[str] = []

    def add(self, topic: str, name: str, decoded: Decoded, partition: int = 0) -> None:
        tp = TP(topic, partition)
        offset = self.offsets.get(tp, 0)
        self.offsets[tp] = offset + 1
        self.alignment.add(Incoming(tp, offset, b"k", name.encode()), decoded)

    def event(self, topic: str, name: str, at: str, partition: int = 0, **kw: Any) -> None:
        """A valid event named ``name`` at ``at`` (hh:mm on 2026-10-01) on ``topic``."""
        ts = f"2026-10-01T{at}:00Z"
        if topic == USAGE:
            doc = build.usage(ts=ts, **kw)
        elif topic == ACTIVITY:
            doc = build.activity("vm.create", ts=ts, **kw)
        else:
            doc = build.payment("payment.succeeded", ts=ts, **kw)
        self.add(topic, name, build.decoded(doc), partition)

    async def process(self, held: Held) -> None:
        assert held.message.value is not None
        self.done.append(held.message.value.decode())
        tp = held.message.tp
        self.processed[tp] = held.message.offset + 1

    async def drain(self, partition: int = 0, most: int = 1000) -> list[str]:
        """Drain ``partition``; the names processed by this drain."""
        before = len(self.done)
        await self.alignment.drain(partition, self.process, most)
        return self.done[before:]

    async def drain_all(self) -> list[str]:
        before = len(self.done)
        await self.alignment.drain_all(self.process)
        return self.done[before:]


async def test_merges_the_topics_by_event_time_and_waits_for_a_quiet_one() -> None:
    feed = Feed()
    feed.event(USAGE, "u1", "10:00")
    feed.event(USAGE, "u2", "10:30")
    feed.event(ACTIVITY, "a1", "09:30")
    feed.event(PAYMENTS, "p1", "09:00")
    # Every topic has a message: the earliest goes; then payments is empty, so a payment
    # earlier than a1 could still come.
    assert await feed.drain() == ["p1"]
    feed.clock.now += HOLD - 0.01
    assert await feed.drain() == []
    feed.event(PAYMENTS, "p2", "09:45")
    assert await feed.drain() == ["a1"]
    feed.clock.now += 0.01
    # u1 and u2 waited their hold: they go, after p2 which precedes them in event time.
    assert await feed.drain() == ["p2", "u1", "u2"]
    assert feed.alignment.held(0) == 0


async def test_a_partition_with_one_topic_waits_the_hold_only() -> None:
    feed = Feed()
    feed.event(USAGE, "u1", "10:00")
    feed.clock.now += 0.3
    feed.event(USAGE, "u2", "11:00")
    assert await feed.drain() == []
    feed.clock.now += 0.2
    assert await feed.drain() == ["u1"]
    feed.clock.now += 0.3
    assert await feed.drain() == ["u2"]


async def test_each_topic_keeps_its_offset_order_whatever_the_event_times() -> None:
    feed = Feed()
    feed.event(USAGE, "u-11h", "11:00")
    feed.event(USAGE, "u-10h", "10:00")
    feed.event(ACTIVITY, "a-10h30", "10:30")
    feed.clock.now += HOLD
    assert await feed.drain() == ["a-10h30", "u-11h", "u-10h"]


async def test_ties_go_by_event_id_then_topic_order() -> None:
    feed = Feed()
    feed.event(USAGE, "u-b", "10:00", event_id="b")
    feed.event(ACTIVITY, "a-a", "10:00", event_id="a")
    feed.event(PAYMENTS, "p-b", "10:00", event_id="b")
    feed.event(PAYMENTS, "p-z", "12:00", event_id="z")
    feed.event(ACTIVITY, "a-z", "12:00", event_id="z")
    feed.event(USAGE, "u-z", "12:00", event_id="z")
    feed.clock.now += HOLD
    assert await feed.drain() == ["a-a", "u-b", "p-b", "u-z", "a-z", "p-z"]


async def test_partitions_are_aligned_and_held_apart() -> None:
    feed = Feed()
    feed.event(USAGE, "u0", "10:00", partition=0)
    feed.clock.now += HOLD
    feed.event(USAGE, "u1", "09:00", partition=1)
    assert await feed.drain_all() == ["u0"]
    assert feed.alignment.held(1) == 1
    feed.clock.now += HOLD
    assert await feed.drain_all() == ["u1"]


async def test_more_than_max_held_releases_the_earliest_at_once() -> None:
    feed = Feed(max_held=3)
    for n in range(3):
        feed.event(USAGE, f"u{n}", f"1{n}:00")
    assert await feed.drain() == []
    feed.event(ACTIVITY, "a", "10:30")
    assert await feed.drain() == ["u0"]
    feed.event(ACTIVITY, "a2", "10:45")
    feed.event(ACTIVITY, "a3", "13:00")
    assert await feed.drain() == ["a", "a2"]
    assert feed.alignment.held(0) == 3


async def test_messages_that_do_not_decode_go_first_once_at_the_head() -> None:
    feed = Feed()
    bad = DecodeError("invalid_json", "invalid_json: truncated")
    feed.add(ACTIVITY, "bad-alone", bad)
    assert await feed.drain() == ["bad-alone"]

    feed.event(USAGE, "u1", "10:00")
    feed.add(USAGE, "bad", bad)
    feed.add(USAGE, "codec-bug", None)
    feed.event(USAGE, "u2", "11:00")
    feed.event(ACTIVITY, "a1", "10:30")
    # Behind u1, they wait for their turn like it: the topic's offset order comes first.
    assert await feed.drain() == []
    feed.clock.now += HOLD
    assert await feed.drain() == ["u1", "bad", "codec-bug", "a1", "u2"]


async def test_next_offset_counts_held_messages_then_processed_ones() -> None:
    tp = TP(USAGE, 0)
    feed = Feed(processed={tp: 7})
    feed.offsets[tp] = 7
    assert feed.alignment.next_offset(tp) == 7
    assert feed.alignment.next_offset(TP(USAGE, 1)) is None
    feed.event(USAGE, "u7", "10:00")
    feed.event(USAGE, "u8", "11:00")
    assert feed.alignment.next_offset(tp) == 9, "held ones are not read again as a hole"
    feed.clock.now += HOLD
    await feed.drain()
    assert feed.alignment.next_offset(tp) == 9


async def test_revoked_partitions_lose_what_they_held() -> None:
    feed = Feed()
    feed.event(USAGE, "u0", "10:00", partition=0)
    feed.event(PAYMENTS, "p0", "10:00", partition=0)
    feed.event(USAGE, "u1", "10:00", partition=1)
    feed.alignment.keep({TP(USAGE, 0), TP(ACTIVITY, 0)})
    assert feed.alignment.held(0) == 1
    assert feed.alignment.held(1) == 0
    assert feed.alignment.next_offset(TP(PAYMENTS, 0)) is None
    feed.clock.now += HOLD
    assert await feed.drain_all() == ["u0"]


async def test_nothing_is_processed_while_processing_is_not_allowed() -> None:
    feed = Feed()
    feed.event(USAGE, "u0", "10:00")
    feed.clock.now += HOLD
    feed.allowed = False
    assert await feed.drain_all() == []
    feed.allowed = True
    assert await feed.drain_all() == ["u0"]


async def test_a_message_whose_processing_failed_stays_held() -> None:
    feed = Feed()
    feed.event(USAGE, "u0", "10:00")
    feed.clock.now += HOLD

    async def failing(held: Held) -> None:
        raise RuntimeError("kafka is down")

    with pytest.raises(RuntimeError):
        await feed.alignment.drain(0, failing, 10)
    assert feed.alignment.held(0) == 1
    assert await feed.drain() == ["u0"]


async def test_a_drain_processes_at_most_what_it_is_told() -> None:
    feed = Feed()
    for n in range(5):
        feed.event(USAGE, f"u{n}", f"1{n}:00")
    feed.clock.now += HOLD
    assert await feed.drain(most=2) == ["u0", "u1"]
    # The timer's drain takes what each partition holds when its turn comes.
    feed.event(USAGE, "u5", "15:00")
    assert await feed.drain_all() == ["u2", "u3", "u4"]
    feed.clock.now += HOLD
    assert await feed.drain_all() == ["u5"]


async def test_concurrent_drains_process_each_message_once_in_order() -> None:
    feed = Feed()
    for n in range(5):
        feed.event(USAGE, f"u{n}", f"1{n}:00")
    feed.clock.now += HOLD
    order: list[str] = []

    async def process(held: Held) -> None:
        await asyncio.sleep(0)
        await feed.process(held)
        order.append(feed.done[-1])

    # The timer's drain gives way after each message; the agent's, meanwhile, returns at once.
    await asyncio.gather(
        feed.alignment.drain_all(process),
        feed.alignment.drain(0, process, 5),
        feed.alignment.idle(),
    )
    assert order == [f"u{n}" for n in range(5)]
