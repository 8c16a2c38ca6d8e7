"""The three input topics of each partition processed in event-time order, as replay does.

The input topics are co-partitioned by customer_id, so input partition ``p`` of usage,
activity and payments holds the same customers. Faust hands their messages over as it fetches
them: a whole batch of one topic may come before the other topics' messages that precede it in
event time, as after any outage or backlog. Replay merges the topics by event time
(``streamwatch.replay.ordering``); processing them as fetched would let cross-topic lag change
decisions (a new customer's usage read before the card added an hour earlier raises
``usage_before_payment``, which replay does not).

So ``Alignment`` holds each partition's messages in one FIFO queue per topic (offset order, as
``InputCursor`` delivers them) and processes the head with the smallest ``(ts, event_id)``
(ties: the order of the topics), which keeps every topic partition in offset order, as its
transaction needs (``streamwatch.live.transactions``). The head is processed only when:

- every topic of the partition has a message queued: each topic being in event-time order,
  no message earlier than the head can still come;
- or the partition's oldest queued message has waited ``hold_s`` (wall time): a quiet topic
  must not stall the others. This is the latency the alignment adds: in steady state, where
  some topic of a partition is nearly always quiet, an event is processed ``hold_s`` after it
  arrives (plus up to the timer's interval);
- or more than ``max_held`` messages are queued for the partition (bounded memory: a backlog
  is aligned within that many messages);
- or it does not decode (sorted first, it goes to the dead-letter topic at once).

The agent adds each message and processes up to ``PER_ARRIVAL`` held messages whose turn has
come, so that it goes on reading the stream while it processes; a timer processes the rest,
when holds run out (``streamwatch.live.app``).

A message is decoded once, on arrival, to learn its ``ts``. Queued messages are not processed:
the commit does not include them, ``next_offset`` does (so that the cursor does not read them
again as a hole), and they are dropped when their partition is revoked or the worker stops;
the next owner, or the restarted worker, reads them again from the committed offset.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from faust.types import TP

from streamwatch.core.codec import DecodeError
from streamwatch.core.events import Event
from streamwatch.live.ordering import Incoming

HOLD_S: Final = 0.5
"""How long a partition waits for its quiet topics before processing what it holds."""
MAX_HELD: Final = 10_000
"""Messages held per input partition at most (some 13 MiB of decoded events)."""
PER_ARRIVAL: Final = 2
"""Held messages the agent processes at most for each message it adds: more than one, so that
the messages held during a hold are soon processed, and few, so that the agent goes on adding
messages (the stream goes on being read) meanwhile. The timer processes the rest."""

Decoded = Event | DecodeError | None
"""What the codec made of a message: the event, why it breaks the contract, or None when the
codec itself failed (a bug; logged when it happened)."""

FIRST: Final = -(2**63)
"""Event time given to messages that do not decode: before any event."""


@dataclass(frozen=True, slots=True)
class Held:
    """One input message waiting for its turn, decoded."""

    message: Incoming
    decoded: Decoded
    order: tuple[int, str, int]
    """(ts_ms, event_id, topic rank): the smallest head goes first."""
    arrived: float
    """When it was queued (monotonic seconds)."""


class Alignment:
    """The held messages of every input partition of this worker (see module docstring).

    ``processed(tp)`` is the offset after the last message of ``tp`` processed (None before
    any); ``can_process()`` says whether processing may go on (not while Faust rebalances or
    stops).
    """

    def __init__(
        self,
        topics: Sequence[str],
        processed: Callable[[TP], int | None],
        can_process: Callable[[], bool] = lambda: True,
        hold_s: float = HOLD_S,
        max_held: int = MAX_HELD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rank = {topic: n for n, topic in enumerate(topics)}
        self.processed = processed
        self.can_process = can_process
        self.hold_s = hold_s
        self.max_held = max_held
        self.clock = clock
        self._queues: dict[int, dict[str, deque[Held]]] = {}
        self._held: dict[int, int] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    def add(self, message: Incoming, decoded: Decoded) -> None:
        """Queue ``message`` (the next of its topic partition, in offset order)."""
        rank = self.rank[message.tp.topic]
        if decoded is None or isinstance(decoded, DecodeError):
            order = (FIRST, "", rank)
        else:
            order = (decoded.ts_ms, decoded.event_id, rank)
        partition = message.tp.partition
        queues = self._queues.setdefault(partition, {})
        queues.setdefault(message.tp.topic, deque()).append(
            Held(message, decoded, order, self.clock())
        )
        self._held[partition] = self._held.get(partition, 0) + 1

    def next_offset(self, tp: TP) -> int | None:
        """The offset after the last message of ``tp`` held or processed; None before any."""
        queue = self._queues.get(tp.partition, {}).get(tp.topic)
        if queue:
            return queue[-1].message.offset + 1
        return self.processed(tp)

    def held(self, partition: int) -> int:
        """How many messages of ``partition`` are held."""
        return self._held.get(partition, 0)

    def ready(self, partition: int) -> Held | None:
        """The message of ``partition`` to process next, if its turn has come."""
        first: Held | None = None
        oldest, heads = 0.0, 0
        for queue in self._queues.get(partition, {}).values():
            if queue:
                head = queue[0]
                if first is None:
                    first, oldest = head, head.arrived
                elif head.order < first.order:
                    first = head
                oldest = min(oldest, head.arrived)
                heads += 1
        if first is None:
            return None
        if (
            first.order[0] == FIRST
            or heads == len(self.rank)
            or self._held[partition] > self.max_held
            or oldest <= self.clock() - self.hold_s
        ):
            return first
        return None

    def remove(self, held: Held) -> None:
        """Take ``held`` (the head of its queue, just processed) out of the queues."""
        tp = held.message.tp
        queue = self._queues[tp.partition][tp.topic]
        if not queue or queue[0] is not held:
            raise ValueError(f"{tp.topic}:{tp.partition}@{held.message.offset} is not a head")
        queue.popleft()
        self._held[tp.partition] -= 1

    def keep(self, tps: Iterable[TP]) -> None:
        """Drop the held messages of every topic partition not in ``tps`` (revoked)."""
        kept = {(tp.topic, tp.partition) for tp in tps}
        for partition, queues in self._queues.items():
            for topic, queue in queues.items():
                if (topic, partition) not in kept:
                    self._held[partition] -= len(queue)
                    queue.clear()

    async def drain(
        self,
        partition: int,
        process: Callable[[Held], Awaitable[None]],
        most: int,
        pause: bool = False,
    ) -> None:
        """Process up to ``most`` messages of ``partition`` whose turn has come, in turn.

        One drain at a time per partition (the agent and the timer both drain): while one is
        under way, another returns at once. With ``pause``, it gives way to other tasks after
        each message, so that the agent goes on adding messages meanwhile. A message is taken
        out of its queue only once processed: if ``process`` raises, it stays held.
        """
        lock = self._locks.setdefault(partition, asyncio.Lock())
        if lock.locked() or not self.can_process() or self.ready(partition) is None:
            return
        async with lock:
            for _ in range(most):
                held = self.ready(partition) if self.can_process() else None
                if held is None:
                    return
                await process(held)
                self.remove(held)
                if pause:
                    await asyncio.sleep(0)

    async def drain_all(self, process: Callable[[Held], Awaitable[None]]) -> None:
        """``drain`` every partition holding messages (on a timer: holds run out), one after
        the other, each up to what it holds when its turn comes."""
        for partition in sorted(p for p, n in self._held.items() if n):
            await self.drain(partition, process, self.held(partition), pause=True)

    async def idle(self) -> None:
        """Wait for the drains under way to end (call once ``can_process`` turned false)."""
        for lock in list(self._locks.values()):
            async with lock:
                pass
