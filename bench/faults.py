"""Fault suite: the live worker under broker, Redis and group faults and hostile input, compared
with replay of the same events.

    python bench/faults.py                     # every scenario, about 10-15 minutes
    python bench/faults.py --only broker-kill  # one scenario (repeat --only for more)

It starts its OWN Kafka broker and Redis with deploy/services.sh (127.0.0.1, ports 19092/19093,
19094 for the broker's SASL_SSL listener, and 16379 by default, state under
bench/out/faults-services/) and stops them at the end, on an error and on Ctrl-C; it never
touches the servers on the default ports, which it refuses to use because it stops, kills and
freezes the servers it runs against.

Each scenario gets a fresh topic prefix and app id (consumer group), applies the topic
catalogue (``streamwatch topics apply``), starts its worker(s) (``python -m streamwatch
worker``, a fixed instance id each), and produces a generated stream (``streamwatch.generator``:
40 customers over 5 days with budget_overrun, provider_notice, never_pays, crypto_mining and
fraud_ring incidents, about 18,000 events) with a plain aiokafka producer, each event to
``<prefix>usage|activity|payments`` by its type, keyed by customer_id, each topic in event-time
order, at 400 events/s, once the worker has its partitions (a first start on a fresh app id
whose assignment leaves out the worker's ring-keys topic is noted and restarted; see
``Run.ready``). The fault is injected mid-stream; a worker that exits on its own is
restarted after 2 s, as an orchestrator would, and its exit code recorded. When the group has
committed every input message, the workers are stopped and the alerts, enforcement and
dead-letter topics read to their end with read_committed. The input topics are read back too
(what the broker really holds, less the ``ring.link`` events the worker writes to the activity
topic itself), one replay source per topic partition, and run through
``streamwatch.replay.runner.Replay`` with 4 partitions, as the topics have: that is what
``streamwatch replay`` decides for the same events in the same per-topic order.

Scenarios:

- ``broker-stop``: the broker is stopped (SIGTERM, controlled shutdown) at 30% of the stream
  and started again 5 s later.
- ``broker-kill``: the same with SIGKILL.
- ``redis-stop``: Redis stopped at 30%, started again (empty) 10 s later.
- ``redis-freeze``: Redis frozen with SIGSTOP at 30%, SIGCONT 15 s later.
- ``rebalance``: a second worker joins at 25%; the first leaves with SIGTERM at 60%.
- ``hostile``: at 40%, messages that must be dead-lettered: not JSON, usage costs 2**70 and
  1e308, usage stamped 9999-12-29 and 2030, payment amounts 2**70 and 1e308, a budget of 2**70,
  a 3 MB message and a 10 MB one (which the producer itself refuses: recorded as such). After
  the stream the worker is restarted and must still be running 15 s later.
- ``backlog``: the worker consumes the first 3 days of 24 customers live and is stopped; then a
  backlog is produced (the rest of those customers and 16 new ones) one topic after the other:
  all usage, then all activity (the new customers' sign-ups), then all payments (their cards),
  each in event-time order; the worker is started on it. The worker's ``late`` counter (Redis
  metrics) is reported against replay's late count.

Columns of the table (alerts/requests where two numbers are given):

- ``lost``: outputs replay gives that the worker did not: (alert_id, revision) pairs of the
  alerts topic, request_ids of the enforcement topic.
- ``repeated``: extra copies on those topics: an (alert_id, revision) or a request_id present
  more often than replay gives it counts the copies beyond replay's (replay itself should
  give each once; its own repeats, if any, are in the JSON as ``replay_repeats``).
- ``false``: outputs of the worker that replay does not give (each key once; its further
  copies count as repeated).
- ``dead letters``: dead-letter records of the worker by code, and how many of them repeat
  a record of the same input message (topic, partition, offset); replay's are given below the
  table when they differ.
- ``exits``: exit codes of workers that exited on their own (``-``: none), then ``stopped``
  and the exit codes of the workers the scenario stopped with SIGTERM (a worker leaving the
  group, the restart of ``hostile``, the stop at the end), in order.
- ``running``: ``yes`` when no worker exited on its own and the workers meant to be running at
  the end were running.

Below the table, one line per scenario: alerts and requests live/replay; lost, repeated and
false outputs by alert kind and request action; alerts with the same id and revision but another
customer, kind or event time; the producer's failures; and the worker's ``late`` counter against
replay's (the worker's counters live in Redis, so they start again from zero when Redis comes
back empty). Read lost and false by kind: ``bot_signup`` alerts can differ from replay only
where a sign-up or card event was late (see ``streamwatch.live.rings``). For ``hostile``, one
line per message: its dead-letter codes, or the producer's refusal.

Everything, with each scenario's timeline, the worker's counters and the dead-letter reasons,
is written to bench/out/faults.json; worker logs to bench/out/faults/<scenario>/. Options:
``--customers`` (40) and ``--rate`` (400 events/s) size the stream; ``--kafka-port``,
``--controller-port``, ``--sasl-port`` and ``--redis-port`` move the suite's servers.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from redis.asyncio import Redis

from common import OUT
from streamwatch.config import build_core, load_policy
from streamwatch.core.codec import decode_event
from streamwatch.core.rings import LINK_ACTOR, LINK_OPERATION
from streamwatch.generator import GeneratorConfig, generate
from streamwatch.live.catalogue import packaged_catalogue
from streamwatch.live.redis_view import RiskView
from streamwatch.live.rings import ring_keys_topic
from streamwatch.replay.kafka import read_range
from streamwatch.replay.runner import ListSink, Replay, ReplayStats, Source
from streamwatch.settings import (
    ACTIVITY,
    ALERTS,
    DEAD_LETTER,
    ENFORCEMENT,
    PAYMENTS,
    USAGE,
    DeploymentSettings,
)

REPO = Path(__file__).resolve().parents[1]
WORK = OUT / "faults"
TOPIC_OF_TYPE = {"usage": USAGE, "activity": ACTIVITY, "payment": PAYMENTS}
INCIDENTS = ("budget_overrun", "provider_notice", "never_pays", "crypto_mining", "fraud_ring")
STREAM_START = "2026-10-28T00:00:00Z"
"""Four days before a month's end, so that invoices and payments fall within the stream."""
SHARED_PORTS = frozenset({9092, 9093, 9094, 6379})
"""deploy/services.sh's defaults: the servers other people use; never run against them."""
PARTITIONS = 4
RESTART_DELAY_S = 2.0
MAX_RESTARTS = 25
"""Per worker and scenario: a worker that cannot start keeps the suite bounded."""
CONSUME_TIMEOUT_S = 150.0
PRODUCER_MAX_BYTES = 4 * 1024 * 1024
"""Above the 1 MiB the worker accepts (so a 3 MB message reaches it), below 10 MB."""
FETCH_BYTES = 16 * 1024 * 1024

Message = tuple[str, bytes | None, bytes]
"""(catalogue topic name, key, value)."""


def log(text: str) -> None:
    print(text, flush=True)


# --- the suite's own broker and Redis ------------------------------------------------------


@dataclass
class Services:
    """Kafka and Redis started with deploy/*.sh on the suite's own ports and directory."""

    kafka_port: int
    controller_port: int
    sasl_port: int
    redis_port: int
    home: Path
    frozen: bool = False

    @property
    def kafka(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def redis(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            KAFKA_PORT=str(self.kafka_port),
            KAFKA_CONTROLLER_PORT=str(self.controller_port),
            KAFKA_SASL_PORT=str(self.sasl_port),
            REDIS_PORT=str(self.redis_port),
            SERVICES_DIR=str(self.home),
        )
        return env

    def script(self, name: str, action: str) -> None:
        """Run ``deploy/<name>.sh <action>`` for these services; raise if it fails."""
        done = subprocess.run(
            ["bash", str(REPO / "deploy" / f"{name}.sh"), action],
            env=self.env(),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"deploy/{name}.sh {action} failed:\n{done.stdout}{done.stderr}")

    async def run(self, name: str, action: str) -> float:
        """``script`` off the event loop (producers and checks go on meanwhile); seconds."""
        started = time.monotonic()
        await asyncio.to_thread(self.script, name, action)
        return time.monotonic() - started

    def up(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        for name in ("redis", "kafka"):
            self.script(name, "start")

    def down(self) -> None:
        """Stop both (a frozen Redis is thawed first) and drop the broker's data."""
        self.thaw()
        errors = []
        for name, action in (("kafka", "reset"), ("redis", "stop")):
            try:
                self.script(name, action)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                errors.append(str(exc))
        if errors:
            log("\n".join(errors))

    def kafka_pid(self) -> int:
        """The broker's pid, checked to be the broker of this suite's config file."""
        pid = int((self.home / "kafka" / "kafka.pid").read_text().strip())
        config = str(self.home / "kafka" / "server.properties")
        if config not in _cmdline(pid):
            raise RuntimeError(f"pid {pid} is not this suite's broker")
        return pid

    def redis_pid(self) -> int:
        """Redis's pid, checked to be the one serving this suite's port."""
        pid = int((self.home / "redis" / "redis.pid").read_text().strip())
        if f":{self.redis_port}" not in _cmdline(pid):
            raise RuntimeError(f"pid {pid} is not this suite's redis")
        return pid

    async def kill_kafka(self) -> None:
        pid = self.kafka_pid()
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            if not _alive(pid):
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"broker pid {pid} survived SIGKILL")

    def freeze_redis(self) -> None:
        os.kill(self.redis_pid(), signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        if self.frozen:
            with contextlib.suppress(OSError, RuntimeError, ValueError):
                os.kill(self.redis_pid(), signal.SIGCONT)
            self.frozen = False


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    """Running, and not a zombie waiting for a parent that does not reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def wait_for_group_coordinator(kafka: str, timeout: float = 90.0) -> None:
    """On a fresh broker the first group request creates __consumer_offsets; wait for it."""
    deadline = time.monotonic() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka, request_timeout_ms=5000)
        try:
            await admin.start()
            await admin.list_consumer_group_offsets("faults-warmup")
            return
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)
        finally:
            await admin.close()


# --- workers --------------------------------------------------------------------------------

ALL_PROCESSES: list[subprocess.Popen[bytes]] = []
"""Every worker process started, so that an interrupted run leaves none behind."""


@dataclass
class Worker:
    """One ``python -m streamwatch worker`` with a fixed instance id; restarted by ``Fleet``
    when it exits while ``wanted``."""

    name: str
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    wanted: bool = False
    restart_at: float | None = None
    restarts: int = 0

    def start(self) -> None:
        with self.log_path.open("ab") as out:
            out.write(f"----- start at {time.strftime('%H:%M:%S')} -----\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streamwatch", "worker"],
                env=self.env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        ALL_PROCESSES.append(self.process)
        self.wanted = True
        self.restart_at = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def assigned(self) -> list[str] | None:
        """The partitions of its latest "partitions assigned" log line since it last started
        (None before the first)."""
        text = self.log_path.read_bytes().rsplit(b"----- start at", 1)[-1]
        found = None
        for line in text.splitlines():
            if line.startswith(b"{") and b'"partitions assigned"' in line:
                with contextlib.suppress(orjson.JSONDecodeError):
                    record = orjson.loads(line)
                    if record.get("event") == "partitions assigned":
                        found = list(record.get("inputs", []))
        return found

    async def stop(self, timeout: float = 40.0) -> int | None:
        """SIGTERM, wait (SIGKILL after ``timeout``); the exit code. Not restarted after."""
        self.wanted = False
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while process.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            if process.poll() is None:
                process.kill()
                await asyncio.to_thread(process.wait, 10)
        return process.returncode


@dataclass
class Fleet:
    """The scenario's workers and the supervisor that restarts one that exits on its own."""

    env: dict[str, str]
    directory: Path
    prefix: str
    clock: Callable[[], float]
    workers: list[Worker] = field(default_factory=list)
    exits: list[dict[str, Any]] = field(default_factory=list)
    stopped: list[dict[str, Any]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    def add(self) -> Worker:
        n = len(self.workers) + 1
        env = dict(self.env, STREAMWATCH_INSTANCE_ID=f"{self.prefix}worker-{n}")
        worker = Worker(f"worker-{n}", env, self.directory / f"worker-{n}.log")
        self.workers.append(worker)
        worker.start()
        if self._task is None:
            self._task = asyncio.create_task(self._supervise())
        return worker

    async def _supervise(self) -> None:
        while True:
            now = time.monotonic()
            for worker in self.workers:
                if not worker.wanted or worker.running:
                    continue
                if worker.restart_at is None:
                    code = worker.process.returncode if worker.process else None
                    self.exits.append(
                        {"worker": worker.name, "code": code, "at_s": round(self.clock(), 1)}
                    )
                    log(f"    {self.clock():6.1f}s {worker.name} exited with {code}")
                    if worker.restarts >= MAX_RESTARTS:
                        worker.wanted = False
                        continue
                    worker.restart_at = now + RESTART_DELAY_S
                elif now >= worker.restart_at:
                    worker.restarts += 1
                    worker.start()
            await asyncio.sleep(0.5)

    async def stop(self, worker: Worker) -> None:
        code = await worker.stop()
        self.stopped.append({"worker": worker.name, "code": code, "at_s": round(self.clock(), 1)})

    async def stop_all(self) -> None:
        for worker in self.workers:
            if worker.wanted or worker.running:
                await self.stop(worker)
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def all_running(self) -> bool:
        return all(w.running for w in self.workers if w.wanted)


# --- one scenario's topics, producer and checks ----------------------------------------------


class Run:
    """One scenario: its prefix, topics, workers, producer and the comparison with replay."""

    def __init__(self, name: str, services: Services) -> None:
        self.name = name
        self.services = services
        self.prefix = f"faults-{name}-{uuid.uuid4().hex[:6]}."
        self.settings = DeploymentSettings(
            kafka=services.kafka,
            redis=services.redis,
            topic_prefix=self.prefix,
            app_id=f"{self.prefix}app",
        )
        self.directory = WORK / name
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True)
        env = dict(os.environ)
        env.update(
            STREAMWATCH_KAFKA=services.kafka,
            STREAMWATCH_REDIS=services.redis,
            STREAMWATCH_TOPIC_PREFIX=self.prefix,
            STREAMWATCH_APP_ID=self.settings.app_id,
            STREAMWATCH_DATA_DIR=str(self.directory / "data"),
            STREAMWATCH_TOPICS_DIR=str(packaged_catalogue()),
            STREAMWATCH_HTTP="127.0.0.1:0",  # a free port each: workers side by side
            PYTHONUNBUFFERED="1",
        )
        self.env = env
        self.started = time.monotonic()
        self.fleet = Fleet(env, self.directory, self.prefix, self.clock)
        self.timeline: list[tuple[float, str]] = []
        self.produced = 0
        self.to_produce = 0
        self.refused: list[dict[str, Any]] = []
        self.failed: Counter[str] = Counter()
        self.notes: dict[str, Any] = {}

    def clock(self) -> float:
        return time.monotonic() - self.started

    def mark(self, text: str) -> None:
        self.timeline.append((round(self.clock(), 1), text))
        log(f"    {self.clock():6.1f}s {text}")

    async def ready(self, worker: Worker, timeout: float = 90.0) -> None:
        """Until ``worker`` has its first assignment, with the ring-keys topic in it.

        On a fresh app id the worker may join its group before its internal ring-keys topic
        exists; the assignment then leaves that topic out (Faust logs "Ignoring missing
        topic") and the worker links no ring until it is restarted after the topic exists.
        That is noted (``ring_keys_unassigned``, the number of restarts it took) and the worker
        restarted once the topic is there, so that the scenario measures its fault, not this.
        """
        rekeyed = ring_keys_topic(self.settings.app_id)
        deadline = time.monotonic() + timeout
        while True:
            while (assigned := worker.assigned()) is None:
                if time.monotonic() > deadline:
                    self.mark(f"{worker.name} has no partitions after {timeout:.0f}s")
                    return
                await asyncio.sleep(0.5)
            if any(tp.startswith(f"{rekeyed}:") for tp in assigned):
                return
            if time.monotonic() > deadline:
                self.mark(f"{worker.name} still has no ring-keys partition")
                return
            self.notes["ring_keys_unassigned"] = self.notes.get("ring_keys_unassigned", 0) + 1
            self.mark(f"{worker.name} was assigned no ring-keys partition; restarting it")
            await self._topic_exists(rekeyed, deadline)
            await self.fleet.stop(worker)
            worker.start()

    async def _topic_exists(self, topic: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.services.kafka)
            try:
                await admin.start()
                if topic in await admin.list_topics():
                    return
            except KafkaError:
                pass
            finally:
                await admin.close()
            await asyncio.sleep(1)

    def apply_topics(self) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "streamwatch", "topics", "apply"],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"topics apply failed:\n{done.stdout}{done.stderr}")

    # producing

    async def produce(self, messages: list[Message], rate: float | None = None) -> None:
        """Send ``messages`` in order (at ``rate`` per second, else at once); send failures
        are counted, a message the producer refuses outright is recorded in ``refused``."""
        producer = AIOKafkaProducer(
            bootstrap_servers=self.services.kafka,
            linger_ms=5,
            enable_idempotence=True,
            request_timeout_ms=120_000,
            max_request_size=PRODUCER_MAX_BYTES,
        )
        await producer.start()
        self.to_produce += len(messages)
        futures: list[asyncio.Future[Any]] = []
        began = time.monotonic()
        try:
            for i, (topic, key, value) in enumerate(messages):
                if rate:
                    ahead = began + i / rate - time.monotonic()
                    if ahead > 0.02:
                        await asyncio.sleep(ahead)
                try:
                    futures.append(await producer.send(self.settings.topic(topic), value, key=key))
                except KafkaError as exc:
                    self.refused.append(
                        {"topic": topic, "bytes": len(value), "error": repr(exc)[:200]}
                    )
                self.produced += 1
            await producer.flush()
            for outcome in await asyncio.gather(*futures, return_exceptions=True):
                if isinstance(outcome, BaseException):
                    self.failed[type(outcome).__name__] += 1
        finally:
            await producer.stop()

    async def reached(self, fraction: float) -> None:
        """Until ``fraction`` of what is being produced has been sent."""
        while not self.to_produce or self.produced < fraction * self.to_produce:
            await asyncio.sleep(0.05)

    # reading back

    def _consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self.services.kafka,
            isolation_level="read_committed",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=FETCH_BYTES,
            fetch_max_bytes=FETCH_BYTES,
        )

    async def _partitions(self, consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
        for _ in range(50):
            ids = consumer.partitions_for_topic(topic)
            if ids:
                return [TopicPartition(topic, p) for p in sorted(ids)]
            await consumer._client.force_metadata_update()  # aiokafka has no public refresh
            await asyncio.sleep(0.1)
        return []

    async def read_to_end(self, name: str, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Every committed message of catalogue topic ``name``, as JSON."""
        consumer = self._consumer()
        await consumer.start()
        try:
            partitions = await self._partitions(consumer, self.settings.topic(name))
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)
            out: list[dict[str, Any]] = []
            deadline = time.monotonic() + timeout
            while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"reading {name} to its end took over {timeout}s")
                batch = await consumer.getmany(timeout_ms=200)
                for tp, records in batch.items():
                    out.extend(orjson.loads(r.value) for r in records if r.offset < ends[tp])
            return out
        finally:
            await consumer.stop()

    async def wait_consumed(self, timeout: float = CONSUME_TIMEOUT_S) -> bool:
        """Until the group has committed every input message and everything it fed back to
        itself (ring keys, ``ring.link`` events); False (noted) on timeout."""
        deadline = time.monotonic() + timeout
        behind: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                behind = await asyncio.wait_for(self._behind(), timeout=30)
            except (KafkaError, OSError, TimeoutError) as exc:
                behind = {"error": repr(exc)}
            if not behind:
                return True
            await asyncio.sleep(1)
        self.mark(f"not all input consumed after {timeout:.0f}s: {behind}")
        self.notes["not_consumed"] = behind
        return False

    async def _behind(self) -> dict[str, Any]:
        """Partitions the group has not consumed to the end, as (committed, end)."""
        consumer = self._consumer()
        admin = AIOKafkaAdminClient(bootstrap_servers=self.services.kafka)
        await consumer.start()
        await admin.start()
        try:
            partitions = []
            for name in self.settings.topics.inputs:
                partitions.extend(await self._partitions(consumer, name))
            await consumer._client.force_metadata_update()
            rekeyed = ring_keys_topic(self.settings.app_id)
            partitions.extend(
                TopicPartition(rekeyed, p)
                for p in sorted(consumer.partitions_for_topic(rekeyed) or ())
            )
            committed = await admin.list_consumer_group_offsets(self.settings.app_id)
            ends = await consumer.end_offsets(partitions)
            behind = {}
            for tp, end in ends.items():
                done = committed[tp].offset if tp in committed else 0
                if done < end and await self._holds_records(consumer, tp, done, end):
                    behind[f"{tp.topic}:{tp.partition}"] = (done, end)
            return behind
        finally:
            await consumer.stop()
            await admin.close()

    async def _holds_records(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, start: int, end: int
    ) -> bool:
        """Whether committed records lie in [start, end) of ``tp`` (not only the markers of
        the worker's transactions)."""
        consumer.assign([tp])
        consumer.seek(tp, start)
        deadline = time.monotonic() + 10
        while await consumer.position(tp) < end and time.monotonic() < deadline:
            batch = await consumer.getmany(tp, timeout_ms=200)
            if any(m.offset < end for m in batch.get(tp, [])):
                return True
        return bool(await consumer.position(tp) < end)

    async def worker_counters(self) -> dict[str, int]:
        client = Redis.from_url(self.services.redis, socket_timeout=5)
        try:
            return await RiskView(client, self.settings.redis_prefix).metrics()
        except Exception as exc:  # a counter read is a report, never a reason to fail
            return {"unreadable": 1, "error": len(str(exc))}
        finally:
            await client.aclose()

    # the comparison

    async def finish(self) -> dict[str, Any]:
        """Stop the workers, read the outputs, replay the inputs, compare."""
        running = (
            not self.fleet.exits
            and self.fleet.all_running()
            and not self.notes.get("stopped_running")
        )
        await self.fleet.stop_all()
        alerts = await self.read_to_end(ALERTS)
        requests = await self.read_to_end(ENFORCEMENT)
        dead = await self.read_to_end(DEAD_LETTER)
        sink, stats = await self.replay()
        result = compare(alerts, requests, dead, sink)
        result.update(
            prefix=self.prefix,
            input_produced=self.produced,
            producer_refused=self.refused,
            producer_failed=dict(self.failed),
            replay_lines=stats.lines,
            replay_late=stats.late,
            worker_counters=await self.worker_counters(),
            exits=self.fleet.exits,
            stopped=self.fleet.stopped,
            running=running,
            timeline=self.timeline,
            **self.notes,
        )
        return result

    async def replay(self) -> tuple[ListSink, ReplayStats]:
        """Replay what the input topics hold, one source per topic partition, in offset order;
        the ``ring.link`` events the worker wrote to the activity topic are left out (replay
        derives its own)."""
        sources = await read_range(
            {"bootstrap_servers": self.services.kafka},
            self.settings.topics.inputs,
            0,
            time.time_ns() // 1_000_000 + 86_400_000,
        )
        kept = [
            Source([line for line in source.lines if not _worker_link(line[0])], source.origin)
            for source in sources
        ]
        sink = ListSink()
        replay = Replay(build_core(load_policy()), sink, clock=lambda: 0, partitions=PARTITIONS)
        stats = await asyncio.to_thread(replay.run, kept)
        return sink, stats


def _worker_link(raw: bytes) -> bool:
    if LINK_OPERATION.encode() not in raw:
        return False
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return (
        isinstance(doc, dict)
        and doc.get("operation") == LINK_OPERATION
        and doc.get("actor") == LINK_ACTOR
    )


@dataclass
class Difference:
    """Outputs of one topic, live against replay, as multisets of their keys."""

    lost: Counter[Any] = field(default_factory=Counter)
    repeated: Counter[Any] = field(default_factory=Counter)
    false: Counter[Any] = field(default_factory=Counter)
    replay_repeats: int = 0
    """Keys replay itself gives more than once (the core re-sending under one id)."""


def difference(live: Counter[Any], replay: Counter[Any]) -> Difference:
    """A key replay gives n times and the worker m times: n - m lost if fewer, m - n repeated
    if more; a key replay does not give is false once and repeated for each further copy."""
    out = Difference(replay_repeats=sum(n - 1 for n in replay.values()))
    for key in live.keys() | replay.keys():
        m, n = live[key], replay[key]
        if n == 0:
            out.false[key] = 1
            if m > 1:
                out.repeated[key] = m - 1
        elif m < n:
            out.lost[key] = n - m
        elif m > n:
            out.repeated[key] = m - n
    return out


def compare(
    alerts: list[dict[str, Any]],
    requests: list[dict[str, Any]],
    dead: list[dict[str, Any]],
    sink: ListSink,
) -> dict[str, Any]:
    """Lost, repeated and false outputs of the worker against replay's, and dead letters."""
    kind = {(a["alert_id"], a["revision"]): a["kind"] for a in alerts}
    kind.update({(a.alert_id, a.revision): a.kind for a in sink.alerts})
    action = {r["request_id"]: r["action"] for r in requests}
    action.update({r.request_id: r.action for r in sink.requests})
    a = difference(
        Counter((x["alert_id"], x["revision"]) for x in alerts),
        Counter((x.alert_id, x.revision) for x in sink.alerts),
    )
    r = difference(
        Counter(x["request_id"] for x in requests), Counter(x.request_id for x in sink.requests)
    )
    identity = {
        (x["alert_id"], x["revision"]): (x["customer_id"], x["kind"], x["event_time"])
        for x in alerts
    }
    differing = Counter(
        x.kind
        for x in sink.alerts
        if identity.get((x.alert_id, x.revision), (x.customer_id, x.kind, x.event_time))
        != (x.customer_id, x.kind, x.event_time)
    )

    def by(names: dict[Any, str], counts: Counter[Any]) -> dict[str, int]:
        out: Counter[str] = Counter()
        for key, n in counts.items():
            out[names[key]] += n
        return dict(out)

    return {
        "alerts": {"live": len(alerts), "replay": len(sink.alerts)},
        "requests": {"live": len(requests), "replay": len(sink.requests)},
        "lost": {"alerts": a.lost.total(), "requests": r.lost.total()},
        "repeated": {"alerts": a.repeated.total(), "requests": r.repeated.total()},
        "false": {"alerts": a.false.total(), "requests": r.false.total()},
        "replay_repeats": {"alerts": a.replay_repeats, "requests": r.replay_repeats},
        "lost_by_kind": by(kind, a.lost),
        "repeated_by_kind": by(kind, a.repeated),
        "false_by_kind": by(kind, a.false),
        "lost_requests_by_action": by(action, r.lost),
        "repeated_requests_by_action": by(action, r.repeated),
        "false_requests_by_action": by(action, r.false),
        "differing_by_kind": dict(differing),
        "dead_letters": dict(Counter(d["code"] for d in dead)),
        "dead_letters_repeated": sum(
            n - 1 for n in Counter(_source(d) for d in dead).values() if n > 1
        ),
        "dead_letters_replay": dict(Counter(d["code"] for d in sink.dead_letters)),
        "dead_letter_records": dead,
    }


def _source(record: dict[str, Any]) -> tuple[Any, ...]:
    """Where a dead letter's message was read: (topic, partition, offset)."""
    source = record.get("source") or {}
    return (source.get("topic"), source.get("partition"), source.get("offset"))


# --- streams ------------------------------------------------------------------------------------


def generated(
    seed: int, customers: int, days: int, start: str = STREAM_START
) -> list[dict[str, Any]]:
    """A generated stream of contract events in (ts, event_id) order."""
    config = GeneratorConfig(
        seed=seed,
        customers=customers,
        days=days,
        start=start,
        incidents=INCIDENTS,
        incident_rate=0.5,
    )
    return generate(config).events


def as_messages(events: list[dict[str, Any]]) -> list[Message]:
    """Each event to the topic of its type, keyed by its customer."""
    return [(TOPIC_OF_TYPE[e["type"]], e["customer_id"].encode(), orjson.dumps(e)) for e in events]


@dataclass(frozen=True)
class Hostile:
    """A message that must be dead-lettered (or that the producer refuses)."""

    name: str
    topic: str
    key: bytes
    raw: bytes


NUMBER = "__number__"


def _with(doc: dict[str, Any], literal: str) -> bytes:
    """``doc`` as JSON with the ``NUMBER`` placeholder replaced by a raw JSON number (orjson
    cannot write 2**70), after checking the document is valid with an ordinary number."""
    sane = orjson.dumps(doc).replace(f'"{NUMBER}"'.encode(), b"1.5")
    decode_event(sane)  # the number is the only thing wrong with it
    return orjson.dumps(doc).replace(f'"{NUMBER}"'.encode(), literal.encode())


def hostile_messages(events: list[dict[str, Any]], at: int) -> list[Hostile]:
    """The hostile messages, each on its own customer (customers of every partition), stamped
    with the event time of the stream at index ``at``."""
    ts = events[at]["ts"]
    usage = next(e for e in events[at:] if e["type"] == "usage")
    budget = next(e for e in events if e.get("operation") == "budget.set")
    customers = sorted({e["customer_id"] for e in events})
    rotation = iter(customers * 2)

    def usage_doc(name: str, **fields: Any) -> tuple[str, dict[str, Any]]:
        customer = next(rotation)
        doc = {**usage, "customer_id": customer, "event_id": f"hostile-{name}", "ts": ts}
        doc.update(fields)
        return customer, doc

    out: list[Hostile] = []

    def add(name: str, topic: str, customer: str, raw: bytes) -> None:
        out.append(Hostile(name, topic, customer.encode(), raw))

    customer = next(rotation)
    add("not_json", USAGE, customer, b'{"event_id": "hostile-not-json", "type": "usage", "cost":')
    customer, doc = usage_doc("cost_2_70", cost=NUMBER)
    add("usage cost 2**70", USAGE, customer, _with(doc, str(2**70)))
    customer, doc = usage_doc("cost_1e308", cost=NUMBER)
    add("usage cost 1e308", USAGE, customer, _with(doc, "1e308"))
    customer, doc = usage_doc("ts_9999", ts="9999-12-29T00:00:00Z")
    add("usage at 9999-12-29", USAGE, customer, orjson.dumps(doc))
    customer, doc = usage_doc("ts_2030", ts="2030-01-01T00:00:00Z")
    add("usage at 2030-01-01", USAGE, customer, orjson.dumps(doc))
    customer, doc = usage_doc("3mb", sku="x" * (3 * 1024 * 1024))
    add("3 MB message", USAGE, customer, orjson.dumps(doc))
    customer, doc = usage_doc("10mb", sku="x" * (10 * 1024 * 1024))
    add("10 MB message", USAGE, customer, orjson.dumps(doc))
    customer = next(rotation)
    invoice = {
        "event_id": "hostile-invoice-2-70",
        "type": "payment",
        "customer_id": customer,
        "ts": ts,
        "kind": "invoice.issued",
        "invoice_id": "INV-HOSTILE-1",
        "amount": NUMBER,
        "currency": "USD",
        "due_date": "2026-12-01",
        "billing_country": "US",
    }
    add("invoice amount 2**70", PAYMENTS, customer, _with(invoice, str(2**70)))
    customer = next(rotation)
    paid = {
        "event_id": "hostile-payment-1e308",
        "type": "payment",
        "customer_id": customer,
        "ts": ts,
        "kind": "payment.succeeded",
        "invoice_id": "INV-HOSTILE-2",
        "amount": NUMBER,
        "currency": "USD",
        "instrument": {"type": "credit_card", "fingerprint": "0123456789abcdef", "country": "US"},
        "billing_country": "US",
    }
    add("payment amount 1e308", PAYMENTS, customer, _with(paid, "1e308"))
    customer = next(rotation)
    budget_doc = {
        **budget,
        "customer_id": customer,
        "event_id": "hostile-budget-2-70",
        "ts": ts,
        "properties": {**budget["properties"], "amount": NUMBER},
    }
    add("budget.set amount 2**70", ACTIVITY, customer, _with(budget_doc, str(2**70)))
    return out


# --- scenarios -----------------------------------------------------------------------------------

Scenario = Callable[[Run, list[dict[str, Any]], float], Awaitable[None]]


async def live_stream(
    run: Run, events: list[dict[str, Any]], rate: float, fault: Callable[[], Awaitable[None]]
) -> None:
    """One worker, the stream produced at ``rate`` with ``fault`` run alongside."""
    run.apply_topics()
    await run.ready(run.fleet.add())
    run.mark("worker started; producing")
    producing = asyncio.create_task(run.produce(as_messages(events), rate))
    await fault()
    await producing
    run.mark(f"produced {run.produced} messages")
    if await run.wait_consumed():
        run.mark("consumed")


async def broker_stop(run: Run, events: list[dict[str, Any]], rate: float) -> None:
    async def fault() -> None:
        await run.reached(0.3)
        took = await run.services.run("kafka", "stop")
        run.mark(f"broker stopped (SIGTERM) in {took:.1f}s")
        await asyncio.sleep(5)
        took = await run.services.run("kafka", "start")
        run.mark(f"broker started again, ready in {took:.1f}s")

    await live_stream(run, events, rate, fault)


async def broker_kill(run: Run, events: list[dict[str, Any]], rate: float) -> None:
    async def fault() -> None:
        await run.reached(0.3)
        await run.services.kill_kafka()
        run.mark("broker killed (SIGKILL)")
        await asyncio.sleep(5)
        took = await run.services.run("kafka", "start")
        run.mark(f"broker started again, ready in {took:.1f}s")

    await live_stream(run, events, rate, fault)


async def redis_stop(run: Run, events: list[dict[str, Any]], rate: float) -> None:
    async def fault() -> None:
        await run.reached(0.3)
        await run.services.run("redis", "stop")
        run.mark("redis stopped")
        await asyncio.sleep(10)
        await run.services.run("redis", "start")
        run.mark("redis started again (empty)")

    await live_stream(run, events, rate, fault)


async def redis_freeze(run: Run, events: list[dict[str, Any]], rate: float) -> None:
    async def fault() -> None:
        await run.reached(0.3)
        run.services.freeze_redis()
        run.mark("redis frozen (SIGSTOP)")
        await asyncio.sleep(15)
        run.services.thaw()
        run.mark("redis thawed (SIGCONT)")

    await live_stream(run, events, rate, fault)


async def rebalance(run: Run, events: list[dict[str, Any]], rate: float) -> None:
    async def fault() -> None:
        first = run.fleet.workers[0]
        await run.reached(0.25)
        run.fleet.add()
        run.mark("worker-2 joined")
        await run.reached(0.6)
        await run.fleet.stop(first)
        run.mark(f"worker-1 left (SIGTERM), exit code {first.process and first.process.returncode}")

    await live_stream(run, events, rate, fault)


async def hostile(run: Run, events: list[dict[str, Any]], rate: float) -> None:
    at = int(len(events) * 0.4)
    bad = hostile_messages(events, at)
    messages = as_messages(events)
    stream = messages[:at] + [(h.topic, h.key, h.raw) for h in bad] + messages[at:]

    async def fault() -> None:
        await run.reached(at / len(stream))
        run.mark(f"{len(bad)} hostile messages going out")

    run.apply_topics()
    worker = run.fleet.add()
    await run.ready(worker)
    run.mark("worker started; producing")
    producing = asyncio.create_task(run.produce(stream, rate))
    await fault()
    await producing
    run.mark(f"produced {run.produced} messages; producer refused {len(run.refused)}")
    await run.wait_consumed()
    run.mark("restarting the worker")
    await run.fleet.stop(worker)
    exits = len(run.fleet.exits)
    worker.start()
    await asyncio.sleep(15)
    await run.wait_consumed(60)
    alive = worker.running and len(run.fleet.exits) == exits
    run.mark(f"worker {'still running' if alive else 'NOT running'} 15 s after the restart")
    run.notes["running_after_restart"] = alive
    if not alive:
        run.notes["stopped_running"] = True
    run.notes["hostile"] = [
        {"name": h.name, "bytes": len(h.raw), "topic": h.topic, "raw": h.raw} for h in bad
    ]


async def backlog(run: Run, _events: list[dict[str, Any]], rate: float) -> None:
    days, split = 6, 3
    old = generated(21, 24, days)
    cut = next(i for i, e in enumerate(old) if e["ts"] >= f"2026-10-{28 + split}T00:00:00Z")
    new = [
        orjson.loads(orjson.dumps(e).replace(b"cust-", b"newc-"))
        for e in generated(22, 16, days - split, start=f"2026-10-{28 + split}T00:00:00Z")
    ]
    rest = sorted(old[cut:] + new, key=lambda e: (e["ts"], e["event_id"]))
    run.apply_topics()
    worker = run.fleet.add()
    await run.ready(worker)
    run.mark(f"worker started; producing the first {split} days live")
    await run.produce(as_messages(old[:cut]), rate)
    await run.wait_consumed()
    await run.fleet.stop(worker)
    run.mark(f"{cut} events produced and consumed; worker stopped")
    backlog = [
        m for topic in (USAGE, ACTIVITY, PAYMENTS) for m in as_messages(rest) if m[0] == topic
    ]
    await run.produce(backlog)
    run.mark(f"backlog of {len(backlog)} produced: usage, then activity, then payments")
    worker.start()
    run.mark("worker started on the backlog")
    if await run.wait_consumed():
        run.mark("consumed")


SCENARIOS: dict[str, Scenario] = {
    "broker-stop": broker_stop,
    "broker-kill": broker_kill,
    "redis-stop": redis_stop,
    "redis-freeze": redis_freeze,
    "rebalance": rebalance,
    "hostile": hostile,
    "backlog": backlog,
}


async def run_scenario(
    name: str, services: Services, events: list[dict[str, Any]], rate: float
) -> dict[str, Any]:
    await asyncio.to_thread(services.script, "kafka", "start")  # a fault may have left it down
    await asyncio.to_thread(services.script, "redis", "start")
    await wait_for_group_coordinator(services.kafka)
    run = Run(name, services)
    log(f"== {name} (prefix {run.prefix})")
    try:
        await SCENARIOS[name](run, events, rate)
        result = await run.finish()
    finally:
        await run.fleet.stop_all()
        services.thaw()
    if name == "hostile":
        result["hostile"] = judge_hostile(result)
    return result


def judge_hostile(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each hostile message: refused by the producer, or its dead-letter codes live."""
    by_bytes: dict[bytes, list[str]] = {}
    for record in result["dead_letter_records"]:
        by_bytes.setdefault(base64.b64decode(record["original_b64"]), []).append(record["code"])
    refused = Counter(r["bytes"] for r in result["producer_refused"])
    out = []
    for h in result["hostile"]:
        raw = h["raw"]
        if refused[len(raw)]:
            outcome = "refused by the producer: " + ", ".join(
                r["error"] for r in result["producer_refused"] if r["bytes"] == len(raw)
            )
        else:
            codes = by_bytes.get(raw, [])
            outcome = ", ".join(codes) if codes else "NOT dead-lettered"
        out.append({"name": h["name"], "topic": h["topic"], "bytes": h["bytes"], "live": outcome})
    return out


# --- report --------------------------------------------------------------------------------------


def _pair(counts: dict[str, int]) -> str:
    return f"{counts['alerts']}/{counts['requests']}"


def _codes(counts: dict[str, int]) -> str:
    return ", ".join(f"{code} {n}" for code, n in sorted(counts.items())) or "-"


def table(results: dict[str, dict[str, Any]]) -> str:
    rows = [("scenario", "lost", "repeated", "false", "dead letters", "exits", "running")]
    for name, r in results.items():
        if "error" in r:
            rows.append((name, "?", "?", "?", "?", "?", f"error: {r['error']}"))
            continue
        dead = _codes(r["dead_letters"])
        if r["dead_letters_repeated"]:
            dead += f" ({r['dead_letters_repeated']} repeated)"
        exits = ",".join(str(e["code"]) for e in r["exits"]) or "-"
        exits += "; stopped " + (",".join(str(e["code"]) for e in r["stopped"]) or "-")
        rows.append(
            (
                name,
                _pair(r["lost"]),
                _pair(r["repeated"]),
                _pair(r["false"]),
                dead,
                exits,
                "yes" if r["running"] else "no",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def details(results: dict[str, dict[str, Any]]) -> str:
    out = []
    for name, r in results.items():
        if "error" in r:
            continue
        bits = [f"alerts live/replay {r['alerts']['live']}/{r['alerts']['replay']}"]
        bits.append(f"requests {r['requests']['live']}/{r['requests']['replay']}")
        if r["lost_by_kind"]:
            bits.append(f"lost {r['lost_by_kind']}")
        if r["false_by_kind"]:
            bits.append(f"false {r['false_by_kind']}")
        if r["repeated_by_kind"]:
            bits.append(f"repeated {r['repeated_by_kind']}")
        for what in ("lost", "repeated", "false"):
            if r[f"{what}_requests_by_action"]:
                bits.append(f"requests {what} {r[f'{what}_requests_by_action']}")
        if r["differing_by_kind"]:
            bits.append(f"same id and revision, other content {r['differing_by_kind']}")
        if r["dead_letters"] != r["dead_letters_replay"]:
            bits.append(f"dead letters in replay: {_codes(r['dead_letters_replay'])}")
        if r["producer_failed"]:
            bits.append(f"producer failures {r['producer_failed']}")
        if r.get("ring_keys_unassigned"):
            bits.append("first start assigned no ring-keys partition (restarted)")
        if r.get("not_consumed"):
            bits.append("NOT all input consumed")
        late = r["worker_counters"].get("late", 0)
        events = r["worker_counters"].get("events", 0)
        bits.append(f"late: worker {late} of {events} events, replay {r['replay_late']}")
        out.append(f"{name}: " + "; ".join(bits))
        for h in r.get("hostile", []):
            out.append(f"    {h['name']:<26} {h['live']}")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS), help="scenario")
    parser.add_argument("--kafka-port", type=int, default=19092)
    parser.add_argument("--controller-port", type=int, default=19093)
    parser.add_argument("--sasl-port", type=int, default=19094)
    parser.add_argument("--redis-port", type=int, default=16379)
    parser.add_argument("--customers", type=int, default=40, help="of the generated stream")
    parser.add_argument("--rate", type=float, default=400.0, help="events/s produced")
    args = parser.parse_args()
    ports = {args.kafka_port, args.controller_port, args.sasl_port, args.redis_port}
    if ports & SHARED_PORTS or len(ports) != 4:
        parser.error(f"use four ports of the suite's own, none of {sorted(SHARED_PORTS)}")
    names = [n for n in SCENARIOS if not args.only or n in args.only]
    services = Services(
        args.kafka_port,
        args.controller_port,
        args.sasl_port,
        args.redis_port,
        OUT / "faults-services",
    )
    events = generated(11, args.customers, 5)
    signal.signal(signal.SIGTERM, _interrupted)
    # The producer's retries while the broker is away: failures are counted and reported.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    results: dict[str, dict[str, Any]] = {}
    interrupted = False
    try:
        log(f"starting Kafka on 127.0.0.1:{args.kafka_port}, Redis on 127.0.0.1:{args.redis_port}")
        services.up()
        for name in names:
            try:
                results[name] = asyncio.run(run_scenario(name, services, events, args.rate))
            except (RuntimeError, KafkaError, OSError, TimeoutError) as exc:
                log(f"    {name} failed: {exc!r}")
                results[name] = {"error": repr(exc)}
    except KeyboardInterrupt:
        interrupted = True
    finally:
        # Clean up whatever happens, and without being interrupted again.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for process in ALL_PROCESSES:
            if process.poll() is None:
                process.kill()
        log("stopping the suite's Kafka and Redis")
        services.down()
    report = {
        "events": len(events),
        "rate_events_per_s": args.rate,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "interrupted": interrupted,
        "scenarios": {name: _jsonable(r) for name, r in results.items()},
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "faults.json").write_text(json.dumps(report, indent=2) + "\n")
    if results:
        print()
        print(table(results))
        print()
        print(details(results))
    if interrupted:
        log("interrupted")
        raise SystemExit(130)


def _interrupted(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _jsonable(result: dict[str, Any]) -> dict[str, Any]:
    """The result without the dead-letter records' bodies and hostile bytes."""
    out = dict(result)
    records = out.pop("dead_letter_records", [])
    out["dead_letter_sources"] = [
        {"code": r["code"], "field": r.get("field"), "reason": r["reason"][:200]} for r in records
    ]
    return out


if __name__ == "__main__":
    main()
