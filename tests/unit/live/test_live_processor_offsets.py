"""Where the live processor stands in each topic partition: when it counts a quiet one as
caught up (KIP-695's rule, with the time of the fetch that told its end), and what it reports
as arrived while a batch's outputs are being sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import orjson
from faust.types import TP

from streamwatch import testing as build
from streamwatch.config import build_core
from streamwatch.core.rings import ALWAYS
from streamwatch.core.timeutil import parse_ts_ms
from streamwatch.live.metrics import Counters
from streamwatch.live.ordering import Incoming
from streamwatch.live.processor import IDLE_S, Processor
from streamwatch.live.rings import RING_PARTITION
from streamwatch.live.state_store import CustomerStates, StateCodec
from streamwatch.settings import TopicNames

TOPICS = TopicNames.with_prefix("t.")


@dataclass
class Table:
    """The two attributes of a Faust table that CustomerStates uses."""

    data: dict[bytes, Any] = field(default_factory=dict)
    changelog_topic: Any = None


def processor(
    ends: dict[str, int], processed: dict[str, int], polls: dict[str, int] | None
) -> Processor:
    """A processor of partition 0 whose consumer saw ``ends``, which processed up to
    ``processed``, and (unless None) last fetched each topic at ``polls`` (epoch ms)."""
    states = SimpleNamespace(customers_of=lambda _partition: [])
    transactions = SimpleNamespace(next_offset=lambda tp: processed.get(tp.topic))
    kwargs: dict[str, Any] = {}
    if polls is not None:
        kwargs["last_poll"] = lambda tp: polls.get(tp.topic)
    return Processor(
        build_core(),
        cast(Any, states),
        cast(Any, transactions),
        TOPICS,
        cast(Any, SimpleNamespace(counters=None)),
        lambda _next_offset: cast(Any, None),
        end_offset=lambda tp: ends.get(tp.topic),
        **kwargs,
    )


def queue_usage(live: Processor) -> Any:
    """Queue one usage message on partition 0; the caught-up rule of its pipeline."""
    live._add(Incoming(TP(TOPICS.usage, 0), 7, b"c-1", b"{}"))
    return live._caught_up(live._pipeline(0), 0)


def test_a_quiet_topic_that_has_everything_up_to_its_end_is_caught_up() -> None:
    polls = {TOPICS.usage: 2_000, TOPICS.activity: 2_000}
    live = processor({TOPICS.activity: 5}, {TOPICS.activity: 5}, polls)
    assert queue_usage(live)(TOPICS.activity, 0)


def test_a_quiet_topic_short_of_its_end_is_not() -> None:
    polls = {TOPICS.usage: 2_000, TOPICS.activity: 2_000}
    live = processor({TOPICS.activity: 6}, {TOPICS.activity: 5}, polls)
    assert not queue_usage(live)(TOPICS.activity, 0)


def test_an_end_fetched_before_the_queued_messages_does_not_count() -> None:
    # The consumer fetched usage again (at 2,000) while it still buffered activity's messages
    # of an older fetch (at 1,000): activity's end is of that older moment.
    polls = {TOPICS.usage: 2_000, TOPICS.activity: 1_000}
    live = processor({TOPICS.activity: 5}, {TOPICS.activity: 5}, polls)
    caught_up = queue_usage(live)
    assert not caught_up(TOPICS.activity, 0)
    polls[TOPICS.activity] = 2_000  # the next fetch answers for activity too
    assert caught_up(TOPICS.activity, 0)


def test_without_fetch_times_the_end_alone_decides() -> None:
    live = processor({TOPICS.activity: 5}, {TOPICS.activity: 5}, None)
    assert queue_usage(live)(TOPICS.activity, 0)


class SlowTransactions:
    """A partition's transactions whose sends wait until ``go`` is set."""

    def __init__(self) -> None:
        self.processed: dict[TP, int] = {}
        self.go = asyncio.Event()
        self.sending = asyncio.Event()
        self.sent: list[str] = []

    @asynccontextmanager
    async def section(self, _anchor: TP) -> AsyncIterator[Any]:
        yield self

    async def send(self, topic: str, *_args: Any) -> None:
        self.sending.set()
        await self.go.wait()
        self.sent.append(topic)

    def mark(self, tp: TP, offset: int) -> None:
        self.processed[tp] = offset + 1

    def next_offset(self, tp: TP) -> int:
        return self.processed.get(tp, 0)


async def test_released_messages_count_as_arrived_while_their_outputs_are_sent() -> None:
    # Otherwise the next arrival, finding the partition behind, would read the released
    # messages again from Kafka and process them twice (an undecodable one: two dead letters).
    transactions = SlowTransactions()
    live = Processor(
        build_core(),
        cast(Any, SimpleNamespace(customers_of=lambda _partition: [])),
        cast(Any, transactions),
        TOPICS,
        cast(Any, SimpleNamespace(counters=SimpleNamespace(inc=lambda *_a: None))),
        lambda _next_offset: cast(Any, None),
        end_offset=lambda _tp: 0,
    )
    usage = TP(TOPICS.usage, 0)
    live._add(Incoming(usage, 0, b"c-1", b"not json"))
    draining = asyncio.create_task(live._drain(0, 10))
    await asyncio.wait_for(transactions.sending.wait(), 5)
    assert live.next_offset(usage) == 1
    transactions.go.set()
    await draining
    assert transactions.sent == [TOPICS.dead_letter]


def test_behind_counts_what_lies_between_arrival_and_the_fetched_ends() -> None:
    live = processor(
        {TOPICS.usage: 5_000, TOPICS.activity: 40, TOPICS.payments: 7},
        {TOPICS.usage: 1_000, TOPICS.activity: 40},  # payments: nothing arrived yet
        None,
    )
    assert live.behind(0) == 4_000
    assert processor({}, {TOPICS.usage: 1_000}, None).behind(0) == 0  # no ends known


class Gaps:
    """An input cursor that says whether a topic partition's gap holds records."""

    def __init__(self, holds: bool) -> None:
        self.holds = holds
        self.reads: list[tuple[int, int]] = []

    async def expected(self, _tp: TP) -> int:
        return 0

    async def holds_records(self, _tp: TP, start: int, stop: int) -> bool:
        self.reads.append((start, stop))
        return self.holds


def quiet_activity(gaps: Gaps) -> Processor:
    """Partition 0 with usage queued and activity quiet: activity arrived up to 5, its end is
    9 and the consumer's position is 9 (what lies between: markers, or records Faust still
    buffers on their way to the agent)."""
    now = [0.0]
    live = Processor(
        build_core(),
        cast(Any, SimpleNamespace(customers_of=lambda _partition: [])),
        cast(Any, SimpleNamespace(next_offset=lambda tp: {TOPICS.activity: 5}.get(tp.topic))),
        TOPICS,
        cast(Any, SimpleNamespace(counters=None)),
        lambda _next_offset: cast(Any, gaps),
        end_offset=lambda tp: 9 if tp.topic == TOPICS.activity else None,
        position=lambda _tp: _at(9),
        monotonic=lambda: now[0],
    )
    live._add(Incoming(TP(TOPICS.usage, 0), 7, b"c-1", b"{}"))
    now[0] = 10.0  # activity quiet for long enough
    return live


async def _at(offset: int) -> int:
    return offset


async def test_a_position_at_the_end_counts_only_if_markers_alone_lie_before_it() -> None:
    buffered = quiet_activity(Gaps(holds=True))
    await buffered.refresh_positions()
    assert not buffered._caught_up(buffered._pipeline(0), 0)(TOPICS.activity, 0)

    markers = Gaps(holds=False)
    live = quiet_activity(markers)
    await live.refresh_positions()
    assert live._caught_up(live._pipeline(0), 0)(TOPICS.activity, 0)
    await live.refresh_positions()
    assert markers.reads == [(5, 9)], "one read per gap"


class InOrder:
    """An input cursor for a stream that skips nothing."""

    async def before(self, _tp: TP, _offset: int) -> list[Incoming]:
        return []


class RecordingTransactions:
    """A partition's transactions that record what is sent, and where, and what processed."""

    def __init__(self) -> None:
        self.processed: dict[Any, int] = {}
        self.sent: list[tuple[str, bytes | None, bytes | None, int | None]] = []

    @asynccontextmanager
    async def section(self, _anchor: TP) -> AsyncIterator[Any]:
        yield self

    async def send(
        self, topic: str, key: bytes | None, value: bytes | None, partition: int | None = None
    ) -> None:
        self.sent.append((topic, key, value, partition))

    def mark(self, tp: TP, offset: int) -> None:
        self.processed[tp.topic] = offset + 1

    def next_offset(self, tp: TP) -> int | None:
        return self.processed.get(tp.topic)


async def test_a_partition_tells_the_ring_agent_how_far_it_released_then_that_it_is_idle() -> None:
    core = build_core()
    ends = {TOPICS.usage: 0, TOPICS.activity: 4, TOPICS.payments: 0}  # one more sign-up to come
    transactions = RecordingTransactions()
    transactions.processed = {TOPICS.usage: 0, TOPICS.payments: 0}
    now = [0.0]
    views = SimpleNamespace(counters=Counters(), mark_later=lambda *_a: None)
    live = Processor(
        core,
        CustomerStates(cast(Any, Table()), core, StateCodec(core), 4),
        cast(Any, transactions),
        TOPICS,
        cast(Any, views),
        lambda _next_offset: cast(Any, InOrder()),
        ring_keys="t.app-ring-keys",
        end_offset=lambda tp: ends.get(tp.topic),
        monotonic=lambda: now[0],
    )
    live.keep({0})

    def said() -> list[int]:
        return [
            orjson.loads(value or b"")["passed_ms"]
            for topic, key, value, partition in transactions.sent
            if topic == "t.app-ring-keys" and key == b"progress" and partition == RING_PARTITION
        ]

    props = {"device_fingerprint": "dev-1", "email_domain": "yopmail.com"}
    for offset in range(3):
        customer, at = f"c-{offset}", f"2026-10-01T0{offset}:00:00Z"
        signup = build.activity("customer.signup", customer, at, props)
        message = Incoming(TP(TOPICS.activity, 0), offset, customer.encode(), orjson.dumps(signup))
        await live.process(message)
        now[0] += 0.05
    hour = 3_600_000  # the allowed lateness: a sign-up up to that late can still come
    assert said() == [parse_ts_ms("2026-10-01T01:00:00Z") - hour], "told, then not for 0.2 s"
    now[0] += 1.0
    await live.tell_rings()
    assert said()[1:] == [parse_ts_ms("2026-10-01T02:00:00Z") - hour], "the timer tells the rest"
    ends[TOPICS.activity] = 3  # nothing more to come after all
    now[0] += 1.0
    await live.tell_rings()
    assert said()[2:] == [], "caught up, but something arrived less than idle_s ago"
    now[0] += IDLE_S
    await live.tell_rings()
    await live.tell_rings()
    assert said()[2:] == [ALWAYS], "everything arrived and released: idle, said once"
