"""The ring agent: link keys re-keyed, rings in their own table, links fed back to customers.

The path of a link key (``streamwatch.core.rings``) through the worker:

1. The main agent (``Processor``), having stepped an event that is not a duplicate, sends each
   of its sightings to the internal topic ``{app_id}-ring-keys`` keyed by link key, inside
   ``section`` (the same Kafka transaction as the event's alerts and its input offset).
2. The ring agent consumes that topic. It has as many partitions as the inputs, so Faust's
   assignor puts it in their co-partitioned group: partition p of it belongs to the worker
   that owns input partition p and shares that partition's transactional producer. Each
   sighting is handled inside ``section(tp, offset)``: the key's ``RingState`` comes from the
   ring table, ``RingLinker.step`` runs, each ``ring.link`` goes to the activity topic keyed
   by its member's customer_id; changed ring states are written to the table's changelog at
   commit (``RingStates.flush``), in the same transaction as the offsets, as customer state is.
3. The main agent reads the links from the activity topic (read_committed) like any activity:
   deduplicated by event id, judged by ``bot_signup``.

Why not Faust's ``group_by``: its forward is sent through Faust's ``TransactionManager.send``,
which picks the transaction of the destination partition (faust-streaming/faust#177), and the
source offsets Faust acknowledges are not those ``transactions`` commits, so a sighting could be
lost or repeated across a crash. Sent from inside the section, it commits with its input.

Guarantees: both hops are exactly-once across crashes, as the customer outputs are (the ring
table survives a restart through its changelog). Links are idempotent besides (deterministic
event ids, deduplicated by the member's state), so a repeat would be harmless. What is not
guaranteed: equality with replay when one key's sightings arrive out of event-time order. They
come from different customers, hence from different input partitions, which the worker
interleaves as Kafka delivers them; in a backlog (a restart, a bulk load) the ring ends with the
same members, but the sizes at which each member was linked, and so the alert revisions, may
differ from replay's event-time order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Final

import orjson
import structlog
from faust.types import TP
from structlog.contextvars import bound_contextvars

from streamwatch.core.codec import event_to_dict
from streamwatch.core.rings import RingLinker, RingState, Sighting
from streamwatch.core.timeutil import MS_PER_DAY
from streamwatch.live import metrics
from streamwatch.live.metrics import Counters
from streamwatch.live.ordering import Incoming, InputCursor
from streamwatch.live.state_store import SnapshotTable, TableLike
from streamwatch.live.transactions import PartitionTransactions

log = structlog.get_logger("streamwatch.live.rings")

RING_TABLE: Final = "ring-state"
"""Table name; its changelog topic is ``{app_id}-ring-state-changelog``."""
RING_KEYS: Final = "ring-keys"
"""Suffix of the internal re-key topic, ``{app_id}-ring-keys``."""
RING_KEYS_RETENTION_S: Final = 7 * 86400


def ring_keys_topic(app_id: str) -> str:
    """The name of the worker's internal re-key topic."""
    return f"{app_id}-{RING_KEYS}"


def encode_sighting(sighting: Sighting) -> tuple[bytes, bytes]:
    """(Kafka key, value) of a sighting on the re-key topic: keyed by its link key."""
    return sighting.key.encode(), orjson.dumps(sighting.to_dict())


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
        )
        self.linker = linker


class RingProcessor:
    """Handles one sighting of the re-key topic (see the module docstring)."""

    def __init__(
        self,
        linker: RingLinker,
        rings: RingStates,
        transactions: PartitionTransactions,
        activity_topic: str,
        cursor: InputCursor,
        counters: Counters,
        partitions: int,
    ) -> None:
        self.linker = linker
        self.partitions = partitions
        self._next_sweep_ms: dict[int, int] = {}
        self.rings = rings
        self.transactions = transactions
        self.activity_topic = activity_topic
        self.cursor = cursor
        self.counters = counters
        self._lock = asyncio.Lock()

    async def process(self, message: Incoming) -> None:
        """Handle one message of the re-key topic, after any the stream skipped."""
        async with self._lock:
            missing = await self.cursor.before(message.tp, message.offset)
            if missing is None:
                return  # delivered again after a seek; already processed
            for skipped in missing:
                await self._process(skipped)
            await self._process(message)

    async def catch_up(self, tps: Collection[TP]) -> None:
        """Process sightings the stream left behind at the end of ``tps`` (as
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
        """Once a day of sighting time per partition: drop the rings every member has left
        (``RingLinker.forgettable``), with a tombstone in the changelog at the next commit."""
        self._next_sweep_ms[partition] = until_ms + MS_PER_DAY
        forgettable, rings = self.linker.forgettable, self.rings
        for key in rings.keys_of(partition, self.partitions):
            if forgettable(rings.get(key, key.decode("utf-8", "replace")), until_ms):
                rings.forget(partition, key)
                self.counters.inc(metrics.RINGS_FORGOTTEN)

    async def _process(self, message: Incoming) -> None:
        with bound_contextvars(
            topic=message.tp.topic, partition=message.tp.partition, offset=message.offset
        ):
            try:
                sighting = Sighting.from_dict(orjson.loads(message.value or b""))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                # Only this worker writes the topic; a bad record is a bug, not bad input.
                log.error("unreadable sighting skipped", error=repr(exc))
                self.counters.inc(metrics.PROCESSING_ERRORS)
                async with self.transactions.section(message.tp, message.offset):
                    pass
                return
            key = sighting.key.encode()
            partition = message.tp.partition
            async with self.transactions.section(message.tp, message.offset) as out:
                if sighting.ts_ms >= self._next_sweep_ms.get(partition, -(2**63)):
                    self._sweep(partition, sighting.ts_ms)
                state = self.rings.get(key, sighting.key)
                links = self.linker.step(state, sighting)
                self.rings.changed(message.tp.partition, key, state)
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
