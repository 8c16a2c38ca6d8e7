"""The replay loop: decode, order, step the core, collect results.

``Replay`` is the pure-in-spirit driver that files, Kafka and the demo all use: feed it raw lines
with their origin, then call ``run``. Results are kept in lists, or handed to sinks so that a
large replay streams to files without holding every alert in memory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from streamwatch.core.codec import DecodeError, decode_event
from streamwatch.core.deadletter import dead_letter_record
from streamwatch.core.engine import SWEEP_MS, Core, Decisions, Fleet
from streamwatch.core.events import Alert, EnforcementRequest, Event
from streamwatch.core.rings import Rings
from streamwatch.replay.ordering import merge, reorder


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


class Replay:
    """Runs sources of raw lines through one ``Fleet`` in event-time order.

    Link keys (device, card, sign-up IP) go through ``rings``, and the ``ring.link`` events they
    cause are stepped right after the event that caused them, as the live worker's ring agent
    feeds them back. ``clock`` gives wall-clock milliseconds for ``detected_at`` only.
    ``customer`` replays only that customer (dead letters are kept whatever their customer);
    the others' sign-ups still go through the rings, since they may link to it.
    """

    def __init__(
        self,
        core: Core,
        sink: Sink,
        clock: Callable[[], int],
        lateness_ms: int | None = None,
        customer: str | None = None,
    ) -> None:
        self.fleet = Fleet(core)
        self.sink = sink
        self.clock = clock
        self.lateness_ms = (
            core.settings.allowed_lateness_s * 1000 if lateness_ms is None else lateness_ms
        )
        self.customer = customer
        self.rings = Rings()
        self.stats = ReplayStats()

    def decode(self, source: Source) -> Iterator[Event]:
        """Decode a source into events; bad messages go to the sink's dead letters, counted."""
        stats = self.stats
        for raw, position in source.lines:
            stats.lines += 1
            try:
                event = decode_event(raw)
            except DecodeError as exc:
                stats.dead_letters[exc.code] += 1
                self.sink.dead_letter(
                    dead_letter_record(raw, exc, source.origin(position), self.clock())
                )
                continue
            yield event

    def run(self, sources: list[Source]) -> ReplayStats:
        """Replay every source to the end; returns the counts."""
        ordered = reorder(merge([self.decode(s) for s in sources]), self.lateness_ms)
        emit, clock, customer, observe = self._emit, self.clock, self.customer, self.rings.observe
        next_sweep_ms = 0
        for event in ordered:
            if event.ts_ms >= next_sweep_ms:
                # The stream passed an hour mark: customers gone quiet age too.
                emit(self.fleet.sweep(event.ts_ms, clock()))
                next_sweep_ms = event.ts_ms - event.ts_ms % SWEEP_MS + SWEEP_MS
            if customer is not None and event.customer_id != customer:
                for link in observe(event):
                    if link.customer_id == customer:
                        self._step(link, derived=True)
                continue
            if self._step(event):
                for link in observe(event):
                    if customer is None or link.customer_id == customer:
                        self._step(link, derived=True)
        return self.stats

    def _step(self, event: Event, derived: bool = False) -> bool:
        """Step one event and emit what it caused; False for a duplicate.

        A derived link already in the input (a replay of a topic the live worker fed its links
        back to) is a duplicate of that one, and not counted as one."""
        decisions = self.fleet.step(event, self.clock())
        stats = self.stats
        if derived:
            stats.links += 1
            if decisions.duplicate:
                return False
        elif decisions.duplicate:
            stats.duplicates += 1
            return False
        else:
            stats.events += 1
        if decisions.late:
            stats.late += 1
        if decisions.alerts or decisions.requests:
            self._emit(decisions)
        return True

    def _emit(self, decisions: Decisions) -> None:
        for alert in decisions.alerts:
            self.stats.alerts += 1
            self.sink.alert(alert)
        for request in decisions.requests:
            self.stats.requests += 1
            self.sink.request(request)
        self.stats.shadowed += len(decisions.shadowed)
