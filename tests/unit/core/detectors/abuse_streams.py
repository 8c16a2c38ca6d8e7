"""Hand-made streams of the account-abuse detectors, for the determinism suite
(``test_determinism.STREAMS``) and their unit tests: each mixes incidents with look-alikes,
unrelated events, late events and redelivered duplicates."""

from __future__ import annotations

import random
from typing import Any

from streamwatch.core.events import Event
from streamwatch.core.timeutil import MS_PER_HOUR, format_ts, parse_ts_ms
from streamwatch.testing import activity_event, payment_event, ts, usage_event


class _Stream:
    """Events of one stream, built by time offsets from a start, with sequential ids."""

    def __init__(self, prefix: str, start: str = ts(1)) -> None:
        self.prefix = prefix
        self.start = parse_ts_ms(start)
        self.events: list[Event] = []
        self.n = 0

    def eid(self) -> str:
        self.n += 1
        return f"{self.prefix}-{self.n:05d}"

    def at(self, hours: float) -> str:
        return format_ts(self.start + round(hours * MS_PER_HOUR))

    def act(self, customer: str, hours: float, operation: str, **kw: Any) -> None:
        self.events.append(
            activity_event(
                operation, event_id=self.eid(), customer_id=customer, at=self.at(hours), **kw
            )
        )

    def signin(self, customer: str, hours: float, country: str, **kw: Any) -> None:
        self.act(customer, hours, "signin", properties={"ip_country": country}, **kw)

    def flow(
        self, customer: str, hours: float, host: str, port: int, bytes_out: int = 4000
    ) -> None:
        props = {"dst_host": host, "dst_port": port, "protocol": "tcp", "bytes_out": bytes_out}
        self.act(customer, hours, "network.flow", properties=props)

    def finish(self, rng: random.Random) -> list[Event]:
        """Events in time order, with a few late copies (new ids) and redelivered duplicates."""
        events = sorted(self.events, key=lambda e: e.ts_ms)
        out: list[Event] = []
        for event in events:
            out.append(event)
            if rng.random() < 0.03:
                out.append(event)
        for k in range(15, len(out), 131):
            late = out[k]
            if late.type == "activity" and getattr(late, "operation", "") == "signin":
                shifted = activity_event(
                    "signin",
                    event_id=self.eid(),
                    customer_id=late.customer_id,
                    at=format_ts(late.ts_ms - rng.randrange(2, 30) * MS_PER_HOUR),
                    properties=dict(late.properties),  # type: ignore[union-attr]
                )
                out.insert(k + 1, shifted)
        return out


def identity_stream() -> list[Event]:
    """A disposable-email sign-up that bills and signs in from elsewhere, a sign-up from a
    foreign IP billed abroad that hops countries, a traveller, and an established customer
    (no sign-up seen) signing in from several countries."""
    rng = random.Random(21)
    s = _Stream("im")
    s.act(
        "cust-a",
        0,
        "customer.signup",
        properties={
            "country": "DE",
            "email_domain": "mailinator.com",
            "phone_verified": False,
            "ip_country": "DE",
        },
    )
    s.act(
        "cust-b",
        1,
        "customer.signup",
        properties={
            "country": "FR",
            "email_domain": "atlasnova.fr",
            "phone_verified": True,
            "ip_country": "RU",
        },
    )
    s.act(
        "cust-c",
        2,
        "customer.signup",
        properties={
            "country": "US",
            "email_domain": "acmeblue.com",
            "phone_verified": True,
            "ip_country": "US",
        },
    )
    for customer, billing, hours in (
        ("cust-a", "NG", 0.2),
        ("cust-b", "RU", 1.3),
        ("cust-c", "US", 2.1),
    ):
        s.events.append(
            payment_event(
                "instrument.added",
                event_id=s.eid(),
                customer_id=customer,
                at=s.at(hours),
                amount=None,
                billing_country=billing,
                instrument={
                    "type": "credit_card",
                    "fingerprint": f"fp-{customer}",
                    "country": billing,
                },
            )
        )
    s.act("cust-c", 30, "guest.invite", properties={"principal": "ext@partner.test"})
    for day in range(20):
        h = 24 * day + 9
        s.signin("cust-a", h + rng.random(), rng.choice(("NG", "NG", "GH")))
        s.signin("cust-b", h + rng.random(), rng.choice(("RU", "KZ", "BY", "FR")))
        s.signin("cust-c", h + rng.random(), "MX" if day == 6 else "US")
        s.signin("cust-c", h + 2 + rng.random(), "IN", actor="ext@partner.test")
        s.signin("cust-d", h + rng.random(), rng.choice(("GB", "GB", "IE", "ES", "PT")))
        if day % 7 == 0:
            s.events.append(
                payment_event(
                    "invoice.issued",
                    event_id=s.eid(),
                    customer_id="cust-d",
                    at=s.at(h),
                    billing_country="GB",
                    invoice_id=f"inv-{day}",
                    due_date="2026-12-01",
                )
            )
    s.act("cust-a", 100, "customer.signup", properties={"country": "NG", "phone_verified": True})
    return s.finish(rng)


def privilege_stream() -> list[Event]:
    """An account takeover (failed sign-ins from VN, a successful one, Owner to a new guest from
    the same IP, then a second grant), a burst of guest invitations, a customer that makes a
    colleague Owner and later a guest Owner, and an established customer whose new user is made
    Owner right after failed sign-ins from abroad."""
    rng = random.Random(22)
    s = _Stream("pe")
    for customer, country in (("cust-a", "US"), ("cust-b", "DE"), ("cust-c", "FR")):
        s.act(
            customer, 0, "customer.signup", properties={"country": country, "ip_country": country}
        )
    s.act("cust-c", 0.2, "user.create", properties={"principal": "colleague@c.test"})
    s.act(
        "cust-c",
        0.3,
        "role.assign",
        properties={"role": "Owner", "principal": "colleague@c.test", "principal_type": "user"},
    )
    for day in range(20):
        h = 24 * day + 9
        s.signin("cust-a", h + rng.random(), "US")
        s.signin("cust-b", h + rng.random(), "DE")
        s.signin("cust-c", h + rng.random(), "FR", actor="colleague@c.test")
        s.signin("cust-d", h + rng.random(), "DE")
    for i in range(4):
        s.signin("cust-a", 24 * 5 + 2 + i * 0.05, "VN", status="failed", actor_ip="14.1.2.3")
    s.signin("cust-a", 24 * 5 + 2.4, "VN", actor_ip="14.1.2.3")
    s.act(
        "cust-a",
        24 * 5 + 2.5,
        "guest.invite",
        properties={"principal": "x@evil.test"},
        actor_ip="14.1.2.3",
    )
    s.act(
        "cust-a",
        24 * 5 + 2.6,
        "role.assign",
        properties={"role": "Owner", "principal": "x@evil.test", "principal_type": "guest"},
        actor_ip="14.1.2.3",
    )
    s.act(
        "cust-a",
        24 * 5 + 3,
        "role.assign",
        properties={
            "role": "User Access Administrator",
            "principal": "y@evil.test",
            "principal_type": "guest",
        },
        actor_ip="14.1.2.3",
    )
    for i in range(12):
        s.act("cust-b", 24 * 7 + i * 0.03, "guest.invite", properties={"principal": f"g{i}@x.test"})
    s.act(
        "cust-c",
        24 * 12,
        "role.assign",
        properties={"role": "Owner", "principal": "colleague@c.test", "principal_type": "user"},
    )
    s.act("cust-c", 24 * 13, "user.create", properties={"principal": "new@c.test"})
    s.act(
        "cust-c",
        24 * 13 + 1,
        "role.assign",
        properties={"role": "Owner", "principal": "new@c.test", "principal_type": "user"},
    )
    s.act(
        "cust-c",
        24 * 15,
        "role.assign",
        properties={"role": "Owner", "principal": "consultant@p.test", "principal_type": "guest"},
    )
    for i in range(3):
        s.signin("cust-d", 24 * 9 + i * 0.1, "BR", status="failed", actor_ip="177.1.1.1")
    s.act("cust-d", 24 * 9 + 1, "user.create", properties={"principal": "ops2@d.test"})
    s.act(
        "cust-d",
        24 * 9 + 1.2,
        "role.assign",
        properties={"role": "Owner", "principal": "ops2@d.test", "principal_type": "user"},
    )
    s.act(
        "cust-d",
        24 * 9 + 1.3,
        "role.assign",
        properties={"role": "Reader", "principal": "svc-1", "principal_type": "service"},
    )
    return s.finish(rng)


def stale_access_stream() -> list[Event]:
    """Over a hundred days: a user quiet for 90 days who comes back, a guest used after its
    invitation expired (many times) and then removed, an Owner quiet for 90 days and then
    deleted, and a guest whose invitation lapses unused (nothing to say)."""
    rng = random.Random(23)
    s = _Stream("sa")
    s.act("cust-a", 0, "customer.signup", actor="admin@a.test", properties={"country": "DE"})
    s.act("cust-a", 1, "user.create", actor="admin@a.test", properties={"principal": "bob@a.test"})
    s.signin("cust-a", 30, "DE", actor="bob@a.test")
    s.signin("cust-a", 24 * 95, "DE", actor="bob@a.test")
    s.act(
        "cust-b",
        2,
        "guest.invite",
        actor="admin@b.test",
        properties={"principal": "g@partner.test", "expires": s.at(24 * 5)},
    )
    s.act(
        "cust-b",
        2.1,
        "role.assign",
        actor="admin@b.test",
        properties={"role": "Owner", "principal": "g@partner.test", "principal_type": "guest"},
    )
    s.signin("cust-b", 24 * 3, "NL", actor="g@partner.test")
    for i in range(12):
        s.signin("cust-b", 24 * 6 + i * 5, "NL", actor="g@partner.test")
    s.act(
        "cust-b",
        24 * 20,
        "user.delete",
        actor="admin@b.test",
        properties={"principal": "g@partner.test"},
    )
    s.act(
        "cust-c", 24, "user.create", actor="admin@c.test", properties={"principal": "carol@c.test"}
    )
    s.act(
        "cust-c",
        24.1,
        "role.assign",
        actor="admin@c.test",
        properties={"role": "Owner", "principal": "carol@c.test", "principal_type": "user"},
    )
    s.signin("cust-c", 24 * 3, "FR", actor="carol@c.test")
    s.act(
        "cust-c",
        24 * 96,
        "user.delete",
        actor="admin@c.test",
        properties={"principal": "carol@c.test"},
    )
    s.act(
        "cust-c",
        24 * 10,
        "guest.invite",
        actor="admin@c.test",
        properties={"principal": "temp@p.test", "expires": s.at(24 * 20)},
    )
    for day in range(0, 100, 2):
        for customer in ("cust-a", "cust-b", "cust-c"):
            s.signin(
                customer, 24 * day + 8 + rng.random(), "DE", actor=f"admin@{customer[-1]}.test"
            )
    s.act("cust-a", 24 * 50, "provider.notice", actor="provider", properties={"notice_id": "n-1"})
    return s.finish(rng)


def network_stream() -> list[Event]:
    """A new account sending spam for three hours, an established one flooding egress after
    three quiet days, one scanning the ports of a host, and a mail relay with steady fan-out."""
    rng = random.Random(24)
    s = _Stream("na")
    s.act("cust-a", 0, "customer.signup", properties={"country": "DE"})
    for hour in range(3):
        for k in range(rng.randint(70, 120)):
            s.flow(
                "cust-a", 20 + hour + rng.random(), f"mx{k}.d{hour}-{rng.randrange(10**6)}.test", 25
            )
    for h in range(24 * 5):
        gb = 2.0 + rng.random() if not 24 * 3 + 5 <= h < 24 * 3 + 9 else 400.0 + 50 * rng.random()
        s.events.append(
            usage_event(
                event_id=s.eid(),
                customer_id="cust-b",
                at=s.at(h),
                meter="egress",
                sku="Internet_Egress_Zone1",
                quantity=round(gb, 3),
                unit="GB",
                cost=round(gb * 0.087, 4),
            )
        )
        if 24 * 3 + 5 <= h < 24 * 3 + 9:
            s.flow("cust-b", h + 0.1, "203.0.113.9", 53, 10**11)
        if h % 24 == 12:
            s.flow("cust-c", h + 0.2, "github.com", 443)
    for port in rng.sample(range(1, 5000), 60):
        s.flow("cust-c", 24 * 2 + rng.random() * 0.1, "198.51.100.7", port, 60)
    servers = [f"mx.{i}.mail.test" for i in range(200)]
    for h in range(24 * 3):
        for server in rng.sample(servers, 25 if 8 <= h % 24 < 18 else 5):
            s.flow("cust-d", h + rng.random(), server, 587)
    return s.finish(rng)
