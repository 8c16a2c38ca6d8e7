"""Helpers for the suspension worker's integration tests: signed requests, a policy with caps,
``streamwatch enforce`` as a subprocess, the CLI with the test's keys, and reading results."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from processes import REPO, ServiceProcess, security_env

from streamwatch.core.ids import stable_id
from streamwatch.core.signing import signed
from streamwatch.settings import ENFORCEMENT, DeploymentSettings

KEY_ID = "test-1"
KEY = b"test-signing-secret"
APPROVERS = ("alice", "bob", "carol")
"""People who may decide; each has a key of their own (``approver_key``)."""


def approver_key(name: str) -> tuple[str, bytes]:
    """``name``'s own key (id, secret)."""
    return name, f"{name}-approver-secret".encode()


def approver_env(name: str) -> str:
    """STREAMWATCH_APPROVER_KEY of ``name``."""
    key_id, secret = approver_key(name)
    return f"{key_id}:{secret.decode()}"


WEBHOOK_SECRET = "test-webhook-secret"

POLICY = """
version = "test"

[[rule]]
id = "mining-suspend"
kinds = ["crypto_mining"]
action = "suspend"
requires_approval = false
max_customers_per_hour = 5

[[rule]]
id = "notice-suspend"
kinds = ["provider_notice"]
action = "suspend"
requires_approval = true

[[rule]]
id = "budget-notify"
kinds = ["budget_threshold"]
action = "notify"
"""


def request(
    customer_id: str,
    *,
    policy: str = "budget-notify",
    action: str = "notify",
    alert: str = "a",
    dry_run: bool = False,
    requires_approval: bool = False,
) -> dict[str, Any]:
    """An unsigned enforcement request in the wire form, with a deterministic id."""
    alert_id = stable_id("alert", customer_id, alert)
    return {
        "request_id": stable_id(customer_id, policy, action, alert_id),
        "customer_id": customer_id,
        "action": action,
        "subscription_ids": [f"sub-{customer_id}"],
        "policy": policy,
        "alert_ids": [alert_id],
        "reason": f"test request for {customer_id}",
        "dry_run": dry_run,
        "requires_approval": requires_approval,
        "requested_at": "2026-10-01T03:00:00Z",
    }


def sign(doc: dict[str, Any], key_id: str = KEY_ID, key: bytes = KEY) -> dict[str, Any]:
    """``doc`` signed with the test key (or another)."""
    return signed(doc, key_id, key)


def as_messages(docs: list[dict[str, Any]]) -> list[tuple[str, bytes, bytes]]:
    """Requests as ``(topic, key, value)`` for ``KafkaHelper.produce``."""
    return [(ENFORCEMENT, doc["customer_id"].encode(), orjson.dumps(doc)) for doc in docs]


def enforce_env(settings: DeploymentSettings, policy_path: Path, **extra: str) -> dict[str, str]:
    """The environment of ``streamwatch enforce`` and the CLI for this test."""
    env = dict(os.environ)
    env.update(
        STREAMWATCH_KAFKA=settings.kafka,
        STREAMWATCH_REDIS=settings.redis,
        STREAMWATCH_TOPIC_PREFIX=settings.topic_prefix,
        STREAMWATCH_APP_ID=settings.app_id,
        STREAMWATCH_TOPICS_DIR=str(settings.topics_dir),
        STREAMWATCH_POLICY=str(policy_path),
        STREAMWATCH_SIGNING_KEYS=f"{KEY_ID}:{KEY.decode()},old:retired-secret",
        STREAMWATCH_APPROVER_KEYS=",".join(approver_env(name) for name in APPROVERS),
        STREAMWATCH_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STREAMWATCH_HTTP=settings.http or "127.0.0.1:0",
        PYTHONUNBUFFERED="1",
    )
    security_env(env, settings.kafka_security)
    if settings.instance_id is not None:
        env["STREAMWATCH_INSTANCE_ID"] = settings.instance_id
    env.update(extra)
    return env


class EnforceProcess(ServiceProcess):
    """``python -m streamwatch enforce`` with ``env``."""

    def __init__(self, env: dict[str, str], log_path: Path, args: list[str]) -> None:
        super().__init__("enforce", env, log_path, args)

    def applied(self) -> list[dict[str, Any]]:
        """The log backend's ``enforcement action applied`` lines, in order."""
        return [r for r in self.log_records() if r.get("event") == "enforcement action applied"]


def run_cli(
    env: dict[str, str], *args: str, timeout: float = 90.0
) -> subprocess.CompletedProcess[str]:
    """``python -m streamwatch *args`` with ``env``; ``--by NAME`` runs it as that person, with
    their own key (STREAMWATCH_APPROVER_KEY), unless ``env`` names a key already."""
    if "--by" in args and "STREAMWATCH_APPROVER_KEY" not in env:
        env = {**env, "STREAMWATCH_APPROVER_KEY": approver_env(args[args.index("--by") + 1])}
    return subprocess.run(
        [sys.executable, "-m", "streamwatch", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=timeout,
        check=False,
    )


async def wait_committed(
    settings: DeploymentSettings, group: str, topics: list[str], timeout: float = 60.0
) -> None:
    """Wait until ``group`` has committed every message of ``topics`` produced so far."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await consumer.start()
    await admin.start()
    try:
        partitions = []
        for topic in topics:
            for _ in range(50):
                ids = consumer.partitions_for_topic(topic)
                if ids:
                    break
                await consumer._client.force_metadata_update()  # no public refresh
                await asyncio.sleep(0.1)
            partitions.extend(TopicPartition(topic, p) for p in sorted(ids or ()))
        ends = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout
        while True:
            try:
                committed = await admin.list_consumer_group_offsets(group)
            except KafkaError as exc:
                if not exc.retriable or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
                continue
            behind = {
                tp: (committed[tp].offset if tp in committed else 0, end)
                for tp, end in ends.items()
                if (committed[tp].offset if tp in committed else 0) < end
            }
            if not behind:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{group} still behind after {timeout}s: {behind}")
            await asyncio.sleep(0.3)
    finally:
        await consumer.stop()
        await admin.close()


def by_request(results: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Results grouped by request id, each list in the order read."""
    out: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        out.setdefault(result["request_id"], []).append(result)
    return out
