"""Golden streams: fixed inputs and the alerts they must give, live and in replay.

Each stream is a function returning raw lines (contract events of mixed types, with duplicates
and malformed lines); generated ones are rebuilt from a fixed generator seed rather than stored.
``<name>.expected.jsonl`` holds the alerts replay produced (alert_id, revision, customer_id,
kind, event_time). A unit test checks replay against it, and an integration test the live
worker over the real broker. Rewrite the expected files only when a detector changes on purpose,
and review their diff:

    .venv/bin/python tests/golden/streams.py
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from aiokafka.partitioner import murmur2

from streamwatch import testing as build
from streamwatch.config import build_core
from streamwatch.core.codec import decode_event
from streamwatch.core.engine import Fleet
from streamwatch.generator import GeneratorConfig, generate
from streamwatch.replay.runner import ListSink, Replay, Source
from streamwatch.testing import FakeClock

HERE = Path(__file__).resolve().parent


def generated_mixed() -> list[bytes]:
    """Six customers over 35 days, budget overruns and provider notices, some noise."""
    result = generate(
        GeneratorConfig(
            seed=21,
            customers=6,
            days=35,
            start="2026-09-10T00:00:00Z",
            incidents=("budget_overrun", "provider_notice"),
            incident_rate=0.5,
            duplicate_rate=0.02,
            bad_rate=0.002,
        )
    )
    return [r if isinstance(r, bytes) else orjson.dumps(r) for r in result.records()]


def cross_topic_edges() -> list[bytes]:
    """Hand-made edges: a budget set minutes after usage that already passed 50%, a notice
    resent under a new event id, a repeated event id, a month boundary, and a late event."""
    c1, c2 = "cust-edge-1", "cust-edge-2"
    docs: list[dict[str, Any]] = [
        build.usage(c1, ts="2026-10-31T20:00:00Z", cost=40.0, event_id="e1-u1"),
        build.usage(c1, ts="2026-10-31T21:00:00Z", cost=30.0, event_id="e1-u2"),
        build.budget_set(100.0, customer_id=c1, ts="2026-10-31T21:10:00Z", event_id="e1-b1"),
        build.usage(c1, ts="2026-10-31T22:00:00Z", cost=15.0, event_id="e1-u3"),
        build.usage(c1, ts="2026-10-31T22:00:00Z", cost=15.0, event_id="e1-u3"),
        build.usage(c1, ts="2026-10-31T23:00:00Z", cost=20.0, event_id="e1-u4"),
        build.usage(c1, ts="2026-11-01T00:00:00Z", cost=60.0, event_id="e1-u5"),
        build.provider_notice(
            customer_id=c2, ts="2026-10-31T22:30:00Z", notice_id="N-9", event_id="e2-n1"
        ),
        build.usage(c2, ts="2026-10-31T23:00:00Z", cost=5.0, event_id="e2-u1"),
        build.provider_notice(
            customer_id=c2, ts="2026-10-31T23:30:00Z", notice_id="N-9", event_id="e2-n2"
        ),
        build.provider_notice(
            "aup.spam",
            customer_id=c2,
            ts="2026-11-01T01:00:00Z",
            notice_id="N-10",
            action_required="restrict",
            event_id="e2-n3",
        ),
        build.usage(c1, ts="2026-10-30T00:00:00Z", cost=1.0, event_id="e1-late"),
        build.usage(c1, ts="2026-11-01T02:00:00Z", cost=70.0, event_id="e1-u6"),
    ]
    return [orjson.dumps(doc) for doc in docs]


def on_one_partition(prefix: str, count: int, partition: int = 1, partitions: int = 4) -> list[str]:
    """The first ``count`` customer ids ``<prefix>-<n>`` whose Kafka key lands on ``partition``
    of the catalogue's ``partitions`` (the producer's murmur2 partitioner)."""
    out: list[str] = []
    n = 0
    while len(out) < count:
        n += 1
        customer = f"{prefix}-{n}"
        if (murmur2(customer.encode()) & 0x7FFFFFFF) % partitions == partition:
            out.append(customer)
    return out


def rings() -> list[bytes]:
    """Accounts behind one device, one card and one IP, and colleagues behind one proxy.

    A device farm of four accounts within an hour (each with a prepaid card of its own), two
    accounts sharing one card, a burst of four sign-ups from one IP in fifteen minutes, three
    colleagues behind one company proxy over a week (no alert), a redelivered sign-up, and a
    ring link forged by someone other than streamwatch (ignored).

    Every account is on one partition: the worker links the accounts of a ring in the order
    their sign-ups reach it, which is event time only within a partition (replay orders by event
    time; see ``streamwatch.live.rings``).
    """
    farm = on_one_partition("farm", 4)
    pair = on_one_partition("cardpair", 2)
    burst = on_one_partition("burst", 4)
    corp = on_one_partition("corp", 3)

    def signup(customer: str, ts: str, device: str, ip: str, **props: Any) -> dict[str, Any]:
        properties = {
            "country": "NL",
            "email_domain": "yopmail.com",
            "phone_verified": False,
            "device_fingerprint": device,
            "ip_country": "NL",
            **props,
        }
        return build.activity(
            "customer.signup",
            customer,
            ts,
            properties,
            event_id=f"{customer}-signup",
            actor_ip=ip,
        )

    def card(
        customer: str, ts: str, fingerprint: str, kind: str = "prepaid_card"
    ) -> dict[str, Any]:
        instrument = {"type": kind, "fingerprint": fingerprint, "country": "NL"}
        return build.payment(
            "instrument.added",
            customer,
            ts,
            amount=None,
            event_id=f"{customer}-card",
            instrument=instrument,
            billing_country="NL",
        )

    docs: list[dict[str, Any]] = []
    for i, customer in enumerate(farm):
        docs.append(signup(customer, f"2026-10-05T01:{i * 15:02d}:00Z", "dev-farm", f"192.0.2.{i}"))
        docs.append(card(customer, f"2026-10-05T01:{i * 15 + 3:02d}:00Z", f"card-farm-{i}"))
    docs.append(signup(farm[1], "2026-10-05T01:15:00Z", "dev-farm", "192.0.2.1"))  # redelivered
    for i, customer in enumerate(pair):
        docs.append(
            signup(customer, f"2026-10-05T0{3 + i}:00:00Z", f"dev-pair-{i}", f"198.51.100.{i}")
        )
        docs.append(card(customer, f"2026-10-05T0{3 + i}:04:00Z", "card-pair"))
    for i, customer in enumerate(burst):
        docs.append(
            signup(customer, f"2026-10-05T06:{i * 5:02d}:00Z", f"dev-burst-{i}", "203.0.113.50")
        )
    for i, customer in enumerate(corp):
        props = {"email_domain": "examplecorp.nl", "phone_verified": True}
        docs.append(
            signup(
                customer, f"2026-10-{5 + 3 * i:02d}T09:30:00Z", f"dev-c{i}", "203.0.113.9", **props
            )
        )
        docs.append(
            card(customer, f"2026-10-{5 + 3 * i:02d}T09:35:00Z", f"card-c{i}", "credit_card")
        )
    forged = build.activity(
        "ring.link",
        farm[0],
        "2026-10-05T02:00:00Z",
        {"ring_id": "forged", "link": "device", "count": 9, "members": []},
        event_id="forged-link",
        actor="someone-else",
    )
    docs.append(forged)
    docs.sort(key=lambda d: d["ts"])
    return [orjson.dumps(doc) for doc in docs]


def feedback() -> list[bytes]:
    """Suppressions and "not an anomaly" travelling with the events they act on.

    fb-1 suppresses aup.spam notices for a day: one inside it is held back (and its suspension
    not asked for), an aup.ddos notice beside it goes out, and aup.spam after the expiry goes
    out. fb-2 suppresses its budget's 50% line but not the 80% one. fb-3's first notice is
    called no anomaly: the next of the same pattern (category, resource, severity) is held
    back, another category is not. A suppression whose ``until`` is not a time is
    dead-lettered, and fb-1's suppression is redelivered (processed once).
    """
    notice = build.provider_notice

    def suppress(
        customer: str, ts: str, kind: str, match: dict[str, str], until: str, n: str
    ) -> dict[str, Any]:
        props = {"kind": kind, "match": match, "until": until, "reason": "known"}
        return build.activity("feedback.suppress", customer, ts, props, event_id=n, actor="ops")

    first = notice("aup.crypto_mining", "fb-3", "2026-10-03T01:00:00Z", "N-30", event_id="fb3-n1")
    [alert] = Fleet(build_core()).run([decode_event(orjson.dumps(first))], lambda: 0).alerts
    said = build.activity(
        "feedback.not_anomaly",
        "fb-3",
        "2026-10-03T02:00:00Z",
        {
            "alert_id": alert.alert_id,
            "kind": alert.kind,
            "evidence": alert.evidence,
            "reason": "ok",
        },
        event_id="fb3-na",
        actor="ops",
    )
    spam_off = suppress(
        "fb-1",
        "2026-10-02T00:00:00Z",
        "provider_notice",
        {"category": "aup.spam"},
        "2026-10-03T00:00:00Z",
        "fb1-s",
    )
    half_off = suppress(
        "fb-2", "2026-10-02T00:10:00Z", "budget_*", {"threshold": "50%"},
        "2026-11-01T00:00:00Z", "fb2-s",
    )  # fmt: skip
    docs = [
        spam_off,
        spam_off,
        notice("aup.spam", "fb-1", "2026-10-02T05:00:00Z", "N-10", event_id="fb1-n1"),
        notice("aup.ddos", "fb-1", "2026-10-02T06:00:00Z", "N-11", event_id="fb1-n2"),
        notice("aup.spam", "fb-1", "2026-10-03T05:00:00Z", "N-12", event_id="fb1-n3"),
        build.budget_set(100.0, "fb-2", "2026-10-02T00:00:00Z", event_id="fb2-b"),
        half_off,
        build.usage("fb-2", "2026-10-02T01:00:00Z", cost=60.0, event_id="fb2-u1"),
        build.usage("fb-2", "2026-10-02T02:00:00Z", cost=30.0, event_id="fb2-u2"),
        suppress("fb-2", "2026-10-02T03:00:00Z", "*", {}, "soon", "fb2-bad"),
        first,
        said,
        notice("aup.crypto_mining", "fb-3", "2026-10-04T01:00:00Z", "N-31", event_id="fb3-n2"),
        notice("aup.spam", "fb-3", "2026-10-04T02:00:00Z", "N-32", event_id="fb3-n3"),
    ]  # fmt: skip
    docs.sort(key=lambda d: d["ts"])
    return [orjson.dumps(doc) for doc in docs]


def _built_once(make: Callable[[], list[bytes]]) -> Callable[[], list[bytes]]:
    """``make``, run once per process: every call gets a new list of the same lines (bytes are
    immutable), so a caller that reorders or edits its list changes no one else's. The streams
    are pure functions of fixed inputs, and the generated one takes a third of a second to
    build, which some thirty tests otherwise paid each."""
    built = cache(lambda: tuple(make()))

    def lines() -> list[bytes]:
        return list(built())

    lines.__doc__ = make.__doc__
    return lines


STREAMS = {
    "generated-mixed": _built_once(generated_mixed),
    "cross-topic-edges": _built_once(cross_topic_edges),
    "rings": _built_once(rings),
    "feedback": _built_once(feedback),
}


def expected_alerts(lines: list[bytes]) -> list[dict[str, Any]]:
    """What replay raises for ``lines``, in the form stored in ``expected.jsonl``."""
    sink = ListSink()
    replay = Replay(build_core(), sink, clock=FakeClock())
    replay.run([Source(((line, n) for n, line in enumerate(lines, 1)), lambda n: {"line": n})])
    return sorted(
        (
            {
                "alert_id": a.alert_id,
                "revision": a.revision,
                "customer_id": a.customer_id,
                "kind": a.kind,
                "event_time": a.event_time,
            }
            for a in sink.alerts
        ),
        key=lambda d: (d["alert_id"], d["revision"]),
    )


def expected_path(name: str) -> Path:
    """Where the expected alerts of stream ``name`` are kept."""
    return HERE / f"{name}.expected.jsonl"


def load_expected(name: str) -> list[dict[str, Any]]:
    """The stored expected alerts of stream ``name``."""
    return [orjson.loads(line) for line in expected_path(name).read_bytes().splitlines()]


def main() -> None:
    for name, make in STREAMS.items():
        lines = make()
        alerts = expected_alerts(lines)
        expected_path(name).write_bytes(b"".join(orjson.dumps(a) + b"\n" for a in alerts))
        print(f"{name}: {len(lines)} lines, {len(alerts)} alerts", file=sys.stderr)


if __name__ == "__main__":
    main()
