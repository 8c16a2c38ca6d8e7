"""The suspension worker (``streamwatch enforce``): acts on enforcement requests and decisions.

A plain aiokafka consumer in group ``<app_id>-enforce`` reads the ``enforcement`` and
``enforcement-decisions`` topics (read_committed) in batches. For each message it loads the
request's record from Redis, asks ``streamwatch.enforce.decide`` for the next step, records the
step, calls the backend if the step acts, records the outcome, and queues a result on
``enforcement-results``. After the batch it waits for the results to be written, marks them
published, and only then commits the batch's offsets.

What is guaranteed, and what is not:

- A request is *decided* once: its first validly signed delivery creates its record
  atomically; later deliveries (a repeat, or a redelivery after a crash) find the record and
  do not act again.
- An action is *applied* at least once and, as far as the backend honours the idempotency key
  (the request id), exactly once. ``applying`` is recorded before the backend is called; a
  crash between the call and the record of its answer leaves ``applying``, and the redelivered
  message calls the backend again with the same key (the result's ``attempt`` is then 2).
  The log backend has no memory of keys: in that window it logs the action twice.
- A result is published at least once: recorded in Redis before it is sent, republished on
  redelivery if not marked published. A crash after sending but before marking repeats it
  with the same ``result_id``.
- A request that is not validly signed is refused on the results topic and never recorded
  (its request id, chosen by whoever forged it, must not touch a genuine request's record).
- A message that is not JSON or breaks the schema goes to the dead-letter topic with the
  reason; so does a decision that is unsigned, forged, or names a request the worker has not
  recorded. The worker never stops for a bad message.
- While Redis or Kafka is unreachable the worker retries the same message, with backoff, and
  commits nothing; it resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from redis.asyncio import Redis
from redis.exceptions import RedisError
from structlog.contextvars import bound_contextvars

from streamwatch.core.codec import DecodeError
from streamwatch.core.deadletter import dead_letter_record
from streamwatch.core.policy import Policy
from streamwatch.core.signing import signed, signer, verify
from streamwatch.enforce import metrics
from streamwatch.enforce.backend import Backend, BackendResult
from streamwatch.enforce.decide import (
    APPLYING,
    AWAITING,
    DONE,
    FAILED,
    REFUSED,
    WITHDRAW_FAILED,
    WITHDRAWING,
    WITHDRAWN,
    Apply,
    CheckCap,
    Hold,
    Nothing,
    Record,
    RecordDryRun,
    Refuse,
    Step,
    Withdraw,
    after_cap,
    applied_reason,
    failed_reason,
    on_decision,
    on_request,
    refused_reason,
    withdrawn_reason,
)
from streamwatch.enforce.messages import (
    Request,
    parse_decision,
    parse_request,
    result_message,
    withdrawal_id,
    withdrawal_request,
)
from streamwatch.enforce.store import RequestStore
from streamwatch.kafka_clients import client_options
from streamwatch.live.metrics import Counters
from streamwatch.metric_defs import EnforceMetrics
from streamwatch.settings import DeploymentSettings

log = structlog.get_logger("streamwatch.enforce")

MAX_BATCH: Final = 200
MAX_POLL_INTERVAL_MS: Final = 600_000
"""A batch must be done within this, or the group takes its partitions away (see
``batch_size_for``)."""
MAX_RACES: Final = 5
"""Reloads of a record that another worker changed under us before giving up on a message."""
RETRY_START_S: Final = 0.5
RETRY_MAX_S: Final = 10.0
PENDING_INTERVAL_S: Final = 15.0
"""How often the pending-approval gauges are read from Redis."""
MAX_REQUEST_BYTES: Final = 4 * 1024 * 1024
"""Producer cap: a dead-letter record holds a message of up to 1 MiB in base64."""


class EnforceConfigError(ValueError):
    """The worker cannot start as configured; the message says which setting to fix."""


def wall_ms() -> int:
    """The wall clock in epoch milliseconds."""
    return time.time_ns() // 1_000_000


def batch_size_for(worst_case_s: float) -> int:
    """Messages per batch when one may take ``worst_case_s`` seconds (a backend that retries
    and times out): small enough that a batch of them ends within half the poll interval."""
    if worst_case_s <= 0:
        return MAX_BATCH
    return max(1, min(MAX_BATCH, int(MAX_POLL_INTERVAL_MS / 2000 / worst_case_s)))


class Outbox:
    """The messages one batch sends: queued without waiting, then ``flush``ed together."""

    def __init__(
        self,
        producer: AIOKafkaProducer,
        store: RequestStore,
        metrics: EnforceMetrics | None = None,
    ) -> None:
        self.producer = producer
        self.store = store
        self.metrics = metrics
        self.futures: list[asyncio.Future[Any]] = []
        self.recorded: list[tuple[str, str]] = []
        self.sent_results: set[str] = set()

    async def send(self, topic: str, key: str | None, value: bytes) -> None:
        """Queue one message; raises KafkaError if the producer refuses it."""
        future = await self.producer.send(topic, value, key=key.encode() if key else None)
        self.futures.append(future)

    async def result(self, topic: str, result: Mapping[str, Any], *, recorded: bool) -> None:
        """Queue a result; ``recorded``: it is a request record's latest result, to be marked
        published once written."""
        await self.send(topic, str(result["customer_id"]), orjson.dumps(dict(result)))
        self.sent_results.add(str(result["result_id"]))
        if recorded:
            self.recorded.append((str(result["request_id"]), str(result["result_id"])))
        if self.metrics is not None:
            self.metrics.requests.labels(str(result["action"]), str(result["outcome"])).inc()
        log.info(
            "enforcement result",
            outcome=result["outcome"],
            reason=result["reason"],
            result_id=result["result_id"],
            attempt=result["attempt"],
        )

    async def flush(self) -> None:
        """Wait until every queued message is written, then mark the results published."""
        if self.futures:
            await asyncio.gather(*self.futures)
        if self.recorded:
            await self.store.mark_published(self.recorded)
        self.futures.clear()
        self.recorded.clear()
        self.sent_results.clear()


class EnforceWorker:
    """Consumes requests and decisions and acts on them (see the module docstring).

    ``clock`` (epoch ms) stamps results and places requests in their cap's hour. Raises
    EnforceConfigError if no key can verify requests.
    """

    def __init__(
        self,
        settings: DeploymentSettings,
        policy: Policy,
        backend: Backend,
        redis: Redis,
        *,
        clock: Callable[[], int] = wall_ms,
        max_batch: int = MAX_BATCH,
        metrics: EnforceMetrics | None = None,
    ) -> None:
        if not settings.signing_keys:
            raise EnforceConfigError(
                "STREAMWATCH_SIGNING_KEYS is not set: the enforce worker acts only on signed "
                "requests and needs the keys that verify them (id:secret,id2:secret2, the same "
                "as the live worker's)"
            )
        self.settings = settings
        self.topics = settings.topics
        self.keys = settings.verify_keys
        """Keys that verify requests: the detector workers' (never a person's)."""
        self.approver_keys = dict(settings.approver_keys)
        """Keys that verify decisions: each person's own, by name (never the workers')."""
        self.signing_key = settings.signing_keys[0]
        self.caps = {
            rule.id: rule.max_customers_per_hour
            for rule in policy.rules
            if rule.max_customers_per_hour is not None
        }
        self.rules = frozenset(rule.id for rule in policy.rules)
        self.unknown_rules: set[str] = set()
        self.backend = backend
        self.store = RequestStore(redis, settings.redis_prefix)
        self.clock = clock
        self.max_batch = max_batch
        self.counters = Counters()
        self.metrics = metrics
        """Prometheus metrics to count into (``streamwatch.metric_defs``); None counts none."""
        self.stopping = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None

    @property
    def group_id(self) -> str:
        """The consumer group of the enforce workers of this deployment."""
        return f"{self.settings.app_id}-enforce"

    def readiness(self) -> str | None:
        """None once the worker consumes (partitions assigned), else why not: ``/ready``."""
        consumer = self._consumer
        if consumer is None:
            return "not consuming yet"
        if self.stopping.is_set():
            return "stopping"
        if not consumer.assignment():
            return "waiting for a partition assignment"
        return None

    async def watch_pending(self, every_s: float = PENDING_INTERVAL_S) -> None:
        """Refresh the pending-approval gauges until stopped (a task beside ``run``)."""
        if self.metrics is None:
            return
        while not self.stopping.is_set():
            try:
                count, since_ms = await self.store.pending_summary()
            except (RedisError, OSError) as exc:
                log.warning("cannot read the pending approvals", error=str(exc))
            else:
                self.metrics.pending_approvals.set(count)
                age_s = 0.0 if since_ms is None else max(0, self.clock() - since_ms) / 1000
                self.metrics.oldest_pending_approval.set(age_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), every_s)

    async def run(self) -> None:
        """Consume until ``stopping`` is set; raises KafkaError if Kafka cannot be reached at
        start."""
        consumer = AIOKafkaConsumer(
            self.topics.enforcement,
            self.topics.enforcement_decisions,
            **client_options(self.settings),
            group_id=self.group_id,
            group_instance_id=self.settings.instance_id,
            isolation_level="read_committed",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_batch,
            max_poll_interval_ms=MAX_POLL_INTERVAL_MS,
        )
        producer = AIOKafkaProducer(
            **client_options(self.settings),
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_request_size=MAX_REQUEST_BYTES,
        )
        await producer.start()
        try:
            await consumer.start()
            self._consumer = consumer
            try:
                log.info(
                    "enforce worker started",
                    group_id=self.group_id,
                    backend=self.backend.name,
                    capped_rules=self.caps,
                )
                outbox = Outbox(producer, self.store, self.metrics)
                while not self.stopping.is_set():
                    batch = await consumer.getmany(timeout_ms=500, max_records=self.max_batch)
                    if batch:
                        await self._batch(consumer, batch, outbox)
            finally:
                await consumer.stop()
        finally:
            await producer.stop()
            await self.backend.close()
            await self._publish_metrics()
            log.info("enforce worker stopped")

    async def _batch(
        self,
        consumer: AIOKafkaConsumer,
        batch: Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
        outbox: Outbox,
    ) -> None:
        done: dict[TopicPartition, int] = {}
        try:
            for tp, messages in batch.items():
                for message in messages:
                    if self.stopping.is_set():
                        return
                    if not await self._handle(message, outbox):
                        return
                    done[tp] = message.offset + 1
        finally:
            await self._commit(consumer, outbox, done)

    async def _commit(
        self, consumer: AIOKafkaConsumer, outbox: Outbox, done: dict[TopicPartition, int]
    ) -> None:
        """Flush the batch's messages, then commit the offsets of what it finished."""
        if not done:
            return
        started = time.monotonic()
        delay = RETRY_START_S
        while True:
            try:
                await outbox.flush()
                break
            except (RedisError, OSError, KafkaError) as exc:
                if self.stopping.is_set():
                    log.error("results not confirmed at stop; the batch will be redone", error=exc)
                    return
                log.error("cannot confirm the batch's results; retrying", error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
        try:
            await consumer.commit(done)
        except (CommitFailedError, KafkaError) as exc:
            # The partitions moved to another worker, which redoes the batch's tail: harmless,
            # since every step is idempotent.
            log.warning("offset commit failed; the batch will be redelivered", error=str(exc))
        if self.metrics is not None:
            self.metrics.commit.observe(time.monotonic() - started)
        await self._publish_metrics()

    async def _publish_metrics(self) -> None:
        counts = self.counters.drain()
        try:
            await self.store.add_metrics(counts)
        except (RedisError, OSError) as exc:
            self.counters.restore(counts)
            log.warning("cannot publish metrics; will retry", error=str(exc))

    async def _handle(self, message: ConsumerRecord[bytes, bytes], outbox: Outbox) -> bool:
        """Process one message, waiting out outages of Redis or Kafka; False if the worker was
        asked to stop before the message was done."""
        delay = RETRY_START_S
        with bound_contextvars(
            topic=message.topic, partition=message.partition, offset=message.offset
        ):
            while True:
                try:
                    await self._dispatch(message, outbox)
                except (RedisError, OSError, KafkaError) as exc:
                    if self.stopping.is_set():
                        return False
                    log.error("redis or kafka unavailable; retrying the message", error=str(exc))
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX_S)
                    continue
                except Exception:
                    # A bug: keep the worker going for every other customer, and say so.
                    self.counters.inc(metrics.PROCESSING_ERRORS)
                    log.exception("processing failed; message skipped")
                return True

    async def _dispatch(self, message: ConsumerRecord[bytes, bytes], outbox: Outbox) -> None:
        source = {
            "topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
            "key": message.key.decode(errors="replace") if message.key is not None else None,
        }
        raw = message.value if message.value is not None else b""
        if message.topic == self.topics.enforcement_decisions:
            await self._on_decision(raw, source, outbox)
        else:
            await self._on_request(raw, source, outbox)

    async def _dead_letter(
        self, raw: bytes, error: DecodeError, source: dict[str, Any], outbox: Outbox
    ) -> None:
        record = dead_letter_record(raw, error, source, self.clock())
        await outbox.send(self.topics.dead_letter, source.get("key"), orjson.dumps(record))
        self.counters.inc(metrics.DEAD_LETTER)
        self.counters.inc(metrics.dead_letter_code(error.code))
        if self.metrics is not None:
            self.metrics.dead_letters.labels(error.code).inc()
        log.warning("message dead-lettered", reason=error.reason, field=error.field)

    async def _on_request(self, raw: bytes, source: dict[str, Any], outbox: Outbox) -> None:
        try:
            request = parse_request(raw)
        except DecodeError as exc:
            await self._dead_letter(raw, exc, source, outbox)
            return
        with bound_contextvars(
            request_id=request.request_id,
            customer_id=request.customer_id,
            action=request.action,
            policy=request.policy,
        ):
            why = verify(request.doc, self.keys)
            if why is not None:
                self.counters.inc(metrics.REFUSED_SIGNATURE)
                log.warning("request refused: not validly signed", why=why)
                result = self._result(
                    request,
                    step="verify",
                    outcome="refused",
                    reason=f"refused, nothing applied: the request is not validly signed ({why})",
                    attempt=0,
                )
                await outbox.result(self.topics.enforcement_results, result, recorded=False)
                return
            self.counters.inc(metrics.REQUESTS)
            if request.policy not in self.rules and request.policy not in self.unknown_rules:
                self.unknown_rules.add(request.policy)
                log.warning(
                    "request from a rule this worker's policy does not have: no hourly cap "
                    "applies to it (give the enforce worker the live worker's policy)"
                )
            for _ in range(MAX_RACES):
                found = await self.store.load(request.request_id)
                record, version = found if found is not None else (None, 0)
                step: Step = on_request(request, record, self.caps.get(request.policy))
                held = metrics.HELD_APPROVAL
                if isinstance(step, CheckCap):
                    now = self.clock()
                    admitted = await self.store.admit(
                        request.policy, request.customer_id, step.cap, now
                    )
                    step = after_cap(request, step.cap, admitted, now)
                    held = metrics.HELD_CAP
                if isinstance(step, Nothing):
                    self.counters.inc(metrics.REPEATS)
                    log.info("request not acted on again", why=step.reason)
                    await self._republish(record, outbox)
                    return
                if await self._carry_out(step, request, record, version, outbox, held):
                    return
            raise RuntimeError(f"record of {request.request_id} kept changing under the worker")

    async def _on_decision(self, raw: bytes, source: dict[str, Any], outbox: Outbox) -> None:
        try:
            decision = parse_decision(raw)
        except DecodeError as exc:
            await self._dead_letter(raw, exc, source, outbox)
            return
        with bound_contextvars(
            request_id=decision.request_id,
            customer_id=decision.customer_id,
            decision=decision.decision,
            decided_by=decision.by,
        ):
            why = verify(decision.doc, self.approver_keys)
            if why is None and signer(decision.doc) != decision.by:
                why = f"signed with the key of {signer(decision.doc)!r}, not of {decision.by!r}"
            if why is not None:
                error = DecodeError(
                    "invalid_signature", f"decision is not validly signed ({why})", "signature"
                )
                await self._dead_letter(raw, error, source, outbox)
                return
            self.counters.inc(metrics.DECISIONS)
            for _ in range(MAX_RACES):
                found = await self.store.load(decision.request_id)
                if found is None or found[0].request.customer_id != decision.customer_id:
                    error = DecodeError(
                        "invalid_value",
                        f"no request {decision.request_id} of customer "
                        f"{decision.customer_id!r} is recorded by the enforce worker",
                        "request_id",
                    )
                    await self._dead_letter(raw, error, source, outbox)
                    return
                record, version = found
                step = on_decision(decision, record)
                if isinstance(step, Nothing):
                    self.counters.inc(metrics.DECISIONS_IGNORED)
                    log.warning("decision ignored", why=step.reason)
                    # Redelivered after a crash: the outcome it caused may still be unsent.
                    await self._republish(record, outbox)
                    return
                if await self._carry_out(step, record.request, record, version, outbox):
                    return
            raise RuntimeError(f"record of {decision.request_id} kept changing under the worker")

    async def _republish(self, record: Record | None, outbox: Outbox) -> None:
        """Send a recorded result again if it may not have reached the results topic."""
        if record is None or record.result is None or not record.unpublished:
            return
        if record.result["result_id"] in outbox.sent_results:
            return
        log.info("republishing a result not confirmed before a restart")
        await outbox.result(self.topics.enforcement_results, record.result, recorded=True)

    async def _carry_out(
        self,
        step: Step,
        request: Request,
        record: Record | None,
        version: int,
        outbox: Outbox,
        held: str = metrics.HELD_APPROVAL,
    ) -> bool:
        """Record and do ``step``; False if the record changed since it was loaded."""
        if isinstance(step, Apply):
            return await self._apply(step, request, record, version, outbox)
        if isinstance(step, Withdraw):
            assert record is not None, "a withdrawal needs a record"
            return await self._withdraw(step, record, version, outbox)
        if isinstance(step, RecordDryRun):
            result = self._result(
                request,
                step="dry_run",
                outcome="done",
                reason=f"dry run: {request.action} recorded, not applied",
                attempt=0,
            )
            return await self._create(Record(request, DONE, result=result), outbox, metrics.DRY_RUN)
        if isinstance(step, Hold):
            result = self._result(
                request, step="hold", outcome="awaiting_approval", reason=step.reason, attempt=0
            )
            return await self._create(Record(request, AWAITING, result=result), outbox, held)
        if isinstance(step, Refuse):
            assert record is not None, "a rejection needs a record"
            result = self._result(
                request,
                step="reject",
                outcome="refused",
                reason=refused_reason(step.by, step.note),
                attempt=record.attempt,
                rejected_by=step.by,
                note=step.note,
            )
            refused = dataclasses.replace(
                record, state=REFUSED, rejected_by=step.by, note=step.note, result=result
            )
            if await self.store.transition(refused, version, self.clock()) is None:
                return False
            self.counters.inc(metrics.REJECTED)
            await outbox.result(self.topics.enforcement_results, result, recorded=True)
            return True
        raise TypeError(f"no way to carry out {step!r}")

    async def _create(self, record: Record, outbox: Outbox, counter: str) -> bool:
        if not await self.store.create(record, self.clock()):
            return False
        self.counters.inc(counter)
        assert record.result is not None
        await outbox.result(self.topics.enforcement_results, record.result, recorded=True)
        return True

    async def _apply(
        self, step: Apply, request: Request, record: Record | None, version: int, outbox: Outbox
    ) -> bool:
        attempt = (record.attempt if record is not None else 0) + 1
        if record is None:
            applying = Record(request, APPLYING, attempt=attempt, approved_by=step.approved_by)
            if not await self.store.create(applying, self.clock()):
                return False
            version = 1
        else:
            applying = dataclasses.replace(
                record, state=APPLYING, attempt=attempt, approved_by=step.approved_by
            )
            new_version = await self.store.transition(applying, version, self.clock())
            if new_version is None:
                return False
            version = new_version
        if step.retry:
            self.counters.inc(metrics.RETRIES)
            log.warning("retrying an apply cut off before its answer was recorded")
        answer = await self._call(request.doc, request.request_id, attempt)
        if answer.ok:
            outcome, reason = (
                "done",
                applied_reason(request.action, self.backend.name, answer.detail, step.approved_by),
            )
        else:
            outcome, reason = (
                "failed",
                failed_reason(request.action, self.backend.name, answer.detail),
            )
        result = self._result(
            request,
            step="apply",
            outcome=outcome,
            reason=reason,
            attempt=attempt,
            approved_by=step.approved_by,
        )
        final = dataclasses.replace(applying, state=DONE if answer.ok else FAILED, result=result)
        if await self.store.transition(final, version, self.clock()) is None:
            log.error("record changed while the backend was called; outcome not recorded")
            return True
        self.counters.inc(metrics.APPLIED if answer.ok else metrics.FAILED)
        await outbox.result(self.topics.enforcement_results, result, recorded=True)
        return True

    async def _withdraw(self, step: Withdraw, record: Record, version: int, outbox: Outbox) -> bool:
        request = record.request
        attempt = record.withdraw_attempt + 1
        withdrawing = dataclasses.replace(
            record,
            state=WITHDRAWING,
            withdraw_attempt=attempt,
            rejected_by=step.by,
            note=step.note,
            decided_at=step.at,
        )
        new_version = await self.store.transition(withdrawing, version, self.clock())
        if new_version is None:
            return False
        if step.retry:
            self.counters.inc(metrics.RETRIES)
            log.warning("retrying a withdrawal cut off before its answer was recorded")
        key_id, key = self.signing_key
        body = signed(withdrawal_request(request, step.by, step.note, step.at), key_id, key)
        answer = await self._call(body, withdrawal_id(request.request_id), attempt)
        result = self._result(
            request,
            step="withdraw",
            outcome="done" if answer.ok else "failed",
            reason=withdrawn_reason(request, step.by, step.note, answer.ok, answer.detail),
            attempt=attempt,
            action="resume",
            reverses=request.action,
            approved_by=record.approved_by,
            rejected_by=step.by,
            note=step.note,
        )
        final = dataclasses.replace(
            withdrawing, state=WITHDRAWN if answer.ok else WITHDRAW_FAILED, result=result
        )
        if await self.store.transition(final, new_version, self.clock()) is None:
            log.error("record changed while the backend was called; outcome not recorded")
            return True
        self.counters.inc(metrics.WITHDRAWN if answer.ok else metrics.WITHDRAW_FAILED)
        await outbox.result(self.topics.enforcement_results, result, recorded=True)
        return True

    async def _call(self, body: Mapping[str, Any], key: str, attempt: int) -> BackendResult:
        try:
            return await self.backend.apply(body, key)
        except Exception as exc:
            log.exception("backend raised", attempt=attempt)
            return BackendResult(ok=False, detail=f"backend error {type(exc).__name__}: {exc}")

    def _result(
        self,
        request: Request,
        *,
        step: str,
        outcome: Any,
        reason: str,
        attempt: int,
        **extra: Any,
    ) -> dict[str, Any]:
        return result_message(
            request,
            step=step,
            outcome=outcome,
            reason=reason,
            backend=self.backend.name,
            attempt=attempt,
            at_ms=self.clock(),
            **extra,
        )
