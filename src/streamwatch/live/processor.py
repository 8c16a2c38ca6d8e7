"""The live driver of the partition pipelines: what Faust delivers goes in, what comes out is
sent inside the partition's Kafka transaction.

Called by the agent (``streamwatch.live.app``) once per message. ``InputCursor`` makes sure each
topic partition's messages arrive once and in offset order (Faust can skip some); each input
partition has one ``PartitionPipeline`` (``streamwatch.pipeline``), the same one replay runs,
which decodes, orders the partition's three topics by event time, sweeps, steps the core and
dead-letters what it cannot take. Released messages are sent in batches: one transaction
section (``PartitionTransactions.section``) holds a batch's outputs, dead letters and link keys,
and marks its messages processed, so the commit covers whole messages only.

A quiet topic: the pipeline releases a head once every topic of its partition has a message
queued. A topic partition with nothing queued holds the others back only while it could still
deliver an earlier event: once everything up to its end (the high watermark the consumer last
fetched) has arrived, it is caught up and the head goes at once (Kafka Streams' rule for
``max.task.idle.ms``, KIP-695). Where a transactional producer wrote last, the end lies one
marker beyond the last message: a topic partition whose consumer position has reached the end,
with nothing arrived for ``hold_s`` and nothing but markers between what arrived and the end, is
caught up too (``refresh_positions`` asks for the positions of such partitions, on a timer, and
reads the gap once: the position counts what Faust fetched, which it may still buffer). Never
on time alone: in a backlog the end is known and lies ahead, and the head waits for the quiet
topic's messages, however slowly they come, or until more than ``max_held`` messages are queued
for the partition. Failures to send (Kafka)
propagate: the agent's supervisor (or the timer's service) stops the worker and the open
transaction is aborted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from functools import partial
from typing import Any, Final, cast

import orjson
import structlog
from aiokafka import TopicPartition
from aiokafka.errors import MessageSizeTooLargeError
from faust.types import TP
from structlog.contextvars import bound_contextvars

from streamwatch.core.codec import encode
from streamwatch.core.engine import Core
from streamwatch.core.rings import ALWAYS, NEVER
from streamwatch.core.signing import request_message
from streamwatch.core.state import CustomerState
from streamwatch.live import metrics
from streamwatch.live.ordering import HoleUnreadable, Incoming, InputCursor
from streamwatch.live.publisher import RedisPublisher, StateViews
from streamwatch.live.rings import RING_PARTITION, encode_progress, encode_sighting
from streamwatch.live.state_store import CustomerStates
from streamwatch.live.transactions import PartitionTransactions, Sender
from streamwatch.metric_defs import WorkerMetrics
from streamwatch.pipeline.ordering import DEFAULT_MAX_SKEW_MS, CaughtUp, Message
from streamwatch.pipeline.partition import PartitionPipeline, Step
from streamwatch.settings import INPUT_TOPICS, TopicNames

log = structlog.get_logger("streamwatch.live.processor")

HOLD_S: Final = 0.5
"""How long the partition's longest-waiting message may wait for a quiet topic."""
MAX_HELD: Final = 10_000
"""Messages queued per partition beyond which the merge goes on without a quiet topic."""
BATCH: Final = 256
"""Messages released in one transaction section, at most."""
PER_ARRIVAL: Final = 2
"""Messages the agent releases per message it adds (a timer releases the rest)."""
PROGRESS_EVERY_S: Final = 0.2
"""How often, at most, a partition tells the ring agent how far it has released."""
IDLE_S: Final = 5.0
"""How long a partition with nothing queued and every topic caught up must have had nothing
arrive before it tells the ring agent it is idle (``Processor.passed_ms``)."""


def wall_clock_ms() -> int:
    """Milliseconds since the epoch, from the system clock (stamps ``detected_at`` only)."""
    return time.time_ns() // 1_000_000


class PartitionStore:
    """One input partition's customers in the changelog-backed table, as the pipeline's
    ``CustomerStore``."""

    def __init__(self, states: CustomerStates, partition: int) -> None:
        self.states = states
        self.partition = partition

    def get(self, customer_id: str) -> CustomerState:
        return self.states.get(customer_id.encode(), customer_id)

    def changed(self, customer_id: str, state: CustomerState) -> None:
        self.states.changed(self.partition, customer_id.encode(), state)

    def customers(self) -> Iterable[str]:
        return [k.decode("utf-8", "replace") for k in self.states.customers_of(self.partition)]

    def forget(self, customer_id: str) -> None:
        self.states.forget(self.partition, customer_id.encode())


class Processor:
    """Feeds each input partition's pipeline and sends what it releases (module docstring).

    ``cursor`` makes the ``InputCursor`` from the processor's ``next_offset``.
    """

    def __init__(  # noqa: PLR0915 - one assignment per collaborator
        self,
        core: Core,
        states: CustomerStates,
        transactions: PartitionTransactions,
        topics: TopicNames,
        publisher: RedisPublisher,
        cursor: Callable[[Callable[[TP], int | None]], InputCursor],
        clock: Callable[[], int] = wall_clock_ms,
        signing_key: tuple[str, bytes] | None = None,
        ring_keys: str | None = None,
        *,
        can_process: Callable[[], bool] = lambda: True,
        hold_s: float = HOLD_S,
        max_held: int = MAX_HELD,
        max_skew_ms: int = DEFAULT_MAX_SKEW_MS,
        idle_s: float = IDLE_S,
        monotonic: Callable[[], float] = time.monotonic,
        end_offset: Callable[[TP], int | None] = lambda _tp: None,
        position: Callable[[TP], Awaitable[int | None]] | None = None,
        metrics: WorkerMetrics | None = None,
        last_poll: Callable[[TP], int | None] = lambda _tp: None,
        state_report: Callable[[int], dict[str, Any]] = lambda _partition: {},
    ) -> None:
        self.core = core
        self.states = states
        self.transactions = transactions
        self.topics = topics
        self.publisher = publisher
        self.views = StateViews(states, core, clock)
        """Builds the risk views of the customers the publisher is told of."""
        self.counters = publisher.counters
        self.cursor = cursor(self.next_offset)
        """Reads what the stream skipped; it asks ``next_offset`` what has arrived."""
        self.clock = clock
        self.signing_key = signing_key
        """(key id, secret) that signs enforcement requests; None sends them unsigned."""
        self.ring_keys = ring_keys
        """The re-key topic that link keys go to (``streamwatch.live.rings``); None: not sent."""
        self.can_process = can_process
        """False while Faust rebalances or stops: state may be recovering."""
        self.hold_s = hold_s
        self.max_held = max_held
        self.max_skew_ms = max_skew_ms
        self.idle_s = idle_s
        self.lateness_ms = core.settings.allowed_lateness_s * 1000
        """What a partition's progress lags its releases by (``passed_ms``)."""
        self.monotonic = monotonic
        self.end_offset = end_offset
        """The end (high watermark) of a topic partition as the consumer last fetched it;
        None when unknown."""
        self.position = position
        """The consumer's position in a topic partition (past transaction markers)."""
        self.metrics = metrics
        """Prometheus metrics to count into (``streamwatch.metric_defs``); None counts none."""
        self._catalogue_names = dict(zip(topics.inputs, INPUT_TOPICS, strict=True))
        self._stamps: dict[tuple[str, int, int], int] = {}
        """Kafka timestamp of each queued message with metrics on, by (topic, partition,
        offset)."""
        self.last_poll = last_poll
        self.state_report = state_report
        """What the worker knows of a partition's recovered state, logged when its pipeline
        is made (how many customers, how far the changelog was read)."""
        """When the consumer last had a fetch answer for a topic partition (epoch ms), which
        updated its end; None when unknown."""
        self._fetched_at: dict[int, int] = {}
        """Per input partition, the newest ``last_poll`` of a topic partition when one of its
        messages was queued: a quiet topic partition's end counts only if fetched since."""
        self._arrived_at: dict[TP, float] = {}
        self._positions: dict[TP, int] = {}
        self._gaps: dict[TP, tuple[int, int]] = {}
        """Per topic partition, the last [start, end) read and found to hold markers only."""
        self._pipelines: dict[int, PartitionPipeline] = {}
        self._drains: dict[int, asyncio.Lock] = {}
        self._key_mismatch_logged = False
        self._assigned: set[int] = set()
        self._released_ms: dict[int, int] = {}
        """Per input partition, the latest event time released in this assignment."""
        self._told: dict[int, tuple[int, float]] = {}
        """Per input partition, what the ring agent was last told it has passed, and when."""
        self._lock = asyncio.Lock()
        """One arrival at a time, whether the stream or ``catch_up`` brings it, so that the
        cursor and the pipelines see each partition's messages once and in offset order."""

    def next_offset(self, tp: TP) -> int | None:
        """The offset after the last message of ``tp`` queued or processed; None before any
        (the cursor's notion of what has arrived)."""
        pipeline = self._pipelines.get(tp.partition)
        if pipeline is not None:
            last = pipeline.merge.last_offset(tp.topic)
            if last is not None:
                return last + 1
        return self.transactions.next_offset(tp)

    def behind(self, partition: int) -> int:
        """How many messages of ``partition``'s inputs lie between what arrived and their ends
        as last fetched (0 where unknown)."""
        total = 0
        for topic in self.topics.inputs:
            tp = _tp(topic, partition)
            end, arrived = self.end_offset(tp), self.next_offset(tp)
            if end is not None and arrived is not None and end > arrived:
                total += end - arrived
        return total

    def held(self, partition: int) -> int:
        """How many messages of ``partition`` are queued in its pipeline."""
        pipeline = self._pipelines.get(partition)
        return 0 if pipeline is None else len(pipeline.merge)

    async def process(self, message: Incoming) -> None:
        """Handle one message delivered by the stream, after any the stream skipped: queue
        them, then release what the partition's pipeline lets through.

        See the module docstring for what may raise.
        """
        async with self._lock:
            missing = await self.cursor.before(message.tp, message.offset)
            if missing is None:
                log.debug(
                    "message delivered again after a seek; already queued or processed",
                    partition=f"{message.tp.topic}:{message.tp.partition}",
                    offset=message.offset,
                )
                return
            for incoming in (*missing, message):
                self._add(incoming)
        await self._drain(message.tp.partition, PER_ARRIVAL * (len(missing) + 1))

    async def process_many(self, messages: Sequence[Incoming]) -> None:
        """``process`` for a batch the stream delivered together: queued in order, then each
        partition released once, in batches."""
        partitions: set[int] = set()
        async with self._lock:
            for message in messages:
                missing = await self.cursor.before(message.tp, message.offset)
                if missing is None:
                    continue
                for incoming in (*missing, message):
                    self._add(incoming)
                partitions.add(message.tp.partition)
        for partition in sorted(partitions):
            await self._drain(partition, self.held(partition))

    async def catch_up(self, tps: Collection[TP]) -> None:
        """Queue, then release, messages the stream left behind at the end of ``tps`` (see
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
                    self._add(message)
        for tp, messages in stranded.items():
            await self._drain(tp.partition, len(messages))

    async def release_held(self) -> None:
        """Release what the pipelines hold whose turn has come by now (on a timer)."""
        for partition in sorted(p for p, pipe in self._pipelines.items() if len(pipe.merge)):
            await self._drain(partition, self.held(partition), pause=True)

    def keep(self, partitions: Collection[int]) -> None:
        """Drop the pipelines of input partitions no longer assigned: what they held was not
        processed, and their new owner reads it again from the committed offset."""
        for partition in [p for p in self._pipelines if p not in partitions]:
            del self._pipelines[partition]
        self._assigned = set(partitions)
        self._released_ms = {p: t for p, t in self._released_ms.items() if p in partitions}
        self._told.clear()  # the ring agent may have moved: tell it again
        if self._stamps:
            self._stamps = {k: v for k, v in self._stamps.items() if k[1] in partitions}
        # A topic partition is quiet only once nothing has come for a while since assignment.
        now = self.monotonic()
        self._positions.clear()
        self._gaps.clear()
        for partition in partitions:
            for topic in self.topics.inputs:
                self._arrived_at[_tp(topic, partition)] = now

    async def idle(self) -> None:
        """Wait for the releases under way to end (call once ``can_process`` turned false)."""
        for lock in list(self._drains.values()):
            async with lock:
                pass

    def _pipeline(self, partition: int) -> PartitionPipeline:
        pipeline = self._pipelines.get(partition)
        if pipeline is None:
            store = PartitionStore(self.states, partition)
            watermarks = [store.get(c).watermark_ms for c in store.customers()]
            log.info(
                "partition pipeline started",
                partition=partition,
                customers=len(watermarks),
                **self.state_report(partition),
            )
            pipeline = self._pipelines[partition] = PartitionPipeline(
                self.core,
                self.topics.inputs,
                store,
                clock=self.clock,
                origin=_origin(partition),
                clock_ms=max(watermarks) if watermarks else None,
                max_skew_ms=self.max_skew_ms,
            )
        return pipeline

    async def refresh_positions(self) -> None:
        """Ask the consumer where it stands in the quiet topic partitions whose end lies beyond
        what arrived (a transaction marker, or messages still to come); on a timer."""
        if self.position is None:
            return
        now = self.monotonic()
        for partition, pipeline in list(self._pipelines.items()):
            if not len(pipeline.merge) and self.ring_keys is None:
                continue  # (with rings: whether it is idle, see ``passed_ms``)
            for stream in pipeline.merge.rank:
                tp = _tp(stream, partition)
                end, arrived = self.end_offset(tp), self.next_offset(tp)
                quiet = now - self._arrived_at.get(tp, 0.0) >= self.hold_s
                if end is None or not quiet:
                    continue
                if arrived is None or arrived < end:
                    found = await self.position(tp)
                    if found is None:
                        continue
                    if found >= end and not await self._markers_only(tp, arrived, end):
                        # The consumer has fetched up to the end, but records lie between what
                        # reached the pipeline and the end: Faust still buffers them. Caught up
                        # only once they have come.
                        self._positions.pop(tp, None)
                        continue
                    self._positions[tp] = found

    async def _markers_only(self, tp: TP, arrived: int | None, end: int) -> bool:
        """Whether only transaction markers (and aborted records) lie between what reached the
        pipeline of ``tp`` and ``end``. The consumer's position counts what Faust fetched, and
        Faust may still buffer fetched records on their way to the agent (in a backlog, for
        seconds): a position at the end alone would count a topic caught up while its earlier
        events are still to come (they would then be late). Read from Kafka once per gap."""
        try:
            async with self._lock:  # the cursor's reader is shared with arrivals
                start = arrived if arrived is not None else await self.cursor.expected(tp)
                if self._gaps.get(tp) == (start, end):
                    return True
                if await self.cursor.holds_records(tp, start, end):
                    return False
        except HoleUnreadable as exc:
            log.warning("could not read a quiet topic's gap; not counted caught up", error=str(exc))
            return False
        self._gaps[tp] = (start, end)
        return True

    def _fetched_since(self, tp: TP) -> bool:
        """Whether ``tp``'s end was fetched no earlier than the messages queued with it.

        Its end as of an older fetch says nothing of what it had by the time a newer fetch
        brought another topic's later events: a consumer does not fetch a partition whose
        fetched messages it still buffers, so one topic's end can lag another's (KIP-695's
        rule assumes the ends are of one moment)."""
        needed = self._fetched_at.get(tp.partition)
        if needed is None:
            return True
        polled = self.last_poll(tp)
        return polled is not None and polled >= needed

    def _add(self, incoming: Incoming) -> None:
        message = Message(
            incoming.tp.topic, incoming.offset, incoming.key, incoming.value or b"", incoming.key
        )
        now = self.monotonic()
        if self.metrics is not None and incoming.timestamp_ms is not None:
            tp = incoming.tp
            self._stamps[(tp.topic, tp.partition, incoming.offset)] = incoming.timestamp_ms
        self._arrived_at[incoming.tp] = now
        partition = incoming.tp.partition
        polled = self.last_poll(incoming.tp)
        if polled is not None and polled > self._fetched_at.get(partition, 0):
            self._fetched_at[partition] = polled
        self._pipeline(partition).add(message)

    def _caught_up(self, pipeline: PartitionPipeline, partition: int) -> CaughtUp:
        go_on = len(pipeline.merge) > self.max_held
        now = self.monotonic()

        def caught_up(stream: str, _ts_ms: int) -> bool:
            if go_on:
                return True
            tp = _tp(stream, partition)
            end, arrived = self.end_offset(tp), self.next_offset(tp)
            if end is None:
                return False
            if arrived is not None and arrived >= end and self._fetched_since(tp):
                return True
            # Only transaction markers left? The consumer is past the end, nothing came for a
            # while, and the end is no older than the messages waiting (or it says nothing of
            # what came since: in a backlog, a topic's fetches can lag the others').
            position = self._positions.get(tp)
            quiet = now - self._arrived_at.get(tp, 0.0) >= self.hold_s
            return position is not None and position >= end and quiet and self._fetched_since(tp)

        return caught_up

    async def _drain(self, partition: int, most: int, pause: bool = False) -> None:
        """Release up to ``most`` messages of ``partition`` in batches, each batch in one
        transaction section. One drain at a time per partition: while one is under way,
        another returns at once. With ``pause``, other tasks run between batches."""
        pipeline = self._pipelines.get(partition)
        lock = self._drains.setdefault(partition, asyncio.Lock())
        if pipeline is None or lock.locked() or not self.can_process():
            return
        async with lock:
            while most > 0 and self.can_process() and pipeline is self._pipelines.get(partition):
                if pipeline.merge.next(self._caught_up(pipeline, partition)) is None:
                    return
                steps = await self._release(pipeline, partition, min(most, BATCH))
                if not steps:
                    return
                most -= len(steps)
                self._account(pipeline, partition, steps)
                if pause:
                    await asyncio.sleep(0)

    async def _release(self, pipeline: PartitionPipeline, partition: int, most: int) -> list[Step]:
        transactions = self.transactions
        anchor = TP(self.topics.inputs[0], partition)
        async with transactions.section(anchor) as out:
            steps = pipeline.release(self._caught_up(pipeline, partition), most=most)
            # Marked before the sends: while they are awaited, an arrival asks ``next_offset``
            # where the partition stands, and the released messages have left the merge. (A
            # failed send breaks the transaction, marks and all.)
            for step in steps:
                message = step.message
                assert message is not None
                transactions.mark(_tp(message.stream, partition), message.offset)
            for step in steps:
                await self._send(out, step)
            if self.ring_keys is not None:
                released = max((s.event.ts_ms for s in steps if s.event is not None), default=None)
                if released is not None and released > self._released_ms.get(partition, NEVER):
                    self._released_ms[partition] = released
                await self._tell_rings(out, pipeline, partition)
        return steps

    def passed_ms(self, pipeline: PartitionPipeline, partition: int) -> int | None:
        """What ``partition`` can tell the ring agent (``SightingGate.passed``): the latest
        event time it released less the allowed lateness, None before any; ``ALWAYS`` once it
        is idle (nothing queued, every topic caught up, nothing arrived for ``idle_s``).

        Less the lateness because a topic caught up a moment ago can still deliver an event
        that precedes what the others released: a sign-up produced a second before a usage
        record of a later hour can reach the worker after it. Replay folds sightings only once
        its frontier is the allowed lateness past them (``Window.safe_ms``); so does the live
        worker, or the two would fold such a sign-up in different places. ``idle_s`` keeps a
        partition that is between two messages from saying it is idle."""
        if not len(pipeline.merge) and self._quiet_s(partition) >= self.idle_s:
            caught_up = self._caught_up(pipeline, partition)
            if all(caught_up(stream, 0) for stream in pipeline.merge.rank):
                return ALWAYS
        released = self._released_ms.get(partition)
        return None if released is None else released - self.lateness_ms

    def _quiet_s(self, partition: int) -> float:
        """For how long nothing has arrived on any topic of ``partition``."""
        last = max(self._arrived_at.get(_tp(t, partition), 0.0) for t in self.topics.inputs)
        return self.monotonic() - last

    def _progress_due(self, pipeline: PartitionPipeline, partition: int) -> int | None:
        """What ``partition`` is to tell the ring agent now: ``passed_ms`` if that changed
        since it last told it, and not within ``PROGRESS_EVERY_S`` of then; else None (the
        timer, ``tell_rings``, sends it later if nothing else does sooner)."""
        passed = self.passed_ms(pipeline, partition)
        if passed is None:
            return None
        told = self._told.get(partition)
        if told is not None and (
            passed == told[0] or self.monotonic() - told[1] < PROGRESS_EVERY_S
        ):
            return None
        return passed

    async def _tell_rings(self, out: Sender, pipeline: PartitionPipeline, partition: int) -> None:
        """Inside ``partition``'s section: send how far it has got to the ring agent, when it
        is due (``_progress_due``). In the transaction of the sightings it follows, so never
        ahead of them."""
        assert self.ring_keys is not None
        passed = self._progress_due(pipeline, partition)
        if passed is not None:
            await out.send(self.ring_keys, *encode_progress(partition, passed), RING_PARTITION)
            self._told[partition] = (passed, self.monotonic())

    async def tell_rings(self) -> None:
        """On a timer: every assigned partition tells the ring agent how far it has got, if
        that changed since it last did (see ``_tell_rings``)."""
        if self.ring_keys is None:
            return
        transactions = self.transactions
        for partition in sorted(self._assigned):
            if not self.can_process():
                return
            pipeline = self._pipeline(partition)
            if self._progress_due(pipeline, partition) is None:
                continue  # no transaction opened for nothing
            lock = self._drains.setdefault(partition, asyncio.Lock())
            async with lock:
                if pipeline is not self._pipelines.get(partition):
                    continue  # revoked meanwhile
                async with transactions.section(TP(self.topics.inputs[0], partition)) as out:
                    await self._tell_rings(out, pipeline, partition)

    async def _send(self, out: Sender, step: Step) -> None:
        message = step.message
        assert message is not None
        if step.dead_letter is not None:
            await self._send_dead_letter(out, message, step.dead_letter)
        topics = self.topics
        for alert in step.alerts:
            await out.send(topics.alerts, alert.customer_id.encode(), encode(alert))
        for request in step.requests:
            signed = request_message(request, self.signing_key)
            await out.send(topics.enforcement, request.customer_id.encode(), encode(signed))
        if self.ring_keys is not None:
            for sighting in step.sightings:
                await out.send(self.ring_keys, *encode_sighting(sighting), RING_PARTITION)

    async def _send_dead_letter(
        self, out: Sender, message: Message, record: dict[str, Any]
    ) -> None:
        topic = self.topics.dead_letter
        try:
            await out.send(topic, message.key, orjson.dumps(record))
        except MessageSizeTooLargeError:
            # Only if an input topic allows more than the dead-letter topic can hold.
            record["reason"] += f" (original of {len(message.value)} bytes too large to keep)"
            record["original_b64"] = ""
            await out.send(topic, message.key, orjson.dumps(record))

    def _account(self, pipeline: PartitionPipeline, partition: int, steps: list[Step]) -> None:
        """Counters, log lines and the risk view, once the batch is in its transaction."""
        counters = self.counters
        for name, count in pipeline.counts.items():
            counters.inc(name, count)
        pipeline.counts.clear()
        now_ms = self.clock()
        if self.metrics is not None:
            self._measure(self.metrics, partition, steps, now_ms)
        for step in steps:
            message = step.message
            assert message is not None
            event = step.event
            if (
                step.dead_letter is not None
                or step.alerts
                or step.requests
                or step.shadowed
                or step.suppressed
                or step.late
                or (event is not None and message.key != event.customer_id.encode())
            ):
                with bound_contextvars(
                    topic=message.stream, partition=partition, offset=message.offset
                ):
                    self._log(message, step)
            for state in step.views:
                # Built at the publisher's next flush, once however many events changed it.
                self.publisher.mark_later(state.customer_id, partial(self.views.of, state))

    def _measure(
        self, metrics: WorkerMetrics, partition: int, steps: list[Step], now_ms: int
    ) -> None:
        """Prometheus counters of a batch sent in its transaction."""
        for step in steps:
            message = step.message
            assert message is not None
            metrics.events_in.labels(
                self._catalogue_names.get(message.stream, message.stream)
            ).inc()
            stamp = self._stamps.pop((message.stream, partition, message.offset), None)
            if step.dead_letter is not None:
                metrics.dead_letters.labels(step.dead_letter["code"]).inc()
            for alert in step.alerts:
                metrics.alerts.labels(alert.kind, alert.severity).inc()
            if step.alerts and stamp is not None:
                metrics.event_to_alert.observe(max(0, now_ms - stamp) / 1000)
            for request in step.requests:
                metrics.requests.labels(request.action, "sent").inc()
            for request in step.shadowed:
                metrics.requests.labels(request.action, "shadowed").inc()

    def _log(self, message: Message, step: Step) -> None:
        if step.dead_letter is not None:
            record = step.dead_letter
            log.warning(
                "message dead-lettered",
                code=record["code"],
                field=record["field"],
                reason=record["reason"][:500],
                size=len(message.value),
            )
        event = step.event
        if event is None or step.dead_letter is not None:
            return
        with bound_contextvars(customer_id=event.customer_id):
            if message.key != event.customer_id.encode():
                # Counted always, logged at warning once per run: a misconfigured producer
                # does it for every message. Its events still count for the customer named.
                self.counters.inc(metrics.KEY_MISMATCH)
                level = logging.DEBUG if self._key_mismatch_logged else logging.WARNING
                self._key_mismatch_logged = True
                log.log(
                    level,
                    "kafka key is not the event's customer_id (further ones at debug level)",
                    kafka_key=_text(message.key),
                )
            if step.duplicate:
                log.debug("duplicate event ignored", event_id=event.event_id)
            elif step.late:
                log.info("late event", event_id=event.event_id, ts=event.ts)
        for alert in step.alerts:
            log.info(
                "alert",
                alert_id=alert.alert_id,
                kind=alert.kind,
                severity=alert.severity,
                revision=alert.revision,
                event_time=alert.event_time,
            )
        for request in step.requests:
            log.info(
                "enforcement request",
                request_id=request.request_id,
                action=request.action,
                policy=request.policy,
                requires_approval=request.requires_approval,
            )
        for request in step.shadowed:
            log.info(
                "enforcement request in shadow mode (not sent)",
                request_id=request.request_id,
                action=request.action,
                policy=request.policy,
            )
        for alert, suppression in step.suppressed:
            log.info(
                "alert suppressed by feedback (not sent)",
                alert_id=alert.alert_id,
                kind=alert.kind,
                revision=alert.revision,
                suppression=suppression,
            )


def _tp(topic: str, partition: int) -> TP:
    # aiokafka's TopicPartition, as the stream's messages carry (Faust's TP equals it, but
    # send_offsets_to_transaction accepts only aiokafka's).
    return cast(TP, TopicPartition(topic, partition))


def _origin(partition: int) -> Callable[[Message], dict[str, Any]]:
    def origin(message: Message) -> dict[str, Any]:
        return {
            "topic": message.stream,
            "partition": partition,
            "offset": message.offset,
            "key": _text(message.key),
        }

    return origin


def _text(key: bytes | None) -> str | None:
    return None if key is None else key.decode("utf-8", errors="replace")
