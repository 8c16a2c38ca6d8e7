"""``streamwatch topics apply`` creates topics, brings existing ones to the catalogue where Kafka
allows it, plans without changing, and reports what cannot change; the worker needs the topics
to start."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streamwatch import exits
from streamwatch.live.admin import describe

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


async def test_plan_changes_nothing_apply_changes_what_kafka_allows(cli, settings):
    alerts, usage = settings.topics.alerts, settings.topics.usage
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(alerts, 2, 1, topic_configs={"retention.ms": "1000"}),
                NewTopic(usage, 8, 1),
            ]
        )
        plan = cli("topics", "apply", "--plan")
        assert plan.returncode == 0, plan.stderr
        lines = plan.stdout.splitlines()
        assert f"set      {alerts}: retention.ms 1000 -> 2592000000" in lines
        assert f"grow     {alerts}: partitions 2 -> 4 (with --grow-partitions)" in lines
        assert any(
            line.startswith(f"CANNOT   {usage}: partitions is 8 on the broker") for line in lines
        )
        assert sum(line.startswith("create") for line in lines) == len(settings.topics.all) - 2
        assert set((await describe(admin, [alerts, usage])).keys()) == {alerts, usage}
        assert len(await describe(admin, list(settings.topics.all))) == 2

        applied = cli("topics", "apply")
        assert applied.returncode == exits.DRIFT
        drift = [line for line in applied.stdout.splitlines() if line.startswith("DRIFT")]
        assert any(f"{alerts}: partitions is 2" in line for line in drift)
        assert any(f"{usage}: partitions is 8" in line for line in drift)
        assert "--grow-partitions" in applied.stderr
        state = (await describe(admin, [alerts]))[alerts]
        assert (state.config["retention.ms"], state.partitions) == ("2592000000", 2)

        grown = cli("topics", "apply", "--grow-partitions")
        assert grown.returncode == exits.DRIFT  # usage still has more partitions than the catalogue
        assert f"grown    {alerts}: partitions 2 -> 4" in grown.stdout.splitlines()
        assert (await describe(admin, [alerts]))[alerts].partitions == 4
        check = cli("topics", "apply", "--check")
        assert check.returncode == exits.DRIFT
        assert [line for line in check.stdout.splitlines() if not line.startswith("ok")] == [
            f"CANNOT   {usage}: partitions is 8 on the broker, the catalogue says 4"
        ]
    finally:
        await admin.close()


def test_worker_without_topics_exits_with_advice(cli):
    result = cli("worker")
    assert result.returncode == exits.UNAVAILABLE
    assert "streamwatch topics apply" in result.stderr


def test_list_prints_the_catalogue_without_a_broker(cli, settings):
    result = cli("topics", "list")
    assert result.returncode == 0
    assert f"{settings.topic_prefix}dead-letter" in result.stdout
    assert "max.message.bytes = 16777216" in result.stdout
