"""People's feedback on alerts, read from the activity stream: suppressions and "not an anomaly".

Feedback travels as activity events on the activity topic (key = customer id), so replay sees
it exactly where live does, in event-time order with the customer's other events:

- ``feedback.suppress`` (written by ``streamwatch suppress`` and the console; actor = owner):
  hold back the customer's alerts whose ``kind`` matches the glob ``properties.kind`` (default
  ``*``) and whose evidence fields match every glob of ``properties.match`` (field -> pattern,
  compared with ``str(value)`` as the policy's ``where`` is), until ``properties.until``
  (RFC 3339, event time), with ``properties.reason``. Its id is ``properties.id`` when given,
  else derived from customer, kind and match, so suppressing the same scope again replaces the
  earlier one (new expiry, owner, reason); an ``until`` not after the event's time withdraws it.
- ``feedback.not_anomaly`` (``streamwatch feedback ALERT_ID --not-anomaly`` and the console):
  ``properties.alert_id``, ``kind`` and ``evidence`` (the fields of the alert that name its
  pattern, copied from the alert by the writer, so that the event alone says what it means),
  ``reason`` and an optional ``until`` (default ``NOT_ANOMALY_DAYS`` after the event). A
  detector that can learn the pattern as normal (``Capability.LEARNS``: spend_spike,
  network_abuse) does; for other kinds the engine suppresses the same pattern of that customer
  (``as_suppression``).

A suppressed alert is still decided (the customer's state remembers it, marked with the
suppression's id) but not sent and not acted on by the policy; it is counted and shown as
suppressed. Each customer keeps at most ``MAX_SUPPRESSIONS`` (the oldest set goes first);
expired ones are dropped as its event time passes them. Pure and deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Final

from streamwatch.core.events import ActivityEvent
from streamwatch.core.ids import stable_id
from streamwatch.core.timeutil import MS_PER_DAY, format_ts, parse_ts_ms

SUPPRESS: Final = "feedback.suppress"
NOT_ANOMALY: Final = "feedback.not_anomaly"
OPERATIONS: Final = frozenset({SUPPRESS, NOT_ANOMALY})
MAX_SUPPRESSIONS: Final = 32
MAX_MATCH_FIELDS: Final = 16
TEXT_CHARS: Final = 200
NOT_ANOMALY_DAYS: Final = 90
_VOLATILE_KEYS: Final = frozenset({"status", "hour", "since", "until", "first_seen", "last_seen"})
_VOLATILE_ENDINGS: Final = ("_at", "_time", "_ms", "_since", "_until", "_start", "_end")
_OCCURRENCE_KEYS: Final = frozenset(
    {"notice_id", "invoice_id", "event_id", "alert_id", "request_id", "incident"}
)
"""Evidence fields naming one occurrence of a pattern, not the pattern."""


class FeedbackError(ValueError):
    """A feedback event whose properties cannot be used; the codec dead-letters it
    (``invalid_value``, field ``properties.<name>``) so that the writer can be fixed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = f"properties.{field}"


@dataclass(frozen=True, slots=True)
class Suppression:
    """Alerts of one customer held back until ``until_ms`` (event time); see the module doc."""

    id: str
    kind: str
    """A glob over alert kinds."""
    match: tuple[tuple[str, str], ...]
    """(evidence field, glob) pairs that must all match."""
    owner: str
    reason: str
    until_ms: int
    set_ms: int
    alert_id: str = ""
    """The alert a "not an anomaly" feedback named, when the suppression comes from one."""

    def holds(self, kind: str, evidence: dict[str, Any], event_time_ms: int) -> bool:
        """Whether an alert of ``kind`` with ``evidence``, at ``event_time_ms``, is held back."""
        return (
            event_time_ms < self.until_ms
            and fnmatchcase(kind, self.kind)
            and all(
                fnmatchcase(_text(evidence.get(name, "")), pattern) for name, pattern in self.match
            )
        )

    def dump(self) -> list[Any]:
        """The snapshot form (``load`` reads it back)."""
        return [
            self.id,
            self.kind,
            [list(pair) for pair in self.match],
            self.owner,
            self.reason,
            self.until_ms,
            self.set_ms,
            self.alert_id,
        ]

    @classmethod
    def load(cls, data: list[Any]) -> Suppression:
        """The inverse of ``dump``."""
        sid, kind, match, owner, reason, until_ms, set_ms, alert_id = data
        pairs = tuple((str(k), str(v)) for k, v in match)
        return cls(sid, kind, pairs, owner, reason, until_ms, set_ms, alert_id)

    def to_dict(self) -> dict[str, Any]:
        """The form people and the console read."""
        return {
            "id": self.id,
            "kind": self.kind,
            "match": dict(self.match),
            "owner": self.owner,
            "reason": self.reason,
            "until": format_ts(self.until_ms),
            "set_at": format_ts(self.set_ms),
            "alert_id": self.alert_id,
        }


@dataclass(frozen=True, slots=True)
class NotAnomaly:
    """ "This alert was not an anomaly": what a detector that learns is given (``learn_normal``)."""

    alert_id: str
    kind: str
    evidence: dict[str, Any]
    owner: str
    reason: str
    until_ms: int
    ts_ms: int


def suppression_id(customer_id: str, kind: str, match: dict[str, str]) -> str:
    """The id of a suppression of ``customer_id`` by its scope (the same scope, the same id)."""
    return stable_id("suppress", customer_id, kind, *(f"{k}={match[k]}" for k in sorted(match)))


def literal(value: Any) -> str:
    """A glob that matches exactly ``str(value)`` (glob characters bracketed)."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in _text(value))


def pattern_of(evidence: dict[str, Any]) -> dict[str, str]:
    """The fields of an alert's evidence that name its pattern, as exact globs: text and
    true/false values, leaving out times, status, numbers and occurrence ids (a notice's or an
    invoice's id), which differ from one occurrence of the same pattern to the next."""
    out: dict[str, str] = {}
    for key in sorted(evidence):
        value = evidence[key]
        if key in _VOLATILE_KEYS or key in _OCCURRENCE_KEYS or key.endswith(_VOLATILE_ENDINGS):
            continue
        if not isinstance(value, str | bool) or (isinstance(value, str) and _is_time(value)):
            continue
        out[key] = literal(value)
        if len(out) == MAX_MATCH_FIELDS:
            break
    return out


def check(operation: str, properties: dict[str, Any], ts_ms: int) -> None:
    """Raise FeedbackError when a feedback event's properties are unusable (the codec's
    check, so that bad feedback is dead-lettered rather than taken for none)."""
    if operation == SUPPRESS:
        _suppress_fields(properties)
    elif operation == NOT_ANOMALY:
        _not_anomaly_fields(properties, ts_ms)


def suppression_of(event: ActivityEvent) -> Suppression:
    """The suppression a ``feedback.suppress`` event sets (``until_ms <= set_ms``: it withdraws
    the one of that id). Raises FeedbackError."""
    kind, match, until_ms, reason, sid = _suppress_fields(event.properties)
    return Suppression(
        sid or suppression_id(event.customer_id, kind, match),
        kind,
        tuple(sorted(match.items())),
        event.actor[:TEXT_CHARS],
        reason,
        until_ms,
        event.ts_ms,
    )


def not_anomaly_of(event: ActivityEvent) -> NotAnomaly:
    """The feedback a ``feedback.not_anomaly`` event carries. Raises FeedbackError."""
    alert_id, kind, evidence, until_ms, reason = _not_anomaly_fields(event.properties, event.ts_ms)
    return NotAnomaly(
        alert_id, kind, evidence, event.actor[:TEXT_CHARS], reason, until_ms, event.ts_ms
    )


def as_suppression(customer_id: str, feedback: NotAnomaly) -> Suppression:
    """For a kind whose detector does not learn: suppress the same pattern (``pattern_of`` the
    feedback's evidence) of that customer and kind until the feedback's expiry."""
    match = pattern_of(feedback.evidence)
    return Suppression(
        stable_id("not_anomaly", customer_id, feedback.alert_id),
        literal(feedback.kind),
        tuple(sorted(match.items())),
        feedback.owner,
        feedback.reason,
        feedback.until_ms,
        feedback.ts_ms,
        feedback.alert_id,
    )


def held_by(
    suppressions: dict[str, Suppression], kind: str, evidence: dict[str, Any], event_time_ms: int
) -> Suppression | None:
    """The first suppression (in the order they were set) holding back such an alert."""
    for suppression in suppressions.values():
        if suppression.holds(kind, evidence, event_time_ms):
            return suppression
    return None


def keep(suppressions: dict[str, Suppression], suppression: Suppression) -> None:
    """Set ``suppression`` (replacing one of its id; withdrawing it when already expired at its
    own event time), keeping at most ``MAX_SUPPRESSIONS``, the oldest set dropped first."""
    suppressions.pop(suppression.id, None)
    if suppression.until_ms <= suppression.set_ms:
        return
    suppressions[suppression.id] = suppression
    while len(suppressions) > MAX_SUPPRESSIONS:
        del suppressions[next(iter(suppressions))]


def expire(suppressions: dict[str, Suppression], now_ms: int) -> None:
    """Drop the suppressions whose expiry is at or before event time ``now_ms``."""
    for sid in [s.id for s in suppressions.values() if s.until_ms <= now_ms]:
        del suppressions[sid]


# --- parsing ---------------------------------------------------------------------------------


def _suppress_fields(props: dict[str, Any]) -> tuple[str, dict[str, str], int, str, str]:
    kind = props.get("kind", "*")
    if not isinstance(kind, str) or not kind:
        raise FeedbackError("kind", "'kind' must be a non-empty glob over alert kinds")
    match = props.get("match", {})
    if not isinstance(match, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str) for k, v in match.items()
    ):
        raise FeedbackError("match", "'match' must be an object of evidence field -> glob text")
    if len(match) > MAX_MATCH_FIELDS:
        raise FeedbackError("match", f"'match' names more than {MAX_MATCH_FIELDS} fields")
    until_ms = _until(props)
    reason = _reason(props)
    sid = props.get("id", "")
    if not isinstance(sid, str) or len(sid) > TEXT_CHARS:
        raise FeedbackError("id", "'id' must be text of at most 200 characters")
    return kind[:TEXT_CHARS], dict(match), until_ms, reason, sid


def _not_anomaly_fields(
    props: dict[str, Any], ts_ms: int
) -> tuple[str, str, dict[str, Any], int, str]:
    alert_id = props.get("alert_id")
    if not isinstance(alert_id, str) or not alert_id:
        raise FeedbackError("alert_id", "'alert_id' must name the alert")
    kind = props.get("kind")
    if not isinstance(kind, str) or not kind:
        raise FeedbackError("kind", "'kind' must be the alert's kind")
    evidence = props.get("evidence", {})
    if not isinstance(evidence, dict) or len(evidence) > 4 * MAX_MATCH_FIELDS:
        raise FeedbackError("evidence", "'evidence' must be an object of the alert's fields")
    until_ms = _until(props) if "until" in props else ts_ms + NOT_ANOMALY_DAYS * MS_PER_DAY
    return alert_id[:TEXT_CHARS], kind[:TEXT_CHARS], evidence, until_ms, _reason(props)


def _until(props: dict[str, Any]) -> int:
    until = props.get("until")
    if not isinstance(until, str):
        raise FeedbackError("until", "'until' must be an RFC 3339 time")
    try:
        return parse_ts_ms(until)
    except ValueError as exc:
        raise FeedbackError("until", f"'until' is not an RFC 3339 time: {until!r}") from exc


def _reason(props: dict[str, Any]) -> str:
    reason = props.get("reason", "")
    if not isinstance(reason, str):
        raise FeedbackError("reason", "'reason' must be text")
    return reason[:TEXT_CHARS]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _is_time(text: str) -> bool:
    if len(text) < 20 or text[4] != "-" or "T" not in text:
        return False
    try:
        parse_ts_ms(text)
    except ValueError:
        return False
    return True
