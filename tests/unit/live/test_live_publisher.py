"""The publisher writes absolute values, and writes the view again from state when Redis lost it
or partitions were assigned, a batch per flush."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from streamwatch import testing as build
from streamwatch.core.engine import Core
from streamwatch.core.policy import parse_policy
from streamwatch.live import metrics
from streamwatch.live.metrics import Counters
from streamwatch.live.publisher import (
    MARKER_CHECK_S,
    REBUILD_BUDGET_S,
    TOTALS_REFRESH_S,
    VIEW_BUILD_S,
    Rebuild,
    RedisPublisher,
    StateViews,
)
from streamwatch.live.state_store import CustomerStates, StateCodec
from streamwatch.settings import DeploymentSettings


async def _closed() -> None:
    """A Redis client's ``aclose``."""


@dataclass
class FakeView:
    """``RiskView.publish`` against dicts, with the marker and failures under the test's hand.

    ``fail``: the next publish raises before writing; ``lose_reply``: the next publish writes,
    then raises as a timeout would (Redis applied the write, the reply never came)."""

    customers: dict[str, dict[str, str]] = field(default_factory=dict)
    workers: dict[str, dict[str, int]] = field(default_factory=dict)
    markers: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[dict[str, Any], dict[str, int] | None]] = field(default_factory=list)
    fail: bool = False
    lose_reply: bool = False
    client: Any = field(default_factory=lambda: SimpleNamespace(aclose=_closed))

    async def publish(
        self,
        views: Mapping[str, Mapping[str, str]],
        totals: Mapping[str, int] | None = None,
        *,
        worker: str | None = None,
        epoch: str = "",
    ) -> bool:
        if self.fail:
            self.fail = False
            raise RedisConnectionError("Connection refused")
        self.calls.append((dict(views), None if totals is None else dict(totals)))
        assert worker is not None
        kept = worker in self.markers
        for cid, fields in views.items():
            self.customers.setdefault(cid, {}).update(fields)
        if totals:
            self.workers.setdefault(worker, {}).update(totals)
        self.markers[worker] = epoch
        if self.lose_reply:
            self.lose_reply = False
            raise RedisTimeoutError("Timeout reading from socket")
        return kept

    def lose_everything(self) -> None:
        self.customers.clear()
        self.workers.clear()
        self.markers.clear()

    def metrics(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for counts in self.workers.values():
            for name, value in counts.items():
                total[name] = total.get(name, 0) + value
        return total


@dataclass
class FakeSource:
    """Customers per partition; each one's view names them (None for those without alerts)."""

    partitions: dict[int, list[str]]
    quiet: set[str] = field(default_factory=set)
    read: list[str] = field(default_factory=list)

    def customers_of(self, partition: int) -> list[str]:
        return list(self.partitions.get(partition, []))

    def view(self, customer_id: str) -> dict[str, str] | None:
        self.read.append(customer_id)
        if customer_id in self.quiet:
            return None
        return {"customer_id": customer_id, "risk": "0.5"}


class Clock:
    def __init__(self, step: float = 0.0) -> None:
        self.now = 1000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def publisher(
    view: FakeView, source: FakeSource | None = None, clock: Clock | None = None
) -> RedisPublisher:
    return RedisPublisher(
        view,  # type: ignore[arg-type]
        Counters(),
        source,
        worker="host:1",
        monotonic=clock or Clock(),
    )


# --- counters: totals, written as absolute values ------------------------------------------


async def test_counters_are_written_as_totals():
    view = FakeView()
    pub = publisher(view)
    pub.counters.inc(metrics.EVENTS, 3)
    await pub.flush()
    pub.counters.inc(metrics.EVENTS, 2)
    pub.counters.inc(metrics.ALERTS)
    await pub.flush()
    assert [totals for _, totals in view.calls] == [{"events": 3}, {"events": 5, "alerts": 1}]
    assert view.metrics() == {"events": 5, "alerts": 1}


async def test_a_write_applied_but_timed_out_is_not_counted_twice():
    view = FakeView(lose_reply=True)
    pub = publisher(view)
    pub.counters.inc(metrics.EVENTS, 10)
    pub.mark("c-1", {"customer_id": "c-1", "risk": "0.5"})
    assert await pub.flush() is False  # Redis wrote it; the worker cannot know
    assert await pub.flush() is True  # so it writes it again
    assert view.metrics() == {"events": 10}
    assert [list(views) for views, _ in view.calls] == [["c-1"], ["c-1"]]


async def test_a_failed_write_is_retried_with_what_came_since():
    view = FakeView(fail=True)
    pub = publisher(view)
    pub.counters.inc(metrics.EVENTS, 4)
    pub.mark("c-1", {"customer_id": "c-1", "risk": "0.1"})
    assert await pub.flush() is False
    pub.counters.inc(metrics.EVENTS)
    pub.mark("c-1", {"customer_id": "c-1", "risk": "0.2"})
    assert await pub.flush() is True
    assert view.metrics() == {"events": 5}
    assert view.customers["c-1"]["risk"] == "0.2"


async def test_a_view_marked_later_is_built_once_at_the_flush_as_it_is_then():
    view = FakeView()
    pub = publisher(view)
    risk = {"c-1": 0.1}
    builds: list[str] = []

    def build(customer_id: str) -> dict[str, str]:
        builds.append(customer_id)
        return {"customer_id": customer_id, "risk": repr(risk[customer_id])}

    for value in (0.1, 0.2, 0.3):  # three events change the view before one flush
        risk["c-1"] = value
        pub.mark_later("c-1", lambda: build("c-1"))
    assert builds == []
    await pub.flush()
    assert builds == ["c-1"]
    assert view.customers["c-1"]["risk"] == "0.3"


async def test_views_marked_later_are_built_once_a_second_at_most():
    clock = Clock()
    view = FakeView()
    pub = publisher(view, clock=clock)
    pub.mark_later("c-1", lambda: {"customer_id": "c-1", "risk": "0.1"})
    await pub.flush()
    pub.mark_later("c-1", lambda: {"customer_id": "c-1", "risk": "0.2"})
    pub.counters.inc(metrics.EVENTS)
    await pub.flush()  # counters go at once; the view waits
    assert view.customers["c-1"]["risk"] == "0.1"
    assert view.metrics() == {"events": 1}
    clock.now += VIEW_BUILD_S
    await pub.flush()
    assert view.customers["c-1"]["risk"] == "0.2"
    pub.mark_later("c-1", lambda: {"customer_id": "c-1", "risk": "0.3"})
    await pub.close()  # the last flush builds what is left
    assert view.customers["c-1"]["risk"] == "0.3"


async def test_a_view_that_cannot_be_built_does_not_stop_the_others():
    view = FakeView()
    pub = publisher(view)

    def broken() -> dict[str, str]:
        raise ValueError("no view")

    pub.mark_later("c-1", broken)
    pub.mark_later("c-2", lambda: {"customer_id": "c-2", "risk": "0.4"})
    assert await pub.flush() is True
    assert "c-1" not in view.customers
    assert view.customers["c-2"]["risk"] == "0.4"


async def test_the_latest_mark_wins_whether_built_now_or_later():
    view = FakeView()
    pub = publisher(view)
    pub.mark_later("c-1", lambda: {"customer_id": "c-1", "risk": "0.1"})
    pub.mark("c-1", {"customer_id": "c-1", "risk": "0.2"})
    pub.mark("c-2", {"customer_id": "c-2", "risk": "0.3"})
    pub.mark_later("c-2", lambda: {"customer_id": "c-2", "risk": "0.4"})
    await pub.flush()
    assert view.customers["c-1"]["risk"] == "0.2"
    assert view.customers["c-2"]["risk"] == "0.4"


async def test_unchanged_totals_are_written_again_only_to_refresh_them():
    clock = Clock()
    view = FakeView()
    pub = publisher(view, clock=clock)
    pub.counters.inc(metrics.EVENTS)
    await pub.flush()
    await pub.flush()  # nothing new, marker checked less than a second ago
    assert len(view.calls) == 1
    clock.now += MARKER_CHECK_S
    await pub.flush()  # the marker only
    assert view.calls[-1] == ({}, None)
    clock.now += TOTALS_REFRESH_S
    await pub.flush()
    assert view.calls[-1] == ({}, {"events": 1})


def test_drain_leaves_the_totals():
    counters = Counters()
    counters.inc(metrics.EVENTS, 2)
    assert counters.drain() == {"events": 2}
    counters.inc(metrics.EVENTS)
    assert counters.totals() == {"events": 3}
    assert counters.drain() == {"events": 1}


# --- the view written again from state ------------------------------------------------------


def test_rebuild_walks_the_owned_partitions_listing_each_when_reached():
    listed: list[int] = []

    def customers_of(partition: int) -> list[str]:
        listed.append(partition)
        return {0: ["a", "b"], 1: [], 2: ["c"]}[partition]

    queue = Rebuild()
    assert queue.next(customers_of) is None
    queue.assigned({2, 0, 1})
    assert queue.next(customers_of) == "a"
    assert listed == [0]
    assert [queue.next(customers_of) for _ in range(3)] == ["b", "c", None]
    assert listed == [0, 1, 2]
    assert not queue.active
    queue.restart()
    assert queue.next(customers_of) == "a"
    queue.assigned({1})
    assert queue.next(customers_of) is None


async def test_assigned_partitions_are_written_again_once_ready():
    view = FakeView()
    source = FakeSource({0: ["a", "b"], 1: ["c", "quiet"], 2: ["other"]}, quiet={"quiet"})
    pub = publisher(view, source)
    pub.assigned({0, 1})
    await pub.flush()  # rebalancing: the state may not be there yet
    assert source.read == []
    await pub.flush(rebuild=True)
    assert set(view.customers) == {"a", "b", "c"}
    assert source.read == ["a", "b", "c", "quiet"]
    await pub.flush(rebuild=True)
    assert len(source.read) == 4  # done


async def test_redis_that_lost_its_data_gets_the_view_and_totals_back():
    view = FakeView()
    source = FakeSource({0: ["a"], 3: ["b", "c"]})
    pub = publisher(view, source)
    pub.assigned({0, 3})
    pub.counters.inc(metrics.EVENTS, 7)
    await pub.flush(rebuild=True)
    assert set(view.customers) == {"a", "b", "c"}
    view.lose_everything()
    pub.counters.inc(metrics.EVENTS)
    await pub.flush(rebuild=True)  # finds the marker gone
    assert view.metrics() == {"events": 8}
    assert view.customers == {}
    await pub.flush(rebuild=True)
    assert set(view.customers) == {"a", "b", "c"}
    assert view.metrics() == {"events": 8}


async def test_the_first_write_of_a_worker_is_not_taken_for_a_loss():
    view = FakeView()
    source = FakeSource({0: ["a"]})
    pub = publisher(view, source)
    pub.counters.inc(metrics.EVENTS)
    await pub.flush(rebuild=True)
    await pub.flush(rebuild=True)
    assert source.read == []


async def test_a_rebuild_goes_in_batches_within_its_time_budget():
    clock = Clock(step=REBUILD_BUDGET_S / 4)  # each reading of the clock: a quarter of it
    view = FakeView()
    source = FakeSource({0: [f"c-{i}" for i in range(20)]})
    pub = publisher(view, source, clock)
    pub.assigned({0})
    await pub.flush(rebuild=True)
    first = len(view.customers)
    assert 1 <= first < 20
    for _ in range(20):
        await pub.flush(rebuild=True)
    assert len(view.customers) == 20


async def test_a_rebuild_waits_while_redis_fails():
    view = FakeView()
    source = FakeSource({0: ["a", "b"]})
    pub = publisher(view, source, Clock(step=REBUILD_BUDGET_S))  # one customer per flush
    pub.assigned({0})
    view.fail = True
    assert await pub.flush(rebuild=True) is False
    assert await pub.flush(rebuild=True) is True  # retries "a"; reads nothing while failing
    assert source.read == ["a"]
    await pub.flush(rebuild=True)
    assert source.read == ["a", "b"]


async def test_one_unreadable_view_does_not_stop_the_rebuild():
    class Broken(FakeSource):
        def view(self, customer_id: str) -> dict[str, str] | None:
            if customer_id == "bad":
                raise ValueError("boom")
            return super().view(customer_id)

    view = FakeView()
    pub = publisher(view, Broken({0: ["a", "bad", "b"]}))
    pub.assigned({0})
    await pub.flush(rebuild=True)
    assert set(view.customers) == {"a", "b"}


# --- views from the state the worker holds --------------------------------------------------


@dataclass
class Table:
    data: dict[bytes, Any] = field(default_factory=dict)
    changelog_topic: Any = None


@pytest.fixture
def core() -> Core:
    return Core(policy=parse_policy(DeploymentSettings().policy_text()))


def test_state_views_are_those_the_worker_writes(core: Core):
    codec = StateCodec(core)
    table = Table()
    states = CustomerStates(table, core, codec, 4)
    flagged = core.new_state("miner")
    core.step(flagged, build.decoded(build.provider_notice(customer_id="miner")), 0)
    quiet = core.new_state("quiet")
    core.step(quiet, build.decoded(build.usage("quiet", cost=1.0)), 0)
    states.changed(1, b"miner", flagged)
    table.data[b"recovered"] = codec.dumps(flagged)  # a snapshot not decoded yet
    table.data[b"quiet"] = codec.dumps(quiet)
    source = StateViews(states, core, lambda: 0)

    assert "miner" in source.customers_of(1)
    view = source.view("miner")
    assert view is not None
    assert view["open_alerts"] == "1"
    recovered = source.view("recovered")
    assert recovered is not None
    assert recovered["alerts"] == view["alerts"]
    assert source.view("quiet") is None  # no alert: not in the view
    assert source.view("gone") is None  # not held (its partition moved)
