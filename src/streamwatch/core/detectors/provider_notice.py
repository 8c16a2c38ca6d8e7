"""``provider_notice``: the cloud provider told us about this customer; alert at once.

Notices are deduplicated by ``notice_id`` (providers resend them), so a resent notice amends
nothing and raises nothing. Enforcement is the policy's business, not this detector's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from streamwatch.core.detectors.base import NONE, Capability, Finding, Setup
from streamwatch.core.detectors.registry import register
from streamwatch.core.events import SEVERITIES, ActivityEvent, Event, Severity, subscription_of
from streamwatch.core.severity import score_of

NOTICES_KEPT: Final = 64


@dataclass(slots=True)
class NoticeState:
    """Notice ids already alerted on (the most recent ``NOTICES_KEPT``)."""

    seen: list[str] = field(default_factory=list)


@register(rank=20)
class ProviderNoticeDetector:
    """Turns each new ``provider.notice`` activity into an alert of the notice's severity."""

    name: ClassVar[str] = "provider_notice"
    version: ClassVar[str] = "1"
    event_types: ClassVar[frozenset[str]] = frozenset({"activity"})
    capabilities: ClassVar[frozenset[Capability]] = NONE
    kinds: ClassVar[frozenset[str]] = frozenset({"provider_notice"})
    state_version: ClassVar[int] = 1
    state_reads: ClassVar[frozenset[int]] = frozenset({1})

    @classmethod
    def from_setup(cls, setup: Setup) -> ProviderNoticeDetector:  # noqa: ARG003
        """This detector as the deployment's ``setup`` configures it (see ``Setup``)."""
        return cls()

    def new_state(self) -> NoticeState:
        return NoticeState()

    def observe(self, state: NoticeState, event: Event) -> list[Finding]:
        if not isinstance(event, ActivityEvent) or event.operation != "provider.notice":
            return []
        props = event.properties
        notice_id = _text(props.get("notice_id")) or event.event_id
        if notice_id in state.seen:
            return []
        state.seen.append(notice_id)
        del state.seen[:-NOTICES_KEPT]
        category = _text(props.get("category")) or "unspecified"
        raw_severity = _text(props.get("severity")) or "high"
        severity: Severity = "high"
        for known in SEVERITIES:
            if raw_severity.lower() == known:
                severity = known
        action = _text(props.get("action_required")) or "none"
        subscription = _text(props.get("subscription_id")) or subscription_of(event.resource_id)
        where = f" on {event.resource_id}" if event.resource_id else ""
        wants = (
            f"; the provider requires the customer to be {_ACTION_WORDS.get(action, action)}"
            if action != "none"
            else ""
        )
        reason = (
            f"The provider reported {category} (severity {raw_severity}){where} in notice "
            f"{notice_id}{wants}."
        )
        return [
            Finding(
                incident=notice_id,
                kind=self.name,
                severity=severity,
                score=score_of(severity),
                event_time_ms=event.ts_ms,
                window_start_ms=event.ts_ms,
                window_end_ms=event.ts_ms,
                reasons=(reason,),
                evidence={
                    "notice_id": notice_id,
                    "category": category,
                    "severity": raw_severity,
                    "action_required": action,
                    "resource_id": event.resource_id,
                },
                subscription_ids=(subscription,) if subscription else (),
            )
        ]

    def dump(self, state: NoticeState) -> dict[str, Any]:
        return {"seen": list(state.seen)}

    def load(self, data: dict[str, Any]) -> NoticeState:
        return NoticeState(seen=list(data["seen"]))


_ACTION_WORDS: Final = {"suspend": "suspended", "restrict": "restricted", "notify": "notified"}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
