"""``streamwatch topics apply`` creates and checks topics; the worker needs them to start."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

pytestmark = pytest.mark.integration


async def test_apply_creates_missing_topics_then_finds_them_unchanged(cli, settings):
    first = cli("topics", "apply", "--dir", str(settings.topics_dir))
    assert first.returncode == 0, first.stderr
    assert sorted(line.split()[1] for line in first.stdout.splitlines()) == sorted(
        settings.topics.all
    )
    assert all(line.startswith("created") for line in first.stdout.splitlines())
    again = cli("topics", "apply", "--check")
    assert again.returncode == 0, again.stderr
    assert all(line.startswith("ok") for line in again.stdout.splitlines())


async def test_apply_reports_drift_and_exits_non_zero(cli, settings):
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(settings.topics.alerts, 2, 1, topic_configs={"retention.ms": "1000"})]
        )
    finally:
        await admin.close()
    result = cli("topics", "apply")
    assert result.returncode == 3
    drift = [line for line in result.stdout.splitlines() if line.startswith("DRIFT")]
    assert any(f"{settings.topics.alerts}: partitions is 2" in line for line in drift)
    assert any("retention.ms is 1000" in line for line in drift)
    assert "never altered" in result.stderr


def test_worker_without_topics_exits_with_advice(cli):
    result = cli("worker")
    assert result.returncode == 2
    assert "streamwatch topics apply" in result.stderr


def test_list_prints_the_catalogue_without_a_broker(cli, settings):
    result = cli("topics", "list")
    assert result.returncode == 0
    assert f"{settings.topic_prefix}dead-letter" in result.stdout
    assert "max.message.bytes = 16777216" in result.stdout
