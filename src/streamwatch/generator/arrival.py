"""Arrival-order delivery: usage written when a billing system would deliver it, not when it
happened.

Real usage for hour H reaches a reseller hours later, in batches per subscription, after data
for later hours of other subscriptions (and, batch against batch, of its own). ``arrival_order``
turns one customer's event-time-ordered events into that order:

- each (subscription, hour) batch of usage arrives ``ARRIVAL_MIN_S`` to ``ARRIVAL_MAX_S`` after
  the hour's start, one delay drawn per batch (daily records are a batch of their own day);
- a ``redelivery_rate`` share of batches is delivered again, whole and unchanged (same
  ``event_id``\\ s), ``ARRIVAL_MIN_S`` to ``ARRIVAL_MAX_S`` after its first delivery, as a
  provider re-sends a file;
- activity and payment events keep their event time as arrival time.

Events are keyed by (arrival, event_id), which the stream merges customers by; nothing in an
event changes, ``ts`` included: only the order of lines differs from event-time delivery.

No restatements: the contract has no way to say "this usage replaces an earlier record". The
adapters derive ``event_id`` from a line's identity (resource, meter, day, charge type), not
its cost, so a restated line with a new cost has the old id and the core drops it as a
duplicate; a correction reaches the core only as a separate line (a ``credit`` payment for a
negative one). Restated records would therefore be indistinguishable from duplicates here.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from typing import Final

from streamwatch.generator.labels import JsonDict
from streamwatch.generator.timefmt import DAY_S, HOUR_S

Keyed = tuple[int, str, JsonDict]
"""(arrival_s, event_id, event), as ``timeline.customer_events`` yields them."""

ARRIVAL_MIN_S: Final = HOUR_S
"""The earliest a usage batch arrives after the start of its hour."""
ARRIVAL_MAX_S: Final = DAY_S
"""The latest a usage batch arrives after the start of its hour (inclusive)."""
DEFAULT_REDELIVERY_RATE: Final = 0.01


def arrival_order(
    events: Iterator[Keyed],
    rng: random.Random,
    redelivery_rate: float = 0.0,
    copies: set[int] | None = None,
) -> Iterator[Keyed]:
    """``events`` (one customer, in event-time order, keyed by ts) re-keyed and re-ordered by
    arrival (module docstring). The ``id`` of each re-delivered copy goes into ``copies``, so
    that the stream can count duplicates as it emits them (a copy stays alive until then).

    Holds back at most ``ARRIVAL_MAX_S`` twice over (a re-delivered batch) of the stream.
    Deterministic for the same events and ``rng`` state.
    """
    held: list[Keyed] = []
    push, pop = heapq.heappush, heapq.heappop
    batch: list[Keyed] = []
    batch_key: tuple[str, int] | None = None

    def close() -> None:
        """Schedule the batch collected so far (and its re-delivery, if drawn)."""
        if not batch:
            return
        arrival = batch[0][0] + rng.randint(ARRIVAL_MIN_S, ARRIVAL_MAX_S)
        for _, eid, event in batch:
            push(held, (arrival, eid, event))
        if redelivery_rate > 0.0 and rng.random() < redelivery_rate:
            again = arrival + rng.randint(ARRIVAL_MIN_S, ARRIVAL_MAX_S)
            for _, eid, event in batch:
                copy = _copy(event)
                if copies is not None:
                    copies.add(id(copy))
                push(held, (again, eid, copy))
        batch.clear()

    for ts_s, eid, event in events:
        if event["type"] == "usage":
            key = (str(event.get("subscription_id", "")), ts_s)
            if key != batch_key:
                close()
                batch_key = key
            batch.append((ts_s, eid, event))
        else:
            # Usage of an hour comes after anything scheduled at its start; a scheduled event
            # ends the batch before it, so a batch never waits for events at a later ts.
            close()
            batch_key = None
        # Whatever is pushed from now on arrives at ts_s or later: release what is due.
        while held and held[0][0] <= ts_s:
            yield pop(held)
        if event["type"] != "usage":
            push(held, (ts_s, eid, event))
    close()
    while held:
        yield pop(held)


def _copy(event: JsonDict) -> JsonDict:
    """A re-delivered record: equal to the first, but not the same object."""
    return {k: dict(v) if isinstance(v, dict) else v for k, v in event.items()}
