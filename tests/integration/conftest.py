"""Fixtures for tests against the real Kafka and Redis (``bash deploy/services.sh up``).

Every test gets its own topic prefix, consumer group (app id) and Redis key prefix, so tests
never see each other's data. Reusable pieces:

- ``services``: checks Kafka and Redis answer; FAILS the test (never skips) if they do not.
- ``kafka``: a ``KafkaHelper`` bound to the test's prefix, with the catalogue's topics created:
  ``await kafka.produce(events)``, ``await kafka.read_topic(name, until_count, timeout)``,
  ``await kafka.read_to_end(name)``, ``await kafka.wait_consumed(timeout)``.
- ``run_worker``: ``run_worker()`` starts ``python -m streamwatch worker`` as a subprocess for
  the test's prefix and returns a ``WorkerProcess`` (``kill``, ``stop``, ``restart``,
  ``log_text``); all are stopped at teardown, and their logs printed if the test failed.
  Keyword arguments change that worker's settings (``instance_id``, ``data_dir``, ...).
- ``risk_view``: the test's ``RiskView`` on Redis (async reads).
- ``cli``: ``cli(*args)`` runs ``python -m streamwatch *args`` with the test's settings.
- ``expected``: ``expected(events)`` runs the same events through ``core.engine.Fleet`` with
  the default policy, for comparing the worker's output with replay.

Point them at other servers with STREAMWATCH_KAFKA and STREAMWATCH_REDIS.

Order: the worker and replay run the same partition pipeline (``streamwatch.pipeline``): each
topic partition in offset order, the three input topics of a partition merged by event time. A
customer's events on different topics may be produced in any order; within one topic neither
reorders (``replay --sort`` does, for analysts).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from processes import REPO, ServiceProcess, worker_env
from redis.asyncio import Redis
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from streamwatch.config import build_core
from streamwatch.core.codec import decode_event
from streamwatch.core.engine import Decisions, Fleet
from streamwatch.core.policy import parse_policy
from streamwatch.kafka_clients import client_options
from streamwatch.live.admin import apply_catalogue
from streamwatch.live.catalogue import load_catalogue, packaged_catalogue
from streamwatch.live.redis_view import RiskView
from streamwatch.live.rings import ring_keys_topic
from streamwatch.settings import (
    ACTIVITY,
    DEFAULT_KAFKA,
    DEFAULT_REDIS,
    INPUT_TOPICS,
    PAYMENTS,
    USAGE,
    DeploymentSettings,
)

TOPICS_DIR = packaged_catalogue()
MAX_BYTES = 16 * 1024 * 1024 + 64 * 1024
TOPIC_OF_TYPE = {"usage": USAGE, "activity": ACTIVITY, "payment": PAYMENTS}
HINT = "Start Kafka and Redis with: bash deploy/services.sh up"


@dataclass(frozen=True)
class Services:
    """Where the real servers are."""

    kafka: str
    redis: str

    @property
    def bootstrap(self) -> list[str]:
        return [s.strip() for s in self.kafka.split(",") if s.strip()]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item, so fixtures know whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def services() -> Services:
    """The Kafka broker and Redis server, checked once; the test FAILS if either is down."""
    found = Services(
        kafka=os.environ.get("STREAMWATCH_KAFKA") or DEFAULT_KAFKA,
        redis=os.environ.get("STREAMWATCH_REDIS") or DEFAULT_REDIS,
    )
    try:
        asyncio.run(_check_kafka(found.bootstrap))
    except Exception as exc:
        pytest.fail(f"Kafka is not answering at {found.kafka} ({exc!r}). {HINT}", pytrace=False)
    try:
        redis.Redis.from_url(found.redis, socket_connect_timeout=3, socket_timeout=3).ping()
    except Exception as exc:
        pytest.fail(f"Redis is not answering at {found.redis} ({exc!r}). {HINT}", pytrace=False)
    return found


async def _check_kafka(bootstrap: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await asyncio.wait_for(admin.start(), timeout=10)
        await asyncio.wait_for(admin.describe_cluster(), timeout=10)
        # On a fresh broker the first group request creates __consumer_offsets; wait for its
        # coordinator here once, rather than have the first test meet a retriable error.
        deadline = time.monotonic() + 30
        while True:
            try:
                await admin.list_consumer_group_offsets("streamwatch-test-warmup")
                return
            except KafkaError as exc:
                if not exc.retriable or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
    finally:
        await admin.close()


@pytest.fixture
def prefix() -> str:
    """A topic, app-id and Redis-key prefix of this test alone."""
    return f"it-{uuid.uuid4().hex[:10]}."


@pytest.fixture
def settings(services: Services, prefix: str, tmp_path: Path) -> DeploymentSettings:
    """The DeploymentSettings a worker for this test runs with."""
    return DeploymentSettings(
        kafka=services.kafka,
        redis=services.redis,
        topic_prefix=prefix,
        app_id=f"{prefix}app",
        data_dir=tmp_path / "worker-data",
        topics_dir=TOPICS_DIR,
        instance_id=f"{prefix}worker-1",
    )


@dataclass
class Record:
    """One message read back from a topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes

    def json(self) -> Any:
        return orjson.loads(self.value)


@dataclass
class KafkaHelper:
    """Produce to and read from the test's topics (names without the prefix)."""

    settings: DeploymentSettings
    _producer: AIOKafkaProducer | None = field(default=None, init=False)

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    async def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            self._producer = AIOKafkaProducer(
                **client_options(self.settings),
                max_request_size=MAX_BYTES,
                linger_ms=5,
            )
            await self._producer.start()
        return self._producer

    async def produce(
        self, events: Iterable[dict[str, Any] | tuple[str, bytes | None, bytes]]
    ) -> int:
        """Send contract events (dicts: topic by type, key = customer_id) or raw
        ``(topic, key, value)`` tuples, in order; returns how many were sent."""
        producer = await self.producer()
        futures = []
        for item in events:
            if isinstance(item, dict):
                topic = TOPIC_OF_TYPE[item["type"]]
                key: bytes | None = str(item["customer_id"]).encode()
                value = orjson.dumps(item)
            else:
                topic, key, value = item
            futures.append(await producer.send(self.topic(topic), value, key=key))
        await producer.flush()
        for future in futures:
            await future
        return len(futures)

    def _consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            **client_options(self.settings),
            isolation_level="read_committed",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=MAX_BYTES,
            fetch_max_bytes=MAX_BYTES,
        )

    async def _partitions(self, consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
        for _ in range(50):
            ids = consumer.partitions_for_topic(topic)
            if ids:
                return [TopicPartition(topic, p) for p in sorted(ids)]
            await consumer._client.force_metadata_update()  # aiokafka has no public refresh
            await asyncio.sleep(0.1)
        raise LookupError(f"topic {topic} not found")

    async def read_topic(
        self, name: str, until_count: int | None = None, timeout: float = 30.0, settle: float = 0.0
    ) -> list[Record]:
        """Committed messages of topic ``name`` from the start, until ``until_count`` have come
        (then ``settle`` seconds more, to catch extras) or ``timeout`` seconds have passed."""
        topic = self.topic(name)
        consumer = self._consumer()
        await consumer.start()
        try:
            consumer.assign(await self._partitions(consumer, topic))
            out: list[Record] = []
            deadline = time.monotonic() + timeout
            settle_until: float | None = None
            while time.monotonic() < deadline:
                if until_count is not None and len(out) >= until_count and settle_until is None:
                    settle_until = time.monotonic() + settle
                if settle_until is not None and time.monotonic() >= settle_until:
                    break
                batch = await consumer.getmany(timeout_ms=200)
                for tp, messages in batch.items():
                    out.extend(
                        Record(tp.topic, tp.partition, m.offset, m.key, m.value) for m in messages
                    )
            return out
        finally:
            await consumer.stop()

    async def read_to_end(self, name: str, timeout: float = 30.0) -> list[Record]:
        """Every committed message of topic ``name`` up to its current end."""
        topic = self.topic(name)
        consumer = self._consumer()
        await consumer.start()
        try:
            partitions = await self._partitions(consumer, topic)
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)
            out: list[Record] = []
            deadline = time.monotonic() + timeout
            while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"reading {topic} to its end took over {timeout}s")
                batch = await consumer.getmany(timeout_ms=200)
                for tp, messages in batch.items():
                    out.extend(
                        Record(tp.topic, tp.partition, m.offset, m.key, m.value)
                        for m in messages
                        if m.offset < ends[tp]
                    )
            return out
        finally:
            await consumer.stop()

    async def ends(self, name: str) -> dict[int, tuple[int, int]]:
        """Per partition of topic ``name``: (last stable offset, high watermark). They differ
        while a transaction is open on the partition; a read_committed reader stops at the
        first. For a failing test's message: where outputs that did not come may be."""
        topic = self.topic(name)
        out: dict[int, tuple[int, int]] = {}
        committed = self._consumer()
        uncommitted = AIOKafkaConsumer(
            **client_options(self.settings), isolation_level="read_uncommitted"
        )
        await committed.start()
        await uncommitted.start()
        try:
            partitions = await self._partitions(committed, topic)
            stable = await committed.end_offsets(partitions)
            high = await uncommitted.end_offsets(partitions)
            for tp in partitions:
                out[tp.partition] = (stable[tp], high[tp])
            return out
        finally:
            await committed.stop()
            await uncommitted.stop()

    async def wait_consumed(self, timeout: float = 60.0) -> None:
        """Wait until the worker's group has processed every input message produced so far,
        and everything the worker fed back to itself meanwhile (link keys on its internal
        re-key topic, ``ring.link`` events on the activity topic).

        Committed offsets are read before end offsets, so that "committed >= end" is a fixed
        point: whatever a committed transaction fed back is already below the end read after.
        Offsets short of the end that hold no record (the markers of the worker's own
        transactions) count as consumed.
        """
        consumer = self._consumer()
        admin = AIOKafkaAdminClient(**client_options(self.settings))
        await consumer.start()
        await admin.start()
        try:
            inputs = []
            for name in INPUT_TOPICS:
                inputs.extend(await self._partitions(consumer, self.topic(name)))
            deadline = time.monotonic() + timeout
            while True:
                try:
                    committed = await admin.list_consumer_group_offsets(self.settings.app_id)
                except KafkaError as exc:
                    # A fresh broker creates __consumer_offsets on first use; until it has a
                    # leader the group coordinator is "not available", which is retriable.
                    if not exc.retriable or time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)
                    continue
                partitions = inputs + await self._internal_partitions(admin)
                ends = await consumer.end_offsets(partitions)
                behind = {}
                for tp, end in ends.items():
                    done = committed[tp].offset if tp in committed else 0
                    if done < end and await self._holds_records(consumer, tp, done, end):
                        behind[f"{tp.topic}:{tp.partition}"] = (done, end)
                if not behind:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"worker still behind after {timeout}s: {behind}")
                await asyncio.sleep(0.5)
        finally:
            await consumer.stop()
            await admin.close()

    async def _internal_partitions(self, admin: AIOKafkaAdminClient) -> list[TopicPartition]:
        """Partitions of the worker's re-key topic, once the worker has created it.

        Asked of the broker each time: a consumer that has been assigned partitions refreshes
        the metadata of their topics only, so it would never learn of the topic."""
        topic = ring_keys_topic(self.settings.app_id)
        (described,) = await admin.describe_topics([topic])
        ids = sorted(p["partition"] for p in described["partitions"])
        return [TopicPartition(topic, p) for p in ids]

    async def _holds_records(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, start: int, end: int
    ) -> bool:
        """Whether committed records lie in [start, end) of ``tp`` (not only markers)."""
        consumer.assign([tp])
        consumer.seek(tp, start)
        deadline = time.monotonic() + 10
        while await consumer.position(tp) < end and time.monotonic() < deadline:
            batch = await consumer.getmany(tp, timeout_ms=200)
            if any(m.offset < end for m in batch.get(tp, [])):
                return True
        return await consumer.position(tp) < end

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


@pytest.fixture
async def kafka(settings: DeploymentSettings) -> AsyncIterator[KafkaHelper]:
    """The test's topics, created from the catalogue, and helpers to use them."""
    result = await apply_catalogue(
        client_options(settings), load_catalogue(TOPICS_DIR), settings.topic_prefix
    )
    assert result.ok, result
    helper = KafkaHelper(settings)
    yield helper
    await helper.close()


@pytest.fixture
async def risk_view(settings: DeploymentSettings) -> AsyncIterator[RiskView]:
    """The test's risk view in Redis."""
    client = Redis.from_url(settings.redis)
    yield RiskView(client, settings.redis_prefix)
    await client.aclose()


class WorkerProcess(ServiceProcess):
    """``python -m streamwatch worker`` with the test's settings."""

    def __init__(self, settings: DeploymentSettings, log_path: Path, args: list[str]) -> None:
        super().__init__("worker", worker_env(settings), log_path, args)
        self.settings = settings


@pytest.fixture
def run_worker(
    settings: DeploymentSettings, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., WorkerProcess]]:
    """``run_worker(*args)`` starts a worker for this test; teardown stops every one.

    Keyword arguments replace fields of the test's settings for that worker, e.g.
    ``run_worker(instance_id="...", data_dir=...)`` for one more member of the group
    (``instance_id=None``: a dynamic member; the default is the test's fixed instance id).
    """
    workers: list[WorkerProcess] = []

    def start(*args: str, **overrides: Any) -> WorkerProcess:
        log_path = tmp_path / f"worker-{len(workers) + 1}.log"
        own = dataclasses.replace(settings, **overrides) if overrides else settings
        worker = WorkerProcess(own, log_path, list(args)).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
    report = getattr(request.node, "rep_call", None)
    if report is None or report.failed:
        for worker in workers:
            text = worker.log_text()
            tail = "\n".join(text.splitlines()[-200:])
            print(f"\n===== {worker.log_path.name} (last 200 lines) =====\n{tail}")


@pytest.fixture
def cli(settings: DeploymentSettings) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``cli(*args)`` runs ``python -m streamwatch *args`` with the test's settings."""

    def run(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "streamwatch", *args],
            capture_output=True,
            text=True,
            env=worker_env(settings),
            cwd=REPO,
            timeout=timeout,
            check=False,
        )

    return run


@pytest.fixture
def expected() -> Callable[[Iterable[dict[str, Any]]], Decisions]:
    """``expected(events)``: what the core decides for these events in this order (replay)."""

    def run(events: Iterable[dict[str, Any]]) -> Decisions:
        policy = parse_policy(DeploymentSettings().policy_text())
        fleet = Fleet(build_core(policy))
        return fleet.run((decode_event(orjson.dumps(e)) for e in events), lambda: 0)

    return run


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    """Headless Chromium; STREAMWATCH_CHROMIUM and STREAMWATCH_CHROMEDRIVER name the programs
    (deploy/browser.sh prints them)."""
    chromium = os.environ.get("STREAMWATCH_CHROMIUM", "")
    driver_path = os.environ.get("STREAMWATCH_CHROMEDRIVER", "")
    hint = 'run eval "$(bash deploy/browser.sh)"'
    assert Path(chromium or "/nonexistent").is_file(), f"STREAMWATCH_CHROMIUM: no browser; {hint}"
    assert Path(driver_path or "/nonexistent").is_file(), f"STREAMWATCH_CHROMEDRIVER: none; {hint}"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1600"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()
