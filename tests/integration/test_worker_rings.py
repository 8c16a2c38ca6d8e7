"""Rings live: the worker links accounts behind one device through its re-key topic and ring
table, across a SIGKILL between the second and third sign-up, and gives replay's alerts."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
import pytest

from streamwatch import testing as build
from streamwatch.config import build_core
from streamwatch.core.rings import LINK_OPERATION
from streamwatch.replay.runner import ListSink, Replay, Source
from streamwatch.testing import FakeClock

pytestmark = pytest.mark.integration

DEVICE = "dev-5f0c9a1e7b2d4c68"


def signup(customer: str, ts: str, ip: str) -> dict[str, Any]:
    props = {
        "country": "NL",
        "email_domain": "yopmail.com",
        "phone_verified": False,
        "device_fingerprint": DEVICE,
        "ip_country": "NL",
    }
    return build.activity(
        "customer.signup", customer, ts, props, event_id=f"{customer}-signup", actor_ip=ip
    )


def card(customer: str, ts: str) -> dict[str, Any]:
    instrument = {"type": "prepaid_card", "fingerprint": f"card-{customer}", "country": "NL"}
    return build.payment(
        "instrument.added",
        customer,
        ts,
        amount=None,
        event_id=f"{customer}-card",
        instrument=instrument,
        billing_country="NL",
    )


def replayed(events: list[dict[str, Any]]) -> set[tuple[str, int, str, str]]:
    sink = ListSink()
    lines = [orjson.dumps(e) for e in events]
    Replay(build_core(), sink, clock=FakeClock()).run(
        [Source(((line, n) for n, line in enumerate(lines)), lambda n: {"line": n})]
    )
    return {(a.alert_id, a.revision, a.customer_id, a.kind) for a in sink.alerts}


async def ring_links(kafka: Any) -> list[dict[str, Any]]:
    docs = [r.json() for r in await kafka.read_to_end("activity")]
    return [d for d in docs if d.get("operation") == LINK_OPERATION]


async def test_third_member_is_linked_to_the_first_two_after_a_sigkill(kafka, run_worker):
    first = [signup("ring-a", "2026-10-01T02:00:00Z", "203.0.113.7")]
    first.append(card("ring-a", "2026-10-01T02:03:00Z"))
    second = [signup("ring-b", "2026-10-01T02:20:00Z", "198.51.100.23")]
    third = [signup("ring-c", "2026-10-01T02:41:00Z", "192.0.2.80")]
    third.append(card("ring-c", "2026-10-01T02:44:00Z"))

    worker = run_worker()
    await kafka.produce(first)
    await kafka.wait_consumed(timeout=120)
    assert await ring_links(kafka) == [], "one account is no ring"
    await kafka.produce(second)
    await kafka.wait_consumed(timeout=120)
    links = await ring_links(kafka)
    assert sorted(d["customer_id"] for d in links) == ["ring-a", "ring-b"]
    assert {d["properties"]["count"] for d in links} == {2}

    worker.kill()  # the ring's state must come back from its changelog
    worker.start()
    await kafka.produce(third)
    await kafka.wait_consumed(timeout=180)

    links = await ring_links(kafka)
    assert Counter(d["event_id"] for d in links).most_common(1)[0][1] == 1, "a link repeated"
    third_links = [d for d in links if d["properties"]["joined"] == "ring-c"]
    assert sorted(d["customer_id"] for d in third_links) == ["ring-a", "ring-b", "ring-c"]
    for link in third_links:
        assert link["actor"] == "streamwatch"
        assert link["ts"] == "2026-10-01T02:41:00Z"
        assert [m["customer_id"] for m in link["properties"]["members"]] == [
            "ring-a",
            "ring-b",
            "ring-c",
        ]
        assert DEVICE not in orjson.dumps(link).decode(), "raw fingerprints stay out"

    alerts = [r.json() for r in await kafka.read_to_end("alerts")]
    ring_alerts = [a for a in alerts if a["kind"] == "bot_signup"]
    live = [(a["alert_id"], a["revision"], a["customer_id"], a["kind"]) for a in alerts]
    assert len(live) == len(set(live)), "an alert repeated"
    assert set(live) == replayed([*first, *second, *third])
    assert {a["customer_id"] for a in ring_alerts} == {"ring-a", "ring-b", "ring-c"}
    assert await kafka.read_to_end("dead-letter") == []
