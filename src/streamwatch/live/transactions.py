"""Exactly-once output: one Kafka transaction per input partition, used the way Faust should.

What Faust (faust-streaming 0.15.3) gives with ``processing_guarantee="exactly_once"``, and
we keep: one transactional producer per assigned input partition, with transactional.id
``{app_id}-{group}-{partition}``, started on assignment before table recovery, which fences a
killed predecessor and aborts its open transaction; every consumer (input topics and table
recovery alike) reading with ``isolation_level="read_committed"``; offsets committed with
``send_offsets_to_transaction``.

What Faust gets wrong, and this module replaces:

1. ``TransactionManager.send`` picks the transaction from the *destination* partition, looked
   up in the consumer's metadata. The worker does not consume alerts, enforcement or
   dead-letter, so the lookup finds nothing and the message goes out through the plain,
   non-transactional producer (faust-streaming/faust#177). After ``kill -9`` and a restart,
   events processed again repeat their outputs (#517, #323); measured here: 1,171 repeats
   among 20,000 outputs read with read_committed.
2. Table changelog writes go through the producer's buffer (``send_soon``), which the
   transactional commit does not flush, so a state change can miss the transaction that
   commits the offsets covering it.
3. A periodic commit may run between two sends of one event and commit half its effects.
4. The stream acknowledges messages it skips without processing (those fetched before a
   rebalance, or while flow control is off), counting on a seek back to the committed offset;
   committing the acknowledged offsets, as Faust does, loses them. (Found by the SIGKILL
   integration test: one usage event lost after a restart.)
5. Table recovery asks where each changelog ends; in a transaction Faust answers with the last
   stable offset of the latest *fetch response*, which is unknown (None, read as "empty") for
   changelog partitions not fetched yet, as at start-up. Recovery then reads nothing and the
   worker carries on with empty tables: every customer's state lost, now and then, after a
   restart (found by the SIGKILL integration test: all budget alerts after a restart missing).
   ``recovering_consumer_class`` asks the broker instead (``end_offsets`` of the
   read_committed consumer: the last stable offset).

So: everything one input message causes (outputs, dead-letter record) is sent inside
``section(tp, offset)``, which holds that partition's transaction lock and sends through its
transactional producer; state changes are kept in memory and written to the changelog by the
commit (``before_commit``), under the same lock, in the same transaction. The commit records
the offset after the last message processed in a section, never Faust's acknowledged offsets.
A committed transaction therefore holds exactly the effects of a prefix of each partition,
with the offset of its end: after a crash the worker resumes at that offset with the state of
that prefix, and loses or repeats nothing. (``streamwatch.live.ordering`` makes sure the
messages of a partition reach ``section`` once each and in offset order.)

This reaches into two private attributes of Faust's aiokafka producer (``_trn_locks`` and
``_transaction_producers``) and overrides a private method of its consumer thread
(``_highwaters``); ``faust-streaming`` is pinned, and ``check_supported`` and
``recovering_consumer_class`` fail at start-up if they are gone.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final

import structlog
from aiokafka.errors import ProducerFenced
from faust.transport.consumer import TransactionManager
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.types import TP, AppT

log = structlog.get_logger("streamwatch.live.transactions")

BeforeCommit = Callable[[int, "Sender"], Awaitable[int]]
"""Called with (input partition, sender) under the lock right before that partition commits."""

_PRIVATE: Final = ("_trn_locks", "_transaction_producers")


class TransactionUnavailable(RuntimeError):
    """No transactional producer for an input partition: Faust has not (or no longer) assigned
    it to this worker. The worker stops; a restart rejoins the group and reassigns it."""


class Sender:
    """Sends messages within one partition's open transaction (only inside ``section``)."""

    __slots__ = ("_producer", "sent")

    def __init__(self, producer: Any) -> None:
        self._producer = producer
        self.sent = 0
        """Messages sent through it."""

    async def send(
        self, topic: str, key: bytes | None, value: bytes | None, partition: int | None = None
    ) -> None:
        """Queue one message in the transaction (``None``: a tombstone); it is delivered (or
        not) with the commit.

        Raises aiokafka's MessageSizeTooLargeError at once for a message over the producer's
        ``max_request_size``.
        """
        await self._producer.send(topic, value, key=key, partition=partition)
        self.sent += 1


def check_supported(producer: Any) -> None:
    """Fail fast if Faust's producer no longer has the internals this module relies on."""
    missing = [name for name in _PRIVATE if not hasattr(producer, name)]
    if missing:
        raise RuntimeError(
            f"faust's producer has no {', '.join(missing)}; streamwatch.live.transactions "
            "needs faust-streaming 0.15.3 (see pyproject.toml)"
        )


class PartitionTransactions:
    """The partition transactions of one worker: sections for the agent, commits for Faust."""

    def __init__(self, app: AppT, before_commit: BeforeCommit) -> None:
        self.app = app
        self.before_commit = before_commit
        self._processed: dict[TP, int] = {}
        self._committed: dict[TP, int] = {}
        self._ended: set[str] = set()
        self._broken: set[str] = set()
        self._outputs: set[str] = set()
        """Transactions holding outputs not yet committed (they commit sooner)."""
        self._committed_at: dict[str, float] = {}

    def transactional_id(self, tp: TP) -> str:
        """The transactional.id Faust gives the producer of ``tp``'s partition."""
        group = self.app.assignor.group_for_topic(tp.topic)
        return f"{self.app.conf.id}-{group}-{tp.partition}"

    def _producer_and_lock(self, tid: str) -> tuple[Any, Any]:
        if tid in self._ended:
            raise TransactionUnavailable(f"transactions of {tid!r} ended: the worker is stopping")
        producer: Any = self.app.producer
        lock = producer._trn_locks.get(tid)
        txp = producer._transaction_producers.get(tid)
        if lock is None or txp is None:
            raise TransactionUnavailable(f"no transactional producer {tid!r} on this worker")
        return txp, lock

    @asynccontextmanager
    async def section(self, tp: TP, offset: int | None = None) -> AsyncIterator[Sender]:
        """Hold the transaction of ``tp``'s partition while messages have their effects sent:
        the message at ``offset``, or those the caller ``mark``s inside (a batch, possibly of
        several co-partitioned topics, which share the partition's transaction).

        On normal exit the messages count as processed: the next commit includes their
        offsets. An exception (or cancellation) inside leaves the transaction holding part of
        their effects: it is marked broken, the next commit aborts it instead, and the caller
        must let the worker stop.
        """
        tid = self.transactional_id(tp)
        txp, lock = self._producer_and_lock(tid)
        async with lock:
            if tid in self._ended:  # the last commit came first, while this waited
                raise TransactionUnavailable(f"transactions of {tid!r} ended meanwhile")
            sender = Sender(txp)
            try:
                yield sender
            except BaseException:
                self._broken.add(tid)
                raise
            if sender.sent:
                self._outputs.add(tid)
            if offset is not None:
                self._processed[tp] = offset + 1

    def mark(self, tp: TP, offset: int) -> None:
        """Inside ``section``: the message of ``tp`` at ``offset`` has had its effects sent."""
        self._processed[tp] = offset + 1

    def next_offset(self, tp: TP) -> int | None:
        """The offset after the last message of ``tp`` processed here, None before any."""
        return self._processed.get(tp)

    def forget(self, tps: set[TP]) -> None:
        """Drop progress of partitions revoked from this worker."""
        for tp in tps:
            self._processed.pop(tp, None)
            self._committed.pop(tp, None)
            self._ended.discard(self.transactional_id(tp))
            self._broken.discard(self.transactional_id(tp))

    async def commit(self, offsets: Mapping[TP, int], start_new_transaction: bool) -> bool:
        """Commit the transactions of the partitions in ``offsets`` (Faust's acked offsets).

        For each: flush changed state, commit the offsets of everything processed, commit,
        and begin the next transaction unless stopping. ProducerFenced crashes the app:
        another worker owns the partition now.
        """
        tids = {self.transactional_id(tp): tp.partition for tp in offsets}
        if start_new_transaction:
            # A periodic commit: only transactions with messages processed since their last
            # commit (``commit_pending`` commits the others' progress on its own timer).
            moved = {self.transactional_id(tp) for tp in self._moved()}
            tids = {tid: p for tid, p in tids.items() if tid in moved}
        return await self._commit_tids(tids, start_new_transaction)

    def _moved(self) -> list[TP]:
        """Input partitions with messages processed since their last commit."""
        return [
            tp for tp, offset in list(self._processed.items()) if offset != self._committed.get(tp)
        ]

    async def commit_pending(self, every_s: float) -> bool:
        """Commit every transaction holding messages processed since its last commit that
        sent outputs, or last committed ``every_s`` ago or more.

        Faust calls ``commit`` only for partitions whose *acknowledged* offsets moved; after a
        restart it acknowledges skipped messages early, and the messages processed later (in
        order, see ``streamwatch.live.ordering``) then never move them again, so without this
        their transaction would stay open for good. The worker calls it on a timer.
        """
        now = time.monotonic()
        tids = {
            tid: tp.partition
            for tp in self._moved()
            if (tid := self.transactional_id(tp)) in self._outputs
            or now - self._committed_at.get(tid, 0.0) >= every_s
        }
        return await self._commit_tids(tids, start_new_transaction=True)

    async def _commit_tids(self, tids: dict[str, int], start_new_transaction: bool) -> bool:
        group_id = self.app.conf.id
        try:
            for tid, partition in sorted(tids.items()):
                await self._commit_one(tid, partition, group_id, start_new_transaction)
        except ProducerFenced as exc:
            log.error("transaction fenced: another worker owns the partition", error=str(exc))
            await self.app.crash(exc)
            return False
        return True

    async def _commit_one(self, tid: str, partition: int, group_id: str, start_new: bool) -> None:
        if tid in self._ended:
            return  # Faust may commit again while stopping; the last transaction is done.
        try:
            txp, lock = self._producer_and_lock(tid)
        except TransactionUnavailable:
            return  # revoked meanwhile: its new owner commits it
        async with lock:
            if tid in self._broken:
                log.error("aborting a transaction that holds part of a message", tid=tid)
                self._ended.add(tid)
                await txp.abort_transaction()
                return
            # Under the lock the transaction holds whole messages only. The offsets committed
            # are those of messages processed here, never Faust's acked ones: Faust also acks
            # messages it skips without processing (fetched before a rebalance, expecting to
            # seek back to the committed offset), and committing those would lose them.
            offsets = {
                tp: offset
                for tp, offset in self._processed.items()
                if self.transactional_id(tp) == tid
            }
            await self.before_commit(partition, Sender(txp))
            if offsets:
                await txp.send_offsets_to_transaction(offsets, group_id)
            await txp.commit_transaction()
            self._committed.update(offsets)
            self._committed_at[tid] = time.monotonic()
            self._outputs.discard(tid)
            if start_new:
                await txp.begin_transaction()
            else:
                self._ended.add(tid)


def recovering_consumer_class() -> type[AIOKafkaConsumer]:
    """Faust's aiokafka consumer, with changelog ends read from the broker (see item 5 of the
    module docstring). Raises RuntimeError if Faust no longer has the method replaced."""
    if not callable(getattr(AIOKafkaConsumerThread, "_highwaters", None)):
        raise RuntimeError(
            "faust's consumer thread has no _highwaters; streamwatch.live.transactions needs "
            "faust-streaming 0.15.3 (see pyproject.toml)"
        )

    class EndOffsetsConsumerThread(AIOKafkaConsumerThread):
        async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:
            # A read_committed consumer's end offsets are the last stable offsets.
            ends = await self._ensure_consumer().end_offsets(partitions)
            return {TP(tp.topic, tp.partition): offset for tp, offset in ends.items()}

    class RecoveringConsumer(AIOKafkaConsumer):
        def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
            return EndOffsetsConsumerThread(self, loop=self.loop, beacon=self.beacon)

    return RecoveringConsumer


def transaction_manager_class(
    transactions: PartitionTransactions,
) -> type[TransactionManager]:
    """Faust's TransactionManager with its commit replaced by ``transactions.commit``."""

    class StreamwatchTransactionManager(TransactionManager):
        async def commit(
            self, offsets: Mapping[TP, int], start_new_transaction: bool = True
        ) -> bool:
            return await transactions.commit(offsets, start_new_transaction)

    return StreamwatchTransactionManager
