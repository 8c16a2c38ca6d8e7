"""Workers join and leave one group mid-stream without crashing, losing or repeating outputs.

Two workers with fixed instance ids (static membership) share the input partitions; a third,
a dynamic member, joins: the first two keep their partitions through that rebalance, with
work in flight. Then the first is stopped with SIGTERM and the second killed with SIGKILL,
while events keep arriving: the third takes over the partitions of both (the stopped one's
transactions committed, the killed one's left open, to be aborted), state recovered from the
changelog. Outputs, read with read_committed, must be those of replay, each once.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from fault_streams import budget_stream

from streamwatch.settings import INPUT_TOPICS

pytestmark = pytest.mark.integration

CUSTOMERS = 300
USAGE_PER_CUSTOMER = 40
NOTICES = 30
RATE = 150
"""Input events per second while workers come and go."""
RUSH_RATE = 2000
RUSH_S = (0.5, 4.0)
"""While the third worker joins (this long after it logs "worker starting": it joins the group
some 2 s on), events come at RUSH_RATE, about what the other two can process: they are busy
when the rebalance revokes their partitions."""
STEP_TIMEOUT_S = 120.0


def assignments(worker: Any) -> list[set[str]]:
    """The input partitions ("topic:partition") of each assignment a worker has logged."""
    return [
        set(record["inputs"])
        for record in worker.log_records()
        if record.get("event") == "partitions assigned"
    ]


def alerts_of(records: list[Any]) -> list[dict[str, Any]]:
    return [r.json() for r in records]


async def committed_inputs(admin: AIOKafkaAdminClient, settings: Any) -> int:
    """Input messages the group has committed (sum of its committed input offsets)."""
    topics = {settings.topic(t) for t in INPUT_TOPICS}
    offsets = await admin.list_consumer_group_offsets(settings.app_id)
    return sum(o.offset for tp, o in offsets.items() if tp.topic in topics)


async def test_workers_join_and_leave_mid_stream(kafka, run_worker, expected, settings, tmp_path):
    budgets, stream = budget_stream("r", CUSTOMERS, USAGE_PER_CUSTOMER, NOTICES, seed=11)
    first = run_worker(data_dir=tmp_path / "data-1")
    second = run_worker(instance_id=f"{settings.app_id}-worker-2", data_dir=tmp_path / "data-2")
    await kafka.produce(budgets)
    await kafka.wait_consumed(timeout=STEP_TIMEOUT_S)

    rush: list[float] = []
    """When the rush starts and ends (monotonic), once known."""

    async def trickle() -> None:
        # A live stream: workers come and go while events keep arriving.
        i = 0
        while i < len(stream):
            now = time.monotonic()
            count = RUSH_RATE // 10 if rush and rush[0] <= now < rush[1] else RATE // 10
            await kafka.produce(stream[i : i + count])
            i += count
            await asyncio.sleep(0.1)

    running = [first, second]

    def assert_running() -> None:
        gone = [w.log_path.name for w in running if not w.running]
        assert not gone, f"workers exited that should have kept running: {gone}"

    producing = asyncio.create_task(trickle())
    steps: list[tuple[str, int]] = []
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        base = await committed_inputs(admin, settings)

        async def advance(share: float) -> int:
            # Wait for the group to commit ``share`` more of the stream (processing goes on).
            start = await committed_inputs(admin, settings)
            deadline = time.monotonic() + STEP_TIMEOUT_S
            while (done := await committed_inputs(admin, settings)) < start + share * len(stream):
                assert_running()
                assert time.monotonic() < deadline, f"no progress past {done - base}"
                await asyncio.sleep(0.1)
            return done - base

        everything = {f"{settings.topic(t)}:{p}" for t in INPUT_TOPICS for p in range(4)}

        async def rebalanced(workers: list[Any], before: dict[Any, int]) -> None:
            # Each of ``workers`` has logged an assignment since ``before``, and they own
            # every input partition between them.
            deadline = time.monotonic() + STEP_TIMEOUT_S
            while True:
                assert_running()
                now = {w: assignments(w) for w in workers}
                moved = all(len(now[w]) > before.get(w, 0) for w in workers)
                if moved and everything <= set().union(*(now[w][-1] for w in workers)):
                    return
                assert time.monotonic() < deadline, "no rebalance"
                await asyncio.sleep(0.2)

        # Scale out: a dynamic member (no instance id) joins the two static ones, which keep
        # their partitions through the rebalance (a quick one: every member is there).
        steps.append(("join", await advance(0.01)))
        before = {w: len(assignments(w)) for w in (first, second)}
        third = run_worker(instance_id=None, data_dir=tmp_path / "data-3")
        running.append(third)
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while not any(r.get("event") == "worker starting" for r in third.log_records()):
            assert_running()
            assert time.monotonic() < deadline, "the third worker did not start"
            await asyncio.sleep(0.1)
        rush.extend(time.monotonic() + delay for delay in RUSH_S)
        await rebalanced([first, second, third], before)
        # Once they are processing again: a deploy stops one static member cleanly, and a
        # crash kills the other. Static members send no LeaveGroup: the group rebalances
        # after the session timeout, and the third takes over the partitions of both, the
        # stopped one's committed, the killed one's with open transactions to abort.
        steps.append(("sigterm", await advance(0.02)))
        before = {third: len(assignments(third))}
        running.remove(first)
        code = await asyncio.to_thread(first.stop)
        assert code == 0, f"the stopped worker exited with {code}"
        steps.append(("sigkill", await advance(0.005)))
        running.remove(second)
        await asyncio.to_thread(second.kill)
        await rebalanced([third], before)
        await producing
        # Each change must land mid-stream, or the test proves nothing.
        assert all(0 < done < len(stream) for _, done in steps), steps

        # The last worker takes every partition over and catches up.
        waiting = asyncio.create_task(kafka.wait_consumed(timeout=STEP_TIMEOUT_S))
        while not waiting.done():
            assert_running()
            await asyncio.sleep(0.2)
        await waiting
        assert_running()
    finally:
        producing.cancel()
        await admin.close()

    want = expected([*budgets, *stream])
    alerts = alerts_of(await kafka.read_to_end("alerts"))
    seen = Counter((a["alert_id"], a["revision"]) for a in alerts)
    repeated = {k: n for k, n in seen.items() if n > 1}
    assert not repeated, f"{len(repeated)} alerts repeated"
    wanted = {(a.alert_id, a.revision) for a in want.alerts}
    assert len(wanted) > 400
    assert set(seen) - wanted == set(), f"{len(set(seen) - wanted)} unexpected alerts"
    lost = wanted - set(seen)
    if lost:
        # Say where they are: still behind an open transaction (the last stable offset short
        # of the log's end), or never written. Read again after a while, in case that moves.
        where = await kafka.ends("alerts")
        await asyncio.sleep(10)
        again = {
            (a["alert_id"], a["revision"]) for a in alerts_of(await kafka.read_to_end("alerts"))
        }
        later = await kafka.ends("alerts")
        raise AssertionError(
            f"{len(lost)} alerts lost; per partition (stable end, log end) {where}, "
            f"10 s later {later}, {len(lost - again)} still missing"
        )

    requests = Counter(r.json()["request_id"] for r in await kafka.read_to_end("enforcement"))
    assert want.requests, "the stream asks for enforcement (the premise)"
    assert not {k: n for k, n in requests.items() if n > 1}, "enforcement requests repeated"
    assert set(requests) == {r.request_id for r in want.requests}
    assert await kafka.read_to_end("dead-letter") == []
