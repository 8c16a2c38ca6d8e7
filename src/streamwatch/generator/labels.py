"""Ground-truth labels: their schema, and how they are collected while events stream out.

A label is a dict::

    {"customer_id": "cust-00042", "kind": "budget_threshold",
     "start": "2026-10-17T09:00:00Z", "end": "2026-10-17T09:00:00Z",
     "scenario": "budget_overrun", "benign": False,
     "detail": {"threshold": "80%", "month": "2026-10"}}

Every label the generator makes is anchored to one emitted event (start == end == its ts, or
the instant ``LabelSpec.at_s`` names when the incident happens later than any event, as a user
turning inactive does; the end is later for accounts of a ring, labelled from their sign-up
until the ring forms).
``kind`` is an alert kind of the wire contract; ``scenario`` names the scenario that caused it
("organic" when nothing did); ``benign`` is True for look-alikes that an alert may match without
counting as a false positive (``LabelSpec(..., benign=True)``; the spend look-alike scenarios
make those).
"""

from __future__ import annotations

from typing import Any

JsonDict = dict[str, Any]

Anchored = tuple[int, str, int, JsonDict]
"""(ts_s, event_id, n, label): the event a label belongs to, and the label's rank at it."""


def make_label(
    customer_id: str,
    kind: str,
    ts: str,
    scenario: str,
    detail: JsonDict,
    *,
    benign: bool = False,
    end: str | None = None,
) -> JsonDict:
    """A label anchored at one instant (start == ``ts``, end == ``end`` or ``ts``)."""
    return {
        "customer_id": customer_id,
        "kind": kind,
        "start": ts,
        "end": end or ts,
        "scenario": scenario,
        "benign": benign,
        "detail": detail,
    }


def finish_labels(anchored: list[Anchored], last: tuple[int, str] | None) -> list[JsonDict]:
    """Labels in stream order, keeping only those whose event was emitted up to ``last``.

    ``last`` is the (ts_s, event_id) of the last emitted event, or None when the stream was not
    cut short. Order: by anchor event (ts, event_id), then by rank at that event.
    """
    kept = anchored if last is None else [a for a in anchored if (a[0], a[1]) <= last]
    return [a[3] for a in sorted(kept, key=lambda a: (a[0], a[1], a[2]))]
