"""``identity_mismatch``: who a customer says it is, against where it pays and signs in from.

Signals, each a weight combined by noisy-or (independent evidence) into one score:

* the sign-up's email domain is a disposable-address service (``Indicators.disposable``);
* the phone was not verified at sign-up;
* the sign-up came from an IP in another country than the one declared;
* a billing country (``billing_country`` of any payment event) differs from the declared one;
* successful sign-ins by the account's own users (invited guests are someone else's staff and
  do not count) from other countries than the declared one (or, without a sign-up, the first
  billing country): most of them, on several days, is strong; from three or more countries is
  hopping; one trip abroad is weak and can never alert on its own.

No single signal reaches the alert line (``OPEN``), nor do sign-ins alone however many, so a
traveller, a customer living abroad or one unverified phone raises nothing; two signals of the
sign-up and payments together do. Signals are latched: once seen, a
signal stays part of the evidence, so the score never falls and the one alert of the customer
(incident ``identity``) is amended only when a new signal joins (at most one amendment per
signal). A card issued in another country than the billing one, and prepaid cards, are
high_risk_instrument's business and are not looked at here.

Indicator lists are configuration, not state: ``use_indicators`` swaps them. Deterministic for
the same lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Final

from streamwatch.core.detectors.abuse_common import (
    add_capped,
    country,
    is_person,
    noisy_or,
    principal,
    severity_of,
    text,
)
from streamwatch.core.detectors.base import Capability, Finding, UsesIndicators, by_name, named
from streamwatch.core.detectors.registry import register
from streamwatch.core.events import ActivityEvent, Event, PaymentEvent, Severity
from streamwatch.core.severity import within
from streamwatch.core.timeutil import MS_PER_DAY, format_ts

OPEN: Final = 0.5
"""Score at which the customer is alerted on; no single signal reaches it."""
WEIGHTS: Final[dict[str, float]] = {
    "disposable_email": 0.4,
    "phone_unverified": 0.2,
    "signup_ip_country": 0.3,
    "billing_country": 0.35,
    "signins_elsewhere": 0.3,
    "signins_hopping": 0.2,
    "signin_abroad": 0.1,
}
ORDER: Final = tuple(WEIGHTS)
BANDS: Final[tuple[tuple[float, Severity], ...]] = ((0.75, "high"), (0.62, "medium"), (OPEN, "low"))
ELSEWHERE_MIN: Final = 3
"""Sign-ins from abroad needed (and a majority of all, on ``ELSEWHERE_DAYS`` days) for
``signins_elsewhere``."""
ELSEWHERE_DAYS: Final = 2
HOPPING_COUNTRIES: Final = 3
BILLING_KEPT: Final = 4
FOREIGN_KEPT: Final = 8
DAYS_KEPT: Final = 8
GUESTS_KEPT: Final = 32
COUNTER_CAP: Final = 1_000_000
NEW_ACCOUNT_MS: Final = 30 * MS_PER_DAY


@dataclass(slots=True)
class IdentityState:
    """What the customer declared, where it pays and signs in from, and what was alerted."""

    signup_ms: int | None = None
    declared: str | None = None
    signup_ip_country: str | None = None
    email_domain: str | None = None
    disposable: str | None = None
    """The listed disposable domain the email domain matched, if it did."""
    phone_verified: bool | None = None
    billing: list[str] = field(default_factory=list)
    """Billing countries in order of first appearance."""
    signins: int = 0
    """Successful sign-ins by the account's own users."""
    foreign: dict[str, int] = field(default_factory=dict)
    """Of those, sign-ins per country other than the home country."""
    foreign_days: list[int] = field(default_factory=list)
    """Epoch days with a sign-in from abroad."""
    guests: list[str] = field(default_factory=list)
    latched: list[str] = field(default_factory=list)
    """Signals seen so far, in ``ORDER``."""
    alerted_ms: int | None = None
    first_ms: int | None = None
    """When the first signal was seen (the alert's window start)."""

    @property
    def home(self) -> str | None:
        """The declared country, else the first billing country."""
        if self.declared is not None:
            return self.declared
        return self.billing[0] if self.billing else None


_FIELDS: Final = tuple(f.name for f in fields(IdentityState))
_CONTAINERS: Final = frozenset({"billing", "foreign", "foreign_days", "guests", "latched"})
_V1_GROUPS: Final = {
    "signup": (
        "signup_ms",
        "declared",
        "signup_ip_country",
        "email_domain",
        "disposable",
        "phone_verified",
    ),
    "signins": ("signins", "foreign", "foreign_days"),
    "alerted": ("alerted_ms", "first_ms"),
}


@register(rank=60)
class IdentityMismatchDetector(UsesIndicators):
    """Identity mismatches from sign-up, payments and sign-ins; see the module docstring."""

    name: ClassVar[str] = "identity_mismatch"
    version: ClassVar[str] = "1"
    event_types: ClassVar[frozenset[str]] = frozenset({"activity", "payment"})
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.INDICATORS})
    kinds: ClassVar[frozenset[str]] = frozenset({"identity_mismatch"})
    state_version: ClassVar[int] = 2
    state_reads: ClassVar[frozenset[int]] = frozenset({1, 2})

    def new_state(self) -> IdentityState:
        return IdentityState()

    def observe(self, state: IdentityState, event: Event) -> list[Finding]:
        if isinstance(event, PaymentEvent):
            billing = country(event.billing_country)
            if billing is None or billing in state.billing or len(state.billing) >= BILLING_KEPT:
                return []
            state.billing.append(billing)
            return self._decide(state, event.ts_ms)
        if not isinstance(event, ActivityEvent) or event.status != "succeeded":
            return []
        operation = event.operation
        if operation == "signin":
            return self._signin(state, event)
        if operation == "customer.signup":
            return self._signup(state, event)
        if operation == "guest.invite":
            guest = principal(event.properties.get("principal"))
            if guest is not None:
                add_capped(state.guests, guest, GUESTS_KEPT)
        return []

    def dump(self, state: IdentityState) -> dict[str, Any]:
        """The state's fields by name (state version 2; version 1 grouped them in lists)."""
        return by_name(state)

    def load(self, data: dict[str, Any]) -> IdentityState:
        values = {name: data[name] for name in _FIELDS if name in data}
        for key, names in _V1_GROUPS.items():  # state version 1 grouped fields in lists
            if isinstance(data.get(key), list):
                values.update(named(data[key], names))
        return IdentityState(
            **{k: v for k, v in values.items() if k not in _CONTAINERS},
            billing=list(values["billing"]),
            foreign=dict(values["foreign"]),
            foreign_days=list(values["foreign_days"]),
            guests=list(values["guests"]),
            latched=list(values["latched"]),
        )

    # -- events -----------------------------------------------------------------------------

    def _signup(self, state: IdentityState, event: ActivityEvent) -> list[Finding]:
        if state.signup_ms is not None:
            return []  # the first sign-up is the one the customer is held to
        props = event.properties
        state.signup_ms = event.ts_ms
        state.declared = country(props.get("country"))
        state.signup_ip_country = country(props.get("ip_country"))
        domain = text(props.get("email_domain"))
        if domain is not None:
            domain = domain.lower().lstrip("@")
            state.email_domain = domain
            state.disposable = self._indicators.disposable(domain)
        phone = props.get("phone_verified")
        state.phone_verified = phone if isinstance(phone, bool) else None
        return self._decide(state, event.ts_ms)

    def _signin(self, state: IdentityState, event: ActivityEvent) -> list[Finding]:
        actor = principal(event.actor)
        if actor is None or not is_person(actor) or actor in state.guests:
            return []
        where = country(event.properties.get("ip_country"))
        if where is None:
            return []
        state.signins = min(COUNTER_CAP, state.signins + 1)
        home = state.home
        if home is None or where == home:
            return []
        foreign = state.foreign
        if where in foreign or len(foreign) < FOREIGN_KEPT:
            foreign[where] = min(COUNTER_CAP, foreign.get(where, 0) + 1)
        day = event.ts_ms // MS_PER_DAY
        days = state.foreign_days
        if day not in days and len(days) < DAYS_KEPT:
            days.append(day)
        return self._decide(state, event.ts_ms)

    # -- deciding ---------------------------------------------------------------------------

    def _signals(self, state: IdentityState) -> set[str]:
        found = set()
        declared = state.declared
        if state.disposable is not None:
            found.add("disposable_email")
        if state.phone_verified is False:
            found.add("phone_unverified")
        ip_country = state.signup_ip_country
        if declared is not None and ip_country is not None and ip_country != declared:
            found.add("signup_ip_country")
        if declared is not None and any(b != declared for b in state.billing):
            found.add("billing_country")
        abroad = sum(state.foreign.values())
        if abroad:
            found.add("signin_abroad")
            if (
                abroad >= ELSEWHERE_MIN
                and 2 * abroad > state.signins
                and len(state.foreign_days) >= ELSEWHERE_DAYS
            ):
                found.add("signins_elsewhere")
            if len(state.foreign) >= HOPPING_COUNTRIES:
                found.add("signins_hopping")
        return found

    def _decide(self, state: IdentityState, ts_ms: int) -> list[Finding]:
        found = self._signals(state) | set(state.latched)
        if len(found) == len(state.latched):
            return []
        if state.first_ms is None:
            state.first_ms = ts_ms
        state.latched = [s for s in ORDER if s in found]
        score = noisy_or(WEIGHTS[s] for s in state.latched)
        severity = severity_of(score, BANDS)
        if severity is None:
            return []
        if state.alerted_ms is None:
            state.alerted_ms = ts_ms
        return [self._finding(state, ts_ms, within(severity, score), severity)]

    def _finding(
        self, state: IdentityState, ts_ms: int, score: float, severity: Severity
    ) -> Finding:
        signals = state.latched
        declared = state.declared
        home = state.home or "unknown"
        reasons = [
            f"Identity does not hold together ({len(signals)} signals, score {score:.2f}): "
            + ", ".join(_LABELS[s] for s in signals)
            + "."
        ]
        if "disposable_email" in signals:
            reasons.append(
                f"Signed up with an email at {state.email_domain}, a disposable-address service "
                f"({state.disposable} is on the list)."
            )
        if "phone_unverified" in signals:
            reasons.append("The phone number was not verified at sign-up.")
        if "signup_ip_country" in signals:
            reasons.append(
                f"Signed up from an IP in {state.signup_ip_country}, declaring {declared}."
            )
        if "billing_country" in signals:
            others = [b for b in state.billing if b != declared]
            reasons.append(f"Billing country {', '.join(others)}, declared country {declared}.")
        abroad = sum(state.foreign.values())
        if abroad:
            where = ", ".join(f"{c} ({n})" for c, n in sorted(state.foreign.items()))
            reasons.append(
                f"{abroad} of {state.signins} sign-ins came from outside {home}: {where}, "
                f"on {len(state.foreign_days)} day(s)."
            )
        age_ms = None if state.signup_ms is None else ts_ms - state.signup_ms
        evidence: dict[str, Any] = {
            "signals": list(signals),
            "declared_country": declared,
            "signup_ip_country": state.signup_ip_country,
            "email_domain": state.email_domain,
            "disposable_email": state.disposable is not None,
            "phone_verified": state.phone_verified,
            "billing_countries": list(state.billing),
            "signins": state.signins,
            "signins_abroad": dict(sorted(state.foreign.items())),
            "signed_up": None if state.signup_ms is None else format_ts(state.signup_ms),
            "standing": "untrusted"
            if age_ms is not None and age_ms < NEW_ACCOUNT_MS
            else "established",
        }
        if state.disposable is not None:
            evidence["indicators"] = self._indicators.digest
        start = state.signup_ms if state.signup_ms is not None else state.first_ms or ts_ms
        return Finding(
            incident="identity",
            kind=self.name,
            severity=severity,
            score=score,
            event_time_ms=ts_ms,
            window_start_ms=min(start, ts_ms),
            window_end_ms=ts_ms,
            reasons=tuple(reasons),
            evidence=evidence,
        )


_LABELS: Final = {
    "disposable_email": "disposable email domain",
    "phone_unverified": "unverified phone",
    "signup_ip_country": "sign-up IP in another country",
    "billing_country": "billing in another country",
    "signins_elsewhere": "most sign-ins from elsewhere",
    "signins_hopping": "sign-ins from many countries",
    "signin_abroad": "sign-ins from abroad",
}
