"""Ring state in the table: recovered snapshots decode, changes flush per partition."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from streamwatch import testing as build
from streamwatch.core.rings import RingLinker, Sighting, sightings
from streamwatch.live.rings import RingStates, encode_sighting, ring_keys_topic


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
