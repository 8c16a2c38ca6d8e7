"""One replay job: the partition pipelines of some input partitions, fed window by window.

A job reads every line of every source (cheaply: JSON and the envelope only), so that every
job, however many there are, sees the same event-time frontier and cuts the input into the same
windows; it fully validates and processes only the lines of the partitions it owns (the
customer's partition, Kafka's default partitioner, as the producers place them; a line without
a valid envelope goes to partition 0). One job owning every partition is a plain replay; several
jobs in separate processes are ``replay --jobs N`` (``streamwatch.replay.parallel``), and give
the same outputs, in the same order, because nothing a job decides depends on the others except
through the exchange below.

**Windows.** Each time the frontier (the newest event time read) reaches the end of the current
window (an hour past the frontier where the window began), the job releases what its pipelines
let through, the earliest head of all first, and hands its ``Window`` to ``exchange``: the
outputs, each with a ``Key`` that places it in the order one job owning everything would have
sent it, the link keys (``Sighting``) its events carried, and the window's safe point (the
frontier less the allowed lateness: no event still to come that is not late precedes it). The
exchange (``streamwatch.replay.links``) merges the outputs of all jobs by key into the sink,
folds the sightings of all that lie before the safe point into the rings in event-time order
(``core.rings.SightingGate``, as the live worker's ring agent does) and returns to each job the
``ring.link`` events for its customers, which the job steps before it reads on. A link thus
reaches its customer at the end of the first window whose safe point has passed the sign-up
or card that grew the ring (within the allowed lateness and an hour of event time), whether
the customers of the ring share a job or not.

Keys: ``(window, 1, line, n)`` for the n-th step released when line ``line`` was read;
``(window, 2, order, partition)`` for the steps released at the window's end, the earliest
head of all first, as a worker keeping up with its input would have sent them (``order`` is the
latest merge order ``(ts, event_id, stream rank)`` its pipeline released so far, see
``_release``); ``(window, 3, n)`` for the n-th link of the window. A job's keys rise, steps
that sent nothing left out or not, so merging the jobs' lists by key (``heapq.merge``) gives
the order of one job owning every partition.
"""

from __future__ import annotations

import gc
import heapq
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from streamwatch.core.codec import DecodeError, Envelope, envelope
from streamwatch.core.engine import Core
from streamwatch.core.events import ActivityEvent
from streamwatch.core.rings import ALWAYS, Sighting
from streamwatch.core.timeutil import MS_PER_HOUR
from streamwatch.pipeline.ordering import DEFAULT_MAX_SKEW_MS, FIRST, Message
from streamwatch.pipeline.partition import (
    DictStore,
    PartitionPipeline,
    Step,
    decode_object,
    parse,
)
from streamwatch.pipeline.routing import partition_for
from streamwatch.replay.ordering import merge, outlier_keys, reorder

STREAMS: Final = ("usage", "activity", "payment")
"""The streams of a partition, by event type, ranked as the worker ranks its input topics."""

GC_YOUNG_ALLOCATIONS: Final = 10_000
"""How many container allocations the cyclic garbage collector lets pass between collections of
its youngest generation while a job runs (Python's default is 700). Replay allocates several
short-lived objects per line, which reference counting frees, and each collection also walks
the objects that survived the last; at the default the collector took about 6% of a replay's
time, at this well under 1%. Memory hardly changes: only the rare objects in cycles (the
exception of a bad line) wait a little longer to be freed."""

Key = tuple[Any, ...]
Output = tuple[Key, dict[str, Any] | None, tuple[Any, ...], tuple[Any, ...]]
"""``(key, dead letter, alerts, requests)`` of one step that sent something."""
Seen = tuple[Key, tuple[Sighting, ...], int]
"""``(key, sightings, ts_ms)`` of one event that carried link keys."""
Link = tuple[Key, ActivityEvent]


@dataclass(slots=True)
class Window:
    """What one job did in one window (see the module docstring); ``final`` at the end."""

    outputs: list[Output] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    final: bool = False
    safe_ms: int = ALWAYS
    """Event time before which no sighting still to come is on time (the frontier less the
    allowed lateness; ``ALWAYS`` at the end): where the rings may fold up to."""


Exchange = Callable[[Window], list[Link]]
"""Takes a job's window, returns the links for the job's customers, in order."""

Line = tuple[bytes, Any, Callable[[Any], dict[str, Any]], dict[str, Any] | DecodeError]
"""A read line: raw bytes, position, its source's ``origin``, its ``parse`` result."""
Read = tuple[Line, Envelope | None]


@dataclass(frozen=True, slots=True)
class JobResult:
    """A job's counts: lines read (every job reads every line), its pipelines' counters
    (``pipeline.partition``'s names), customers held at the end, CPU time."""

    lines: int
    counts: Counter[str]
    customers: int
    cpu_s: float = 0.0
    """CPU seconds the job's process spent in ``run``."""


@dataclass(frozen=True)
class JobSettings:
    """What every job of a replay shares (see ``Replay``)."""

    partitions: int
    lateness_ms: int
    customer: str | None = None
    sort: bool = False
    max_skew_ms: int = DEFAULT_MAX_SKEW_MS


class ReplayJob:
    """The pipelines of the partitions ``owned`` out of ``settings.partitions``.

    ``clock`` gives wall-clock milliseconds (``detected_at``, dead-letter records). ``run``
    reads the sources to the end and returns the outputs of the last window's links; counts
    and states stay on the job (``counts``, ``stores``, ``lines``).
    """

    def __init__(
        self,
        core: Core,
        settings: JobSettings,
        clock: Callable[[], int],
        owned: Collection[int],
    ) -> None:
        self.settings = settings
        self.stores = {p: DictStore(core) for p in sorted(owned)}
        self.pipelines = {
            p: PartitionPipeline(
                core,
                STREAMS,
                store,
                clock=clock,
                origin=_origin,
                max_skew_ms=settings.max_skew_ms,
                only=settings.customer,
            )
            for p, store in self.stores.items()
        }
        self.lines = 0
        self.cpu_s = 0.0
        self.frontier = FIRST
        self._lateness_ms = settings.lateness_ms
        self._partitions: dict[str, int] = {}

    def result(self) -> JobResult:
        """What the job counted (after ``run``)."""
        counts: Counter[str] = Counter()
        for pipeline in self.pipelines.values():
            counts.update(pipeline.counts)
        customers = sum(len(store.states) for store in self.stores.values())
        return JobResult(self.lines, counts, customers, self.cpu_s)

    def partition(self, customer_id: str) -> int:
        """The input partition of ``customer_id``'s events (memoised)."""
        partition = self._partitions.get(customer_id)
        if partition is None:
            partition = partition_for(customer_id.encode(), self.settings.partitions)
            self._partitions[customer_id] = partition
        return partition

    def run(self, sources: Sequence[Any], exchange: Exchange) -> list[Output]:
        """Read ``sources`` (``runner.Source``) window by window, exchanging each window's
        outputs and sightings for links; returns the outputs of the last links."""
        started = time.process_time()
        try:
            with _young_collections_every(GC_YOUNG_ALLOCATIONS):
                return self._run(sources, exchange)
        finally:
            self.cpu_s += time.process_time() - started

    def _run(self, sources: Sequence[Any], exchange: Exchange) -> list[Output]:
        reads: list[Iterable[Read]] = [self._read(s) for s in sources]
        if self.settings.sort:
            reads = [reorder(r, self._lateness_ms, _order) for r in reads]
        keyed = [outlier_keys(r, _ts, self.settings.max_skew_ms) for r in reads]
        pipelines, place, caught_up = self.pipelines, self.partition, self._caught_up
        window = Window()
        w = 0
        next_window = FIRST
        seq = 0
        for key, (line, env) in merge(keyed, _first):
            seq += 1
            if env is None:
                partition = 0
            else:
                partition = place(env[2])
                # The merge key, not the event's time: an outlier from the future must not
                # make every quiet stream look caught up.
                if key > self.frontier:  # noqa: PLR1730 - per-line hot path, as in reorder
                    self.frontier = key
            pipeline = pipelines.get(partition)
            if pipeline is not None:
                raw, position, origin, doc = line
                decoded = decode_object(doc, env)
                stream = STREAMS[0] if env is None else env[0]
                pipeline.add(Message(stream, seq, None, raw, (origin, position)), decoded)
                for n, step in enumerate(pipeline.release(caught_up)):
                    _collect(window, (w, 1, seq, n), step)
            if self.frontier >= next_window:
                # Once an hour of event time, every partition: quiet streams elsewhere may
                # have fallen far enough behind to be caught up; then the rings.
                next_window = self.frontier + MS_PER_HOUR
                self._release(w, window, final=False)
                window.safe_ms = self.frontier - self._lateness_ms
                links = exchange(window)
                window = Window()
                self._step_links(links, window)
                w += 1
        self.lines = seq
        self._release(w, window, final=True)
        window.final = True
        links = exchange(window)
        rest = Window()
        self._step_links(links, rest)
        return rest.outputs

    def _read(self, source: Any) -> Iterator[Read]:
        origin = source.origin
        for raw, position in source.lines:
            doc = parse(raw)
            env = None if isinstance(doc, DecodeError) else envelope(doc)
            yield (raw, position, origin, doc), env

    def _caught_up(self, _stream: str, ts_ms: int) -> bool:
        # A quiet stream that could still deliver something before ts_ms would be later than
        # the allowed lateness by then.
        return ts_ms < self.frontier - self._lateness_ms

    def _release(self, w: int, window: Window, final: bool) -> None:
        """Release what every pipeline lets through, the earliest head of all first (each
        pipeline's releases do not depend on the others', so merging them is the same as
        taking the earliest head again and again)."""
        caught_up = self._caught_up
        released = []
        for p, pipeline in self.pipelines.items():
            steps = pipeline.release(caught_up, final)
            if not steps:
                continue
            # A head may come before the one released ahead of it (streams are not sorted);
            # taking the earliest head again and again sends it right after that one, so it
            # is placed by the latest order released so far in its pipeline: keys that rise,
            # which the exchange can merge whatever each job left out.
            rank, keyed, latest = pipeline.merge.rank, [], None
            for step in steps:
                order = _order_of(step, rank)
                if latest is None or order > latest:
                    latest = order
                keyed.append(((w, 2, latest, p), step))
            released.append(keyed)
        for key, step in heapq.merge(*released, key=_first):
            _collect(window, key, step)

    def _step_links(self, links: list[Link], window: Window) -> None:
        place, pipelines = self.partition, self.pipelines
        for key, link in links:
            step = pipelines[place(link.customer_id)].step_derived(link)
            if step.dead_letter is not None or step.alerts or step.requests:
                window.outputs.append((key, step.dead_letter, step.alerts, step.requests))


@contextmanager
def _young_collections_every(allocations: int) -> Iterator[None]:
    """Collect the youngest generation only every ``allocations`` allocations (the others as
    often relative to it as before) while the block runs, then restore the thresholds."""
    thresholds = gc.get_threshold()
    young = thresholds[0] and max(allocations, thresholds[0])  # 0 (collection off) stays 0
    gc.set_threshold(young, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def _collect(window: Window, key: Key, step: Step) -> None:
    if step.dead_letter is not None or step.alerts or step.requests:
        window.outputs.append((key, step.dead_letter, step.alerts, step.requests))
    event = step.event
    if step.sightings and event is not None:
        window.seen.append((key, step.sightings, event.ts_ms))


def _order_of(step: Step, rank: dict[str, int]) -> tuple[int, str, int]:
    """The merge order a released step had (``ordering.Held.order``)."""
    message, event = step.message, step.event
    assert message is not None
    if event is None:
        return FIRST, "", rank[message.stream]
    return event.ts_ms, event.event_id, rank[message.stream]


def _first(item: tuple[Any, Any]) -> Any:
    return item[0]


def _origin(message: Message) -> dict[str, Any]:
    origin, position = message.position
    return dict(origin(position))


def _ts(item: Read) -> int | None:
    env = item[1]
    return None if env is None else env[3]


def _order(item: Read) -> tuple[int, str]:
    env = item[1]
    return (FIRST, "") if env is None else (env[3], env[1])
