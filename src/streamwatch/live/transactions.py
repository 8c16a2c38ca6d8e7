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
6. At every rebalance Faust ends the transactions (a commit with
   ``start_new_transaction=False``, only for partitions whose acknowledged offsets moved, and
   none at all if another commit is under way) and then, in ``TransactionManager.on_rebalance``,
   begins one for every partition assigned, kept ones included. Treating that commit as the
   end of the worker (as this module once did) made the next message of a kept partition
   fail, and the worker exit; leaving the other transactions open let a timer commit offsets of
   a partition after the worker had rejoined the group, when its next owner may already have
   read them. And Faust stops the producers of revoked partitions only if this worker keeps no
   standby replica of them (the worker keeps none, see ``create_app``, but ``begin`` does not
   rely on it).
7. Kafka revokes every partition at each rebalance, and Faust's recovery then reads the
   changelog of the partitions kept again from where it last stopped, up to its end, into the
   table: any state change not committed by then is overwritten by an older snapshot (found by
   the rebalance integration test: an alert repeated after a worker joined). And a commit
   returns before the broker has written its markers, so the last stable offset may still lie
   before it for a moment: recovery must read up to what this worker committed.

So: everything one input message causes (outputs, dead-letter record) is sent inside
``section(tp, offset)``, which holds that partition's transaction lock and sends through its
transactional producer; state changes are kept in memory and written to the changelog by the
commit (``before_commit``), under the same lock, in the same transaction. The commit records
the offset after the last message processed in a section, never Faust's acknowledged offsets.
A committed transaction therefore holds exactly the effects of a prefix of each partition,
with the offset of its end: after a crash the worker resumes at that offset with the state of
that prefix, and loses or repeats nothing. (``streamwatch.live.ordering`` makes sure the
messages of a partition reach ``section`` once each and in offset order.)

Rebalances and stops: when partitions are revoked (Faust has stopped the agents and waited for
the messages under way) and when the worker stops, ``close`` commits every transaction, state
flushed, and closes it: no section and no commit until the partition is assigned again, so
nothing of a partition is committed once the worker may have lost it. On assignment ``begin``
stops the producers of every partition not assigned and opens the transactions of those
assigned: a new producer for a partition gained (its start fences the previous owner and
aborts its open transaction), a new transaction for a partition kept. Recovery's changelog
ends (``recovering_consumer_class``) are at least the ends of what this worker committed, so
the table of a kept partition is read back to the state it had.

This reaches into two private attributes of Faust's aiokafka producer (``_trn_locks`` and
``_transaction_producers``), overrides a private method of its consumer thread
(``_highwaters``) and uses one of its transaction manager (``_tps_to_transactional_ids``);
``faust-streaming`` is pinned, and ``check_supported``, ``recovering_consumer_class`` and
``transaction_manager_class`` fail at start-up if they are gone. ``shorten_transaction_backoffs``
wraps three of aiokafka's request handlers so that a transaction's requests are retried after
20 ms when the previous transaction is still being completed (its docstring says why).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final, cast

import structlog
from aiokafka import TopicPartition
from aiokafka.errors import ProducerFenced
from faust.transport.consumer import TransactionManager
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.types import TP, AppT

log = structlog.get_logger("streamwatch.live.transactions")

BeforeCommit = Callable[[int, "Sender"], Awaitable[int]]
"""Called with (input partition, sender) under the lock right before that partition commits."""

_PRIVATE: Final = ("_trn_locks", "_transaction_producers")

STOPPING: Final = "the worker is stopping"
REASSIGNING: Final = "partitions are being reassigned"
BROKEN: Final = "it was aborted holding part of a message; the worker is stopping"

CHANGELOG_END_WAIT_S: Final = 10.0
"""How long recovery waits for the last stable offset of a changelog partition to reach what
this worker committed (the broker's markers come a moment after the commit returns)."""


class TransactionUnavailable(RuntimeError):
    """No transactional producer for an input partition: Faust has not (or no longer) assigned
    it to this worker. The worker stops; a restart rejoins the group and reassigns it."""


class Sender:
    """Sends messages within one partition's open transaction (only inside ``section``)."""

    __slots__ = ("_producer", "_sent", "sent")

    def __init__(self, producer: Any, sent: list[asyncio.Future[Any]] | None = None) -> None:
        self._producer = producer
        self._sent = sent
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
        delivery = await self._producer.send(topic, value, key=key, partition=partition)
        self.sent += 1
        if self._sent is not None:
            self._sent.append(delivery)


def shorten_transaction_backoffs() -> None:
    """Retry a transaction's requests after 20 ms, not the producer's 100 ms, when the broker
    answers that the previous transaction is still being completed.

    A transaction begun right after a commit meets that answer while the broker still writes
    the previous one's markers (KAFKA-5477). aiokafka waits 20 ms for it in AddPartitionsToTxn,
    as Kafka's Java client does, but its whole retry backoff in the other requests of a
    transaction. Brokers that verify transactions (KIP-890, Kafka 3.6 on) pass the answer,
    CONCURRENT_TRANSACTIONS, to clients that predate it in other words:
    - AddOffsetsToTxn: CONCURRENT_TRANSACTIONS (a batch with no outputs starts with it);
    - TxnOffsetCommit: COORDINATOR_NOT_AVAILABLE (aiokafka also looks the group coordinator up
      again, as before);
    - Produce, from a transactional producer: NOT_ENOUGH_REPLICAS.
    Together about one commit in ten waited 100 ms or more: the tail of event-to-alert latency.
    Only these answers of these requests are retried sooner; lowering the producer's retry
    backoff would shorten every retry of every request (metadata, coordinator lookups). A real
    shortage of in-sync replicas is then retried every 20 ms too, until the transaction times
    out. Idempotent; fails at start-up if aiokafka no longer has the handlers."""
    from aiokafka.errors import (  # noqa: PLC0415
        ConcurrentTransactions,
        CoordinatorNotAvailableError,
        NotEnoughReplicasError,
    )
    from aiokafka.producer import sender  # noqa: PLC0415

    module = cast(Any, sender)

    def offsets_codes(_handler: Any, resp: Any) -> list[int]:
        return [resp.error_code]

    def commit_codes(_handler: Any, resp: Any) -> list[int]:
        return [code for _topic, partitions in resp.errors for _partition, code in partitions]

    def produce_codes(handler: Any, resp: Any) -> list[int]:
        if handler._sender._txn_manager is None:  # not transactional: a real replica shortage
            return []
        return [info[1] for _topic, partitions in resp.topics for info in partitions]

    backoff_s = cast(float, module.BACKOFF_OVERRIDE)
    _retry_sooner(module.AddOffsetsToTxnHandler, offsets_codes, ConcurrentTransactions, backoff_s)
    _retry_sooner(
        module.TxnOffsetCommitHandler, commit_codes, CoordinatorNotAvailableError, backoff_s
    )
    _retry_sooner(module.SendProduceReqHandler, produce_codes, NotEnoughReplicasError, backoff_s)


def _retry_sooner(
    handler: Any, codes: Callable[[Any, Any], list[int]], answer: type, backoff_s: float
) -> None:
    """Make ``handler`` (an aiokafka request handler) retry after ``backoff_s`` when the error
    codes of its response (``codes(handler, response)``) hold ``answer``. A transaction
    request's ``handle_response`` returns its backoff; a produce request's keeps the batches to
    send again and waits ``_default_backoff`` after it, so that is set for this request."""
    from aiokafka.errors import for_code  # noqa: PLC0415

    original = handler.handle_response
    if getattr(original, "streamwatch_repair", False):
        return

    def handle_response(self: Any, resp: Any) -> float | None:
        retry_s = original(self, resp)
        if any(for_code(code) is answer for code in codes(self, resp)):
            if retry_s is not None:
                return backoff_s
            if getattr(self, "_to_reenqueue", None):
                self._default_backoff = backoff_s
        return cast("float | None", retry_s)

    handle_response.streamwatch_repair = True  # type: ignore[attr-defined]
    handler.handle_response = handle_response


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
        self._partitions: dict[str, int] = {}
        """Input partition of each transactional id that a section used (whose state it
        flushes); other ids (Faust's own topics) commit nothing but their transaction."""
        self._open: set[str] = set()
        """Transactional ids whose transaction is open: begun by ``begin``, not closed since."""
        self._closed: dict[str, str] = {}
        """Transactional ids whose last transaction ended without a new one, and why."""
        self._broken: set[str] = set()
        self._changelog_ends: dict[TP, int] = {}
        """Per changelog partition, the offset after the last state record committed here."""
        self._outputs: set[str] = set()
        """Transactional ids holding outputs not yet committed (they commit sooner)."""
        self._outputs_at: dict[str, float] = {}
        """When the first output not yet committed went into each of those (monotonic)."""
        self._committed_at: dict[str, float] = {}
        self.on_commit: Callable[[float], None] = lambda _seconds: None
        """Called with the seconds each transaction's commit took (state flush, offsets and
        commit), e.g. to observe a metric."""

    def transactional_id(self, tp: TP) -> str:
        """The transactional.id Faust gives the producer of ``tp``'s partition."""
        group = self.app.assignor.group_for_topic(tp.topic)
        return f"{self.app.conf.id}-{group}-{tp.partition}"

    def _producer_and_lock(self, tid: str) -> tuple[Any, Any]:
        if tid not in self._open:
            why = self._closed.get(tid, "not assigned to this worker")
            raise TransactionUnavailable(f"no transaction of {tid!r} open: {why}")
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
        offsets.
        An exception (or cancellation) inside leaves the transaction holding part of the
        message's effects: it is marked broken, the next commit aborts it instead, and the
        caller must let the worker stop. Raises TransactionUnavailable, before anything is
        sent, if the partition is not (or no longer) this worker's, or its transaction is
        closed for a rebalance or a stop: the message is not processed.
        """
        tid = self.transactional_id(tp)
        txp, lock = self._producer_and_lock(tid)
        async with lock:
            if tid not in self._open:  # closed while this waited
                raise TransactionUnavailable(f"transaction of {tid!r} closed meanwhile")
            self._partitions[tid] = tp.partition
            sender = Sender(txp)
            try:
                yield sender
            except BaseException:
                self._broken.add(tid)
                raise
            if offset is not None:
                self._processed[tp] = offset + 1
            if sender.sent:
                self._outputs.add(tid)
                self._outputs_at.setdefault(tid, time.monotonic())

    def mark(self, tp: TP, offset: int) -> None:
        """Inside ``section``: the message of ``tp`` at ``offset`` has had its effects sent."""
        self._processed[tp] = offset + 1

    def next_offset(self, tp: TP) -> int | None:
        """The offset after the last message of ``tp`` processed here, None before any."""
        return self._processed.get(tp)

    def changelog_end(self, tp: TP) -> int:
        """The offset after the last state record this worker committed to changelog
        partition ``tp`` (0 if none): where recovery must read up to at least."""
        return self._changelog_ends.get(tp, 0)

    def forget(self, tps: set[TP]) -> None:
        """Drop progress of partitions revoked from this worker."""
        for tp in tps:
            tid = self.transactional_id(tp)
            self._processed.pop(tp, None)
            self._committed.pop(tp, None)
            self._partitions.pop(tid, None)
            self._broken.discard(tid)

    async def commit(self, offsets: Mapping[TP, int], start_new_transaction: bool) -> bool:
        """Commit the transactions of the partitions in ``offsets`` (Faust's acked offsets).

        For each: flush changed state, commit the offsets of everything processed, commit,
        and begin the next transaction. Without ``start_new_transaction`` Faust ends the
        transactions (partitions revoked, or the worker stopping): ``close``. ProducerFenced
        crashes the app: another worker owns the partition now.
        """
        if not start_new_transaction:
            return await self.close()
        # A periodic commit: only transactions with messages processed since their last commit
        # (``commit_pending`` commits the others' progress on its own timer).
        moved = {self.transactional_id(tp) for tp in self._moved()}
        tids = {self.transactional_id(tp) for tp in offsets} & moved
        return await self._commit_tids(tids, start_new=True)

    def _moved(self) -> list[TP]:
        """Input partitions with messages processed since their last commit."""
        return [
            tp for tp, offset in list(self._processed.items()) if offset != self._committed.get(tp)
        ]

    async def commit_pending(
        self, every_s: float, outputs_s: Callable[[int], float] = lambda _partition: 0.0
    ) -> bool:
        """Commit every transaction holding messages processed or outputs sent since its last
        commit that has held outputs for ``outputs_s(partition)`` or more, or last committed
        ``every_s`` ago or more.

        Faust calls ``commit`` only for partitions whose *acknowledged* offsets moved; after a
        restart it acknowledges skipped messages early, and the messages processed later (in
        order, see ``streamwatch.live.ordering``) then never move them again, so without this
        their transaction would stay open for good. The worker calls it on a timer.
        """
        now = time.monotonic()

        def due(tid: str, partition: int) -> bool:
            if tid in self._outputs and now - self._outputs_at.get(tid, now) >= outputs_s(
                partition
            ):
                return True
            return now - self._committed_at.get(tid, 0.0) >= every_s

        pending = {self.transactional_id(tp): tp.partition for tp in self._moved()}
        for tid in self._outputs:
            # Outputs with no message processed (a partition telling the ring agent how far
            # it has got, from a timer) commit too.
            pending.setdefault(tid, self._partitions.get(tid, 0))
        return await self._commit_tids({t for t, p in pending.items() if due(t, p)}, True)

    async def close(self) -> bool:
        """Commit every open transaction of this worker, state flushed, and begin none.

        Called when partitions are revoked (after Faust has stopped the agents and waited for
        the messages under way), and when the worker stops. Until ``begin`` opens it again,
        a partition's sections raise TransactionUnavailable and its commits are skipped.
        """
        why = STOPPING if self.app.should_stop else REASSIGNING
        return await self._commit_tids(set(self._open), start_new=False, why=why)

    async def begin(self, tids: set[str]) -> None:
        """Open the transactions of exactly ``tids``, those of the partitions assigned.

        Replaces Faust's ``TransactionManager.on_rebalance``. A partition new here gets its
        producer from Faust, whose start fences the previous owner and aborts its open
        transaction; a partition kept gets a new transaction (``close`` ended the last one).
        The producers of every other partition are stopped: Faust would stop only some, as it
        leaves those of partitions revoked that this worker keeps a standby replica of.
        Raises TransactionUnavailable if a producer could not be started (the assignment
        fails and the worker stops).
        """
        producer: Any = self.app.producer
        for tid in sorted(set(producer._transaction_producers) - tids):
            if tid in self._open:
                # Not closed (no revocation came first): the partition's next owner aborts it.
                log.warning("stopping a transaction left open", tid=tid)
            await producer.stop_transaction(tid)
            self._open.discard(tid)
            self._closed.pop(tid, None)
        started, kept = [], []
        for tid in sorted(tids):
            if tid in self._open or tid in self._broken:
                continue  # still open (no revocation came first), or the worker is stopping
            txp = producer._transaction_producers.get(tid)
            if txp is None:
                # Faust logs and swallows a failure to start; it then has no producer.
                await producer.maybe_begin_transaction(tid)
                if tid not in producer._transaction_producers:
                    raise TransactionUnavailable(f"could not start transactional producer {tid!r}")
                started.append(tid)
            else:
                async with producer._trn_locks[tid]:
                    await txp.begin_transaction()
                kept.append(tid)
            self._open.add(tid)
            self._closed.pop(tid, None)
        log.info("transactions begun", started=started, kept=kept)

    async def _commit_tids(self, tids: set[str], start_new: bool, why: str = "") -> bool:
        group_id = self.app.conf.id
        try:
            for tid in sorted(tids):
                await self._commit_one(tid, group_id, start_new, why)
        except ProducerFenced as exc:
            log.error("transaction fenced: another worker owns the partition", error=str(exc))
            await self.app.crash(exc)
            return False
        return True

    async def _commit_one(self, tid: str, group_id: str, start_new: bool, why: str) -> None:
        try:
            txp, lock = self._producer_and_lock(tid)
        except TransactionUnavailable:
            return  # closed already, or revoked: its new owner commits it
        async with lock:
            if tid not in self._open:
                return  # closed while this waited
            if tid in self._broken:
                log.error("aborting a transaction that holds part of a message", tid=tid)
                self._open.discard(tid)
                self._closed[tid] = BROKEN
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
            written: list[asyncio.Future[Any]] = []
            started = time.monotonic()
            partition = self._partitions.get(tid)
            if partition is not None:
                await self.before_commit(partition, Sender(txp, written))
            if offsets:
                await txp.send_offsets_to_transaction(offsets, group_id)
            if not start_new:
                self._open.discard(tid)  # whatever comes of the commit, nothing more goes in
                self._closed[tid] = why
            await txp.commit_transaction()
            self._committed.update(offsets)
            self._committed_at[tid] = time.monotonic()
            self.on_commit(self._committed_at[tid] - started)
            self._outputs.discard(tid)
            self._outputs_at.pop(tid, None)
            self._note_written(written)
            if start_new:
                await txp.begin_transaction()

    def _note_written(self, written: list[asyncio.Future[Any]]) -> None:
        for delivery in written:
            if delivery.done() and not delivery.cancelled() and delivery.exception() is None:
                meta = delivery.result()
                tp = TP(meta.topic, meta.partition)
                self._changelog_ends[tp] = max(self._changelog_ends.get(tp, 0), meta.offset + 1)


def last_poll_ms(app: AppT, tp: TP) -> int | None:
    """When the worker's consumer last had a fetch answer for ``tp`` (epoch ms), which is
    when its high watermark was last updated; None if unknown (not assigned, not started).

    Faust has no public way to this (aiokafka's ``last_poll_timestamp``); its consumer thread
    holds the aiokafka consumer."""
    try:
        consumer = cast(Any, app.consumer)._thread._ensure_consumer()
        found = consumer.last_poll_timestamp(TopicPartition(tp.topic, tp.partition))
    except Exception:  # not assigned (any more), no fetch yet, or no consumer
        return None
    return found if isinstance(found, int) and found > 0 else None


def recovery_report(app: AppT, changelog: TP) -> dict[str, Any]:
    """Where Faust's recovery stands for changelog partition ``changelog``: the offset it read
    up to and the end it read towards (None where it has none), and whether it is under way.
    For log lines; Faust keeps these in its recovery service's attributes."""
    try:
        recovery: Any = cast(Any, app.tables).recovery
        return {
            "changelog_read_to": recovery.active_offsets.get(changelog),
            "changelog_end": recovery.active_highwaters.get(changelog),
            "in_recovery": bool(app.in_recovery),
        }
    except Exception:  # no recovery service (yet)
        return {}


def recovering_consumer_class(transactions: PartitionTransactions) -> type[AIOKafkaConsumer]:
    """Faust's aiokafka consumer, with changelog ends read from the broker, and never before
    what ``transactions`` committed (see items 5 and 7 of the module docstring). Raises
    RuntimeError if Faust no longer has the method replaced."""
    if not callable(getattr(AIOKafkaConsumerThread, "_highwaters", None)):
        raise RuntimeError(
            "faust's consumer thread has no _highwaters; streamwatch.live.transactions needs "
            "faust-streaming 0.15.3 (see pyproject.toml)"
        )

    class EndOffsetsConsumerThread(AIOKafkaConsumerThread):
        async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:
            # A read_committed consumer's end offsets are the last stable offsets; they reach
            # this worker's last commit once the broker has written its markers.
            deadline = time.monotonic() + CHANGELOG_END_WAIT_S
            while True:
                ends = await self._ensure_consumer().end_offsets(partitions)
                found = {TP(tp.topic, tp.partition): offset for tp, offset in ends.items()}
                behind = {
                    f"{tp.topic}:{tp.partition}": (end, transactions.changelog_end(tp))
                    for tp, end in found.items()
                    if end < transactions.changelog_end(tp)
                }
                if not behind:
                    return found
                if time.monotonic() > deadline:
                    log.warning("changelog ends short of this worker's commits", behind=behind)
                    return found
                await asyncio.sleep(0.05)

    class RecoveringConsumer(AIOKafkaConsumer):
        def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
            return EndOffsetsConsumerThread(self, loop=self.loop, beacon=self.beacon)

    return RecoveringConsumer


def transaction_manager_class(
    transactions: PartitionTransactions,
) -> type[TransactionManager]:
    """Faust's TransactionManager with its commits and transactions managed by
    ``transactions``: ``commit``, ``close`` when partitions are revoked and when it stops,
    ``begin`` for the partitions assigned. Raises RuntimeError if Faust no longer has the
    method used."""
    if not callable(getattr(TransactionManager, "_tps_to_transactional_ids", None)):
        raise RuntimeError(
            "faust's TransactionManager has no _tps_to_transactional_ids; "
            "streamwatch.live.transactions needs faust-streaming 0.15.3 (see pyproject.toml)"
        )

    class StreamwatchTransactionManager(TransactionManager):
        async def commit(
            self, offsets: Mapping[TP, int], start_new_transaction: bool = True
        ) -> bool:
            return await transactions.commit(offsets, start_new_transaction)

        async def on_partitions_revoked(self, revoked: set[TP]) -> None:
            await super().on_partitions_revoked(revoked)
            # Faust's own ending commit may have been skipped, or left partitions out.
            await transactions.close()

        async def on_rebalance(
            self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP]
        ) -> None:
            # What is not assigned (revoked, or kept as a standby) is stopped by ``begin``.
            del revoked, newly_assigned
            await transactions.begin(self._tps_to_transactional_ids(assigned))

        async def on_stop(self) -> None:
            await transactions.close()
            await super().on_stop()

    return StreamwatchTransactionManager
