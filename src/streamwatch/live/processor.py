"""What the worker does with one input message: decode, step the core, send, count.

Called by the agent (``streamwatch.live.app``) once per message; ``InputCursor`` keeps each
partition in offset order, and ``Alignment`` holds messages until the three topics of their
partition can be processed in event-time order. Bad input never stops it: a message that
breaks the contract goes to the dead-letter topic with its reason; an unexpected error in the
codec or the core (a bug) is logged with the head of the message, counted, and the message
passed over (the dead-letter schema has no code for it yet). Failures to send (Kafka)
propagate: the agent's supervisor (or the timer's service) stops the worker and the open
transaction is aborted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection
from typing import Any

import orjson
import structlog
from aiokafka.errors import MessageSizeTooLargeError
from faust.types import TP
from structlog.contextvars import bound_contextvars

from streamwatch.core.codec import DecodeError, decode_event, encode
from streamwatch.core.deadletter import dead_letter_record
from streamwatch.core.engine import NOTHING, SWEEP_MS, Core, Decisions
from streamwatch.core.events import Event
from streamwatch.core.rings import sightings
from streamwatch.core.signing import request_message
from streamwatch.live import metrics
from streamwatch.live.alignment import PER_ARRIVAL, Alignment, Decoded, Held
from streamwatch.live.ordering import Incoming, InputCursor
from streamwatch.live.publisher import RedisPublisher
from streamwatch.live.redis_view import customer_view
from streamwatch.live.rings import encode_sighting
from streamwatch.live.settings import TopicNames
from streamwatch.live.state_store import CustomerStates
from streamwatch.live.transactions import PartitionTransactions, Sender

log = structlog.get_logger("streamwatch.live.processor")


def wall_clock_ms() -> int:
    """Milliseconds since the epoch, from the system clock (stamps ``detected_at`` only)."""
    return time.time_ns() // 1_000_000


class Processor:
    """Turns input messages into state changes and output messages (see module docstring)."""

    def __init__(
        self,
        core: Core,
        states: CustomerStates,
        transactions: PartitionTransactions,
        topics: TopicNames,
        publisher: RedisPublisher,
        cursor: InputCursor,
        clock: Callable[[], int] = wall_clock_ms,
        signing_key: tuple[str, bytes] | None = None,
        ring_keys: str | None = None,
        *,
        alignment: Alignment,
    ) -> None:
        self.core = core
        self.alignment = alignment
        """Where messages wait for their turn in event time; the cursor's ``next_offset``
        must be ``alignment.next_offset``, which counts them."""
        self.signing_key = signing_key
        """(key id, secret) that signs enforcement requests; None sends them unsigned."""
        self.cursor = cursor
        self.states = states
        self.transactions = transactions
        self.topics = topics
        self.publisher = publisher
        self.counters = publisher.counters
        self.clock = clock
        self.ring_keys = ring_keys
        """The re-key topic that link keys go to (``streamwatch.live.rings``); None: not sent."""
        self._key_mismatch_logged = False
        self._next_sweep_ms: dict[int, int] = {}
        self._lock = asyncio.Lock()
        """One arrival at a time, whether the stream or ``catch_up`` brings it, so that the
        cursor and the alignment see each partition's messages once and in offset order."""

    async def process(self, message: Incoming) -> None:
        """Handle one message delivered by the stream, after any the stream skipped: hold
        them, then process whatever held message of the partition has its turn.

        See the module docstring for what may raise.
        """
        async with self._lock:
            missing = await self.cursor.before(message.tp, message.offset)
            if missing is None:
                log.debug(
                    "message delivered again after a seek; already held or processed",
                    partition=f"{message.tp.topic}:{message.tp.partition}",
                    offset=message.offset,
                )
                return
            for incoming in (*missing, message):
                self.alignment.add(incoming, self._decode(incoming))
        most = PER_ARRIVAL * (len(missing) + 1)
        await self.alignment.drain(message.tp.partition, self._process, most)

    async def catch_up(self, tps: Collection[TP]) -> None:
        """Hold, then process, messages the stream left behind at the end of ``tps`` (see
        ``InputCursor.stranded``); the worker calls it on a timer, between rebalances."""
        async with self._lock:
            stranded = await self.cursor.stranded(tps)
            for tp, messages in stranded.items():
                log.warning(
                    "messages left behind by the stream were read from kafka",
                    partition=f"{tp.topic}:{tp.partition}",
                    first=messages[0].offset,
                    count=len(messages),
                )
                for message in messages:
                    self.alignment.add(message, self._decode(message))
        for tp, messages in stranded.items():
            await self.alignment.drain(tp.partition, self._process, len(messages))

    async def release_held(self) -> None:
        """Process the held messages whose turn has come by now (called on a timer)."""
        await self.alignment.drain_all(self._process)

    def _decode(self, message: Incoming) -> Decoded:
        try:
            return decode_event(message.value if message.value is not None else b"")
        except DecodeError as error:
            return error
        except Exception:
            # decode_event promises DecodeError only; if it breaks that promise, the message
            # is kept in the log rather than stopping the partition.
            with bound_contextvars(
                topic=message.tp.topic, partition=message.tp.partition, offset=message.offset
            ):
                log.exception(
                    "codec failed unexpectedly; message skipped", **_original(message.value or b"")
                )
            return None

    async def _process(self, held: Held) -> None:
        message, decoded = held.message, held.decoded
        with bound_contextvars(
            topic=message.tp.topic, partition=message.tp.partition, offset=message.offset
        ):
            now_ms = self.clock()
            if isinstance(decoded, DecodeError):
                await self._dead_letter(message, message.value or b"", decoded, now_ms)
            elif decoded is None:
                self.counters.inc(metrics.PROCESSING_ERRORS)
                async with self.transactions.section(message.tp, message.offset):
                    pass  # passed over, but processed: the commit may move past it
            else:
                with bound_contextvars(customer_id=decoded.customer_id):
                    await self._step(message, decoded, now_ms)

    async def _step(self, message: Incoming, event: Event, now_ms: int) -> None:
        key = event.customer_id.encode()
        if message.key != key:
            # Counted always, logged at warning once per run: a misconfigured producer does it
            # for every message. Its events still count for the customer they name.
            self.counters.inc(metrics.KEY_MISMATCH)
            level = logging.DEBUG if self._key_mismatch_logged else logging.WARNING
            self._key_mismatch_logged = True
            log.log(
                level,
                "kafka key is not the event's customer_id (further ones at debug level)",
                kafka_key=_text(message.key),
            )
        decisions: Decisions | None = None
        async with self.transactions.section(message.tp, message.offset) as out:
            if event.ts_ms >= self._next_sweep_ms.get(message.tp.partition, 0):
                await self._sweep(out, message.tp.partition, event.ts_ms, now_ms)
            state = self.states.get(key, event.customer_id)
            try:
                decisions = self.core.step(state, event, now_ms)
            except Exception:
                log.exception(
                    "core failed on a valid event; event skipped",
                    event_id=event.event_id,
                    **_original(message.value or b""),
                )
            self.states.changed(message.tp.partition, key, state)
            if decisions is not None:
                await self._send(out, key, decisions)
                if self.ring_keys is not None and not decisions.duplicate:
                    for sighting in sightings(event):
                        await out.send(self.ring_keys, *encode_sighting(sighting))
        if decisions is None:
            self.counters.inc(metrics.PROCESSING_ERRORS)
            return
        self._account(event, decisions)
        if decisions.alerts or (event.type == "payment" and state.alerts):
            # A payment moves the money at risk of a customer already in the view.
            view = customer_view(state, now_ms, self.core.money_at_risk(state))
            self.publisher.mark(event.customer_id, view)

    async def _sweep(self, out: Sender, partition: int, until_ms: int, now_ms: int) -> None:
        """The partition's event time passed an hour mark: age every customer of the partition
        (``Core.sweep``), so that one gone quiet still reaches its due dates. Runs in the
        section of the message that passed the mark; a customer is stored only when the sweep
        found something, since a sweep that finds nothing is safe to repeat after a restart."""
        self._next_sweep_ms[partition] = until_ms - until_ms % SWEEP_MS + SWEEP_MS
        if not self.core.timed:
            return
        for key in self.states.customers_of(partition):
            customer_id = key.decode("utf-8", errors="replace")
            state = self.states.get(key, customer_id)
            decisions = self.core.sweep(state, until_ms, now_ms)
            if decisions is NOTHING:
                continue
            self.states.changed(partition, key, state)
            await self._send(out, key, decisions)
            self._account_outputs(decisions)
            if decisions.alerts:
                view = customer_view(state, now_ms, self.core.money_at_risk(state))
                self.publisher.mark(customer_id, view)

    async def _send(self, out: Sender, key: bytes, decisions: Decisions) -> None:
        for alert in decisions.alerts:
            await out.send(self.topics.alerts, key, encode(alert))
        for request in decisions.requests:
            message = request_message(request, self.signing_key)
            await out.send(self.topics.enforcement, key, encode(message))

    def _account(self, event: Event, decisions: Decisions) -> None:
        counters = self.counters
        counters.inc(metrics.EVENTS)
        if decisions.duplicate:
            counters.inc(metrics.DUPLICATES)
            log.debug("duplicate event ignored", event_id=event.event_id)
            return
        if decisions.late:
            counters.inc(metrics.LATE)
            log.info("late event", event_id=event.event_id, ts=event.ts)
        self._account_outputs(decisions)

    def _account_outputs(self, decisions: Decisions) -> None:
        counters = self.counters
        for alert in decisions.alerts:
            counters.inc(metrics.ALERTS)
            log.info(
                "alert",
                alert_id=alert.alert_id,
                kind=alert.kind,
                severity=alert.severity,
                revision=alert.revision,
                event_time=alert.event_time,
            )
        for request in decisions.requests:
            counters.inc(metrics.REQUESTS)
            log.info(
                "enforcement request",
                request_id=request.request_id,
                action=request.action,
                policy=request.policy,
                requires_approval=request.requires_approval,
            )
        for request in decisions.shadowed:
            counters.inc(metrics.SHADOWED)
            log.info(
                "enforcement request in shadow mode (not sent)",
                request_id=request.request_id,
                action=request.action,
                policy=request.policy,
            )

    async def _dead_letter(
        self, message: Incoming, raw: bytes, error: DecodeError, now_ms: int
    ) -> None:
        source = {
            "topic": message.tp.topic,
            "partition": message.tp.partition,
            "offset": message.offset,
            "key": _text(message.key),
        }
        record = dead_letter_record(raw, error, source, now_ms)
        async with self.transactions.section(message.tp, message.offset) as out:
            try:
                await out.send(self.topics.dead_letter, message.key, orjson.dumps(record))
            except MessageSizeTooLargeError:
                # Only if an input topic allows more than the dead-letter topic can hold.
                record["reason"] += f" (original of {len(raw)} bytes too large to keep)"
                record["original_b64"] = ""
                await out.send(self.topics.dead_letter, message.key, orjson.dumps(record))
        self.counters.inc(metrics.DEAD_LETTER)
        self.counters.inc(metrics.dead_letter_code(error.code))
        log.warning(
            "message dead-lettered",
            code=error.code,
            field=error.field,
            reason=error.reason[:500],
            size=len(raw),
        )


def _text(key: bytes | None) -> str | None:
    return None if key is None else key.decode("utf-8", errors="replace")


def _original(raw: bytes) -> dict[str, Any]:
    return {"original_size": len(raw), "original_head": raw[:200].decode("utf-8", "replace")}
