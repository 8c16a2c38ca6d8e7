"""``stale_access``: access nobody should still have. Guests used after their invitation
expired, and users inactive for ``inactive_days`` (90 by default) who still hold their access.

The detector keeps the account's principals as the activity log shows them: users created
(``user.create``), guests invited (``guest.invite``, with ``expires``), principals given a role
(``role.assign``; service principals aside) and every person acting (an actor with a sign-in
name; the provider and feedback operations are not the customer's people). A principal's last
activity is its latest successful activity as actor, or its creation.

Two rules:

* expired guest, on the event: a guest acting at or after its invitation's ``expires``. Raised
  at the first such use, amended at 10 and 100 uses; severity medium, high when the guest holds
  a privileged role.
* inactive, on the passage of event time (``advance``, see ``TimedDetector``): a principal not
  active for ``inactive_days`` since its last activity. The finding's event time is the moment
  the line was crossed (last activity + ``inactive_days``), whether the customer's own later
  event or a fleet sweep brings it. Severity low, medium with a privileged role. A guest whose
  invitation expires before that moment has lost its access by then and is not held inactive.

Each finding is its own incident (principal, rule, and when), with ``evidence["status"]``
"open". Cleared (the user or guest deleted, ``user.delete``; the inactive principal active
again; the expired guest invited anew), the same incident is amended with ``status`` "resolved" and
severity "info". State: at most ``PRINCIPALS_KEPT`` principals (the longest-quiet without an
open incident is forgotten first) and the next due time, so that ``advance`` costs one
comparison when nothing is due. Deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from streamwatch.core.detectors.abuse_common import is_person, is_privileged, principal, text
from streamwatch.core.detectors.base import Capability, Finding, Setup, defaults_of, sparse_by_name
from streamwatch.core.detectors.registry import register
from streamwatch.core.events import ActivityEvent, Event, Severity
from streamwatch.core.severity import score_of
from streamwatch.core.timeutil import MS_PER_DAY, TimestampError, format_ts, parse_ts_ms

DEFAULT_INACTIVE_DAYS: Final = 90
PRINCIPALS_KEPT: Final = 256
USE_MILESTONES: Final = frozenset({10, 100})
COUNTER_CAP: Final = 1_000_000
NOT_THE_CUSTOMERS: Final = ("provider.", "feedback.")
"""Operation prefixes whose actor is not one of the customer's principals."""
INACTIVE = "inactive"
EXPIRED = "expired_guest"


@dataclass(slots=True)
class Principal:
    """One user or guest of the account."""

    kind: str
    """"user" or "guest"."""
    last_ms: int
    expires_ms: int | None = None
    role: str | None = None
    """The most privileged role seen granted (else the last one)."""
    incident: str | None = None
    """The incident of the open finding about this principal, if any."""
    rule: str | None = None
    due_ms: int | None = None
    """When the open inactive finding's line was crossed."""
    uses: int = 0
    """Uses after the invitation expired."""


@dataclass(slots=True)
class StaleState:
    """The account's principals and the earliest time one of them turns inactive."""

    principals: dict[str, Principal] = field(default_factory=dict)
    due_ms: int | None = None


_DEFAULTS: Final = defaults_of(Principal)


@register(rank=80)
class StaleAccessDetector:
    """Expired guests still active and inactive users; see the module docstring."""

    name: ClassVar[str] = "stale_access"
    version: ClassVar[str] = "1"
    event_types: ClassVar[frozenset[str]] = frozenset({"activity"})
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.TIMED, Capability.RETAINS}
    )
    kinds: ClassVar[frozenset[str]] = frozenset({"stale_access"})
    state_version: ClassVar[int] = 2
    state_reads: ClassVar[frozenset[int]] = frozenset({1, 2})

    @classmethod
    def from_setup(cls, setup: Setup) -> StaleAccessDetector:  # noqa: ARG003
        """This detector as the deployment's ``setup`` configures it (see ``Setup``)."""
        return cls()

    def __init__(self, inactive_days: int = DEFAULT_INACTIVE_DAYS) -> None:
        if inactive_days < 1:
            raise ValueError(f"inactive_days must be at least 1, not {inactive_days}")
        self.inactive_days = inactive_days
        self._inactive_ms = inactive_days * MS_PER_DAY

    def new_state(self) -> StaleState:
        return StaleState()

    def observe(self, state: StaleState, event: Event) -> list[Finding]:
        if not isinstance(event, ActivityEvent) or event.status != "succeeded":
            return []
        operation = event.operation
        if operation.startswith(NOT_THE_CUSTOMERS):
            return []
        findings: list[Finding] = []
        ts_ms = event.ts_ms
        props = event.properties
        if operation == "guest.invite":
            findings = self._invite(state, event)
        elif operation == "user.delete":
            name = principal(props.get("principal"))
            gone = state.principals.pop(name, None) if name is not None else None
            if gone is not None and gone.incident is not None and name is not None:
                findings.append(self._resolved(name, gone, ts_ms, "deleted"))
        elif operation in ("user.create", "role.assign"):
            name = principal(props.get("principal"))
            kind = (text(props.get("principal_type")) or "user").lower()
            if name is not None and kind in ("user", "guest"):
                known = self._touch(state, name, kind, ts_ms)
                role = text(props.get("role"))
                if role is not None and (known.role is None or not is_privileged(known.role)):
                    known.role = role
        actor = principal(event.actor)
        if actor is not None and is_person(actor):
            findings.extend(self._act(state, actor, event))
        self._reschedule(state)
        return findings

    def advance(self, state: StaleState, until_ms: int) -> list[Finding]:
        due = state.due_ms
        if due is None or until_ms < due:
            return []
        crossed = sorted(
            (at, name)
            for name, p in state.principals.items()
            if (at := self._due(p)) is not None and at <= until_ms
        )
        findings = []
        for at, name in crossed:
            p = state.principals[name]
            p.incident = f"{INACTIVE}:{name}:{format_ts(at)}"
            p.rule, p.due_ms = INACTIVE, at
            findings.append(self._inactive(name, p, at))
        self._reschedule(state)
        return findings

    def retains(self, state: StaleState, until_ms: int) -> bool:  # noqa: ARG002
        """While a principal has yet to turn inactive: a quiet account's users are flagged
        ``inactive_days`` after their last activity, and that must not be skipped by forgetting
        the account. Open inactive findings do not keep it (a wholly quiet account would be
        kept for ever); they stay as raised."""
        return state.due_ms is not None

    def dump(self, state: StaleState) -> dict[str, Any]:
        """A principal is its fields by name, less those at their default (state version 2;
        version 1 listed them in order, less the trailing ones at their default)."""
        return {
            "principals": {
                name: sparse_by_name(p, _DEFAULTS) for name, p in state.principals.items()
            },
            "due_ms": state.due_ms,
        }

    def load(self, data: dict[str, Any]) -> StaleState:
        return StaleState(
            principals={
                name: Principal(*values) if isinstance(values, list) else Principal(**values)
                for name, values in data["principals"].items()
            },
            due_ms=data["due_ms"],
        )

    # -- state ------------------------------------------------------------------------------

    def _due(self, p: Principal) -> int | None:
        """When ``p`` turns inactive, unless a finding about it is open or its access lapses
        first."""
        if p.incident is not None:
            return None
        due = p.last_ms + self._inactive_ms
        if p.expires_ms is not None and p.expires_ms <= due:
            return None
        return due

    def _reschedule(self, state: StaleState) -> None:
        dues = [d for p in state.principals.values() if (d := self._due(p)) is not None]
        state.due_ms = min(dues) if dues else None

    def _touch(self, state: StaleState, name: str, kind: str, ts_ms: int) -> Principal:
        """The principal ``name``, remembered from ``ts_ms`` if new."""
        principals = state.principals
        known = principals.get(name)
        if known is not None:
            if kind == "guest":
                known.kind = "guest"
            return known
        if len(principals) >= PRINCIPALS_KEPT:
            quiet = [k for k, p in principals.items() if p.incident is None] or list(principals)
            del principals[min(quiet, key=lambda k: (principals[k].last_ms, k))]
        known = principals[name] = Principal(kind, ts_ms)
        return known

    # -- rules ------------------------------------------------------------------------------

    def _invite(self, state: StaleState, event: ActivityEvent) -> list[Finding]:
        props = event.properties
        name = principal(props.get("principal"))
        if name is None:
            return []
        known = self._touch(state, name, "guest", event.ts_ms)
        known.last_ms = max(known.last_ms, event.ts_ms)
        expires = text(props.get("expires"))
        try:
            known.expires_ms = parse_ts_ms(expires) if expires is not None else None
        except TimestampError:
            known.expires_ms = None
        if known.incident is not None:
            # Invited anew: whatever was stale about this guest is settled.
            resolved = self._resolved(name, known, event.ts_ms, "invited again")
            known.incident = known.rule = known.due_ms = None
            known.uses = 0
            return [resolved]
        return []

    def _act(self, state: StaleState, name: str, event: ActivityEvent) -> list[Finding]:
        ts_ms = event.ts_ms
        known = self._touch(state, name, "user", ts_ms)
        expires = known.expires_ms
        if known.kind == "guest" and expires is not None and ts_ms >= expires:
            if known.rule == INACTIVE and known.incident is not None:
                # Not inactive after all; its expiry is what matters now.
                resolved = self._resolved(name, known, ts_ms, "active again")
                known.incident = known.rule = known.due_ms = None
                findings = [resolved]
            else:
                findings = []
            known.uses = min(COUNTER_CAP, known.uses + 1)
            known.last_ms = max(known.last_ms, ts_ms)
            if known.incident is None:
                known.incident = f"{EXPIRED}:{name}:{format_ts(expires)}"
                known.rule = EXPIRED
                findings.append(self._expired(name, known, event))
            elif known.uses in USE_MILESTONES:
                findings.append(self._expired(name, known, event))
            return findings
        findings = []
        if known.rule == INACTIVE and known.incident is not None:
            findings.append(self._resolved(name, known, ts_ms, "active again"))
            known.incident = known.rule = known.due_ms = None
        known.last_ms = max(known.last_ms, ts_ms)
        return findings

    # -- findings ---------------------------------------------------------------------------

    def _inactive(self, name: str, p: Principal, at_ms: int) -> Finding:
        privileged = is_privileged(p.role)
        severity: Severity = "medium" if privileged else "low"
        holds = f"; it still holds {p.role}" if p.role else ""
        reason = (
            f"{'Guest' if p.kind == 'guest' else 'User'} {name} has not been active since "
            f"{format_ts(p.last_ms)} ({self.inactive_days} days){holds}. Remove it, or confirm "
            "it is still needed."
        )
        return Finding(
            incident=p.incident or "",
            kind=self.name,
            severity=severity,
            score=score_of(severity),
            event_time_ms=at_ms,
            window_start_ms=p.last_ms,
            window_end_ms=at_ms,
            reasons=(reason,),
            evidence=_evidence(name, p, "open", INACTIVE, inactive_days=self.inactive_days),
        )

    def _expired(self, name: str, p: Principal, event: ActivityEvent) -> Finding:
        privileged = is_privileged(p.role)
        expires = p.expires_ms if p.expires_ms is not None else event.ts_ms
        holds = f" holding {p.role}" if p.role else ""
        reason = (
            f"Guest {name}{holds} is still active after its invitation expired on "
            f"{format_ts(expires)}: {event.operation} at {event.ts}, {p.uses} use(s) since "
            "expiry. Remove the guest, or renew the invitation if the access is intended."
        )
        return Finding(
            incident=p.incident or "",
            kind=self.name,
            severity="high" if privileged else "medium",
            score=score_of("high" if privileged else "medium"),
            event_time_ms=event.ts_ms,
            window_start_ms=expires,
            window_end_ms=event.ts_ms,
            reasons=(reason,),
            evidence=_evidence(name, p, "open", EXPIRED, last_operation=event.operation),
        )

    def _resolved(self, name: str, p: Principal, ts_ms: int, why: str) -> Finding:
        rule = p.rule or INACTIVE
        what = "inactive" if rule == INACTIVE else "used after its invitation expired"
        return Finding(
            incident=p.incident or "",
            kind=self.name,
            severity="info",
            score=score_of("info"),
            event_time_ms=ts_ms,
            window_start_ms=p.due_ms if p.due_ms is not None else p.last_ms,
            window_end_ms=ts_ms,
            reasons=(f"Resolved: {name}, {what}, was {why} at {format_ts(ts_ms)}.",),
            evidence=_evidence(name, p, "resolved", rule, resolution=why),
        )


def _evidence(name: str, p: Principal, status: str, rule: str, **extra: Any) -> dict[str, Any]:
    evidence: dict[str, Any] = {
        "status": status,
        "rule": rule,
        "principal": name,
        "principal_type": p.kind,
        "role": p.role,
        "last_active": format_ts(p.last_ms),
    }
    if p.expires_ms is not None:
        evidence["expires"] = format_ts(p.expires_ms)
    if rule == EXPIRED:
        evidence["uses_after_expiry"] = p.uses
    evidence.update(extra)
    return evidence
