"""The replay loop: raw lines through the partition pipelines the live worker runs, results out.

``Replay`` is the driver that files, Kafka and the demo all use: feed it sources of raw lines
with their origin, then call ``run``. Each line is routed to the input partition its customer's
events are on (Kafka's default partitioner, as the producers place them) and to the stream of
its type, and queued in that partition's ``PartitionPipeline``, which releases events in the
order and with the sweeps the live worker would (``streamwatch.pipeline``). The input is cut
into windows of an hour of event time (``streamwatch.replay.job``); at the end of each, link
keys go through one in-memory ring linker and the ``ring.link`` events they cause are stepped in
the partitions of the customers they link (``streamwatch.replay.links``). Results go to a sink,
so that a large replay streams to files without holding every alert in memory.

With ``jobs`` above 1 the partitions are spread over that many processes that advance window by
window (``streamwatch.replay.parallel``); the results, and their order, are those of one job.

By default nothing is reordered within a stream: replay reproduces the live worker's
decisions. ``sort=True`` is the analysts' mode: each source is first sorted by event time
within the allowed lateness, as if every producer had delivered in order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from streamwatch.core.engine import Core
from streamwatch.core.events import Alert, EnforcementRequest
from streamwatch.pipeline import partition as counters
from streamwatch.pipeline.ordering import DEFAULT_MAX_SKEW_MS
from streamwatch.pipeline.routing import DEFAULT_PARTITIONS, partition_for
from streamwatch.replay.job import STREAMS, JobResult, JobSettings, Link, ReplayJob, Window
from streamwatch.replay.links import Linker, Sink, write
from streamwatch.replay.parallel import run_jobs

__all__ = ["STREAMS", "ListSink", "Replay", "ReplayStats", "Sink", "Source"]


@dataclass(frozen=True)
class Source:
    """Raw input messages in roughly event-time order: a file, or one topic partition.

    ``lines`` yields (raw bytes, position); ``origin(position)`` says where a message came from,
    for its dead-letter record (file and line, or topic, partition, offset and key). It is
    called only for bad messages, so positions stay cheap.
    """

    lines: Iterable[tuple[bytes, Any]]
    origin: Callable[[Any], dict[str, Any]]


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
    suppressed: int = 0
    """Alerts feedback held back (decided, not written)."""
    dead_letters: Counter[str] = field(default_factory=Counter)
    customers: int = 0
    """Customers whose state the pipelines held at the end."""
    job_cpu_s: list[float] = field(default_factory=list)
    """CPU seconds of each job (its process's, with several), reading and processing; the
    waits of the lock-step are not in it."""


class Replay:
    """Runs sources of raw lines through one pipeline per input partition (module docstring).

    ``clock`` gives wall-clock milliseconds for ``detected_at`` only. ``lateness_ms`` (default:
    the core's allowed lateness) is how far behind what was read a quiet stream must fall before
    the others go on without it, and the window of ``sort``. ``customer`` replays only that
    customer (dead letters are kept whatever their customer); the others' events still move
    time and go through the rings, since they may link to it. ``partitions`` must be the input
    topics' partition count for replay to sweep as the worker does. ``jobs`` processes share
    the partitions (at most one per partition); the results are the same for any number.
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
        jobs: int = 1,
    ) -> None:
        if jobs < 1 or partitions < 1:
            raise ValueError("replay needs at least one job and one partition")
        self.core = core
        self.sink = sink
        self.clock = clock
        self.settings = JobSettings(
            partitions=partitions,
            lateness_ms=(
                core.settings.allowed_lateness_s * 1000 if lateness_ms is None else lateness_ms
            ),
            customer=customer,
            sort=sort,
            max_skew_ms=max_skew_ms,
        )
        self.customer = customer
        self.partitions = partitions
        self.jobs = min(jobs, partitions)
        self.stats = ReplayStats()
        self._job: ReplayJob | None = None

    @property
    def states(self) -> dict[str, Any]:
        """Every customer's state, by customer id, after a run in one job (tests, the demo)."""
        if self._job is None:
            return {}
        return {k: v for store in self._job.stores.values() for k, v in store.states.items()}

    def job_of(self, customer_id: str) -> int:
        """The job that owns ``customer_id``'s partition."""
        return partition_for(customer_id.encode(), self.partitions) % self.jobs

    def make_job(self, index: int) -> ReplayJob:
        """Job ``index`` of ``jobs``: the partitions ``p`` with ``p % jobs == index``."""
        owned = [p for p in range(self.partitions) if p % self.jobs == index]
        return ReplayJob(self.core, self.settings, self.clock, owned)

    def make_linker(self) -> Linker:
        """The rings, fed window by window (one per job: they all find the same links)."""
        return Linker(self.job_of, self.jobs, self.customer)

    def run(self, sources: list[Source]) -> ReplayStats:
        """Replay every source to the end; returns the counts."""
        if self.jobs == 1:
            job = self._job = self.make_job(0)
            linker = self.make_linker()

            def exchange(window: Window) -> list[Link]:
                write(self.sink, [window.outputs])
                return linker([window.seen], window.safe_ms)[0]

            write(self.sink, [job.run(sources, exchange)])
            results = [job.result()]
        else:
            results = run_jobs(self.make_job, self.make_linker, self.jobs, sources, self.sink)
        self._count(results)
        return self.stats

    def _count(self, results: list[JobResult]) -> None:
        total: Counter[str] = Counter()
        for result in results:
            total.update(result.counts)
        stats = self.stats
        stats.lines = results[0].lines
        stats.customers = sum(r.customers for r in results)
        stats.job_cpu_s = [r.cpu_s for r in results]
        stats.duplicates = total[counters.DUPLICATES]
        stats.events = total[counters.EVENTS] - stats.duplicates
        stats.links = total[counters.LINKS]
        stats.late = total[counters.LATE]
        stats.alerts = total[counters.ALERTS]
        stats.requests = total[counters.REQUESTS]
        stats.shadowed = total[counters.SHADOWED]
        stats.suppressed = total[counters.SUPPRESSED]
        prefix = counters.dead_letter_counter("")
        stats.dead_letters = Counter(
            {k[len(prefix) :]: n for k, n in total.items() if k.startswith(prefix)}
        )
