"""The ingest bridge's decision, without a broker: raw messages to input topics and dead
letters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from streamwatch.adapters import azure_activity
from streamwatch.adapters.base import Context
from streamwatch.core.deadletter import original_bytes
from streamwatch.live.ingest import IngestMapper, create_ingest_app
from streamwatch.settings import DeploymentSettings, TopicNames

SUB = "11111111-2222-3333-4444-555555555555"


def record(
    result: str, operation: str = "MICROSOFT.COMPUTE/VIRTUALMACHINES/DELETE"
) -> dict[str, Any]:
    return {
        "time": "2026-10-02T08:00:00Z",
        "resourceId": f"/SUBSCRIPTIONS/{SUB}/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.COMPUTE/"
        "VIRTUALMACHINES/VM1",
        "operationName": operation,
        "category": "Administrative",
        "resultType": result,
        "correlationId": "c-1",
        "callerIpAddress": "198.51.100.4",
        "identity": {"claims": {"name": "ops@contoso.com"}},
        "tenantId": "tenant-1",
    }


def test_export_batch_goes_to_activity_and_interim_record_to_dead_letter() -> None:
    topics = TopicNames.with_prefix("t-")
    mapper = IngestMapper(azure_activity, Context(), topics)
    raw = orjson.dumps({"records": [record("Start"), record("Success")]})
    source = {"topic": "insights-activity-logs", "partition": 0, "offset": 9, "key": b""}
    out = mapper.map_message(raw, source, 1_790_000_000_000)
    assert [topic for topic, _, _ in out] == ["t-dead-letter", "t-activity"]
    dead = orjson.loads(out[0][2])
    assert dead["code"] == "unmappable"
    assert dead["reason"].startswith("unmappable: interim_status:")
    assert dead["source"]["format"] == "azure-activity"
    assert original_bytes(dead) == raw
    _, key, value = out[1]
    event = orjson.loads(value)
    assert (key, event["operation"], event["status"]) == (b"tenant-1", "vm.delete", "succeeded")
    assert mapper.run.summary.refused == {"interim_status": 1}


def test_not_json_is_dead_lettered_and_redelivery_gives_the_same_events() -> None:
    mapper = IngestMapper(azure_activity, Context(), TopicNames.with_prefix(""))
    source = {"topic": "raw", "partition": 1, "offset": 3}
    (dead,) = mapper.map_message(b'{"records": [', source, 0)
    assert dead[0] == "dead-letter"
    assert orjson.loads(dead[2])["reason"].startswith("unmappable: invalid_json")
    raw = orjson.dumps({"records": [record("Success")]})
    assert mapper.map_message(raw, source, 1) == mapper.map_message(raw, source, 2)


def test_ingest_app_is_built_without_connecting(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = DeploymentSettings.from_env(
        {"STREAMWATCH_APP_ID": "sw-test", "STREAMWATCH_DATA_DIR": str(data)}
    )
    app = create_ingest_app(settings, azure_activity, Context(), "insights-activity-logs")
    assert app.conf.id == "sw-test-ingest-azure-activity"
    assert "streamwatch.ingest" in app.agents
    # Faust's files go under the data directory, not the working directory; Faust creates
    # its own folder there once the data directory exists.
    assert app.conf.datadir == data / "sw-test-ingest-azure-activity"
    assert settings.prepare_data_dir() == data
    assert (data / ".gitignore").read_text().endswith("*\n")
    app.conf.datadir.mkdir(exist_ok=True)  # as Faust's worker does on start
