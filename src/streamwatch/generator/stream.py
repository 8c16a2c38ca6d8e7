"""The whole stream: every customer's timeline merged in (ts, event_id) order, then duplicates,
bad lines and the ``max_events`` cut applied on the way out.

With ``GeneratorConfig.delivery == "arrival"`` each customer's timeline is first re-keyed by
when its usage would arrive from a billing system (``generator.arrival``), and the merge
orders by (arrival, event_id) instead; the events themselves are the same.

Memory: plans for all customers plus one pending event per customer (a heap merge); events are
never all held at once, so a million-event stream runs in constant memory apart from labels.
"""

from __future__ import annotations

import heapq
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field

from streamwatch.generator.archetypes import build_plan
from streamwatch.generator.arrival import arrival_order
from streamwatch.generator.badlines import BadLines
from streamwatch.generator.config import GeneratorConfig
from streamwatch.generator.ids import rng_for
from streamwatch.generator.labels import Anchored, JsonDict, finish_labels
from streamwatch.generator.plan import CustomerPlan
from streamwatch.generator.scenarios import apply_scenario, assign_incidents
from streamwatch.generator.timeline import Keyed, budget_events, customer_events

Record = JsonDict | bytes
"""An event (dict) or a deliberately malformed raw line (bytes)."""


@dataclass(slots=True)
class Collector:
    """What a stream left behind besides its events: labels, bad lines, counts.

    Complete once the iterator that filled it is exhausted, cut by ``max_events``, or closed;
    labels then cover exactly the events emitted so far.
    """

    anchored: list[Anchored] = field(default_factory=list)
    bad_lines: list[bytes] = field(default_factory=list)
    bad_positions: list[int] = field(default_factory=list)
    """For each bad line, how many events were emitted before it."""
    events: int = 0
    """Events emitted, duplicates included."""
    duplicates: int = 0
    cut: bool = False
    """True when ``max_events`` or the consumer stopped the stream before its end."""
    last: tuple[int, str] | None = None

    def labels(self) -> list[JsonDict]:
        """Labels of the emitted events, in stream order (see ``labels.finish_labels``)."""
        if not self.cut:
            return finish_labels(self.anchored, None)
        return finish_labels(self.anchored, self.last or (-1, ""))


def build_plans(cfg: GeneratorConfig) -> list[CustomerPlan]:
    """Every customer's plan, with its incident scenario applied and budgets scheduled; the
    companions a scenario added (``CustomerPlan.companions``) follow their customer."""
    start, end = cfg.start_s, cfg.end_s
    incidents = assign_incidents(cfg.seed, cfg.customers, cfg.incidents, cfg.incident_rate)
    plans = []
    for index in range(cfg.customers):
        plan = build_plan(cfg.seed, index, start, end)
        if index in incidents:
            apply_scenario(cfg.seed, incidents[index], plan)
        budget_events(plan)
        plans.append(plan)
        for companion in plan.companions:
            budget_events(companion)
            plans.append(companion)
    return plans


def copy_event(event: JsonDict) -> JsonDict:
    """A copy deep enough that changing the copy's nested objects leaves the original alone."""
    return {k: dict(v) if isinstance(v, dict) else v for k, v in event.items()}


def iter_records(
    cfg: GeneratorConfig, collector: Collector | None = None
) -> Generator[Record, None, None]:
    """Yield events (dicts) in (ts, event_id) order (by arrival with ``cfg.delivery ==
    "arrival"``), each duplicate of ``duplicate_rate`` right after its original, and bad lines
    (bytes) right after the event they follow. Deterministic for ``cfg``.

    Pass a ``Collector`` to receive labels and bad lines; read it after the iterator ends.
    """
    col = collector if collector is not None else Collector()
    plans = build_plans(cfg)
    copies: set[int] = set()
    merged = heapq.merge(*(_customer_stream(cfg, p, col, copies) for p in plans))
    limit = cfg.max_events
    dup_rate = cfg.duplicate_rate
    dup_draw = rng_for(cfg.seed, "duplicates").random
    bad = BadLines(cfg.seed, cfg.bad_rate) if cfg.bad_rate > 0.0 else None
    count = 0
    finished = False
    try:
        for ts_s, eid, event in merged:
            if limit is not None and count >= limit:
                break
            count += 1
            col.events = count
            col.last = (ts_s, eid)
            if copies and id(event) in copies:  # re-delivered by arrival-order delivery
                copies.discard(id(event))
                col.duplicates += 1
            yield event
            if dup_rate > 0.0 and dup_draw() < dup_rate and (limit is None or count < limit):
                count += 1
                col.events = count
                col.duplicates += 1
                yield copy_event(event)
            if bad is not None:
                line = bad.after(event)
                if line is not None:
                    col.bad_lines.append(line)
                    col.bad_positions.append(count)
                    yield line
        else:
            finished = True
    finally:
        # Cut by max_events, or closed early by the consumer: keep labels of emitted events.
        col.cut = not finished


def _customer_stream(
    cfg: GeneratorConfig, plan: CustomerPlan, col: Collector, copies: set[int]
) -> Iterator[Keyed]:
    """One customer's events keyed by when they reach the stream (see ``cfg.delivery``); the
    ids of re-delivered copies go into ``copies``."""
    if cfg.delivery == "event_time":
        return customer_events(plan, cfg.seed, col.anchored)
    return arrival_order(
        customer_events(plan, cfg.seed, col.anchored, delayed=False),
        rng_for(cfg.seed, plan.customer_id, "arrival"),
        cfg.redelivery_rate,
        copies,
    )


def iter_events(cfg: GeneratorConfig, collector: Collector | None = None) -> Iterator[JsonDict]:
    """Like ``iter_records`` without the bad lines (they still go to the collector)."""
    for rec in iter_records(cfg, collector):
        if not isinstance(rec, bytes):
            yield rec
