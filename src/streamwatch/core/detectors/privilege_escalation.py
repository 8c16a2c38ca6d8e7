"""``privilege_escalation``: Owner or administrator roles handed to guests or new principals,
above all right after sign-ins from a new country, and bursts of guest invitations.

What the activity log shows of an account takeover: failed sign-ins from a country the
account never signed in from, then a successful one, then the attacker makes itself at home:
invites a guest (or creates a user) it controls and grants it Owner, so that it keeps access
after the password is reset. Each ``role.assign`` of a privileged role (``PRIVILEGED_ROLES``)
is scored by noisy-or of:

* who receives it: a guest (``GUEST``), a user created or invited within ``NEW_MS``
  (``NEW_PRINCIPAL``), a principal never seen although the account has been watched for
  ``NEW_MS`` (``UNSEEN``). A principal known for longer than that (a colleague) scores nothing
  and is never alerted on, nor are new users in the account's first ``ONBOARDING_MS`` (a team
  being set up) unless a takeover sign goes with it;
* the takeover context of the day before: failed sign-ins from a new country (more weigh
  more), a successful sign-in from a new country, and the grant coming from the IP of those.

A role granted to a new user with no takeover sign stays below the line (``OPEN``); one granted
to a guest reaches it; any takeover sign on top raises the severity. ``guest.invite`` bursts
(``BURST_MIN`` within ``BURST_MS``) are scored the same way (``BURST``).

One incident per episode: findings within ``EPISODE_GAP_MS`` of the last one amend the same
alert (incident: the episode's start), which then lists every grant and the invitation count;
an amendment is made only when its content changes (severity, another grant, the burst reaching
the next milestone, more takeover evidence). Evidence ``takeover`` is "confirmed" (failed
sign-ins from a new country followed by a successful one or the grant from their IP),
"suspected" (one sign of it) or "none". Deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Final

from streamwatch.core.detectors.abuse_common import (
    country,
    is_person,
    is_privileged,
    noisy_or,
    principal,
    severity_of,
    text,
)
from streamwatch.core.detectors.base import NONE, Capability, Finding, Setup, by_name, named
from streamwatch.core.detectors.registry import register
from streamwatch.core.events import ActivityEvent, Event, Severity, subscription_of
from streamwatch.core.severity import within
from streamwatch.core.timeutil import MS_PER_DAY, MS_PER_HOUR, format_ts

OPEN: Final = 0.4
GUEST: Final = 0.45
NEW_PRINCIPAL: Final = 0.3
UNSEEN: Final = 0.3
OLD_GUEST: Final = 0.3
"""A guest invited longer ago than ``NEW_MS``: still an outsider."""
ONBOARDING_WEIGHT: Final = 0.1
FAILED_WEIGHT: Final = 0.3
FAILED_STEP: Final = 0.05
"""Each failed sign-in from a new country after the first adds this, up to four more."""
SUCCESS_WEIGHT: Final = 0.35
SAME_IP_WEIGHT: Final = 0.25
BURST: Final = 0.4
BURST_STEP: Final = 0.03
"""Each invitation past ``BURST_MIN`` in the window adds this, up to ten more."""
BURST_MIN: Final = 5
BURST_MS: Final = MS_PER_HOUR
BURST_MILESTONES: Final = (5, 10, 20, 50, 100)
NEW_MS: Final = 7 * MS_PER_DAY
ONBOARDING_MS: Final = 2 * MS_PER_DAY
CONTEXT_MS: Final = MS_PER_DAY
EPISODE_GAP_MS: Final = MS_PER_DAY
NEW_ACCOUNT_MS: Final = 30 * MS_PER_DAY
COUNTRIES_KEPT: Final = 8
PRINCIPALS_KEPT: Final = 128
INVITES_KEPT: Final = 128
GRANTS_KEPT: Final = 8
SUBSCRIPTIONS_KEPT: Final = 4
MAX_REVISIONS: Final = 16
COUNTER_CAP: Final = 1_000_000


@dataclass(slots=True)
class Episode:
    """One episode of suspicious grants and invitations: the stuff of one alert."""

    start_ms: int
    last_ms: int
    grants: list[dict[str, Any]] = field(default_factory=list)
    grant_count: int = 0
    invites_peak: int = 0
    """The most guest invitations within ``BURST_MS`` seen in the episode."""
    score: float = 0.0
    failed: int = 0
    failed_country: str | None = None
    signin_country: str | None = None
    same_ip: bool = False
    subscriptions: list[str] = field(default_factory=list)
    signature: str = ""
    revisions: int = 0


@dataclass(slots=True)
class PrivilegeState:
    """Known countries and principals, recent sign-in anomalies and invitations, the episode."""

    signup_ms: int | None = None
    first_ms: int | None = None
    countries: list[str] = field(default_factory=list)
    failed_ms: int | None = None
    failed_count: int = 0
    failed_country: str | None = None
    failed_ip: str | None = None
    signin_ms: int | None = None
    signin_country: str | None = None
    signin_ip: str | None = None
    principals: dict[str, list[Any]] = field(default_factory=dict)
    """principal -> [kind ("user" | "guest"), since_ms]: created, invited or first seen."""
    invites: list[int] = field(default_factory=list)
    """Times of the guest invitations within the last ``BURST_MS``."""
    episode: Episode | None = None


@register(rank=70)
class PrivilegeEscalationDetector:
    """Privileged grants to outsiders and invitation bursts; see the module docstring."""

    name: ClassVar[str] = "privilege_escalation"
    version: ClassVar[str] = "1"
    event_types: ClassVar[frozenset[str]] = frozenset({"activity"})
    capabilities: ClassVar[frozenset[Capability]] = NONE
    kinds: ClassVar[frozenset[str]] = frozenset({"privilege_escalation"})
    state_version: ClassVar[int] = 2
    state_reads: ClassVar[frozenset[int]] = frozenset({1, 2})

    @classmethod
    def from_setup(cls, setup: Setup) -> PrivilegeEscalationDetector:  # noqa: ARG003
        """This detector as the deployment's ``setup`` configures it (see ``Setup``)."""
        return cls()

    def new_state(self) -> PrivilegeState:
        return PrivilegeState()

    def observe(self, state: PrivilegeState, event: Event) -> list[Finding]:
        if not isinstance(event, ActivityEvent):
            return []
        if state.first_ms is None:
            state.first_ms = event.ts_ms
        operation = event.operation
        if operation == "signin":
            self._signin(state, event)
            return []
        if event.status != "succeeded":
            return []
        findings: list[Finding] = []
        if operation == "role.assign":
            findings = self._grant(state, event)
        elif operation == "guest.invite":
            findings = self._invite(state, event)
        elif operation == "user.create":
            name = principal(event.properties.get("principal"))
            if name is not None:
                self._learn(state, name, "user", event.ts_ms, reset=True)
        elif operation == "user.delete":
            name = principal(event.properties.get("principal"))
            if name is not None:
                state.principals.pop(name, None)
        elif operation == "customer.signup":
            self._signup(state, event)
        actor = principal(event.actor)
        if actor is not None and is_person(actor):
            self._learn(state, actor, "user", event.ts_ms)
        return findings

    def dump(self, state: PrivilegeState) -> dict[str, Any]:
        """The state's fields by name, the episode's too (state version 2; version 1 grouped
        them in lists)."""
        return by_name(state)

    def load(self, data: dict[str, Any]) -> PrivilegeState:
        values = {name: data[name] for name in _STATE_FIELDS if name in data}
        for key, names in _V1_GROUPS.items():  # state version 1 grouped fields in lists
            if key in data:
                values.update(named(data[key], names))
        raw = values.pop("episode", None)
        episode = None if raw is None else Episode(**_copy(named(raw, _EPISODE_FIELDS)))
        return PrivilegeState(
            **{k: v for k, v in values.items() if k not in _CONTAINERS},
            countries=list(values["countries"]),
            principals={k: list(v) for k, v in values["principals"].items()},
            invites=list(values["invites"]),
            episode=episode,
        )

    # -- learning ---------------------------------------------------------------------------

    def _learn(
        self, state: PrivilegeState, name: str, kind: str, ts_ms: int, *, reset: bool = False
    ) -> None:
        """Remember a principal from ``ts_ms`` (``reset``: it was just created or invited)."""
        principals = state.principals
        known = principals.get(name)
        if known is not None:
            if reset:
                known[0], known[1] = kind, ts_ms
            return
        if len(principals) >= PRINCIPALS_KEPT:
            # Forget the newest: the colleagues known longest are what spares them alerts.
            del principals[max(principals, key=lambda k: (principals[k][1], k))]
        principals[name] = [kind, ts_ms]

    def _signup(self, state: PrivilegeState, event: ActivityEvent) -> None:
        if state.signup_ms is None:
            state.signup_ms = event.ts_ms
        for name in ("country", "ip_country"):
            code = country(event.properties.get(name))
            if code is not None and code not in state.countries:
                _add_country(state, code)

    def _signin(self, state: PrivilegeState, event: ActivityEvent) -> None:
        where = country(event.properties.get("ip_country"))
        if where is None:
            return
        known = state.countries
        ts_ms = event.ts_ms
        if event.status == "failed":
            if known and where not in known:
                recent = state.failed_ms is not None and ts_ms - state.failed_ms <= CONTEXT_MS
                state.failed_count = min(COUNTER_CAP, state.failed_count + 1) if recent else 1
                state.failed_ms = ts_ms
                state.failed_country = where
                state.failed_ip = event.actor_ip
            return
        if event.status != "succeeded":
            return
        if known and where not in known:
            state.signin_ms, state.signin_country, state.signin_ip = ts_ms, where, event.actor_ip
        if where not in known:
            _add_country(state, where)
        actor = principal(event.actor)
        if actor is not None and is_person(actor):
            self._learn(state, actor, "user", ts_ms)

    # -- grants and invitations -------------------------------------------------------------

    def _grant(self, state: PrivilegeState, event: ActivityEvent) -> list[Finding]:
        props = event.properties
        role = text(props.get("role"))
        name = principal(props.get("principal"))
        kind = text(props.get("principal_type"))
        kind = kind.lower() if kind is not None else "user"
        if name is None or kind == "service":
            return []
        if not is_privileged(role):
            self._learn(state, name, kind, event.ts_ms)
            return []
        ts_ms = event.ts_ms
        known = state.principals.get(name)
        guest = kind == "guest" or (known is not None and known[0] == "guest")
        since = None if known is None else known[1]
        new = since is not None and ts_ms - since <= NEW_MS
        onboarding = state.signup_ms is not None and ts_ms - state.signup_ms <= ONBOARDING_MS
        watched = state.first_ms is not None and ts_ms - state.first_ms >= NEW_MS
        if guest:
            weight, why = (GUEST, "a new guest") if since is None or new else (OLD_GUEST, "a guest")
        elif since is None:
            weight, why = (UNSEEN, "a principal never seen") if watched else (0.0, "")
        elif new:
            weight, why = (
                (ONBOARDING_WEIGHT, "a user of the new account")
                if onboarding
                else (NEW_PRINCIPAL, f"a user created {format_ts(since)}")
            )
        else:
            weight, why = 0.0, ""
        self._learn(state, name, "guest" if guest else kind, ts_ms)
        if weight <= 0.0:
            return []
        context = _context(state, ts_ms, event.actor_ip)
        score = noisy_or([weight, *context.values()])
        if score < OPEN:
            return []
        grant = {
            "principal": name,
            "principal_type": "guest" if guest else kind,
            "role": role,
            "at": event.ts,
            "why": why,
            "actor": event.actor,
            "actor_ip": event.actor_ip,
        }
        episode = self._episode(state, ts_ms)
        episode.grant_count = min(COUNTER_CAP, episode.grant_count + 1)
        if len(episode.grants) < GRANTS_KEPT:
            episode.grants.append(grant)
        subscription = subscription_of(event.resource_id)
        subscriptions = episode.subscriptions
        if subscription and subscription not in subscriptions:
            subscriptions.append(subscription)
            del subscriptions[SUBSCRIPTIONS_KEPT:]
        return self._decide(state, episode, ts_ms, score, context)

    def _invite(self, state: PrivilegeState, event: ActivityEvent) -> list[Finding]:
        ts_ms = event.ts_ms
        name = principal(event.properties.get("principal"))
        if name is not None:
            self._learn(state, name, "guest", ts_ms, reset=True)
        invites = state.invites
        invites.append(ts_ms)
        invites.sort()
        while invites and (invites[0] < ts_ms - BURST_MS or len(invites) > INVITES_KEPT):
            del invites[0]
        count = sum(1 for t in invites if ts_ms - BURST_MS <= t <= ts_ms)
        if count < BURST_MIN:
            return []
        episode = state.episode
        ongoing = episode is not None and ts_ms - episode.last_ms <= EPISODE_GAP_MS
        reached = max((m for m in BURST_MILESTONES if count >= m), default=BURST_MIN)
        if ongoing and episode is not None and reached <= episode.invites_peak:
            episode.last_ms = max(episode.last_ms, ts_ms)
            return []
        context = _context(state, ts_ms, event.actor_ip)
        weight = BURST + BURST_STEP * min(count - BURST_MIN, 10)
        score = noisy_or([weight, *context.values()])
        episode = self._episode(state, ts_ms)
        episode.invites_peak = max(episode.invites_peak, reached)
        return self._decide(state, episode, ts_ms, score, context)

    # -- episodes ---------------------------------------------------------------------------

    def _episode(self, state: PrivilegeState, ts_ms: int) -> Episode:
        episode = state.episode
        if episode is None or ts_ms - episode.last_ms > EPISODE_GAP_MS:
            episode = state.episode = Episode(ts_ms, ts_ms)
        episode.last_ms = max(episode.last_ms, ts_ms)
        return episode

    def _decide(
        self,
        state: PrivilegeState,
        episode: Episode,
        ts_ms: int,
        score: float,
        context: dict[str, float],
    ) -> list[Finding]:
        episode.score = max(episode.score, score)
        if "failed" in context:
            episode.failed = max(episode.failed, state.failed_count)
            episode.failed_country = state.failed_country
        if "signin" in context:
            episode.signin_country = state.signin_country
        episode.same_ip = episode.same_ip or "same_ip" in context
        severity = severity_of(episode.score)
        if severity is None:
            return []
        takeover = _takeover(episode)
        signature = (
            f"{severity}|{episode.grant_count}|{episode.invites_peak}|{takeover}|{episode.failed}"
        )
        if signature == episode.signature or episode.revisions >= MAX_REVISIONS:
            return []
        episode.signature = signature
        episode.revisions += 1
        return [self._finding(state, episode, ts_ms, severity, takeover)]

    def _finding(
        self,
        state: PrivilegeState,
        episode: Episode,
        ts_ms: int,
        severity: Severity,
        takeover: str,
    ) -> Finding:
        reasons = []
        for grant in episode.grants:
            reasons.append(
                f"{grant['actor']} granted {grant['role']} to {grant['principal']} "
                f"({grant['why']}) at {grant['at']}"
                + (f" from {grant['actor_ip']}." if grant["actor_ip"] else ".")
            )
        if episode.grant_count > len(episode.grants):
            reasons.append(f"{episode.grant_count} privileged grants in all.")
        if episode.invites_peak:
            reasons.append(
                f"At least {episode.invites_peak} guests invited within an hour "
                f"(an ordinary account invites a few a month)."
            )
        if episode.failed:
            reasons.append(
                f"{episode.failed} failed sign-in(s) from {episode.failed_country}, a country the "
                "account never signed in from, in the day before."
            )
        if episode.signin_country is not None:
            reasons.append(
                f"A successful sign-in from {episode.signin_country}, new for the account, in "
                "the day before."
            )
        if episode.same_ip:
            reasons.append("The grant came from the IP address of those sign-ins.")
        if takeover == "confirmed":
            reasons.insert(
                0, "Account takeover: sign-ins from a new country, then access for an outsider."
            )
        age_ms = None if state.signup_ms is None else ts_ms - state.signup_ms
        evidence = {
            "takeover": takeover,
            "grants": [dict(g) for g in episode.grants],
            "grant_count": episode.grant_count,
            "guest_invites_per_hour": episode.invites_peak,
            "failed_signins": episode.failed,
            "failed_signin_country": episode.failed_country,
            "new_signin_country": episode.signin_country,
            "from_signin_ip": episode.same_ip,
            "known_countries": list(state.countries),
            "standing": "untrusted"
            if age_ms is not None and age_ms < NEW_ACCOUNT_MS
            else "established",
        }
        return Finding(
            incident=format_ts(episode.start_ms),
            kind=self.name,
            severity=severity,
            score=within(severity, episode.score),
            event_time_ms=ts_ms,
            window_start_ms=min(episode.start_ms, ts_ms),
            window_end_ms=ts_ms,
            reasons=tuple(reasons),
            evidence=evidence,
            subscription_ids=tuple(episode.subscriptions),
        )


_EPISODE_FIELDS: Final = tuple(f.name for f in fields(Episode))
_STATE_FIELDS: Final = tuple(f.name for f in fields(PrivilegeState))
_CONTAINERS: Final = frozenset({"countries", "principals", "invites"})
_V1_GROUPS: Final = {
    "account": ("signup_ms", "first_ms", "countries"),
    "failed": ("failed_ms", "failed_count", "failed_country", "failed_ip"),
    "signin": ("signin_ms", "signin_country", "signin_ip"),
}


def _copy(value: Any) -> Any:
    """A copy of a state value deep enough that the copy shares no list or dict."""
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _add_country(state: PrivilegeState, code: str) -> None:
    countries = state.countries
    countries.append(code)
    if len(countries) > COUNTRIES_KEPT:
        del countries[0]


def _context(state: PrivilegeState, ts_ms: int, actor_ip: str | None) -> dict[str, float]:
    """Takeover signs of the day before ``ts_ms`` and their weights."""
    out: dict[str, float] = {}
    ips = []
    if state.failed_ms is not None and 0 <= ts_ms - state.failed_ms <= CONTEXT_MS:
        out["failed"] = FAILED_WEIGHT + FAILED_STEP * min(state.failed_count - 1, 4)
        ips.append(state.failed_ip)
    if state.signin_ms is not None and 0 <= ts_ms - state.signin_ms <= CONTEXT_MS:
        out["signin"] = SUCCESS_WEIGHT
        ips.append(state.signin_ip)
    if actor_ip is not None and actor_ip in ips:
        out["same_ip"] = SAME_IP_WEIGHT
    return out


def _takeover(episode: Episode) -> str:
    if episode.failed and (episode.signin_country is not None or episode.same_ip):
        return "confirmed"
    if episode.failed or episode.signin_country is not None or episode.same_ip:
        return "suspected"
    return "none"
