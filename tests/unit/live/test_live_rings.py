"""Ring state in the table (recovered snapshots decode, changes flush per partition), and the
ring agent's gate: sightings held until every input partition has passed them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
from faust.types import TP

from streamwatch import testing as build
from streamwatch.core.rings import ALWAYS, RingLinker, Sighting, sightings
from streamwatch.core.timeutil import parse_ts_ms
from streamwatch.live.metrics import Counters
from streamwatch.live.ordering import Incoming
from streamwatch.live.rings import (
    RING_PARTITION,
    RingProcessor,
    RingStates,
    encode_progress,
    encode_sighting,
    ring_keys_topic,
)


@dataclass
class Topic:
    name: str

    def get_topic_name(self) -> str:
        return self.name


@dataclass
class Table:
    """The two attributes of a Faust table that RingStates uses."""

    data: dict[bytes, Any] = field(default_factory=dict)
    changelog_topic: Any = field(default_factory=lambda: Topic("app-ring-state-changelog"))


@dataclass
class ListSender:
    sent: list[tuple[str, bytes | None, bytes, int | None]] = field(default_factory=list)

    async def send(
        self, topic: str, key: bytes | None, value: bytes, partition: int | None = None
    ) -> None:
        self.sent.append((topic, key, value, partition))


def device_sighting(customer: str, ts: str) -> Sighting:
    event = build.decoded(
        build.activity(
            "customer.signup",
            customer,
            ts,
            {"device_fingerprint": "dev-1"},
            event_id=f"{customer}-signup",
        )
    )
    (found,) = sightings(event)
    return found


def test_sighting_travels_keyed_by_its_link_key() -> None:
    sighting = device_sighting("c-1", "2026-10-01T00:00:00Z")
    key, value = encode_sighting(sighting)
    assert key == sighting.key.encode()
    assert Sighting.from_dict(orjson.loads(value)) == sighting
    assert ring_keys_topic("it-x.app") == "it-x.app-ring-keys"


async def test_changed_rings_flush_to_their_changelog_partition_and_recover() -> None:
    linker = RingLinker()
    table = Table()
    rings = RingStates(table, linker)
    first = device_sighting("c-1", "2026-10-01T00:00:00Z")
    key = first.key.encode()
    state = rings.get(key, first.key)
    linker.step(state, first)
    rings.changed(2, key, state)
    sender = ListSender()
    assert await rings.flush(2, sender) == 1
    assert await rings.flush(2, sender) == 0, "flushed once per commit"
    ((topic, sent_key, value, partition),) = sender.sent
    assert (topic, sent_key, partition) == ("app-ring-state-changelog", key, 2)

    recovered = RingStates(Table({key: value}), linker)  # a restarted worker's table
    again = recovered.get(key, first.key)
    links = linker.step(again, device_sighting("c-2", "2026-10-01T01:00:00Z"))
    assert [link.customer_id for link in links] == ["c-1", "c-2"]


def test_unreadable_ring_starts_afresh_and_revoked_partitions_are_forgotten() -> None:
    linker = RingLinker()
    table = Table({b"device:x": b'{"v": 99}'})
    rings = RingStates(table, linker)
    assert rings.get(b"device:x", "device:x").members == {}
    rings.changed(1, b"device:a", linker.new_state("device:a"))
    rings.changed(3, b"device:b", linker.new_state("device:b"))
    rings.revoke({1})
    assert b"device:a" not in table.data
    assert b"device:b" in table.data


class FakeTransactions:
    """The ring partition's transaction: what was sent, and where it may commit up to."""

    def __init__(self) -> None:
        self.processed: dict[Any, int] = {}
        self.sender = ListSender()

    @asynccontextmanager
    async def section(self, _tp: Any, offset: int | None = None) -> AsyncIterator[ListSender]:
        yield self.sender
        if offset is not None:
            self.processed[_tp] = offset + 1

    def mark(self, tp: Any, offset: int) -> None:
        self.processed[tp] = offset + 1

    def next_offset(self, tp: Any) -> int | None:
        return self.processed.get(tp)


class InOrderCursor:
    async def before(self, _tp: Any, _offset: int) -> list[Incoming]:
        return []


def ring_processor(
    table: Table, transactions: FakeTransactions, now: list[float] | None = None
) -> RingProcessor:
    clock = now or [0.0]
    linker = RingLinker()
    return RingProcessor(
        linker,
        RingStates(table, linker),
        cast(Any, transactions),
        "activity",
        lambda _next_offset: cast(Any, InOrderCursor()),
        Counters(),
        2,
        "app-ring-keys",
        monotonic=lambda: clock[0],
    )


async def test_sightings_are_held_until_every_partition_passed_them_then_linked_in_time_order():
    transactions = FakeTransactions()
    rings = ring_processor(Table(), transactions)
    tp = TP("app-ring-keys", RING_PARTITION)
    messages = [
        encode_sighting(device_sighting("c-late", "2026-10-01T03:00:00Z")),
        encode_sighting(device_sighting("c-early", "2026-10-01T01:00:00Z")),
        encode_progress(0, parse_ts_ms("2026-10-01T05:00:00Z")),
        encode_progress(1, parse_ts_ms("2026-10-01T02:00:00Z")),
    ]
    for offset, (key, value) in enumerate(messages):
        await rings.process(Incoming(tp, offset, key, value))
    assert transactions.sender.sent == [], "c-late waits for partition 1; c-early rings alone"
    assert transactions.processed[tp] == 0, "committed up to the first sighting still held"
    assert rings.next_offset(tp) == 4, "yet everything up to offset 3 has arrived"

    await rings.process(Incoming(tp, 4, *encode_progress(1, ALWAYS)))  # partition 1 idle
    links = [orjson.loads(value) for _topic, _key, value, _p in transactions.sender.sent]
    assert [(d["customer_id"], d["properties"]["joined"]) for d in links] == [
        ("c-early", "c-late"),
        ("c-late", "c-late"),
    ], "the ring opened with the earlier sign-up, though it came second"
    assert transactions.processed[tp] == 5


async def test_the_oldest_held_sighting_is_timed_from_when_it_came_until_it_is_let_out():
    now = [100.0]
    rings = ring_processor(Table(), FakeTransactions(), now)
    tp = TP("app-ring-keys", RING_PARTITION)
    assert rings.oldest_held_s() == 0.0, "nothing held"
    await rings.process(
        Incoming(tp, 0, *encode_sighting(device_sighting("c-1", "2026-10-01T01:00:00Z")))
    )
    now[0] += 30.0
    await rings.process(
        Incoming(tp, 1, *encode_sighting(device_sighting("c-2", "2026-10-01T03:00:00Z")))
    )
    now[0] += 10.0
    assert rings.oldest_held_s() == 40.0, "c-1 came first and waits"
    await rings.process(Incoming(tp, 2, *encode_progress(0, parse_ts_ms("2026-10-01T02:00:00Z"))))
    await rings.process(Incoming(tp, 3, *encode_progress(1, ALWAYS)))
    assert rings.oldest_held_s() == 10.0, "c-1 let out; c-2 came 10 s ago"
    await rings.process(Incoming(tp, 4, *encode_progress(0, ALWAYS)))
    assert rings.oldest_held_s() == 0.0, "all let out"


async def test_what_the_partitions_said_is_kept_with_the_rings_for_a_restart() -> None:
    table, transactions = Table(), FakeTransactions()
    rings = ring_processor(table, transactions)
    tp = TP("app-ring-keys", RING_PARTITION)
    await rings.process(Incoming(tp, 0, *encode_progress(0, ALWAYS)))
    await rings.process(Incoming(tp, 1, *encode_progress(1, ALWAYS)))
    sender = ListSender()
    await rings.rings.flush(RING_PARTITION, sender)
    recovered = Table({key: value for _topic, key, value, _p in sender.sent if key is not None})

    restarted = ring_processor(recovered, FakeTransactions())
    first = device_sighting("c-1", "2026-10-01T01:00:00Z")
    await restarted.process(Incoming(tp, 2, *encode_sighting(first)))
    await restarted.process(
        Incoming(tp, 3, *encode_sighting(device_sighting("c-2", "2026-10-01T01:10:00Z")))
    )
    assert len(restarted.transactions.sender.sent) == 2, "both sources idle: linked at once"
