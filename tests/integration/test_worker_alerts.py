"""The worker turns contract events into the alerts, requests and risk view replay gives."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest

from streamwatch import testing as build
from streamwatch.live import metrics

pytestmark = pytest.mark.integration

CUSTOMER = "cust-budget"
MINER = "cust-miner"


def budget_events() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A $100 budget, then usage crossing 50%, 80% and 100% within two days."""
    budget = build.budget_set(100.0, customer_id=CUSTOMER, ts="2026-10-01T00:00:00Z")
    costs = [(1, 30.0), (2, 25.0), (3, 20.0), (4, 10.0), (5, 20.0)]
    usage = [
        build.usage(CUSTOMER, ts=f"2026-10-01T{hour:02d}:00:00Z", cost=cost) for hour, cost in costs
    ]
    return budget, usage


async def wait_for(check: Any, timeout: float = 30.0) -> Any:
    """Poll ``await check()`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.2)


async def test_budget_and_notice_raise_alerts_requests_and_risk_view(
    kafka, run_worker, risk_view, expected, cli
):
    budget, usage = budget_events()
    notice = build.provider_notice(
        "aup.crypto_mining", customer_id=MINER, ts="2026-10-01T02:30:00Z", notice_id="N-42"
    )
    worker = run_worker()
    # The three input topics are read in no fixed order relative to each other: the budget
    # must be in place before the usage that crosses it (as replay's event-time order has it).
    await kafka.produce([budget])
    await kafka.wait_consumed()
    await kafka.produce([*usage, notice])

    want = expected([budget, *usage, notice])
    alerts = [r.json() for r in await kafka.read_topic("alerts", until_count=4, timeout=60)]
    assert {(a["alert_id"], a["kind"], a["event_time"], a["revision"]) for a in alerts} == {
        (a.alert_id, a.kind, a.event_time, a.revision) for a in want.alerts
    }
    assert len(alerts) == 4
    budget_alerts = sorted(
        (a for a in alerts if a["kind"] == "budget_threshold"), key=lambda a: a["event_time"]
    )
    assert [a["evidence"]["threshold"] for a in budget_alerts] == ["50%", "80%", "100%"]
    assert [a["event_time"] for a in budget_alerts] == [
        "2026-10-01T02:00:00Z",
        "2026-10-01T04:00:00Z",
        "2026-10-01T05:00:00Z",
    ]

    await kafka.wait_consumed()
    requests = [r.json() for r in await kafka.read_to_end("enforcement")]
    assert sorted((r["request_id"], r["action"], r["requires_approval"]) for r in requests) == (
        sorted((r.request_id, r.action, r.requires_approval) for r in want.requests)
    )
    by_policy = {r["policy"]: r for r in requests}
    assert by_policy["provider-aup-suspend"]["action"] == "suspend"
    assert by_policy["provider-aup-suspend"]["requires_approval"] is True
    assert by_policy["provider-notice-notify"]["action"] == "notify"
    assert by_policy["budget-exhausted-notify"]["action"] == "notify"
    assert all(r.key == r.json()["customer_id"].encode() for r in await kafka.read_to_end("alerts"))

    async def view_complete() -> Any:
        view = await risk_view.customer(CUSTOMER)
        return view if view is not None and view.open_alerts == 3 else None

    view = await wait_for(view_complete)
    assert view is not None
    assert {a["kind"] for a in view.alerts} == {"budget_threshold"}
    assert 0 < view.risk < 1
    miner = await wait_for(lambda: risk_view.customer(MINER))
    assert miner.alerts[0]["kind"] == "provider_notice"
    # The view is ordered by money at risk within each currency (no rates given): the budget
    # customer's $105 of unbilled usage in USD; the miner, of whose money nothing is known, is
    # listed apart (its risk is higher).
    top = await risk_view.top(2)
    assert top.converted == ()
    assert [row.customer_id for row in top.apart["USD"]] == [CUSTOMER]
    assert top.apart["USD"][0].amount >= 105.0
    assert [row.customer_id for row in top.unknown] == [MINER]
    assert top.unknown[0].risk > top.apart["USD"][0].risk
    counts = await wait_for(
        lambda: _counts_at_least(risk_view, {metrics.EVENTS: 7, metrics.ALERTS: 4})
    )
    assert counts[metrics.REQUESTS] == 3

    shown = cli("risk", CUSTOMER)
    assert shown.returncode == 0, shown.stderr
    assert f"customer {CUSTOMER}" in shown.stdout
    assert "open alerts  3" in shown.stdout
    assert orjson.loads(cli("risk", CUSTOMER, "--json").stdout)["open_alerts"] == 3
    listed = cli("risk", "--top", "5").stdout.splitlines()
    assert listed[0].startswith("no currency rates given")
    assert listed[listed.index("in USD:") + 1].split()[1] == CUSTOMER
    assert cli("risk", "nobody").returncode == 1
    assert worker.stop() == 0, "SIGTERM must stop the worker cleanly"


async def _counts_at_least(risk_view: Any, wanted: dict[str, int]) -> dict[str, int] | None:
    counts = await risk_view.metrics()
    return counts if all(counts.get(k, 0) >= v for k, v in wanted.items()) else None


async def test_repeated_event_id_is_processed_once(kafka, run_worker, risk_view, expected):
    budget = build.budget_set(100.0, customer_id=CUSTOMER, ts="2026-10-01T00:00:00Z")
    first = build.usage(CUSTOMER, ts="2026-10-01T01:00:00Z", cost=40.0, event_id="u-1")
    again = dict(first)  # same event_id: must not count the $40 twice (that would be 80%)
    second = build.usage(CUSTOMER, ts="2026-10-01T02:00:00Z", cost=15.0, event_id="u-2")
    notice = build.provider_notice(customer_id=MINER, ts="2026-10-01T03:00:00Z", event_id="n-1")
    run_worker()
    await kafka.produce([budget])
    await kafka.wait_consumed()
    await kafka.produce([first, again, second, notice, notice])
    await kafka.wait_consumed()

    alerts = [r.json() for r in await kafka.read_to_end("alerts")]
    assert sorted((a["kind"], a["event_time"]) for a in alerts) == [
        ("budget_threshold", "2026-10-01T02:00:00Z"),
        ("provider_notice", "2026-10-01T03:00:00Z"),
    ]
    assert [a["evidence"]["threshold"] for a in alerts if a["kind"] == "budget_threshold"] == [
        "50%"
    ]
    want = expected([budget, first, again, second, notice, notice])
    assert {(a["alert_id"], a["revision"]) for a in alerts} == {
        (a.alert_id, a.revision) for a in want.alerts
    }
    counts = await wait_for(lambda: _counts_at_least(risk_view, {metrics.DUPLICATES: 2}))
    assert counts[metrics.DUPLICATES] == 2
    assert counts[metrics.EVENTS] == 6
