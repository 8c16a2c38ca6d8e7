"""Per-customer state in a Faust table: objects in memory, snapshots in the changelog.

The table (key: customer_id as UTF-8 bytes; value: the core's snapshot as deflated JSON) lives
in Faust's in-memory store and is rebuilt from its compacted changelog topic at start-up
(read_committed). A recovered snapshot is decoded when its customer is first seen again; from
then on the agent mutates the ``CustomerState`` object in place and marks it changed, and
``flush`` writes each changed customer's snapshot once per commit, inside the partition's
transaction (see ``streamwatch.live.transactions``), rather than once per event.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from typing import Any, Final, Generic, Protocol, TypeVar

import orjson
import structlog
from aiokafka.partitioner import murmur2

from streamwatch.core.engine import Core
from streamwatch.core.state import CustomerState, StateVersionError

log = structlog.get_logger("streamwatch.live.state_store")

S = TypeVar("S")

SNAPSHOT_DEFLATE_LEVEL: Final = 1


class Sender(Protocol):
    """Sends one message inside the current transaction (``transactions.Sender``)."""

    async def send(
        self, topic: str, key: bytes | None, value: bytes | None, partition: int | None = None
    ) -> None: ...


class StateCodec:
    """``CustomerState`` <-> the core's snapshot as JSON bytes, deflated (the changelog's
    values).

    Every changed customer's snapshot goes to the changelog once per commit, so its size is
    the changelog's size: deflate (zlib, its fastest level) halves it. A plain JSON value, as
    written before, is read as it is.
    """

    def __init__(self, core: Core) -> None:
        self.core = core

    def dumps(self, state: CustomerState) -> bytes:
        """The snapshot of ``state``, deflated."""
        return zlib.compress(orjson.dumps(self.core.snapshot(state)), SNAPSHOT_DEFLATE_LEVEL)

    def loads(self, data: bytes) -> CustomerState:
        """The state of a snapshot; raises StateVersionError for another snapshot version."""
        if data[:1] != b"{":
            data = zlib.decompress(data)
        return self.core.restore(orjson.loads(data))


class TableLike(Protocol):
    """What ``CustomerStates`` needs of a Faust table."""

    @property
    def data(self) -> Any: ...

    @property
    def changelog_topic(self) -> Any: ...


class SnapshotTable(Generic[S]):
    """A Faust table of snapshots (JSON bytes) used as objects in memory, written behind.

    A recovered snapshot is decoded when its key is first used; from then on the caller
    mutates the object in place and calls ``changed``; ``flush`` writes each changed key's
    snapshot once per commit, to the changelog partition of the input partition it came from,
    inside that partition's transaction. ``what`` names the state in log lines.
    """

    def __init__(
        self,
        table: TableLike,
        new: Callable[[str], S],
        dumps: Callable[[S], bytes],
        loads: Callable[[bytes], S],
        what: str,
        place: Callable[[bytes], int] | None = None,
    ) -> None:
        self.table = table
        self._place = place
        """The input partition of a key recovered and not yet seen; None: the partitioner
        Kafka producers use for keyed messages."""
        self._new = new
        self._dumps = dumps
        self._loads = loads
        self._what = what
        self._dirty: dict[int, dict[bytes, S | None]] = {}
        """Per input partition, keys changed since its last flush (None: forgotten)."""
        self._partition_of: dict[bytes, int] = {}
        self._sizes: dict[bytes, int] = {}
        self.bytes_held = 0
        """Bytes of the snapshots of the keys held: as last written, or as recovered (a key
        recovered and not yet read counts once read)."""

    @property
    def changelog(self) -> str:
        """The name of the table's changelog topic."""
        return str(self.table.changelog_topic.get_topic_name())

    def get(self, key: bytes, name: str) -> S:
        """The state of ``key``, a fresh one (``new(name)``) if the table has none.

        A snapshot of another version, or unreadable, is logged and replaced by a fresh state
        (the changelog can be rebuilt by replaying the input topics).
        """
        found: S | bytes | None = self.table.data.get(key)
        if isinstance(found, bytes):
            self._size(key, len(found))
            try:
                return self._loads(found)
            except (StateVersionError, ValueError, KeyError, TypeError) as exc:
                log.error(f"{self._what} unreadable; starting afresh", error=repr(exc))
                found = None
        if found is None:
            return self._new(name)
        return found

    def changed(self, partition: int, key: bytes, state: S) -> None:
        """Record that ``state`` (read from input ``partition``) changed; flushed at commit."""
        self.table.data[key] = state
        self._partition_of[key] = partition
        self._dirty.setdefault(partition, {})[key] = state

    def forget(self, partition: int, key: bytes) -> None:
        """Drop ``key``'s state: a tombstone goes to the changelog at the next flush, so that
        compaction removes it and a restart does not bring it back."""
        self.table.data.pop(key, None)
        self._partition_of.pop(key, None)
        self._dirty.setdefault(partition, {})[key] = None

    def pending(self, partition: int) -> int:
        """How many keys of ``partition`` changed since its last flush."""
        return len(self._dirty.get(partition, ()))

    async def flush(self, partition: int, sender: Sender) -> int:
        """Send the snapshot of every key of ``partition`` changed since the last flush.

        Called under the partition's transaction lock, right before its commit; the changelog
        partition is the input partition, as Faust's recovery expects. Returns the count.
        """
        dirty = self._dirty.pop(partition, None)
        if not dirty:
            return 0
        topic = self.changelog
        for key, state in dirty.items():
            blob = None if state is None else self._dumps(state)
            await sender.send(topic, key, blob, partition)
            self._size(key, 0 if blob is None else len(blob))
        return len(dirty)

    def __len__(self) -> int:
        """How many keys this worker holds."""
        return len(self.table.data)

    def _size(self, key: bytes, size: int) -> None:
        self.bytes_held += size - self._sizes.pop(key, 0)
        if size:
            self._sizes[key] = size

    def keys_of(self, partition: int, partitions: int) -> list[bytes]:
        """Keys of input ``partition`` (of ``partitions``) this worker holds, recovered from the
        changelog or seen since. A recovered key not yet seen is placed by ``place``, or else
        by the partitioner Kafka producers use for keyed messages (murmur2 of the key)."""
        place, default = self._partition_of, self._place
        return [
            key
            for key in list(self.table.data.keys())
            if place.get(key, default(key) if default else _partition_for(key, partitions))
            == partition
        ]

    def revoke(self, partitions: Iterable[int]) -> None:
        """Forget local state of input partitions this worker no longer owns.

        Their uncommitted changes die with the transaction; whoever owns the partition next
        rebuilds its state from the committed changelog.
        """
        gone = set(partitions)
        for partition in gone:
            self._dirty.pop(partition, None)
        keys = [key for key, partition in self._partition_of.items() if partition in gone]
        for key in keys:
            del self._partition_of[key]
            self.table.data.pop(key, None)
            self._size(key, 0)


class CustomerStates(SnapshotTable[CustomerState]):
    """The agent's view of the customer table (key: customer_id as UTF-8 bytes)."""

    def __init__(self, table: TableLike, core: Core, codec: StateCodec, partitions: int) -> None:
        super().__init__(table, core.new_state, codec.dumps, codec.loads, "customer state")
        self.core = core
        self.codec = codec
        self.partitions = partitions

    def customers_of(self, partition: int) -> list[bytes]:
        """Keys of every customer of input ``partition`` this worker holds (``keys_of``)."""
        return self.keys_of(partition, self.partitions)


def _partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a keyed message."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions
