"""The detector interface and the finding a detector returns."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, Protocol

from streamwatch.core.events import Event, Severity


@dataclass(frozen=True, slots=True)
class Finding:
    """What a detector concluded from one event: the stuff of an alert, less the wall clock.

    ``incident`` names the incident within the customer and kind, from the evidence only (never
    from arrival order or wall time), so that live and replay, and a restarted worker, name the
    same incident alike; the engine derives the ``alert_id`` from customer, kind and incident.
    A finding for an incident already raised amends that alert.
    """

    incident: str
    kind: str
    severity: Severity
    score: float
    event_time_ms: int
    window_start_ms: int
    window_end_ms: int
    reasons: tuple[str, ...]
    evidence: dict[str, Any] = field(default_factory=dict)
    subscription_ids: tuple[str, ...] = ()


class Detector(Protocol):
    """A detector: stateless itself, it keeps each customer's state in a plain object.

    ``observe`` is called once per (deduplicated) event of the declared types, in arrival
    order, may mutate ``state`` and must not mutate ``event``. It must be deterministic: the
    same state and event give the same findings and the same new state. Within it: score,
    decide, then learn, and never learn from what was just flagged.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    event_types: ClassVar[frozenset[str]]

    def new_state(self) -> Any:
        """A fresh state for a customer this detector has not seen."""
        ...

    def observe(self, state: Any, event: Event) -> list[Finding]:
        """Fold one event into the state; return the findings it causes (often none)."""
        ...

    def dump(self, state: Any) -> dict[str, Any]:
        """The state as a JSON-ready dict (for snapshots and the changelog)."""
        ...

    def load(self, data: dict[str, Any]) -> Any:
        """The inverse of ``dump``."""
        ...


class RetainingDetector(Detector, Protocol):
    """A detector whose state can hold what must not be forgotten with a quiet customer: money
    owed, a timer still to fire (see ``Core.forgettable``).

    Implementing ``retains`` is optional; a detector without it never keeps a customer. It must
    be cheap (it is asked of every quiet customer at hour-mark sweeps) and change nothing.
    """

    def retains(self, state: Any, until_ms: int) -> bool:
        """Whether the state, at event time ``until_ms`` (after the sweep to it), still holds
        something that must age or be settled, so that the customer must be kept."""
        ...


def defaults_of(cls: type[Any]) -> tuple[Any, ...]:
    """The defaults of a dataclass's fields, in order (``MISSING`` for fields without a plain
    default), for ``trimmed``."""
    return tuple(f.default for f in fields(cls))


def trimmed(values: list[Any], defaults: tuple[Any, ...]) -> list[Any]:
    """A dataclass's field values in order (a compact dump) without the trailing ones that
    equal their default, type and sign alike (0 is not 0.0 or False; -0.0 is not 0.0): the
    dataclass built from what is left, positionally, has them back."""
    end = len(values)
    while end and defaults[end - 1] is not MISSING and _same(values[end - 1], defaults[end - 1]):
        end -= 1
    return values[:end]


def _same(value: Any, default: Any) -> bool:
    return type(value) is type(default) and repr(value) == repr(default)


class TimedDetector(Detector, Protocol):
    """A detector with rules that fire on the passage of event time alone (an invoice ageing
    past a due date, a user inactive for 90 days), not only on an event.

    The engine calls ``advance`` with each hour mark of event time the customer passes: from
    ``Core.step`` before folding in an event with a later ``ts`` (so the customer's own events
    drive it), and from ``Core.sweep`` when the stream as a whole passes the mark (so a customer
    gone quiet still ages; replay sweeps every customer, the live worker every customer of its
    partitions). Rules:

    - a finding's ``event_time_ms`` is when the line was crossed (a due date plus 30 days), not
      when the sweep ran, so the same state gives the same finding whoever calls ``advance``;
    - ``advance`` changes the state only when it returns findings (it records what it raised),
      so a sweep that finds nothing need not be persisted, and repeating it is harmless;
    - it must be cheap when nothing is due: keep the next due time in the state and compare.
    """

    def advance(self, state: Any, until_ms: int) -> list[Finding]:
        """Findings whose line was crossed at or before ``until_ms``, not raised before."""
        ...
