"""``streamwatch ingest`` on the real broker: Azure Activity Log records, in the shape diagnostic
settings export them to an Event Hub (``{"records": [...]}``), produced raw to a topic, come out
as contract events on the input topics, and the worker turns those into the alerts replay gives
for the same events. Records the adapter refuses (an interim ``Start`` record, a message that is
not JSON) go to the dead-letter topic with code ``unmappable``; nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from processes import ServiceProcess

from conftest import worker_env
from streamwatch.adapters import FORMATS
from streamwatch.adapters.base import Context
from streamwatch.kafka_clients import client_options
from streamwatch.live.ingest import IngestMapper
from streamwatch.settings import INPUT_TOPICS, TopicNames

pytestmark = pytest.mark.integration

TENANT = "tenant-ingest"
"""Records carry no customer map here: the tenant id names the customer."""
SUB = "11111111-2222-3333-4444-555555555555"
VM = f"/SUBSCRIPTIONS/{SUB}/RESOURCEGROUPS/RG1/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/VM"
TIMEOUT_S = 90.0


def export_record(n: int, **over: Any) -> dict[str, Any]:
    """One activity-log record as diagnostic settings export it (an element of ``records``)."""
    doc: dict[str, Any] = {
        "time": f"2026-10-02T{8 + n // 60:02d}:{n % 60:02d}:00.1234567Z",
        "resourceId": f"{VM}{n}",
        "operationName": "MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE",
        "category": "Administrative",
        "resultType": "Success",
        "resultSignature": "Succeeded.Created",
        "callerIpAddress": "198.51.100.4",
        "correlationId": f"corr-{n}",
        "identity": {
            "claims": {
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "ops@contoso.example"
            }
        },
        "level": "Information",
        "properties": {
            "eventCategory": "Administrative",
            "requestbody": orjson.dumps(
                {
                    "location": "westeurope",
                    "properties": {"hardwareProfile": {"vmSize": "Standard_D2s_v5"}},
                }
            ).decode(),
        },
        "tenantId": TENANT,
    }
    doc.update(over)
    return doc


def security_alert(n: int, name: str) -> dict[str, Any]:
    """A Defender for Cloud alert as the activity log's Security category exports it."""
    return export_record(
        n,
        category="Security",
        operationName="Microsoft.Security/locations/alerts/activate/action",
        resultType="Active",
        eventName=name,
        properties={"eventCategory": "Security", "Severity": "High", "alertDisplayName": name},
    )


def raw_messages() -> list[bytes]:
    """Event Hub messages: batches of records, an interim record, and one that is not JSON."""
    batches = [
        [export_record(n) for n in range(5)],
        [
            export_record(5, resultType="Start", resultSignature="Started."),  # interim
            export_record(5),  # its final record
            security_alert(6, "Digital currency mining related behavior detected"),
        ],
        [security_alert(7, "Anomalous outbound traffic: possible spam")],
    ]
    messages = [orjson.dumps({"records": batch}) for batch in batches]
    messages.insert(1, b'{"records": [{"time": "2026-10-02T08:')  # truncated by its sender
    return messages


def mapped(messages: list[bytes], topics: TopicNames) -> Iterator[tuple[str, bytes, bytes]]:
    """What the bridge must produce for ``messages``: the adapter's own mapping, without Faust."""
    mapper = IngestMapper(FORMATS["azure-activity"], Context(), topics)
    for offset, raw in enumerate(messages):
        yield from mapper.map_message(raw, {"offset": offset}, received_at_ms=0)


async def test_activity_log_export_records_become_alerts(
    kafka, settings, run_worker, expected, tmp_path
):
    raw_topic = settings.topic("raw-activity-log")
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(raw_topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()

    worker = run_worker()
    bridge = ServiceProcess(
        "ingest",
        worker_env(settings),
        tmp_path / "ingest.log",
        ["azure-activity", "--from", raw_topic],
    ).start()
    try:
        messages = raw_messages()
        await kafka.produce([("raw-activity-log", b"hub", m) for m in messages])

        want = list(mapped(messages, settings.topics))
        dead_letter = settings.topics.dead_letter
        events = [orjson.loads(v) for topic, _, v in want if topic != dead_letter]
        dead_wanted = [orjson.loads(v) for topic, _, v in want if topic == dead_letter]
        assert len(events) == 8, "the premise: eight events"
        assert len(dead_wanted) == 2, "the premise: two refusals"

        # The bridge produces exactly the adapter's events, and the refusals as dead letters.
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            assert bridge.running, bridge.log_text()[-3000:]
            produced = {
                orjson.loads(r.value)["event_id"]
                for name in INPUT_TOPICS
                for r in await kafka.read_to_end(name, timeout=5.0)
            }
            if produced >= {e["event_id"] for e in events} or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert produced == {e["event_id"] for e in events}

        await kafka.wait_consumed(timeout=TIMEOUT_S)
        alerts = [r.json() for r in await kafka.read_to_end("alerts")]
        replayed = expected(events)
        assert {(a["alert_id"], a["revision"]) for a in alerts} == {
            (a.alert_id, a.revision) for a in replayed.alerts
        }
        kinds = {a["kind"] for a in alerts}
        assert "provider_notice" in kinds, kinds
        assert {a["customer_id"] for a in alerts} == {TENANT}

        dead = [r.json() for r in await kafka.read_to_end("dead-letter")]
        assert [d["code"] for d in dead] == ["unmappable", "unmappable"]
        assert sorted(d["reason"] for d in dead) == sorted(d["reason"] for d in dead_wanted)
        assert any("interim" in d["reason"] for d in dead)
        assert all(d["source"].get("format") == "azure-activity" for d in dead)
    finally:
        code = bridge.stop()
        assert code == 0, bridge.log_text()[-3000:]
        assert worker.running
