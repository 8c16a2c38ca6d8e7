"""``bot_signup``: the customer belongs to a ring of accounts behind one device, card or IP.

The detector sees the ``ring.link`` events that ``streamwatch.core.rings`` derives (one per
member each time a ring grows) and judges each link on its own, so that its alerts do not
depend on what else the customer did or in which order links of different keys arrive:

- size: a device or card shared by new accounts is rare among honest customers (two is
  notable, six is a farm); an IP is shared by every office and mobile network, so for IPs only
  sign-up *velocity* counts (at least ``IP_MIN_BURST`` sign-ups within an hour);
- speed: a ring that formed within an hour or a day scores higher than one over a week;
- risk flags of the members: throw-away e-mail domains, unverified phones, prepaid cards,
  country mismatches, by the share of members showing any;
- the look-alike: colleagues behind one company proxy sign up with the company's own e-mail
  domain, verified phones and ordinary cards; a ring whose members all share one such domain
  and show no risk flag scores lower, usually below the alerting line. Such colleagues often
  pay with one corporate card: for a member that signed up with a corporate domain and a
  verified phone, a card shared with members showing no risk flag links nothing. (A card
  sighting carries no e-mail domain, so the member's own sign-up, which this detector sees,
  says whether it is a colleague.)

One alert per (customer, ring): the incident is the ring id, so a growing ring amends the
alert (more members, more evidence; the score never drops while the ring lasts). A link with
a score below ``MIN_SCORE`` raises nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from streamwatch.core.detectors.base import NONE, Capability, Finding, Setup
from streamwatch.core.detectors.registry import register
from streamwatch.core.events import ActivityEvent, Event, Severity
from streamwatch.core.rings import (
    CARD,
    COUNTRY_MISMATCH,
    DEVICE,
    DISPOSABLE_DOMAINS,
    DISPOSABLE_EMAIL,
    FREE_MAIL_DOMAINS,
    PHONE_UNVERIFIED,
    PREPAID_CARD,
    RISK_FLAGS,
    RingLink,
    read_link,
)
from streamwatch.core.severity import within
from streamwatch.core.timeutil import format_ts

MIN_SCORE: Final = 0.3
"""Links scoring below this raise no alert."""
IP_MIN_BURST: Final = 3
"""Sign-ups from one IP within the burst window before an IP ring counts at all."""
RINGS_KEPT: Final = 32
"""Rings whose best score a customer's state remembers (most recent)."""
MEMBERS_IN_EVIDENCE: Final = 32

_KIND_WORDS: Final = {DEVICE: "a device fingerprint", CARD: "a payment card", "ip": "a sign-up IP"}
_FLAG_WORDS: Final = {
    DISPOSABLE_EMAIL: "use throw-away e-mail domains",
    PHONE_UNVERIFIED: "have no verified phone",
    PREPAID_CARD: "pay with prepaid cards",
    COUNTRY_MISMATCH: "declare a country other than their IP's or card's",
}


@dataclass(frozen=True, slots=True)
class Assessment:
    """How suspicious one link looks, and why."""

    score: float
    reasons: tuple[str, ...]


def severity_of(score: float) -> Severity:
    """The alert severity of a score."""
    if score >= 0.85:
        return "critical"
    if score >= 0.7:
        return "high"
    if score >= 0.5:
        return "medium"
    if score >= MIN_SCORE:
        return "low"
    return "info"


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    if seconds < 2 * 3600:
        return f"{seconds // 60} minutes"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"


def assess(link: RingLink, customer_id: str, colleague: bool = False) -> Assessment:
    """Score one link for the member ``customer_id`` (see the module docstring); ``colleague``:
    the member signed up with a corporate e-mail domain and a verified phone. Pure."""
    if (
        colleague
        and link.link == CARD
        and not any(set(m[2]) & set(RISK_FLAGS) for m in link.members)
    ):
        # A company pays for its people's accounts with one corporate card.
        return Assessment(0.0, ())
    n = link.count
    others = [m[0] for m in link.members if m[0] != customer_id]
    shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
    words = _KIND_WORDS.get(link.link, link.link)
    reasons = []
    if link.link == "ip":
        if link.burst < IP_MIN_BURST:
            return Assessment(0.0, ())
        size = 0.35 if link.burst == 3 else 0.45 if link.burst == 4 else 0.55
        if link.burst >= 8:
            size = 0.65
        speed = 0.0
        reasons.append(
            f"{link.burst} accounts signed up from the same IP address within "
            f"{_duration(link.burst_window_s)} (sign-up velocity); this account shares it with "
            f"{len(others)} other account{'s' if len(others) != 1 else ''} ({shown})."
        )
    else:
        size = 0.35 if n == 2 else 0.5 if n == 3 else 0.6 if n <= 5 else 0.7
        speed = 0.15 if link.span_s <= 3600 else 0.1 if link.span_s <= 86400 else 0.0
        reasons.append(
            f"This account shares {words} with {len(others)} other "
            f"account{'s' if len(others) != 1 else ''} ({shown}); the {n} accounts were first "
            f"seen within {_duration(link.span_s)} of each other, from "
            f"{format_ts(link.members[0][1])}."
        )
        if link.burst >= IP_MIN_BURST:
            reasons.append(f"{link.burst} of them within one hour.")
    flagged = [m for m in link.members if any(f in RISK_FLAGS for f in m[2])]
    share = len(flagged) / len(link.members)
    risk = 0.25 * share
    for flag in RISK_FLAGS:
        count = sum(1 for m in link.members if flag in m[2])
        if count:
            reasons.append(f"{count} of {len(link.members)} linked accounts {_FLAG_WORDS[flag]}.")
    domains = {m[3] for m in link.members}
    discount = 0.0
    if not flagged and len(domains) == 1:
        (domain,) = domains
        if domain and domain not in FREE_MAIL_DOMAINS and domain not in DISPOSABLE_DOMAINS:
            discount = 0.2
            reasons.append(
                f"All linked accounts use the e-mail domain {domain} with verified phones and "
                "no other risk sign, as colleagues behind one company network would; scored "
                "lower for it."
            )
    score = round(min(0.99, max(0.0, size + speed + risk - discount)), 4)
    return Assessment(score, tuple(reasons))


@dataclass(slots=True)
class BotSignupState:
    """The best score each recent ring reached for this customer (insertion-ordered)."""

    rings: dict[str, float] = field(default_factory=dict)
    colleague: bool = False
    """The customer signed up with a corporate e-mail domain and a verified phone."""


@register(rank=100)
class BotSignupDetector:
    """Turns ``ring.link`` events into one alert per (customer, ring), amended as it grows."""

    name: ClassVar[str] = "bot_signup"
    version: ClassVar[str] = "1"
    event_types: ClassVar[frozenset[str]] = frozenset({"activity"})
    capabilities: ClassVar[frozenset[Capability]] = NONE
    kinds: ClassVar[frozenset[str]] = frozenset({"bot_signup"})
    state_version: ClassVar[int] = 2
    state_reads: ClassVar[frozenset[int]] = frozenset({1, 2})

    @classmethod
    def from_setup(cls, setup: Setup) -> BotSignupDetector:  # noqa: ARG003
        """This detector as the deployment's ``setup`` configures it (see ``Setup``)."""
        return cls()

    def new_state(self) -> BotSignupState:
        return BotSignupState()

    def observe(self, state: BotSignupState, event: Event) -> list[Finding]:
        if not isinstance(event, ActivityEvent):
            return []
        if event.operation == "customer.signup":
            state.colleague = _corporate(event.properties)
            return []
        link = read_link(event)
        if link is None:
            return []
        assessment = assess(link, event.customer_id, state.colleague)
        best = max(state.rings.get(link.ring_id, 0.0), assessment.score)
        state.rings.pop(link.ring_id, None)
        state.rings[link.ring_id] = best
        while len(state.rings) > RINGS_KEPT:
            del state.rings[next(iter(state.rings))]
        if best < MIN_SCORE:
            return []
        reasons = assessment.reasons
        if assessment.score < best:
            reasons = (*reasons, f"Scored {best:.2f} earlier in this ring; kept.")
        members = link.members
        return [
            Finding(
                incident=link.ring_id,
                kind=self.name,
                severity=severity_of(best),
                score=within(severity_of(best), best),
                event_time_ms=event.ts_ms,
                window_start_ms=min(m[1] for m in members),
                window_end_ms=event.ts_ms,
                reasons=reasons,
                evidence=_evidence(link),
            )
        ]

    def dump(self, state: BotSignupState) -> dict[str, Any]:
        """Rings by id (state version 2; version 1 listed [ring_id, score] pairs) and whether
        the customer signed up as a colleague would (absent from older snapshots)."""
        return {"rings": dict(state.rings), "colleague": state.colleague}

    def load(self, data: dict[str, Any]) -> BotSignupState:
        return BotSignupState(rings=dict(data["rings"]), colleague=bool(data.get("colleague")))


def _corporate(props: dict[str, Any]) -> bool:
    domain = props.get("email_domain")
    if not isinstance(domain, str) or not domain.strip():
        return False
    domain = domain.strip().lower()
    return (
        props.get("phone_verified") is True
        and domain not in FREE_MAIL_DOMAINS
        and domain not in DISPOSABLE_DOMAINS
    )


def _evidence(link: RingLink) -> dict[str, Any]:
    members = link.members
    return {
        "ring_id": link.ring_id,
        "link": link.link,
        "key_id": link.key_id,
        "started": format_ts(link.started_ms),
        "count": link.count,
        "dropped": link.dropped,
        "burst": link.burst,
        "span_s": link.span_s,
        "members": [m[0] for m in members[:MEMBERS_IN_EVIDENCE]],
        "flagged": {f: sum(1 for m in members if f in m[2]) for f in RISK_FLAGS},
        "email_domains": sorted({m[3] for m in members if m[3]})[:10],
    }
