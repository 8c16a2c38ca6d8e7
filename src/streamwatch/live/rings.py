"""The ring agent: link keys re-keyed, rings in their own table, links fed back to customers.

The path of a link key (``streamwatch.core.rings``) through the worker:

1. The main agent (``Processor``), having stepped an event that is not a duplicate, sends each
   of its sightings to the internal topic ``{app_id}-ring-keys``, partition ``RING_PARTITION``
   (keyed by link key), inside ``section`` (the same Kafka transaction as the event's alerts and
   its input offset). After each batch, and on a timer, each input partition also sends there
   how far it has got (``encode_progress``): the latest event time it released less the allowed
   lateness (an event of one of its topics up to that late can still come), or that it is idle
   (nothing queued, every topic caught up, nothing arrived for a few seconds). Sent after the
   batch's sightings in the same transaction, it is never ahead of them. A sighting therefore
   waits here until the stream is an allowed lateness past it, as in replay (an hour of event
   time by default, so ``bot_signup`` comes up to an hour after the sign-up that completes a
   ring; ``streamwatch_ring_oldest_held_seconds`` says how long the oldest has waited).
2. The ring agent consumes that topic. It has as many partitions as the inputs, so Faust's
   assignor puts it in their co-partitioned group: partition 0 of it belongs to the worker
   that owns input partition 0 and shares that partition's transactional producer. Its
   ``SightingGate`` holds each sighting until every input partition has said it is past that
   time, then lets them out in one order (event time, customer, key), whatever order they
   came in: the same order replay folds them in. For each, inside that partition's section,
   the key's ``RingState`` comes from the ring table, ``RingLinker.step`` runs, each
   ``ring.link`` goes to the activity topic keyed by its member's customer_id; changed ring
   states (and what each input partition last said, under ``GATE_KEY``) are written to the
   table's changelog at commit (``RingStates.flush``), in the same transaction as the offsets,
   as customer state is. The offset committed stops at the first sighting still held, so a
   restarted agent reads the held ones again.
3. The main agent reads the links from the activity topic (read_committed) like any activity:
   deduplicated by event id, judged by ``bot_signup``.

Why one partition: a ring's links must be folded in one order, and a customer's links of
different keys (its device's ring and its card's) must reach it in one order too, since the
policy's ring rules act on whichever alert comes first. One producer writing every link does
both. Sightings are few (sign-ups and cards, not usage), so one partition is far from busy.
Rings of a deployment that spread them over every partition before are not carried over: the
keys of other partitions are left in the changelog, and rings form again as accounts join.

Why not Faust's ``group_by``: its forward is sent through Faust's ``TransactionManager.send``,
which picks the transaction of the destination partition (faust-streaming/faust#177), and the
source offsets Faust acknowledges are not those ``transactions`` commits, so a sighting could be
lost or repeated across a crash. Sent from inside the section, it commits with its input.

Guarantees: both hops are exactly-once across crashes, as the customer outputs are (the ring
table survives a restart through its changelog). Links are idempotent besides (deterministic
event ids, deduplicated by the member's state), and a sighting read again after a restart
whose customer is in the ring already links nothing, so a repeat would be harmless. Equality
with replay holds for sightings that are not late; a sighting whose event came after its
partition had passed its time (later than the allowed lateness, or after the partition had
been idle) is folded when it comes, as replay folds it at
the end of the window it comes in, which may order it differently. While an input partition
has said nothing (a restart with nothing recovered, a partition whose owner has not started)
the rings wait for it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Collection
from typing import Final

import orjson
import structlog
from faust.types import TP
from structlog.contextvars import bound_contextvars

from streamwatch.core.codec import event_to_dict
from streamwatch.core.rings import (
    NEVER,
    Member,
    RingLinker,
    RingState,
    Sighting,
    SightingGate,
)
from streamwatch.core.timeutil import MS_PER_DAY
from streamwatch.live import metrics
from streamwatch.live.metrics import Counters
from streamwatch.live.ordering import Incoming, InputCursor
from streamwatch.live.state_store import SnapshotTable, TableLike
from streamwatch.live.transactions import PartitionTransactions, Sender

log = structlog.get_logger("streamwatch.live.rings")

RING_TABLE: Final = "ring-state"
"""Table name; its changelog topic is ``{app_id}-ring-state-changelog``."""
RING_KEYS: Final = "ring-keys"
"""Suffix of the internal re-key topic, ``{app_id}-ring-keys``."""
RING_KEYS_RETENTION_S: Final = 7 * 86400
RING_PARTITION: Final = 0
"""The re-key topic's partition every sighting and progress message goes to (module
docstring); its owner holds every ring."""
PROGRESS: Final = "progress"
GATE_KEY: Final = b"gate:sources"
"""The ring table's key under which the gate's sources are kept (``RingProcessor``): what each
input partition last said it has passed, as the first-seen times of a pseudo-ring's members."""


def ring_keys_topic(app_id: str) -> str:
    """The name of the worker's internal re-key topic."""
    return f"{app_id}-{RING_KEYS}"


def encode_sighting(sighting: Sighting) -> tuple[bytes, bytes]:
    """(Kafka key, value) of a sighting on the re-key topic: keyed by its link key."""
    return sighting.key.encode(), orjson.dumps(sighting.to_dict())


def encode_progress(partition: int, passed_ms: int) -> tuple[bytes, bytes]:
    """(Kafka key, value) of an input partition's progress on the re-key topic: it will send
    no sighting before ``passed_ms`` any more (``SightingGate.passed``)."""
    return PROGRESS.encode(), orjson.dumps({PROGRESS: partition, "passed_ms": passed_ms})


class RingStates(SnapshotTable[RingState]):
    """The ring agent's view of the ring table (key: the link key as UTF-8 bytes), written
    behind like the customer table."""

    def __init__(self, table: TableLike, linker: RingLinker) -> None:
        super().__init__(
            table,
            linker.new_state,
            lambda state: orjson.dumps(linker.dump(state)),
            lambda data: linker.load(orjson.loads(data)),
            "ring state",
            place=lambda _key: RING_PARTITION,
        )
        self.linker = linker


class RingProcessor:
    """Handles the re-key topic's messages: sightings and progress (module docstring)."""

    def __init__(
        self,
        linker: RingLinker,
        rings: RingStates,
        transactions: PartitionTransactions,
        activity_topic: str,
        cursor: Callable[[Callable[[TP], int | None]], InputCursor],
        counters: Counters,
        partitions: int,
        topic: str,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.topic = topic
        """The re-key topic (``ring_keys_topic``)."""
        self.linker = linker
        self.partitions = partitions
        self._next_sweep_ms = NEVER
        self.rings = rings
        self.transactions = transactions
        self.activity_topic = activity_topic
        self.cursor = cursor(self.next_offset)
        """Reads what the stream skipped; it asks ``next_offset`` what has arrived."""
        self.counters = counters
        self.gate = SightingGate(partitions)
        self._sources_loaded = False
        self._arrived: dict[TP, int] = {}
        """Per re-key partition, the offset after the last message taken in (held or not)."""
        self.monotonic = monotonic
        self._taken_at: deque[tuple[int, float]] = deque()
        """(offset, when) of each sighting taken in, in order; those let out dropped lazily."""
        self._lock = asyncio.Lock()

    def next_offset(self, tp: TP) -> int | None:
        """The offset after the last message of ``tp`` taken in, held sightings included;
        None before any (the cursor's notion of what has arrived)."""
        arrived = self._arrived.get(tp)
        return arrived if arrived is not None else self.transactions.next_offset(tp)

    def keep(self, partitions: Collection[int]) -> None:
        """Called on every assignment: without ``RING_PARTITION`` the held sightings go (its
        next owner reads them again from the committed offset, and what the sources said from
        the ring table)."""
        if RING_PARTITION not in partitions:
            self.gate = SightingGate(self.partitions)
            self._sources_loaded = False
            self._arrived.clear()
            self._taken_at.clear()

    def oldest_held_s(self) -> float:
        """How long the longest-held sighting has waited here (0 when none is held)."""
        first, taken_at = self.gate.first_tag(), self._taken_at
        while taken_at and (first is None or taken_at[0][0] < first):
            taken_at.popleft()
        return self.monotonic() - taken_at[0][1] if taken_at else 0.0

    async def process(self, message: Incoming) -> None:
        """Handle one message of the re-key topic, after any the stream skipped."""
        async with self._lock:
            missing = await self.cursor.before(message.tp, message.offset)
            if missing is None:
                return  # delivered again after a seek; already taken in
            for skipped in missing:
                await self._process(skipped)
            await self._process(message)

    async def catch_up(self, tps: Collection[TP]) -> None:
        """Process messages the stream left behind at the end of ``tps`` (as
        ``Processor.catch_up``)."""
        async with self._lock:
            for tp, messages in (await self.cursor.stranded(tps)).items():
                log.warning(
                    "sightings left behind by the stream were read from kafka",
                    partition=f"{tp.topic}:{tp.partition}",
                    count=len(messages),
                )
                for message in messages:
                    await self._process(message)

    def _sweep(self, partition: int, until_ms: int) -> None:
        """Once a day of sighting time: drop the rings every member has left
        (``RingLinker.forgettable``), with a tombstone in the changelog at the next commit."""
        self._next_sweep_ms = until_ms + MS_PER_DAY
        forgettable, rings = self.linker.forgettable, self.rings
        for key in rings.keys_of(partition, self.partitions):
            if key == GATE_KEY:
                continue
            if forgettable(rings.get(key, key.decode("utf-8", "replace")), until_ms):
                rings.forget(partition, key)
                self.counters.inc(metrics.RINGS_FORGOTTEN)

    async def _process(self, message: Incoming) -> None:
        tp = message.tp
        with bound_contextvars(topic=tp.topic, partition=tp.partition, offset=message.offset):
            self._take_in(message)
            self._arrived[tp] = message.offset + 1
            async with self.transactions.section(tp) as out:
                for sighting, _offset in self.gate.ready():
                    await self._fold(out, tp.partition, sighting)
                # Committed up to the first sighting still held: a restart reads it again.
                first = self.gate.first_tag()
                upto = message.offset + 1 if first is None else first
                self.transactions.mark(tp, upto - 1)

    def _take_in(self, message: Incoming) -> None:
        """A sighting into the gate, or a partition's progress (``encode_progress``)."""
        if not self._sources_loaded:
            # What the sources said before a restart, as committed with the ring states.
            self._sources_loaded = True
            kept = self.rings.get(GATE_KEY, GATE_KEY.decode())
            for source, said in kept.members.items():
                self.gate.passed(int(source), said.first_seen_ms)
        try:
            doc = orjson.loads(message.value or b"")
            if isinstance(doc, dict) and PROGRESS in doc:
                source, passed = doc[PROGRESS], doc["passed_ms"]
                if not (isinstance(source, int) and isinstance(passed, int)):
                    raise TypeError("progress and passed_ms must be integers")
                self.gate.passed(source, passed)
                kept = self.rings.get(GATE_KEY, GATE_KEY.decode())
                kept.members[str(source)] = Member(passed, "")
                self.rings.changed(message.tp.partition, GATE_KEY, kept)
                return
            self.gate.add(Sighting.from_dict(doc), message.offset)
            self._taken_at.append((message.offset, self.monotonic()))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            # Only this worker writes the topic; a bad record is a bug, not bad input.
            log.error("unreadable sighting skipped", error=repr(exc))
            self.counters.inc(metrics.PROCESSING_ERRORS)

    async def _fold(self, out: Sender, partition: int, sighting: Sighting) -> None:
        key = sighting.key.encode()
        if sighting.ts_ms >= self._next_sweep_ms:
            self._sweep(partition, sighting.ts_ms)
        state = self.rings.get(key, sighting.key)
        links = self.linker.step(state, sighting)
        self.rings.changed(partition, key, state)
        for link in links:
            value = orjson.dumps(event_to_dict(link))
            await out.send(self.activity_topic, link.customer_id.encode(), value)
        if links:
            self.counters.inc(metrics.RING_LINKS, len(links))
            log.info(
                "ring linked",
                ring_id=state.ring_id,
                link=sighting.kind,
                joined=sighting.customer_id,
                members=len(state.members),
            )
