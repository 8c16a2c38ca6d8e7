"""Customer state in the table: snapshots round-trip, changes are tracked per partition."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka.partitioner import DefaultPartitioner

from streamwatch import testing as build
from streamwatch.core.engine import Core
from streamwatch.live.state_store import CustomerStates, StateCodec


@dataclass
class Table:
    """The two attributes of a Faust table that CustomerStates uses."""

    data: dict[bytes, Any] = field(default_factory=dict)
    changelog_topic: Any = None


def test_snapshot_bytes_round_trip_to_an_equal_state():
    core = Core()
    codec = StateCodec(core)
    state = core.new_state("c-1")
    core.step(state, build.decoded(build.budget_set(10.0, customer_id="c-1")), 0)
    core.step(state, build.decoded(build.usage("c-1", cost=6.0)), 0)
    again = codec.loads(codec.dumps(state))
    assert core.snapshot(again) == core.snapshot(state)


def test_snapshots_are_deflated_and_plain_json_ones_still_restore():
    core = Core()
    codec = StateCodec(core)
    state = core.new_state("c-1")
    for n in range(40):
        event = build.usage(
            "c-1", cost=1.0 + n, event_id=f"e-{n}", ts=f"2026-10-01T{n % 24:02d}:00:00Z"
        )
        core.step(state, build.decoded(event), 0)
    plain = orjson.dumps(core.snapshot(state))
    written = codec.dumps(state)
    assert len(written) < len(plain) * 0.7
    assert core.snapshot(codec.loads(plain)) == core.snapshot(codec.loads(written))


def test_recovered_snapshot_is_decoded_on_first_use():
    core = Core()
    codec = StateCodec(core)
    state = core.new_state("c-1")
    core.step(state, build.decoded(build.usage("c-1", cost=1.0, event_id="e-1")), 0)
    table = Table({b"c-1": codec.dumps(state)})
    states = CustomerStates(table, core, codec, 4)
    restored = states.get(b"c-1", "c-1")
    assert "e-1" in restored.seen
    assert states.get(b"c-2", "c-2").customer_id == "c-2"


def test_unreadable_snapshot_gives_a_fresh_state():
    core = Core()
    table = Table({b"c-1": b'{"v": 999}'})
    states = CustomerStates(table, core, StateCodec(core), 4)
    assert states.get(b"c-1", "c-1").events == 0


def test_changes_are_pending_per_partition_until_revoked():
    core = Core()
    table = Table()
    states = CustomerStates(table, core, StateCodec(core), 4)
    states.changed(1, b"c-1", core.new_state("c-1"))
    states.changed(1, b"c-2", core.new_state("c-2"))
    states.changed(2, b"c-3", core.new_state("c-3"))
    assert (states.pending(1), states.pending(2)) == (2, 1)
    states.revoke({1})
    assert states.pending(1) == 0
    assert set(table.data) == {b"c-3"}


def test_customers_of_a_partition_include_recovered_ones_placed_like_a_keyed_producer():
    core = Core()
    recovered = {f"r-{i}".encode(): b"{}" for i in range(40)}
    table = Table(dict(recovered))
    states = CustomerStates(table, core, StateCodec(core), 4)
    states.changed(3, b"seen-on-3", core.new_state("seen-on-3"))
    place = DefaultPartitioner()
    for partition in range(4):
        expected = {
            key for key in recovered if place(key, list(range(4)), list(range(4))) == partition
        }
        if partition == 3:
            expected.add(b"seen-on-3")
        assert set(states.customers_of(partition)) == expected
    assert all(states.customers_of(p) for p in range(4))


class Changelog:
    def get_topic_name(self) -> str:
        return "app-customer-state-changelog"


class Sent:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes | None, bytes | None, int | None]] = []

    async def send(
        self, topic: str, key: bytes | None, value: bytes | None, partition: int | None = None
    ) -> None:
        self.messages.append((topic, key, value, partition))


async def test_a_forgotten_customer_goes_to_the_changelog_as_a_tombstone():
    core = Core()
    table = Table(changelog_topic=Changelog())
    states = CustomerStates(table, core, StateCodec(core), 4)
    states.changed(1, b"c-1", core.new_state("c-1"))
    states.changed(1, b"c-2", core.new_state("c-2"))
    states.forget(1, b"c-1")
    assert b"c-1" not in table.data
    assert states.customers_of(1) == [b"c-2"]
    sent = Sent()
    assert await states.flush(1, sent) == 2
    by_key = {key: value for _, key, value, _ in sent.messages}
    assert by_key[b"c-1"] is None, "a tombstone: compaction drops the customer"
    assert by_key[b"c-2"] is not None
    assert {partition for *_, partition in sent.messages} == {1}
