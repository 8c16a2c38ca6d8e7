"""The worker processes a partition's three input topics in event-time order, as replay does,
however far apart Kafka delivers them: a backlog read after an outage gives replay's alerts."""

from __future__ import annotations

from typing import Any

import pytest

from streamwatch import testing as build

pytestmark = pytest.mark.integration

SIGNUP = "2026-10-05T00:00:00Z"
CARD = "2026-10-05T00:05:00Z"
USAGE_HOURS = 12
FILLERS = 40


def card(customer: str, ts: str) -> dict[str, Any]:
    """A credit card whose countries agree with the sign-up's: it secures the usage."""
    return build.payment(
        "instrument.added",
        customer,
        ts=ts,
        amount=None,
        instrument={"type": "credit_card", "fingerprint": f"fp-{customer}", "country": "DE"},
        billing_country="DE",
    )


def signup(customer: str) -> dict[str, Any]:
    props = {"country": "DE", "ip_country": "DE"}
    return build.activity("customer.signup", customer, ts=SIGNUP, properties=props)


def backlog() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(usage, activity, payments), each in event-time order.

    New customers sign up, half of them add a card five minutes later, and all use an hour
    later. Customers established before the stream set budgets and add cards days earlier, so
    that on every partition the new customers' sign-ups and cards sit behind many older
    messages of their topics, while their usage leads the usage topic.
    """
    new = [f"new-{n:02d}" for n in range(8)]
    with_card = new[::2]
    usage = [
        build.usage(c, ts=f"2026-10-05T{hour:02d}:30:00Z", cost=25.0)
        for hour in range(1, USAGE_HOURS + 1)
        for c in new
    ]
    old = [f"old-{n:02d}" for n in range(FILLERS)]
    activity = [
        build.budget_set(500.0, customer_id=c, ts=f"2026-10-01T00:{n:02d}:00Z")
        for n, c in enumerate(old)
    ] + [signup(c) for c in new]
    payments = [card(c, f"2026-10-02T00:{n:02d}:00Z") for n, c in enumerate(old)] + [
        card(c, CARD) for c in with_card
    ]
    return usage, activity, payments


async def test_a_backlog_is_processed_in_event_time_order_across_topics(
    kafka, run_worker, expected
):
    usage, activity, payments = backlog()
    # Produced topic by topic, usage first, all before the worker starts: a backlog.
    for events in (usage, activity, payments):
        await kafka.produce(events)
    worker = run_worker()
    await kafka.wait_consumed(timeout=120)

    ordered = sorted([*usage, *activity, *payments], key=lambda e: (e["ts"], e["event_id"]))
    want = expected(ordered).alerts
    live = [r.json() for r in await kafka.read_to_end("alerts")]
    unpaid = {a.customer_id for a in want if a.kind == "usage_before_payment"}
    assert unpaid == {f"new-{n:02d}" for n in range(1, 8, 2)}, "only those with no card"
    assert sorted(
        (a["alert_id"], a["revision"], a["customer_id"], a["kind"], a["event_time"]) for a in live
    ) == sorted((a.alert_id, a.revision, a.customer_id, a.kind, a.event_time) for a in want)
    records = list(worker.log_records())
    assert any(r.get("event") == "alert" for r in records), "info lines are logged"
    late = [r for r in records if r.get("event") == "late event"]
    assert late == [], "replay of the same topics counts no late event, nor may the worker"
