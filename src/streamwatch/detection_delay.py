"""How long detection took: from the evidence, and from the evidence's arrival.

Every alert carries ``event_time`` (when its evidence happened) and ``detected_at`` (when it was
raised). In a trial (``streamwatch.trial``) ``detected_at`` is stream time: the newest event
time read so far, which is what a live worker's clock reads when it takes lines in as they
arrive. For each label an alert detected (a revision of an alert of its customer and kind with
``event_time`` within ``[start, end + tolerance]``, as ``streamwatch.evaluate`` matches), the
matching revision raised first gives:

- the delay **from the evidence**, ``detected_at - event_time``: how old the evidence was when
  the alert was raised, including how late its data came;
- the delay **from arrival**, ``detected_at`` minus the moment the evidence had arrived: the
  last record of that customer, of an event type the alert's kind is judged on, in the hour of
  its ``event_time``, read by the time the alert was raised (``Trial.evidence_arrival_ms``).
  It is what streamwatch itself added: waiting for an hour to end, holding an hour open for
  late usage, and the merge of a partition's topics waiting for a quiet one (which replay,
  reading a file, gives up on only once it is an allowed lateness behind; the live worker at
  the head of its topics does not wait).

Per kind, the median and p95 (nearest rank) of each, in seconds, and for all kinds as
``TOTAL``. Pure: wire dicts and arrival times in, figures out.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streamwatch.evaluate import p95, parse_labels, parse_time
from streamwatch.text_table import table


@dataclass(frozen=True, slots=True)
class DelayStats:
    """One kind's detection delays (seconds; None when nothing of that kind was detected)."""

    kind: str
    detected: int
    evidence_p50_s: float | None
    evidence_p95_s: float | None
    arrival_p50_s: float | None
    arrival_p95_s: float | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "kind": self.kind,
            "detected": self.detected,
            "from_evidence_s": [self.evidence_p50_s, self.evidence_p95_s],
            "from_arrival_s": [self.arrival_p50_s, self.arrival_p95_s],
        }


def detection_delays(
    labels: Sequence[Mapping[str, Any]],
    alerts: Sequence[Mapping[str, Any]],
    arrived: Sequence[float | None],
    tolerance_s: float,
) -> list[DelayStats]:
    """Per kind (sorted, then ``TOTAL``), the delays of the labels detected (module
    docstring). ``arrived[i]`` is when the evidence of ``alerts[i]`` arrived, epoch seconds
    (None: unknown, and that revision gives no delay from arrival)."""
    if len(arrived) != len(alerts):
        raise ValueError(f"{len(arrived)} arrival times for {len(alerts)} alerts")
    revisions: dict[tuple[str, str], list[tuple[float, float, float | None]]] = defaultdict(list)
    for alert, came in zip(alerts, arrived, strict=True):
        key = (str(alert.get("customer_id")), str(alert.get("kind")))
        revisions[key].append(
            (
                parse_time(alert.get("detected_at"), "alert detected_at"),
                parse_time(alert.get("event_time"), "alert event_time"),
                came,
            )
        )
    from_evidence: dict[str, list[float]] = defaultdict(list)
    from_arrival: dict[str, list[float]] = defaultdict(list)
    for label in parse_labels(labels):
        if label.benign:
            continue
        matching = [
            r
            for r in revisions.get((label.customer_id, label.kind), ())
            if label.start <= r[1] <= label.end + tolerance_s
        ]
        if not matching:
            continue
        detected, event_time, came = min(matching, key=lambda r: (r[0], r[1]))
        from_evidence[label.kind].append(detected - event_time)
        if came is not None:
            from_arrival[label.kind].append(max(0.0, detected - came))
    kinds = sorted(from_evidence)
    out = [_stats(k, from_evidence[k], from_arrival[k]) for k in kinds]
    out.append(
        _stats(
            "TOTAL",
            [d for k in kinds for d in from_evidence[k]],
            [d for k in kinds for d in from_arrival[k]],
        )
    )
    return out


def _stats(kind: str, evidence: list[float], arrival: list[float]) -> DelayStats:
    return DelayStats(
        kind,
        len(evidence),
        statistics.median(evidence) if evidence else None,
        p95(evidence) if evidence else None,
        statistics.median(arrival) if arrival else None,
        p95(arrival) if arrival else None,
    )


def format_delays(delays: Sequence[DelayStats]) -> list[str]:
    """The delays as table lines, in hours (the last row, ``TOTAL``, below a rule)."""
    header = ["kind", "detected", "from evidence", "from arrival"]
    rows = [
        [
            d.kind,
            str(d.detected),
            f"{_hours(d.evidence_p50_s)} / {_hours(d.evidence_p95_s)}",
            f"{_hours(d.arrival_p50_s)} / {_hours(d.arrival_p95_s)}",
        ]
        for d in delays
    ]
    return table(header, rows[:-1], rows[-1]) if rows else []


def _hours(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.1f}"
