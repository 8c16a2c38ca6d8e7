"""``streamwatch evidence --from-kafka`` gathers one customer's pack from the real topics."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streamwatch import testing as build
from streamwatch.core.timeutil import format_ts, parse_ts_ms
from streamwatch.enforce.messages import request_from_dict, result_message

pytestmark = pytest.mark.integration

CUSTOMER = "cust-evidence"
ALERT_ID = "e" * 32
REQUEST_ID = "f" * 32


def alert(revision: int, day: int, severity: str) -> bytes:
    event_time = f"2026-10-0{day}T00:00:00Z"
    return orjson.dumps({
        "alert_id": ALERT_ID,
        "customer_id": CUSTOMER,
        "kind": "collections",
        "severity": severity,
        "score": 0.9,
        "event_time": event_time,
        "window_start": "2026-10-01T00:00:00Z",
        "window_end": event_time,
        "detected_at": f"2026-10-0{day}T00:00:01Z",
        "reasons": [f"Invoice INV-7 unpaid (revision {revision})."],
        "evidence": {"invoice_id": "INV-7"},
        "subscription_ids": ["sub-1"],
        "detector": {"name": "collections", "version": "1"},
        "revision": revision,
        "money_at_risk": None,
    })  # fmt: skip


async def test_evidence_pack_from_kafka(kafka, cli, tmp_path: Path, settings):
    start = format_ts(time.time_ns() // 1_000_000 - 60_000)
    events = [
        build.payment("invoice.issued", CUSTOMER, ts="2026-10-01T00:00:00Z", amount=300.0,
                      invoice_id="INV-7", due_date="2026-10-02", event_id="ev-inv"),
        build.usage(CUSTOMER, ts="2026-10-01T05:00:00Z", cost=120.0, event_id="ev-u1",
                    sku="Standard_NC24"),
        build.usage(CUSTOMER, ts="2026-10-02T05:00:00Z", cost=80.0, event_id="ev-u2"),
        build.payment("chargeback", CUSTOMER, ts="2026-10-03T00:00:00Z", amount=50.0,
                      invoice_id="INV-7", event_id="ev-cb"),
        build.usage("cust-someone-else", ts="2026-10-01T05:00:00Z", cost=9999.0),
    ]  # fmt: skip
    key = CUSTOMER.encode()
    outputs = [
        ("alerts", key, alert(1, 2, "high")),
        ("alerts", key, alert(2, 3, "critical")),
        ("enforcement", key, orjson.dumps({
            "request_id": REQUEST_ID, "customer_id": CUSTOMER, "action": "suspend",
            "subscription_ids": ["sub-1"], "policy": "collections-suspend",
            "alert_ids": [ALERT_ID], "reason": "Invoice INV-7 unpaid (revision 2).",
            "dry_run": False, "requires_approval": True, "requested_at": "2026-10-03T00:00:01Z",
        })),
    ]  # fmt: skip
    await kafka.produce(events)
    await kafka.produce(outputs)
    out = tmp_path / "pack"

    # Unpaid invoices are not fraud: no credit letter without --force.
    refused = cli("evidence", CUSTOMER, "--from-kafka", "--start", start, "--out", str(out))
    assert refused.returncode == 1, refused.stderr
    assert "no finding of fraud or abuse" in refused.stderr

    # Without the results topic (no suspension worker has reported): outcomes are optional.
    done = cli("evidence", CUSTOMER, "--from-kafka", "--start", start, "--out", str(out), "--force")
    assert done.returncode == 0, done.stderr
    pack = orjson.loads((out / "evidence.json").read_bytes())
    assert pack["counts"] == {
        "events": 4, "alerts": 1, "alert_revisions": 2, "requests": 1, "outcomes": 0,
    }  # fmt: skip
    assert pack["incident"]["start"] == "2026-10-01T00:00:00Z"
    assert pack["money"] == [
        {
            "currency": "USD",
            "consumption_since_incident": 200.0,
            "invoiced": 300.0,
            "paid": 0.0,
            "unpaid": 350.0,
            "charged_back": 50.0,
            "refunded": 0.0,
            "prepaid": 0.0,
        }
    ]
    assert pack["enforcement"][0]["event_time"] == "2026-10-03T00:00:00Z"
    assert pack["enforcement"][0]["status"] == "no outcome recorded"
    assert "| Standard_NC24 | USD | 120.00 | 60.0% |" in (out / "evidence.md").read_text()

    # Once the suspension worker reports, its outcomes join the pack.
    results_topic = kafka.topic("enforcement-results")
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(results_topic, 1, 1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()
    result = result_message(
        request_from_dict(orjson.loads(outputs[2][2])),
        step="apply",
        outcome="done",
        reason="approved and suspended",
        backend="log",
        attempt=1,
        at_ms=parse_ts_ms("2026-10-03T00:05:00Z"),
        approved_by="ops",
    )  # as the suspension worker writes it, the request's action included
    await kafka.produce([("enforcement-results", key, orjson.dumps(result))])
    done = cli("evidence", CUSTOMER, "--from-kafka", "--start", start, "--out", str(out), "--force")
    assert done.returncode == 0, done.stderr
    pack = orjson.loads((out / "evidence.json").read_bytes())
    assert pack["enforcement"][0]["status"] == "done"
    assert [t["what"] for t in pack["timeline"]] == ["alert", "enforcement", "outcome"]
