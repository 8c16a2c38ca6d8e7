"""The replay loop: raw lines through the partition pipelines the live worker runs, results out.

``Replay`` is the driver that files, Kafka and the demo all use: feed it raw lines with their
origin, then call ``run``. Each line is decoded, routed to the input partition its customer's
events are on (Kafka's default partitioner, as the producers place them) and to the stream of
its type, and queued in that partition's ``PartitionPipeline``, which releases events in the
order and with the sweeps the live worker would (``streamwatch.pipeline``). Link keys go
through one in-memory ring linker, and the ``ring.link`` events they cause are stepped right
after the event that caused them, in the partition of the customer they link. Results are kept
in lists, or handed to sinks so that a large replay streams to files without holding every
alert in memory.

By default nothing is reordered within a stream: replay reproduces the live worker's
decisions. ``sort=True`` is the analysts' mode: each source is first sorted by event time
within the allowed lateness, as if every producer had delivered in order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from streamwatch.core.codec import DecodeError
from streamwatch.core.engine import Core
from streamwatch.core.events import Alert, EnforcementRequest
from streamwatch.core.rings import Rings
from streamwatch.core.timeutil import MS_PER_HOUR
from streamwatch.pipeline import partition as counters
from streamwatch.pipeline.ordering import DEFAULT_MAX_SKEW_MS, FIRST, Decoded, Message
from streamwatch.pipeline.partition import DictStore, PartitionPipeline, Step, decode
from streamwatch.pipeline.routing import DEFAULT_PARTITIONS, partition_for
from streamwatch.replay.ordering import merge, outlier_keys, reorder


@dataclass(frozen=True)
class Source:
    """Raw input messages in roughly event-time order: a file, or one topic partition.

    ``lines`` yields (raw bytes, position); ``origin(position)`` says where a message came from,
    for its dead-letter record (file and line, or topic, partition, offset and key). It is
    called only for bad messages, so positions stay cheap.
    """

    lines: Iterable[tuple[bytes, Any]]
    origin: Callable[[Any], dict[str, Any]]


class Sink(Protocol):
    """Where replay results go (a JSONL writer, a list)."""

    def alert(self, alert: Alert) -> None: ...
    def request(self, request: EnforcementRequest) -> None: ...
    def dead_letter(self, record: dict[str, Any]) -> None: ...


@dataclass
class ListSink:
    """Keeps every result in memory (tests, the demo, small replays)."""

    alerts: list[Alert] = field(default_factory=list)
    requests: list[EnforcementRequest] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)

    def alert(self, alert: Alert) -> None:
        self.alerts.append(alert)

    def request(self, request: EnforcementRequest) -> None:
        self.requests.append(request)

    def dead_letter(self, record: dict[str, Any]) -> None:
        self.dead_letters.append(record)


@dataclass
class ReplayStats:
    """Counts of one replay run."""

    lines: int = 0
    events: int = 0
    links: int = 0
    """``ring.link`` events derived here (not counted in ``events``)."""
    duplicates: int = 0
    late: int = 0
    alerts: int = 0
    requests: int = 0
    shadowed: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)


STREAMS: Final = ("usage", "activity", "payment")
"""The streams of a partition, by event type, ranked as the worker ranks its input topics."""


class Replay:
    """Runs sources of raw lines through one pipeline per input partition (module docstring).

    ``clock`` gives wall-clock milliseconds for ``detected_at`` only. ``lateness_ms`` (default:
    the core's allowed lateness) is how far behind what was read a quiet stream must fall before
    the others go on without it, and the window of ``sort``. ``customer`` replays only that
    customer (dead letters are kept whatever their customer); the others' events still move
    time and go through the rings, since they may link to it. ``partitions`` must be the input
    topics' partition count for replay to sweep as the worker does.
    """

    def __init__(
        self,
        core: Core,
        sink: Sink,
        clock: Callable[[], int],
        lateness_ms: int | None = None,
        customer: str | None = None,
        *,
        partitions: int = DEFAULT_PARTITIONS,
        sort: bool = False,
        max_skew_ms: int = DEFAULT_MAX_SKEW_MS,
    ) -> None:
        self.core = core
        self.sink = sink
        self.clock = clock
        self.lateness_ms = (
            core.settings.allowed_lateness_s * 1000 if lateness_ms is None else lateness_ms
        )
        self.customer = customer
        self.partitions = partitions
        self.sort = sort
        self.max_skew_ms = max_skew_ms
        self.rings = Rings()
        self.stats = ReplayStats()
        self.stores = [DictStore(core) for _ in range(partitions)]
        self.pipelines = [
            PartitionPipeline(
                core,
                STREAMS,
                store,
                clock=clock,
                origin=_origin,
                max_skew_ms=max_skew_ms,
                only=customer,
            )
            for store in self.stores
        ]
        self._frontier = FIRST
        self._seq = 0
        self._partitions: dict[str, int] = {}

    @property
    def states(self) -> dict[str, Any]:
        """Every customer's state, by customer id (for tests and benchmarks)."""
        return {k: v for store in self.stores for k, v in store.states.items()}

    def decode(self, source: Source) -> Iterator[tuple[Decoded, Message]]:
        """Decode a source's lines, each with its message (the stream is the event's type)."""
        stats = self.stats
        for raw, position in source.lines:
            stats.lines += 1
            decoded = decode(raw)
            stream = STREAMS[0] if isinstance(decoded, DecodeError) else decoded.type
            self._seq += 1
            yield decoded, Message(stream, self._seq, None, raw, (source.origin, position))

    def run(self, sources: list[Source]) -> ReplayStats:
        """Replay every source to the end; returns the counts."""
        streams = [self.decode(s) for s in sources]
        if self.sort:
            streams = [reorder(s, self.lateness_ms, _order) for s in streams]
        keyed = [outlier_keys(s, _event_ts, self.max_skew_ms) for s in streams]
        caught_up, pipelines, place = self._caught_up, self.pipelines, self._partition
        next_sweep = FIRST
        for key, (decoded, message) in merge(keyed, _key):
            if isinstance(decoded, DecodeError):
                partition = 0
            else:
                partition = place(decoded.customer_id)
                # The merge key, not the event's time: an outlier from the future must not
                # make every quiet stream look caught up.
                self._frontier = max(self._frontier, key)
            pipeline = pipelines[partition]
            pipeline.add(message, decoded)
            self._emit_all(pipeline.release(caught_up))
            if self._frontier >= next_sweep:
                # Once an hour of event time, every partition: quiet streams elsewhere may
                # have fallen far enough behind to be caught up.
                next_sweep = self._frontier + MS_PER_HOUR
                self._release()
        self._release(final=True)
        self._count()
        return self.stats

    def _partition(self, customer_id: str) -> int:
        partition = self._partitions.get(customer_id)
        if partition is None:
            partition = partition_for(customer_id.encode(), self.partitions)
            self._partitions[customer_id] = partition
        return partition

    def _caught_up(self, _stream: str, ts_ms: int) -> bool:
        # A quiet stream that could still deliver something before ts_ms would be later than
        # the allowed lateness by then.
        return ts_ms < self._frontier - self.lateness_ms

    def _release(self, final: bool = False) -> None:
        """Release what every pipeline lets through, the earliest head of all first, so that
        what waited for a quiet stream (or for the end) goes in event-time order across
        partitions, as a worker keeping up with its input would have sent it, and a ring
        linking customers of several partitions sees them in that order."""
        caught_up, pipelines = self._caught_up, self.pipelines
        while True:
            best: PartitionPipeline | None = None
            best_order: tuple[int, str, int] | None = None
            for pipeline in pipelines:
                head = pipeline.merge.next(caught_up, final)
                if head is not None and (best_order is None or head.order < best_order):
                    best, best_order = pipeline, head.order
            if best is None:
                return
            self._emit_all(best.release(caught_up, final, most=1))

    def _emit_all(self, steps: list[Step]) -> None:
        for step in steps:
            self._emit(step)

    def _emit(self, step: Step) -> None:
        sink = self.sink
        if step.dead_letter is not None:
            sink.dead_letter(step.dead_letter)
        for alert in step.alerts:
            sink.alert(alert)
        for request in step.requests:
            sink.request(request)
        if step.sightings and step.event is not None:
            customer = self.customer
            for link in self.rings.observe(step.event):
                if customer is None or link.customer_id == customer:
                    partition = self._partition(link.customer_id)
                    self._emit(self.pipelines[partition].step_derived(link))

    def _count(self) -> None:
        total: Counter[str] = Counter()
        for pipeline in self.pipelines:
            total.update(pipeline.counts)
        stats = self.stats
        stats.duplicates = total[counters.DUPLICATES]
        stats.events = total[counters.EVENTS] - stats.duplicates
        stats.links = total[counters.LINKS]
        stats.late = total[counters.LATE]
        stats.alerts = total[counters.ALERTS]
        stats.requests = total[counters.REQUESTS]
        stats.shadowed = total[counters.SHADOWED]
        prefix = counters.dead_letter_counter("")
        stats.dead_letters = Counter(
            {k[len(prefix) :]: n for k, n in total.items() if k.startswith(prefix)}
        )


def _origin(message: Message) -> dict[str, Any]:
    origin, position = message.position
    return dict(origin(position))


def _event_ts(item: tuple[Decoded, Message]) -> int | None:
    decoded = item[0]
    return None if isinstance(decoded, DecodeError) else decoded.ts_ms


def _key(item: tuple[int, Any]) -> int:
    return item[0]


def _order(item: tuple[Decoded, Message]) -> tuple[int, str]:
    decoded = item[0]
    if isinstance(decoded, DecodeError):
        return FIRST, ""
    return decoded.ts_ms, decoded.event_id
