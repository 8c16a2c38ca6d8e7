"""``streamwatch notify``: delivers the ``alerts`` topic to Alertmanager and a webhook.

A plain aiokafka consumer in group ``<app_id>-notify`` reads ``alerts`` (read_committed, from
the earliest offset when the group is new, so nothing published before the first start is
lost) in batches. For each message:

- not an alert (not JSON, off the alert's shape): dead-lettered with the reason, counted
  ``invalid``;
- for Alertmanager: the book (``streamwatch.notify.book``) gives what Alertmanager was last
  told of the alert; ``alertmanager.on_alert`` says what to post; the new entry is recorded
  *before* posting, so an alert Alertmanager did not take (down, refusing) is not lost: the
  re-send loop posts every entry of the book every ``STREAMWATCH_NOTIFY_RESEND_S`` and takes
  resolved entries out once delivered;
- for the webhook: the alert is POSTed (signed, retried); one it would not take after its
  retries is dead-lettered with code ``undeliverable`` and the answer, and counted.

Offsets are committed after the batch's dead letters are written. While Redis or Kafka fails,
the message is retried with backoff and nothing is committed. Several notify processes may run
in the group: each delivers its partitions' alerts and each re-sends the whole book, which
Alertmanager takes as the same alerts again (it identifies alerts by their labels).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import orjson
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import KafkaError
from redis.asyncio import Redis
from redis.exceptions import RedisError
from structlog.contextvars import bound_contextvars

from streamwatch.core.codec import DecodeError
from streamwatch.core.deadletter import dead_letter_record, processing_error
from streamwatch.kafka_clients import client_options
from streamwatch.metric_defs import NotifyMetrics
from streamwatch.notify import alertmanager
from streamwatch.notify.alert import parse_alert
from streamwatch.notify.book import Book
from streamwatch.notify.sinks import AlertmanagerSink, Delivery, WebhookSink
from streamwatch.settings import DeploymentSettings

log = structlog.get_logger("streamwatch.notify")

MAX_BATCH: Final = 100
RETRY_START_S: Final = 0.5
RETRY_MAX_S: Final = 10.0


def wall_ms() -> int:
    """The wall clock in epoch milliseconds."""
    return time.time_ns() // 1_000_000


class NotifyWorker:
    """Consumes alerts and delivers them (see the module docstring)."""

    def __init__(
        self,
        settings: DeploymentSettings,
        redis: Redis,
        *,
        alertmanager_sink: AlertmanagerSink | None,
        webhook_sink: WebhookSink | None,
        metrics: NotifyMetrics | None = None,
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        if alertmanager_sink is None and webhook_sink is None:
            raise ValueError("nothing to deliver to: give an Alertmanager or a webhook")
        self.settings = settings
        self.book = Book(redis, settings.redis_prefix)
        self.alertmanager = alertmanager_sink
        self.webhook = webhook_sink
        self.metrics = metrics
        self.clock = clock
        self.stopping = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._dead: list[asyncio.Future[Any]] = []

    @property
    def group_id(self) -> str:
        """The consumer group of the notify processes of this deployment."""
        return f"{self.settings.app_id}-notify"

    def readiness(self) -> str | None:
        """None once the consumer has partitions, else why not (for ``/ready``)."""
        if self._consumer is None:
            return "not connected to Kafka yet"
        if not self._consumer.assignment():
            return "no partitions of the alerts topic assigned yet"
        return None

    async def run(self) -> None:
        """Consume and deliver until ``stopping`` is set."""
        options = client_options(self.settings)
        consumer = AIOKafkaConsumer(
            self.settings.topics.alerts,
            group_id=self.group_id,
            isolation_level="read_committed",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **options,
        )
        producer = AIOKafkaProducer(acks="all", enable_idempotence=True, **options)
        await producer.start()
        resender = asyncio.create_task(self.resend_loop())
        consuming: asyncio.Task[None] | None = None
        try:
            await consumer.start()
            self._consumer = consumer
            log.info("notify worker started", group=self.group_id)
            # Stopping cancels a delivery in flight (a webhook retrying for a minute): its
            # batch is not committed and is delivered again after a restart.
            consuming = asyncio.create_task(self._consume(consumer, producer))
            stopped = asyncio.create_task(self.stopping.wait())
            await asyncio.wait((consuming, stopped), return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if consuming.done():
                consuming.result()  # raises what stopped it
        finally:
            self.stopping.set()
            for task in (consuming, resender):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            self._consumer = None
            await consumer.stop()
            await producer.stop()

    async def _consume(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer) -> None:
        while not self.stopping.is_set():
            batch = await consumer.getmany(timeout_ms=500, max_records=MAX_BATCH)
            for messages in batch.values():
                for message in messages:
                    await self._retrying(functools.partial(self.handle, message, producer))
            if batch:
                await self._retrying(functools.partial(self._commit, consumer))

    async def handle(
        self, message: ConsumerRecord[bytes, bytes], producer: AIOKafkaProducer
    ) -> None:
        """Deliver one message (see the module docstring); raises RedisError or KafkaError
        for the caller to retry."""
        raw = message.value or b""
        source = {
            "topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
            "key": message.key.decode("utf-8", "replace") if message.key else None,
        }
        try:
            alert = parse_alert(raw)
        except DecodeError as exc:
            await self._dead_letter(producer, raw, exc, source)
            self._count("invalid")
            return
        with bound_contextvars(alert_id=alert["alert_id"], revision=alert["revision"]):
            try:
                delivered = await self._deliver(alert, producer, raw, source)
            except (RedisError, KafkaError, OSError):
                raise
            except Exception as exc:  # a bug in delivery must not stop the worker
                await self._dead_letter(producer, raw, processing_error(exc, "delivery"), source)
                delivered = False
            self._count("delivered" if delivered else "failed")

    async def _deliver(
        self,
        alert: dict[str, Any],
        producer: AIOKafkaProducer,
        raw: bytes,
        source: dict[str, Any],
    ) -> bool:
        """Send one alert to every sink; whether all of them took it."""
        delivered = True
        if self.alertmanager is not None:
            delivered = await self._to_alertmanager(alert) and delivered
        if self.webhook is not None:
            answer = await self.webhook.post(alert)
            self._delivery("webhook", "alert", answer)
            if not answer.ok:
                reason = DecodeError("undeliverable", f"webhook: {answer.detail}")
                await self._dead_letter(producer, raw, reason, source)
                delivered = False
        return delivered

    async def _to_alertmanager(self, alert: dict[str, Any]) -> bool:
        assert self.alertmanager is not None
        known = await self.book.get(alert["alert_id"])
        update = alertmanager.on_alert(
            known,
            alert,
            now_ms=self.clock(),
            resend_s=self.settings.notify_resend_s,
            console_url=self.settings.console_url,
        )
        if update.entry is None:
            self._count("stale")
            return True
        await self.book.put(alert["alert_id"], update.entry)
        answer = await self.alertmanager.post(update.postings)
        self._delivery("alertmanager", "alert", answer)
        if answer.ok and update.entry.resolved:
            await self.book.remove_if_unchanged(alert["alert_id"], update.entry)
        return answer.ok

    async def resend_loop(self) -> None:
        """Every resend period, post the book to Alertmanager (see the module docstring)."""
        if self.alertmanager is None:
            return
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.settings.notify_resend_s)
            if self.stopping.is_set():
                return
            try:
                await self.resend()
            except (RedisError, OSError) as exc:
                log.warning("re-send skipped: Redis unavailable", error=str(exc))
            except Exception:  # the next period tries again; the loop must not die
                log.exception("re-send failed")

    async def resend(self) -> None:
        """Post every alert of the book once (what the loop does each period)."""
        assert self.alertmanager is not None
        book = await self.book.all()
        due = alertmanager.due(book, now_ms=self.clock(), resend_s=self.settings.notify_resend_s)
        await self.book.remove(due.expired)
        if self.metrics is not None:
            self.metrics.open_alerts.set(len(book) - len(due.expired))
        if not due.postings:
            return
        answer = await self.alertmanager.post(due.postings)
        self._delivery("alertmanager", "resend", answer)
        if answer.ok:
            for alert_id, entry in book.items():
                if entry.resolved:
                    await self.book.remove_if_unchanged(alert_id, entry)

    async def _dead_letter(
        self,
        producer: AIOKafkaProducer,
        raw: bytes,
        error: DecodeError,
        source: dict[str, Any],
    ) -> None:
        record = dead_letter_record(raw, error, source, self.clock())
        key = source["key"].encode() if source.get("key") else None
        future = await producer.send(
            self.settings.topics.dead_letter, orjson.dumps(record), key=key
        )
        self._dead.append(future)
        if self.metrics is not None:
            self.metrics.dead_letters.labels(error.code).inc()
        log.warning("alert dead-lettered", code=error.code, reason=error.reason, **source)

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        if self._dead:
            await asyncio.gather(*self._dead)
            self._dead.clear()
        await consumer.commit()

    async def _retrying(self, step: Callable[[], Awaitable[None]]) -> None:
        """Run ``step`` until it succeeds or the worker stops, backing off while Redis or
        Kafka fails."""
        wait = RETRY_START_S
        while True:
            try:
                await step()
                return
            except (RedisError, KafkaError, OSError) as exc:
                if self.stopping.is_set():
                    raise
                log.warning("retrying after an error", error=str(exc), wait_s=wait)
                await asyncio.sleep(wait)
                wait = min(wait * 2, RETRY_MAX_S)

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.alerts.labels(outcome).inc()

    def _delivery(self, sink: str, purpose: str, answer: Delivery) -> None:
        if self.metrics is not None:
            self.metrics.deliveries.labels(sink, purpose, "ok" if answer.ok else "failed").inc()
        if not answer.ok:
            log.warning("delivery failed", sink=sink, purpose=purpose, detail=answer.detail)
