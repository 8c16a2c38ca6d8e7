"""Rings: customers linked by a shared device fingerprint, card or sign-up IP.

Per-customer state cannot see that ten new accounts came from one laptop; state keyed by the
*link key* can. This module is that state and its one rule, pure and deterministic:

- ``sightings(event)`` extracts the link keys an event carries: a ``customer.signup`` names a
  device fingerprint and a sign-up IP, an ``instrument.added`` a card fingerprint. Key values
  are hashed (``device:<16 hex>``); a raw fingerprint or IP never leaves the input topics.
- ``RingLinker.step(state, sighting)`` folds one sighting into that key's ``RingState`` (the
  customers seen behind the key within a window, capped) and, when a customer joins a ring of
  two or more, returns one ``ring.link`` activity event per member, the earlier members
  included. Each names the ring, the members with their first-seen times and sign-up risk
  flags, how many signed up within one hour, and how long the ring took to form.
- ``Rings`` keeps many keys' states in a dict (replay, tests); the live worker keeps them in a
  Faust table keyed by link key (``streamwatch.live.rings``). Both feed the links back to the
  customers concerned, whose ``bot_signup`` detector judges them.

Idempotence: a customer already in a ring is not linked again, and a link's ``event_id`` is
derived from (ring, member, joining customer), so a link derived twice (a replay of a topic
holding the live worker's links, a redelivered sighting) is deduplicated by the member's own
event-id dedupe. Order: links follow the order sightings are folded in, which
``SightingGate`` makes one order (event time, customer, key) in replay and live alike, whatever
order the input partitions deliver them in (see ``streamwatch.live.rings``).

Trust: ``ring.link`` is produced by streamwatch itself (actor ``LINK_ACTOR``) on the activity
topic. Anyone who may write to that topic can forge one; the detector ignores links from any
other actor, which stops accidents, not an adversary with write access (use topic ACLs).
"""

from __future__ import annotations

import heapq
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from streamwatch.core.events import ActivityEvent, Event, PaymentEvent
from streamwatch.core.ids import stable_id
from streamwatch.core.timeutil import MS_PER_DAY, MS_PER_HOUR, format_ts, parse_ts_ms

LINK_OPERATION: Final = "ring.link"
LINK_ACTOR: Final = "streamwatch"
"""The actor of every ``ring.link`` streamwatch produces; links by anyone else are ignored."""
RING_STATE_VERSION: Final = 1

DEVICE: Final = "device"
CARD: Final = "card"
IP: Final = "ip"
LINK_KINDS: Final = (DEVICE, CARD, IP)

DISPOSABLE_EMAIL: Final = "disposable_email"
PHONE_UNVERIFIED: Final = "phone_unverified"
PREPAID_CARD: Final = "prepaid_card"
COUNTRY_MISMATCH: Final = "country_mismatch"
RISK_FLAGS: Final = (DISPOSABLE_EMAIL, PHONE_UNVERIFIED, PREPAID_CARD, COUNTRY_MISMATCH)
"""Sign-up traits that make a linked account look more like a bot than a colleague."""

DISPOSABLE_DOMAINS: Final = frozenset(
    {
        "10minutemail.com",
        "discard.email",
        "dispostable.com",
        "emailondeck.com",
        "fakeinbox.com",
        "getnada.com",
        "guerrillamail.com",
        "maildrop.cc",
        "mailinator.com",
        "mintemail.com",
        "mohmal.com",
        "sharklasers.com",
        "temp-mail.org",
        "tempmail.dev",
        "throwawaymail.com",
        "trashmail.com",
        "yopmail.com",
    }
)
"""Throw-away e-mail providers (a short list of well-known ones, not a feed)."""
FREE_MAIL_DOMAINS: Final = frozenset(
    {
        "aol.com",
        "gmail.com",
        "gmx.de",
        "gmx.net",
        "hotmail.com",
        "icloud.com",
        "mail.ru",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "web.de",
        "yahoo.com",
        "yandex.ru",
    }
)
"""Free webmail: not a risk by itself, but not a company's own domain either."""
PREPAID_TYPES: Final = frozenset({"prepaid_card", "stored_value"})


@dataclass(frozen=True, slots=True)
class LinkerSettings:
    """How long a customer stays in a ring, and how many members a ring remembers."""

    window_ms: dict[str, int] = field(
        default_factory=lambda: {DEVICE: 7 * MS_PER_DAY, CARD: 7 * MS_PER_DAY, IP: MS_PER_DAY}
    )
    """Per link kind: members first seen longer ago than this (behind the key's newest
    sighting) leave the ring. Shared IPs (NAT, proxies) are common, so IP rings are short."""
    max_members: int = 32
    """More members than this push the earliest out (counted in ``dropped``)."""
    burst_ms: int = MS_PER_HOUR
    """The span in which sign-ups count towards ``burst`` (sign-up velocity)."""


@dataclass(frozen=True, slots=True)
class Sighting:
    """One customer seen behind one link key, with what its event said about it.

    ``flags`` are the ``RISK_FLAGS`` the event shows; ``email_domain`` is the sign-up e-mail
    domain (None for a card, whose event does not say). The dict form travels on the live
    worker's internal re-key topic.
    """

    key: str
    customer_id: str
    ts_ms: int
    event_id: str
    flags: tuple[str, ...] = ()
    email_domain: str | None = None

    @property
    def kind(self) -> str:
        """The link kind: ``device``, ``card`` or ``ip``."""
        return self.key.partition(":")[0]

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form (see ``from_dict``)."""
        return {
            "key": self.key,
            "customer_id": self.customer_id,
            "ts_ms": self.ts_ms,
            "event_id": self.event_id,
            "flags": list(self.flags),
            "email_domain": self.email_domain,
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Sighting:
        """The inverse of ``to_dict``; raises KeyError, TypeError or ValueError if malformed."""
        key, customer, event_id = doc["key"], doc["customer_id"], doc["event_id"]
        ts_ms, flags, domain = doc["ts_ms"], doc.get("flags", []), doc.get("email_domain")
        if not all(isinstance(v, str) and v for v in (key, customer, event_id)):
            raise TypeError("key, customer_id and event_id must be non-empty strings")
        if key.partition(":")[0] not in LINK_KINDS:
            raise ValueError(f"unknown link kind in {key!r}")
        if not isinstance(ts_ms, int) or isinstance(ts_ms, bool):
            raise TypeError("ts_ms must be an integer")
        if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
            raise TypeError("flags must be a list of strings")
        if domain is not None and not isinstance(domain, str):
            raise TypeError("email_domain must be a string or null")
        return cls(key, customer, ts_ms, event_id, tuple(flags), domain)


def link_key(kind: str, value: str) -> str:
    """The link key of a raw value: its kind and a hash of it (``device:3fa2...``)."""
    return f"{kind}:{stable_id('link', kind, value)[:16]}"


def sightings(event: Event) -> tuple[Sighting, ...]:
    """The link keys ``event`` carries: device and sign-up IP of a succeeded
    ``customer.signup``, the card of an ``instrument.added``; none for anything else."""
    if isinstance(event, ActivityEvent):
        if event.operation != "customer.signup" or event.status != "succeeded":
            return ()
        return _signup_sightings(event)
    if isinstance(event, PaymentEvent):
        instrument = event.instrument
        if event.kind != "instrument.added" or instrument is None:
            return ()
        fingerprint = (instrument.fingerprint or "").strip()
        if not fingerprint:
            return ()
        flags = []
        if instrument.type in PREPAID_TYPES:
            flags.append(PREPAID_CARD)
        if _differ(instrument.country, event.billing_country):
            flags.append(COUNTRY_MISMATCH)
        key = link_key(CARD, fingerprint)
        return (Sighting(key, event.customer_id, event.ts_ms, event.event_id, tuple(flags)),)
    return ()


def _signup_sightings(event: ActivityEvent) -> tuple[Sighting, ...]:
    props = event.properties
    domain_value = props.get("email_domain")
    domain = domain_value.strip().lower() if isinstance(domain_value, str) else None
    flags = []
    if domain in DISPOSABLE_DOMAINS:
        flags.append(DISPOSABLE_EMAIL)
    if props.get("phone_verified") is False:
        flags.append(PHONE_UNVERIFIED)
    if _differ(props.get("country"), props.get("ip_country")):
        flags.append(COUNTRY_MISMATCH)
    out = []
    device = props.get("device_fingerprint")
    if isinstance(device, str) and device.strip():
        out.append(link_key(DEVICE, device.strip()))
    ip = (event.actor_ip or "").strip().lower()
    if ip:
        out.append(link_key(IP, ip))
    return tuple(
        Sighting(key, event.customer_id, event.ts_ms, event.event_id, tuple(flags), domain or None)
        for key in out
    )


def _differ(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and bool(a) and bool(b) and a != b


@dataclass(frozen=True, slots=True)
class Member:
    """A customer in a ring: when it was first seen behind the key, and its sign-up traits."""

    first_seen_ms: int
    event_id: str
    flags: tuple[str, ...] = ()
    email_domain: str | None = None


@dataclass(slots=True)
class RingState:
    """One link key's ring: its members (join order), when it formed, how many were dropped.

    ``epoch_ms`` is the first-seen time of the member that opened the ring; it names the ring
    (``ring_id``) until every member has left the window, after which the key starts a new one.
    """

    key: str
    members: dict[str, Member] = field(default_factory=dict)
    epoch_ms: int = 0
    newest_ms: int = 0
    dropped: int = 0

    @property
    def ring_id(self) -> str:
        """The ring's id: the key and the time the ring formed."""
        return stable_id("ring", self.key, str(self.epoch_ms))[:20]


class RingStateVersionError(ValueError):
    """A ring snapshot was written by an incompatible version; rebuild ring state by replaying
    the input topics (or let it start afresh: rings re-form as new accounts join)."""


class RingLinker:
    """The linking rule (see the module docstring). Stateless itself; deterministic."""

    def __init__(self, settings: LinkerSettings | None = None) -> None:
        self.settings = settings or LinkerSettings()

    def new_state(self, key: str) -> RingState:
        """An empty ring for ``key``."""
        return RingState(key=key)

    def step(self, state: RingState, sighting: Sighting) -> list[ActivityEvent]:
        """Fold ``sighting`` into ``state`` (its key's ring); the ``ring.link`` events to send.

        Nothing for a customer already in the ring, for a sighting older than the ring's window
        (too late to count), or while the ring has a single member. Mutates ``state`` only.
        """
        customer = sighting.customer_id
        if customer in state.members:
            return []
        window = self.settings.window_ms.get(sighting.kind, 7 * MS_PER_DAY)
        horizon = max(state.newest_ms, sighting.ts_ms) - window
        if sighting.ts_ms < horizon:
            return []
        members = state.members
        for gone in [c for c, m in members.items() if m.first_seen_ms < horizon]:
            del members[gone]
        if not members:
            state.epoch_ms = sighting.ts_ms
            state.dropped = 0
        state.newest_ms = max(state.newest_ms, sighting.ts_ms)
        members[customer] = Member(
            sighting.ts_ms, sighting.event_id, sighting.flags, sighting.email_domain
        )
        while len(members) > self.settings.max_members:
            oldest = min(members, key=lambda c: (members[c].first_seen_ms, c))
            del members[oldest]
            state.dropped += 1
        if len(members) < 2 or customer not in members:
            return []
        return self._links(state, customer)

    def forgettable(self, state: RingState, until_ms: int) -> bool:
        """Whether ``state`` may be dropped at event time ``until_ms``: every member has left
        its window, so the next sighting would open a new ring, as on a fresh state."""
        window = self.settings.window_ms.get(state.key.partition(":")[0], 7 * MS_PER_DAY)
        return state.newest_ms < until_ms - window

    def _links(self, state: RingState, joined: str) -> list[ActivityEvent]:
        ordered = sorted(state.members.items(), key=lambda cm: (cm[1].first_seen_ms, cm[0]))
        times = [m.first_seen_ms for _, m in ordered]
        ring_id = state.ring_id
        ts_ms = state.newest_ms
        ts = format_ts(ts_ms)
        kind, _, key_id = state.key.partition(":")
        properties: dict[str, Any] = {
            "ring_id": ring_id,
            "link": kind,
            "key_id": key_id,
            "joined": joined,
            "started": format_ts(state.epoch_ms),
            "count": len(ordered),
            "dropped": state.dropped,
            "burst": burst(times, self.settings.burst_ms),
            "burst_window_s": self.settings.burst_ms // 1000,
            "span_s": (times[-1] - times[0]) // 1000,
            "members": [
                {
                    "customer_id": customer,
                    "first_seen": format_ts(m.first_seen_ms),
                    "flags": list(m.flags),
                    "email_domain": m.email_domain,
                }
                for customer, m in ordered
            ],
        }
        return [
            ActivityEvent(
                event_id=f"ring-{stable_id(LINK_OPERATION, ring_id, customer, joined)}",
                customer_id=customer,
                ts=ts,
                ts_ms=ts_ms,
                operation=LINK_OPERATION,
                actor=LINK_ACTOR,
                status="succeeded",
                resource_id="",
                properties=properties,
            )
            for customer, _ in ordered
        ]

    def dump(self, state: RingState) -> dict[str, Any]:
        """The state as a JSON-ready dict (snapshots, the live changelog)."""
        return {
            "v": RING_STATE_VERSION,
            "key": state.key,
            "epoch_ms": state.epoch_ms,
            "newest_ms": state.newest_ms,
            "dropped": state.dropped,
            "members": [
                [customer, m.first_seen_ms, m.event_id, list(m.flags), m.email_domain]
                for customer, m in state.members.items()
            ],
        }

    def load(self, data: dict[str, Any]) -> RingState:
        """The inverse of ``dump``; raises RingStateVersionError for another version."""
        if data.get("v") != RING_STATE_VERSION:
            raise RingStateVersionError(
                f"ring state version {data.get('v')!r}, this build reads {RING_STATE_VERSION}"
            )
        return RingState(
            key=data["key"],
            members={
                customer: Member(first_seen, event_id, tuple(flags), domain)
                for customer, first_seen, event_id, flags, domain in data["members"]
            },
            epoch_ms=data["epoch_ms"],
            newest_ms=data["newest_ms"],
            dropped=data["dropped"],
        )


def burst(times_ms: list[int], span_ms: int) -> int:
    """The most of ``times_ms`` (sorted) that fall within any ``span_ms`` (inclusive)."""
    best, lo = 0, 0
    for hi, t in enumerate(times_ms):
        while t - times_ms[lo] > span_ms:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


class Rings:
    """Many link keys' rings in a dict, for replay and tests (the live worker uses a table)."""

    def __init__(self, linker: RingLinker | None = None) -> None:
        self.linker = linker or RingLinker()
        self.states: dict[str, RingState] = {}
        self._next_sweep_ms = -(2**63)

    def observe(self, event: Event) -> list[ActivityEvent]:
        """The ``ring.link`` events ``event`` causes (usually none), in order. Once a day of
        sighting time, rings every member has left are dropped (``RingLinker.forgettable``)."""
        return self.link(sightings(event), event.ts_ms)

    def link(self, found: Sequence[Sighting], ts_ms: int) -> list[ActivityEvent]:
        """The ``ring.link`` events the sightings ``found`` of one event at ``ts_ms`` cause
        (``observe`` of an event whose sightings are already known)."""
        if not found:
            return []
        if ts_ms >= self._next_sweep_ms:
            self._next_sweep_ms = ts_ms + MS_PER_DAY
            forgettable = self.linker.forgettable
            for key in [k for k, s in self.states.items() if forgettable(s, ts_ms)]:
                del self.states[key]
        out: list[ActivityEvent] = []
        for sighting in found:
            state = self.states.get(sighting.key)
            if state is None:
                state = self.states[sighting.key] = self.linker.new_state(sighting.key)
            out.extend(self.linker.step(state, sighting))
        return out

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every ring's dump by key (JSON-ready)."""
        return {key: self.linker.dump(state) for key, state in self.states.items()}

    def restore(self, data: dict[str, dict[str, Any]]) -> None:
        """Replace the rings by those of a ``snapshot``."""
        self.states = {key: self.linker.load(dump) for key, dump in data.items()}


Order = tuple[int, str, str, str]
"""Where a sighting stands in the order rings are grown in: (ts_ms, customer_id, key,
event_id)."""

NEVER: Final = -(2**63)
ALWAYS: Final = 2**63 - 1


def order_of(sighting: Sighting) -> Order:
    """A sighting's place in the fold order (see ``SightingGate``)."""
    return (sighting.ts_ms, sighting.customer_id, sighting.key, sighting.event_id)


class SightingGate:
    """Sightings held until no earlier one can still come, then let out in one order.

    A ring's links depend on the order its sightings are folded in (the customer that opened
    it names it; each link lists the members so far). Sightings come from every input
    partition, each partition's in event-time order, but interleaved as they arrive: in a
    backlog or after a restart one partition can run hours ahead of another. So the gate
    holds each sighting until every *source* (an input partition, live; the replay's read
    frontier, in replay) has said it is past that time, and lets them out sorted by
    ``order_of``, whatever order they came in: live and replay fold the same sightings in the
    same order and give the same rings.

    ``passed(source, ts_ms)``: the source will send no sighting before ``ts_ms`` any more
    (``ALWAYS``: it is idle, caught up with nothing held, and holds nothing back). A source
    that has said nothing yet holds everything back. A sighting that comes when its time has
    already passed (a late event) is let out at the next ``ready``, after those already out:
    the one case where the order can differ between runs.

    ``tag`` travels with each sighting (the live worker's input offset); ``first_tag`` is
    the smallest tag still held (where the worker may commit up to).
    """

    def __init__(self, sources: int) -> None:
        self.sources = sources
        self._passed: dict[int, int] = {}
        self._held: list[tuple[Order, int, Sighting]] = []
        self._tags: deque[int] = deque()
        """Tags in the order added (rising, live: offsets), those let out removed lazily."""
        self._holding: Counter[int] = Counter()

    def __len__(self) -> int:
        return len(self._held)

    def add(self, sighting: Sighting, tag: int = 0) -> None:
        """Hold ``sighting`` (with ``tag``) until its turn."""
        heapq.heappush(self._held, (order_of(sighting), tag, sighting))
        self._tags.append(tag)
        self._holding[tag] += 1

    def passed(self, source: int, ts_ms: int) -> None:
        """``source`` will send nothing before ``ts_ms`` (``ALWAYS``: idle)."""
        self._passed[source] = ts_ms

    @property
    def frontier(self) -> int:
        """The time before which every source has passed (``NEVER`` until each has said)."""
        if len(self._passed) < self.sources:
            return NEVER
        return min(self._passed.values())

    def ready(self) -> list[tuple[Sighting, int]]:
        """The held sightings before ``frontier``, in fold order, with their tags."""
        frontier, held, out = self.frontier, self._held, []
        while held and held[0][0][0] < frontier:
            _order, tag, sighting = heapq.heappop(held)
            out.append((sighting, tag))
            self._holding[tag] -= 1
        return out

    def held(self) -> list[Sighting]:
        """The sightings still held, in no particular order."""
        return [sighting for _order, _tag, sighting in self._held]

    def first_tag(self) -> int | None:
        """The first tag added of those still held, None when nothing is (the smallest, when
        tags are added rising)."""
        tags, holding = self._tags, self._holding
        while tags and holding[tags[0]] <= 0:
            del holding[tags.popleft()]
        return tags[0] if tags else None


def with_links(events: Iterable[Event], rings: Rings | None = None) -> list[Event]:
    """``events`` with the links each causes right after it, as replay steps them (tests)."""
    rings = rings or Rings()
    out: list[Event] = []
    for event in events:
        out.append(event)
        out.extend(rings.observe(event))
    return out


@dataclass(frozen=True, slots=True)
class RingLink:
    """A ``ring.link`` event's properties, read and checked (see ``read_link``)."""

    ring_id: str
    link: str
    key_id: str
    joined: str
    started_ms: int
    count: int
    dropped: int
    burst: int
    burst_window_s: int
    span_s: int
    members: tuple[tuple[str, int, tuple[str, ...], str | None], ...]
    """(customer_id, first seen, flags, e-mail domain) by first-seen time."""


def is_link(event: Event) -> bool:
    """Whether ``event`` is a ``ring.link`` streamwatch derived (whatever its properties)."""
    return (
        isinstance(event, ActivityEvent)
        and event.operation == LINK_OPERATION
        and event.actor == LINK_ACTOR
    )


def read_link(event: ActivityEvent) -> RingLink | None:
    """The link an activity event carries, or None when it is not a ``ring.link`` streamwatch
    made (another operation or actor, or properties that do not parse)."""
    if event.operation != LINK_OPERATION or event.actor != LINK_ACTOR:
        return None
    if event.status != "succeeded":
        return None
    p = event.properties
    try:
        members = tuple(
            (
                _str(m["customer_id"]),
                parse_ts_ms(_str(m["first_seen"])),
                tuple(_str(f) for f in m.get("flags") or ()),
                m.get("email_domain") if isinstance(m.get("email_domain"), str) else None,
            )
            for m in p["members"]
        )
        link = RingLink(
            ring_id=_str(p["ring_id"]),
            link=_str(p["link"]),
            key_id=_str(p["key_id"]),
            joined=_str(p["joined"]),
            started_ms=parse_ts_ms(_str(p["started"])),
            count=_int(p["count"]),
            dropped=_int(p.get("dropped", 0)),
            burst=_int(p["burst"]),
            burst_window_s=_int(p.get("burst_window_s", 3600)),
            span_s=_int(p["span_s"]),
            members=members,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if link.link not in LINK_KINDS or len(members) < 2:
        return None
    return link


def _str(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError("expected a non-empty string")
    return value


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TypeError("expected a whole number >= 0")
    return value
