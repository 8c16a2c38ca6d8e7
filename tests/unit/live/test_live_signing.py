"""The live worker signs enforcement requests under the configured key, and says at start-up
when it has none."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import orjson
from structlog.testing import capture_logs

from streamwatch import testing as build
from streamwatch.config import build_core
from streamwatch.core.engine import Fleet
from streamwatch.core.signing import verify
from streamwatch.live.app import create_app
from streamwatch.live.processor import Processor
from streamwatch.pipeline.ordering import Message
from streamwatch.pipeline.partition import Step
from streamwatch.settings import DeploymentSettings, TopicNames

KEY = ("k1", b"live-secret")


class ListSender:
    """Collects what would be sent inside a transaction."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []

    async def send(
        self, topic: str, key: bytes | None, value: bytes, partition: int | None = None
    ) -> None:
        self.sent.append((topic, key, value))


async def sent_requests(signing_key: tuple[str, bytes] | None) -> list[dict[str, Any]]:
    core = build_core()
    decisions = Fleet(core).run(
        [build.decoded(build.provider_notice(ts="2026-10-01T02:00:00Z"))], lambda: 0
    )
    assert decisions.requests
    topics = TopicNames.with_prefix("t.")
    publisher = SimpleNamespace(counters=None)
    processor = Processor(
        core,
        cast(Any, None),
        cast(Any, None),
        topics,
        cast(Any, publisher),
        lambda _next_offset: cast(Any, None),
        signing_key=signing_key,
    )
    out = ListSender()
    step = Step(Message("t.usage", 0, b"cust-1", b"{}"), requests=decisions.requests)
    await processor._send(out, step)
    return [orjson.loads(value) for topic, _, value in out.sent if topic == topics.enforcement]


async def test_requests_are_signed_when_a_key_is_configured() -> None:
    requests = await sent_requests(KEY)
    assert len(requests) == 2
    for request in requests:
        assert verify(request, dict([KEY])) is None


async def test_requests_go_out_unsigned_without_a_key() -> None:
    requests = await sent_requests(None)
    assert requests
    assert all(verify(r, dict([KEY])) == "unsigned" for r in requests)


def test_worker_warns_once_at_start_up_when_requests_go_out_unsigned(tmp_path: Path) -> None:
    with capture_logs() as logs:
        create_app(DeploymentSettings(data_dir=tmp_path))
    warnings = [e["event"] for e in logs if e["log_level"] == "warning"]
    assert len(warnings) == 1
    assert "unsigned" in warnings[0]


def test_worker_names_the_signing_key_at_start_up(tmp_path: Path) -> None:
    with capture_logs() as logs:
        create_app(DeploymentSettings(data_dir=tmp_path, signing_keys=(KEY,)))
    assert [e for e in logs if e["log_level"] == "warning"] == []
    assert any(e.get("key_id") == "k1" for e in logs)
