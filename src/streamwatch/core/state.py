"""Per-customer state: bounded, versioned, and a plain value that snapshots to a JSON dict."""

from __future__ import annotations

import base64
import struct
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Any, Final

from streamwatch.core.feedback import Suppression
from streamwatch.core.series import HourSeries

STATE_VERSION: Final = 2
"""Version 2 keeps hashed event ids (``RecentIds``) where version 1 kept the ids themselves;
``CustomerState.restore`` reads both."""

_READS: Final = frozenset({1, STATE_VERSION})


class StateVersionError(ValueError):
    """A snapshot was written by an incompatible version; rebuild state by replaying the topics."""


def id_key(event_id: str) -> int:
    """The 64-bit key ``RecentIds`` keeps for an event id: the first 8 bytes, big-endian, of the
    id's BLAKE2b digest. Stable across processes, machines and versions (unlike ``hash``)."""
    digest = blake2b(event_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


_ENTRY: Final = struct.Struct(">QI")
_MAX_AGE_S: Final = 2**32 - 1


class RecentIds:
    """The event ids a customer sent recently, for deduplication: bounded in time and in count.

    Each id is kept as its 64-bit ``id_key`` with the second of the customer's event time (its
    watermark) at which it arrived. Repeats (producer retries) arrive within minutes of the
    original; billing batches sent again come up to a day or two later. An id is kept while
    the watermark is less than ``window_s`` past that second (the engine uses the allowed
    lateness, or the usage lateness for a customer whose usage comes late, plus a margin; see
    ``Settings.dedupe_margin_s``), and at most ``capacity`` ids are kept (oldest go first).
    Since the watermark never goes back and a customer's window never shrinks, arrival order
    is time order: expiry and the cap both drop from the front. An id is judged against every
    id kept, whatever the event's own ts, so a late event's redelivery is caught too.

    What it can get wrong, and how it shows:

    - a real event taken for a duplicate, when its key equals a kept key of another id: with
      at most ``capacity`` keys kept, at most ``capacity / 2**64`` per event (about 5.6e-17
      for 1,024; one in 1.8e16 events of a customer at the cap, i.e. once in some 570 years
      at a million events a second). Such an event is not dropped silently: it is counted as
      a duplicate (``CustomerState.duplicates``, ``Decisions.duplicate``), like any other;
    - a repeat arriving after its id expired or was pushed out by the cap is processed again,
      as before this structure (it is then usually counted late as well).

    In a snapshot it is one base64 string of 12-byte entries, oldest first: the key (8 bytes,
    big-endian) and the age in seconds behind the watermark's second (4 bytes, big-endian).
    Ages are whole seconds in memory too, so a restored set expires exactly like the original.
    """

    __slots__ = ("_keys", "_order")

    def __init__(self, entries: Iterable[tuple[int, int]] = ()) -> None:
        self._order: deque[tuple[int, int]] = deque()
        """(second it arrived at, key), oldest first."""
        self._keys: set[int] = set()
        for at_s, key in entries:
            if key not in self._keys:
                self._keys.add(key)
                self._order.append((at_s, key))

    def __contains__(self, event_id: object) -> bool:
        return isinstance(event_id, str) and id_key(event_id) in self._keys

    def __len__(self) -> int:
        return len(self._order)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RecentIds):
            return NotImplemented
        return self._order == other._order

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RecentIds({len(self._order)} ids)"

    def holds(self, key: int) -> bool:
        """Whether ``key`` (an ``id_key``) is kept."""
        return key in self._keys

    def remember(self, key: int, at_s: int, window_s: int, capacity: int) -> None:
        """Keep ``key`` as arrived at second ``at_s`` (the customer's watermark, which never
        goes back), then forget ids older than ``at_s - window_s`` and beyond ``capacity``."""
        order, keys = self._order, self._keys
        if key not in keys:
            keys.add(key)
            order.append((at_s, key))
        horizon = at_s - window_s
        while order and (order[0][0] < horizon or len(order) > capacity):
            keys.discard(order.popleft()[1])

    def dump(self, watermark_s: int) -> str:
        """The snapshot form (see the class docstring), ages taken behind ``watermark_s``."""
        pack = _ENTRY.pack
        raw = b"".join(
            pack(key, min(max(watermark_s - at_s, 0), _MAX_AGE_S)) for at_s, key in self._order
        )
        return base64.b64encode(raw).decode("ascii")

    @classmethod
    def load(cls, data: str, watermark_s: int) -> RecentIds:
        """The inverse of ``dump``."""
        raw = base64.b64decode(data, validate=True)
        return cls((watermark_s - age, key) for key, age in _ENTRY.iter_unpack(raw))

    @classmethod
    def of_ids(cls, event_ids: Iterable[str], at_s: int) -> RecentIds:
        """Ids kept by a version-1 snapshot (oldest first), as arrived at second ``at_s``."""
        return cls((at_s, id_key(event_id)) for event_id in event_ids)


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
    suppressed: str = ""
    """The id of the suppression that held the alert's last revision back ("" if sent)."""


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

    ``seen`` holds recent event ids (hashed, bounded in time and count) for deduplication;
    ``detectors``
    maps detector name to that detector's state object; ``cooldowns`` maps policy rule id to the
    event time it last acted; ``rungs`` maps the id of each policy rule that made a restrictive
    request (require_prepayment, restrict, suspend) to the alerts holding its rung.
    """

    customer_id: str
    watermark_ms: int = 0
    seen: RecentIds = field(default_factory=RecentIds)
    detectors: dict[str, Any] = field(default_factory=dict)
    alerts: dict[str, OpenAlert] = field(default_factory=dict)
    cooldowns: dict[str, int] = field(default_factory=dict)
    rungs: dict[str, Rung] = field(default_factory=dict)
    suppressions: dict[str, Suppression] = field(default_factory=dict)
    """Feedback that holds back matching alerts, by id, oldest set first (``core.feedback``)."""
    series: HourSeries = field(default_factory=HourSeries)
    """Recent hours of spend, CPU/GPU use and payments, for plots (``core.series``)."""
    swept_ms: int = 0
    """The last hour mark of event time the timed detectors were advanced to."""
    usage_lag_ms: int = 0
    """How far behind the watermark the customer's usage has come, at most (within the
    allowed lateness of usage). Once it is more than the short allowed lateness, the dedupe
    window covers the whole usage lateness, so a billing batch sent again is recognised; a
    customer whose usage comes in order keeps a short window (``Settings.dedupe_margin_s``)."""
    events: int = 0
    duplicates: int = 0
    late: int = 0

    @property
    def risk(self) -> float:
        """Combined risk in [0, 1]: the chance that at least one open alert is real. Alerts at
        severity info (resolved incidents, early budget lines) and alerts feedback suppressed
        carry no risk."""
        remaining = 1.0
        for alert in self.alerts.values():
            if alert.severity != "info" and not alert.suppressed:
                remaining *= 1.0 - alert.score
        return round(1.0 - remaining, 4)

    def snapshot(self, detectors: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """A JSON-ready dict of this state; ``detectors`` are the detectors' own dumps. An
        alert's ``suppressed``, the ``suppressions``, the ``series`` and ``usage_lag_ms`` are
        written only when there are any, so they read back into earlier builds' form."""
        snapshot = {
            "v": STATE_VERSION,
            "customer_id": self.customer_id,
            "watermark_ms": self.watermark_ms,
            "seen": self.seen.dump(self.watermark_ms // 1000),
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
                    *((a.suppressed,) if a.suppressed else ()),
                ]
                for alert_id, a in self.alerts.items()
            },
            "cooldowns": dict(self.cooldowns),
            "rungs": {rule: [list(r.alert_ids), r.lifted] for rule, r in self.rungs.items()},
            "swept_ms": self.swept_ms,
            "counters": [self.events, self.duplicates, self.late],
        }
        if self.suppressions:
            snapshot["suppressions"] = [s.dump() for s in self.suppressions.values()]
        if self.series.hours:
            snapshot["series"] = self.series.dump()
        if self.usage_lag_ms:
            snapshot["usage_lag_ms"] = self.usage_lag_ms
        return snapshot

    @classmethod
    def restore(cls, data: dict[str, Any], detectors: dict[str, Any]) -> CustomerState:
        """The inverse of ``snapshot``; raises StateVersionError on another version.

        Reads version 1 too (what a running deployment's changelog holds): the event ids it
        kept are hashed and taken as arrived at its watermark, so they expire one window
        after the customer's next events."""
        version = data.get("v")
        if type(version) is not int or version not in _READS:
            raise StateVersionError(
                f"state snapshot version {version!r}, this build reads 1 to {STATE_VERSION}"
            )
        events, duplicates, late = data["counters"]
        watermark_ms = data["watermark_ms"]
        if version == 1:
            seen = RecentIds.of_ids(data["seen"], watermark_ms // 1000)
        else:
            seen = RecentIds.load(data["seen"], watermark_ms // 1000)
        return cls(
            customer_id=data["customer_id"],
            watermark_ms=watermark_ms,
            seen=seen,
            detectors=detectors,
            alerts={alert_id: OpenAlert(*fields) for alert_id, fields in data["alerts"].items()},
            cooldowns=dict(data["cooldowns"]),
            # Snapshots written before the ladder remembered its rungs have none.
            rungs={
                rule: Rung(list(alert_ids), lifted)
                for rule, (alert_ids, lifted) in data.get("rungs", {}).items()
            },
            suppressions={
                s.id: s for s in (Suppression.load(d) for d in data.get("suppressions", ()))
            },
            series=HourSeries.load(data["series"]) if "series" in data else HourSeries(),
            swept_ms=data.get("swept_ms", 0),
            usage_lag_ms=data.get("usage_lag_ms", 0),
            events=events,
            duplicates=duplicates,
            late=late,
        )
