"""Per-customer state: bounded, versioned, and a plain value that snapshots to a JSON dict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

STATE_VERSION: Final = 1


class StateVersionError(ValueError):
    """A snapshot was written by an incompatible version; rebuild state by replaying the topics."""


@dataclass(slots=True)
class OpenAlert:
    """What the customer's state remembers of an alert it raised: enough to amend and to rank."""

    kind: str
    severity: str
    score: float
    event_time_ms: int
    revision: int
    fingerprint: str
    summary: str


@dataclass(slots=True)
class Rung:
    """A restrictive rung one policy rule put in place for a customer, and what holds it.

    ``alert_ids`` are the alerts (in the order they came) whose requests under the rule are in
    effect: the rung is lifted, with a ``resume`` request, when the last of them is resolved.
    ``lifted`` counts how often the rule's rung has been lifted for this customer, so that a
    request that puts it back gets a request id a suspension worker has not seen before.
    """

    alert_ids: list[str] = field(default_factory=list)
    lifted: int = 0


@dataclass(slots=True)
class CustomerState:
    """Everything the core keeps for one customer.

    ``seen`` holds recent event ids (insertion-ordered, capped) for deduplication; ``detectors``
    maps detector name to that detector's state object; ``cooldowns`` maps policy rule id to the
    event time it last acted; ``rungs`` maps the id of each policy rule that made a restrictive
    request (require_prepayment, restrict, suspend) to the alerts holding its rung.
    """

    customer_id: str
    watermark_ms: int = 0
    seen: dict[str, None] = field(default_factory=dict)
    detectors: dict[str, Any] = field(default_factory=dict)
    alerts: dict[str, OpenAlert] = field(default_factory=dict)
    cooldowns: dict[str, int] = field(default_factory=dict)
    rungs: dict[str, Rung] = field(default_factory=dict)
    swept_ms: int = 0
    """The last hour mark of event time the timed detectors were advanced to."""
    events: int = 0
    duplicates: int = 0
    late: int = 0

    @property
    def risk(self) -> float:
        """Combined risk in [0, 1]: the chance that at least one open alert is real. Alerts at
        severity info (resolved incidents, early budget lines) carry no risk."""
        remaining = 1.0
        for alert in self.alerts.values():
            if alert.severity != "info":
                remaining *= 1.0 - alert.score
        return round(1.0 - remaining, 4)

    def snapshot(self, detectors: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """A JSON-ready dict of this state; ``detectors`` are the detectors' own dumps."""
        return {
            "v": STATE_VERSION,
            "customer_id": self.customer_id,
            "watermark_ms": self.watermark_ms,
            "seen": list(self.seen),
            "detectors": detectors,
            "alerts": {
                alert_id: [
                    a.kind,
                    a.severity,
                    a.score,
                    a.event_time_ms,
                    a.revision,
                    a.fingerprint,
                    a.summary,
                ]
                for alert_id, a in self.alerts.items()
            },
            "cooldowns": dict(self.cooldowns),
            "rungs": {rule: [list(r.alert_ids), r.lifted] for rule, r in self.rungs.items()},
            "swept_ms": self.swept_ms,
            "counters": [self.events, self.duplicates, self.late],
        }

    @classmethod
    def restore(cls, data: dict[str, Any], detectors: dict[str, Any]) -> CustomerState:
        """The inverse of ``snapshot``; raises StateVersionError on another version."""
        if data.get("v") != STATE_VERSION:
            raise StateVersionError(
                f"state snapshot version {data.get('v')!r}, this build reads {STATE_VERSION}"
            )
        events, duplicates, late = data["counters"]
        return cls(
            customer_id=data["customer_id"],
            watermark_ms=data["watermark_ms"],
            seen=dict.fromkeys(data["seen"]),
            detectors=detectors,
            alerts={alert_id: OpenAlert(*fields) for alert_id, fields in data["alerts"].items()},
            cooldowns=dict(data["cooldowns"]),
            # Snapshots written before the ladder remembered its rungs have none.
            rungs={
                rule: Rung(list(alert_ids), lifted)
                for rule, (alert_ids, lifted) in data.get("rungs", {}).items()
            },
            swept_ms=data.get("swept_ms", 0),
            events=events,
            duplicates=duplicates,
            late=late,
        )
