"""Every input message processed once, in offset order, whatever Faust delivers.

Faust's stream can skip messages: after a restart or rebalance it drops (and acknowledges)
messages fetched before the partitions were resumed, expecting a seek back to the committed
offset to bring them again; the SIGKILL integration test caught runs in which that seek came
too early and the messages never came again. Committing past them would lose them for good.

So the agent asks ``InputCursor.before`` about each message: a message below the partition's
next expected offset was processed already (Faust delivers it again after a seek) and is
dropped; a message above it means a hole, whose messages the cursor reads straight from Kafka
(``read_committed``, its own consumer outside the group) so that they are processed first, in
order. Offsets a read cannot find (transaction markers of a transactional producer, aborted
records) are legitimately absent and simply passed over.

A hole at the end of a partition shows no later message: Faust seeks back only to committed
offsets above 0, so what it drops on a partition the group never committed (its first messages
after a restart) never comes again. ``InputCursor.stranded``, called on a timer, finds
partitions whose end has stood beyond the next expected offset since the previous call, and
reads what lies between.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faust.types import TP

log = structlog.get_logger("streamwatch.live.ordering")

READ_TIMEOUT_S: Final = 30.0
READ_POLL_MS: Final = 5
"""How long one poll of a hole's read waits for records. Short: a hole that holds only the
marker of a transaction (the worker's own writes to its inputs leave one at the end of the
log after each commit) has none to give, and the read ends once the position has moved past
it, which a long poll would only learn when it times out."""
STRANDED_READ_MAX: Final = 1000
"""Offsets ``stranded`` reads of one partition per call (a stream far behind is not stranded,
and catches up by itself)."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """One input message, as the agent (or the cursor's own reads) hands it over."""

    tp: TP
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None
    """The record's Kafka timestamp (for the event-to-alert latency metric), if known."""


class HoleUnreadable(RuntimeError):
    """Messages missing from the stream could not be read from Kafka; the worker stops and a
    restart resumes at the last committed offset (nothing is lost)."""


class InputCursor:
    """Next expected offset of each input partition, and a reader for holes.

    ``next_offset(tp)`` is the worker's own progress (offset after the last message processed
    in this assignment), or None before the first; the cursor then starts from the group's
    committed offset, or the partition's first offset if the group never committed.
    """

    def __init__(
        self,
        kafka: Mapping[str, Any],
        group_id: str,
        next_offset: Callable[[TP], int | None],
        max_fetch_bytes: int,
    ) -> None:
        self.kafka = dict(kafka)
        """aiokafka client options (``streamwatch.kafka_clients.client_options``)."""
        self.group_id = group_id
        self.next_offset = next_offset
        self.max_fetch_bytes = max_fetch_bytes
        self._starts: dict[TP, int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._stalls: dict[TP, tuple[int, int]] = {}
        self._empty_until: dict[TP, int] = {}
        """Per partition, an end offset below which a read found nothing to process (only
        the markers of transactions)."""

    def reset(self) -> None:
        """Forget start offsets (call on every assignment; they are read again lazily)."""
        self._starts.clear()
        self._stalls.clear()
        self._empty_until.clear()

    async def before(self, tp: TP, offset: int) -> list[Incoming] | None:
        """The unprocessed messages of ``tp`` before ``offset``; None if ``offset`` was
        processed already. Raises HoleUnreadable if Kafka cannot be read."""
        expected = self.next_offset(tp)
        if expected is None:
            expected = await self._start(tp)
        if offset < expected:
            return None
        if offset == expected:
            return []
        missing = await self._read(tp, expected, offset)
        # Nothing found: the gap held only the markers of transactions (every transaction
        # that wrote to a topic leaves one), which is no news.
        log.log(
            logging.WARNING if missing else logging.DEBUG,
            "messages skipped by the stream were read from kafka",
            partition=f"{tp.topic}:{tp.partition}",
            first=expected,
            until=offset,
            found=len(missing),
        )
        return missing

    async def stranded(self, tps: Collection[TP]) -> dict[TP, list[Incoming]]:
        """Messages the stream left behind at the end of ``tps``: for each partition whose
        committed end lies beyond its next expected offset, both unchanged since the previous
        call, the messages in between (see the module docstring). Raises HoleUnreadable if
        Kafka cannot be read."""
        previous, self._stalls = self._stalls, {}
        if not tps:
            return {}
        consumer = await self._reader()
        try:
            ends = await consumer.end_offsets([TopicPartition(t.topic, t.partition) for t in tps])
        except Exception as exc:
            raise HoleUnreadable(f"cannot read end offsets: {exc!r}") from exc
        out: dict[TP, list[Incoming]] = {}
        for tp in tps:
            expected = self.next_offset(tp)
            if expected is None:
                expected = await self._start(tp)
            end = ends[TopicPartition(tp.topic, tp.partition)]
            if end <= expected or end == self._empty_until.get(tp):
                continue
            self._stalls[tp] = (expected, end)
            if previous.get(tp) == (expected, end):
                # Messages carry aiokafka's TopicPartition as the stream's do (Faust's TP is
                # equal to it, but send_offsets_to_transaction accepts only aiokafka's).
                ktp = cast(TP, TopicPartition(tp.topic, tp.partition))
                stop = min(end, expected + STRANDED_READ_MAX)
                found = await self._read(ktp, expected, stop)
                if found:
                    out[tp] = found
                elif stop == end:
                    self._empty_until[tp] = end
        return out

    async def close(self) -> None:
        """Stop the cursor's consumer, if it was started."""
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def expected(self, tp: TP) -> int:
        """The next offset of ``tp`` to process: the worker's progress, else where the group
        committed (or the partition's first offset). Raises HoleUnreadable if Kafka cannot
        be read."""
        found = self.next_offset(tp)
        if found is not None:
            return found
        try:
            return await self._start(tp)
        except HoleUnreadable:
            raise
        except Exception as exc:
            where = f"{tp.topic}:{tp.partition}"
            raise HoleUnreadable(f"cannot read where {where} starts: {exc!r}") from exc

    async def holds_records(self, tp: TP, start: int, stop: int) -> bool:
        """Whether ``[start, stop)`` of ``tp`` holds a committed record, rather than only
        transaction markers and aborted records (read_committed, up to the first record).
        Raises HoleUnreadable if Kafka cannot be read."""
        if start >= stop:
            return False
        consumer = await self._reader()
        ktp = TopicPartition(tp.topic, tp.partition)
        where = f"{tp.topic}:{tp.partition} [{start}, {stop})"
        try:
            consumer.assign([ktp])
            consumer.seek(ktp, start)
            deadline = time.monotonic() + READ_TIMEOUT_S
            while await consumer.position(ktp) < stop:
                if time.monotonic() > deadline:
                    raise HoleUnreadable(f"reading {where} took over {READ_TIMEOUT_S:.0f}s")
                batch = await consumer.getmany(ktp, timeout_ms=READ_POLL_MS, max_records=1)
                if any(r.offset < stop for r in batch.get(ktp, [])):
                    return True
        except HoleUnreadable:
            raise
        except Exception as exc:
            raise HoleUnreadable(f"cannot read {where}: {exc!r}") from exc
        return False

    async def _start(self, tp: TP) -> int:
        if tp not in self._starts:
            admin = AIOKafkaAdminClient(**self.kafka)
            await admin.start()
            try:
                committed = await admin.list_consumer_group_offsets(self.group_id)
            finally:
                await admin.close()
            for ktp, meta in committed.items():
                if meta.offset >= 0:
                    self._starts[TP(ktp.topic, ktp.partition)] = meta.offset
        if tp not in self._starts:
            consumer = await self._reader()
            first = await consumer.beginning_offsets([TopicPartition(tp.topic, tp.partition)])
            self._starts[tp] = next(iter(first.values()))
        return self._starts[tp]

    async def _reader(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            self._consumer = AIOKafkaConsumer(
                **self.kafka,
                enable_auto_commit=False,
                # A start below the log start (retention) reads from the first message left.
                auto_offset_reset="earliest",
                isolation_level="read_committed",
                max_partition_fetch_bytes=self.max_fetch_bytes,
                fetch_max_bytes=self.max_fetch_bytes,
            )
            await self._consumer.start()
        return self._consumer

    async def _read(self, tp: TP, start: int, stop: int) -> list[Incoming]:
        consumer = await self._reader()
        ktp = TopicPartition(tp.topic, tp.partition)
        consumer.assign([ktp])
        consumer.seek(ktp, start)
        out: list[Incoming] = []
        deadline = time.monotonic() + READ_TIMEOUT_S
        where = f"{tp.topic}:{tp.partition} [{start}, {stop})"
        try:
            # The position moves past transaction markers and aborted records on its own.
            while await consumer.position(ktp) < stop:
                if time.monotonic() > deadline:
                    raise HoleUnreadable(f"reading {where} took over {READ_TIMEOUT_S:.0f}s")
                batch = await consumer.getmany(ktp, timeout_ms=READ_POLL_MS)
                out.extend(
                    Incoming(tp, r.offset, r.key, r.value)
                    for r in batch.get(ktp, [])
                    if r.offset < stop
                )
        except HoleUnreadable:
            raise
        except Exception as exc:
            raise HoleUnreadable(f"cannot read {where}: {exc!r}") from exc
        return out
