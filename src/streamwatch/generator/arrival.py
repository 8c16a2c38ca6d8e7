"""Arrival-order delivery: usage written when a billing system would deliver it, not when it
happened.

Real usage for hour H reaches a reseller hours later, in batches per subscription, after data
for later hours of other subscriptions (and, batch against batch, of its own). ``arrival_order``
turns one customer's event-time-ordered events into that order:

- each (subscription, hour) batch of usage arrives ``ARRIVAL_MIN_S`` to ``ARRIVAL_MAX_S`` after
  the hour's start, one delay drawn per batch (daily records are a batch of their own day);
- a ``redelivery_rate`` share of batches is delivered again (same ``event_id``\\ s),
  ``ARRIVAL_MIN_S`` to ``ARRIVAL_MAX_S`` after its first delivery, as a provider re-sends a
  file: half of them unchanged, half *restated*, every line's ``cost`` changed by 1 to 10%
  up or down (which half, and by how much, follows from the batch's first ``event_id``, so
  the draws of the rest of the stream stay as they were);
- activity and payment events keep their event time as arrival time.

Events are keyed by (arrival, event_id), which the stream merges customers by; nothing in an
event changes, ``ts`` included: only the order of lines differs from event-time delivery.

Restated lines keep their ids because the adapters derive ``event_id`` from a line's identity
(resource, meter, day, charge type), not its cost: the core recognises them as repeats and
keeps the first figure (the contract has no way to say "this usage replaces an earlier
record"; a correction reaches the core as a separate line, a ``credit`` payment for a negative
one). What the generator's restatements check is that a re-sent, changed line is never
counted twice.
"""

from __future__ import annotations

import hashlib
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
            factor = restatement(batch[0][1])
            for _, eid, event in batch:
                copy = _copy(event, factor)
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


def restatement(event_id: str) -> float | None:
    """The factor a re-sent batch's costs are restated by (0.90 to 1.10, never 1), or None for a
    batch re-sent unchanged: from a hash of its first ``event_id``, half the batches each."""
    h = int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "big")
    if h % 2 == 0:
        return None
    step = 1 + (h >> 1) % 10  # 1..10 percent
    return 1.0 + (step if (h >> 8) % 2 else -step) / 100


def _copy(event: JsonDict, factor: float | None = None) -> JsonDict:
    """A re-delivered record: equal to the first (``cost`` times ``factor`` when restated), but
    not the same object."""
    copy = {k: dict(v) if isinstance(v, dict) else v for k, v in event.items()}
    cost = copy.get("cost")
    if factor is not None and isinstance(cost, int | float):
        copy["cost"] = round(cost * factor, 6)
    return copy
