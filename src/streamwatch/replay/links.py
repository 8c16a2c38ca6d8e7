"""What replay jobs share at the end of each window: their outputs in one order, and links.

``write`` merges the jobs' outputs of a window by key (``streamwatch.replay.job``) into the
sink, so that the sink receives them in the order one job owning every partition would have
sent them. ``Linker`` folds the sightings of every job into one in-memory ring linker
(``core.rings.Rings``) once the replay has passed them, in the gate's order
(``core.rings.SightingGate``, the order the live worker folds them in too), and gives, per job,
the ``ring.link`` events for the customers of its partitions, numbered in that order. With one
job both run in the replay; with several (``streamwatch.replay.parallel``) the parent writes,
and every job runs a ``Linker`` of its own over the sightings of all: the rule being
deterministic, they all find the same links, and a job waits for its peers' sightings only,
never for a round trip through the parent.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from streamwatch.core.events import Alert, EnforcementRequest
from streamwatch.core.rings import Rings, SightingGate
from streamwatch.replay.job import Link, Output, Seen


class Sink(Protocol):
    """Where replay results go (a JSONL writer, a list)."""

    def alert(self, alert: Alert) -> None: ...
    def request(self, request: EnforcementRequest) -> None: ...
    def dead_letter(self, record: dict[str, Any]) -> None: ...


def write(sink: Sink, outputs: Iterable[list[Output]]) -> None:
    """Hand the jobs' outputs of one window to ``sink``, merged by key."""
    for _key, dead_letter, alerts, requests in heapq.merge(*outputs, key=_first):
        if dead_letter is not None:
            sink.dead_letter(dead_letter)
        for alert in alerts:
            sink.alert(alert)
        for request in requests:
            sink.request(request)


class Linker:
    """The rings of a replay, fed window by window (module docstring).

    ``job_of(customer_id)`` is the index of the job that owns the customer's partition;
    ``customer`` (an analyst's replay of one customer) keeps only that customer's links.
    Sightings wait in a ``SightingGate`` until the replay's safe point (the frontier less the
    allowed lateness, which no event still to come that is not late can precede) has passed
    them, and are folded in its order, as the live worker folds them.
    """

    def __init__(
        self,
        job_of: Callable[[str], int],
        jobs: int,
        customer: str | None = None,
        rings: Rings | None = None,
    ) -> None:
        self.job_of = job_of
        self.jobs = jobs
        self.customer = customer
        self.rings = rings or Rings()
        self.gate = SightingGate(1)
        self.window = 0

    def __call__(self, seen: Iterable[list[Seen]], safe_ms: int) -> list[list[Link]]:
        """Take one window's sightings of every job (in job order) and fold those before
        ``safe_ms`` (``ALWAYS`` at the end); the links, per job."""
        links: list[list[Link]] = [[] for _ in range(self.jobs)]
        customer, job_of, gate, n = self.customer, self.job_of, self.gate, 0
        for job_seen in seen:  # in any order: the gate puts them in its own
            for _key, found, _ts_ms in job_seen:
                for sighting in found:
                    gate.add(sighting)
        gate.passed(0, safe_ms)
        for sighting, _tag in gate.ready():
            for link in self.rings.link((sighting,), sighting.ts_ms):
                if customer is None or link.customer_id == customer:
                    links[job_of(link.customer_id)].append(((self.window, 3, n), link))
                    n += 1
        self.window += 1
        return links


def _first(item: tuple[Any, ...]) -> Any:
    return item[0]
