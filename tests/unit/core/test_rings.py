"""The ring linker: link keys from events, rings per key, and the ring.link events they give."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from streamwatch.core.codec import decode_event, event_to_dict
from streamwatch.core.events import ActivityEvent, Event
from streamwatch.core.rings import (
    ALWAYS,
    CARD,
    COUNTRY_MISMATCH,
    DEVICE,
    DISPOSABLE_EMAIL,
    IP,
    LINK_ACTOR,
    LINK_OPERATION,
    PHONE_UNVERIFIED,
    PREPAID_CARD,
    LinkerSettings,
    RingLinker,
    Rings,
    RingStateVersionError,
    Sighting,
    SightingGate,
    burst,
    link_key,
    read_link,
    sightings,
    with_links,
)
from streamwatch.core.timeutil import MS_PER_DAY, MS_PER_HOUR, parse_ts_ms
from streamwatch.live.catalogue import packaged_catalogue
from streamwatch.testing import activity_event, payment_event, ts, usage_event


def signup(
    customer: str,
    at: str,
    device: str | None = "dev-1",
    ip: str | None = "203.0.113.5",
    **props: Any,
) -> ActivityEvent:
    properties: dict[str, Any] = {
        "country": "DE",
        "email_domain": "Example.de",
        "phone_verified": True,
        "ip_country": "DE",
        **props,
    }
    if device is not None:
        properties["device_fingerprint"] = device
    fields: dict[str, Any] = {"actor_ip": ip} if ip is not None else {}
    return activity_event(
        "customer.signup",
        event_id=f"{customer}-s-{at}",
        customer_id=customer,
        at=at,
        properties=properties,
        **fields,
    )


def card_added(customer: str, at: str, fingerprint: str | None = "card-1", **fields: Any) -> Event:
    instrument: dict[str, Any] = {"type": "prepaid_card", "country": "DE"}
    if fingerprint is not None:
        instrument["fingerprint"] = fingerprint
    return payment_event(
        "instrument.added",
        event_id=f"{customer}-c-{at}",
        customer_id=customer,
        at=at,
        amount=None,
        instrument=instrument,
        **fields,
    )


def device_sighting(customer: str, at: str, device: str = "dev-1") -> Sighting:
    (found,) = [s for s in sightings(signup(customer, at, device)) if s.kind == DEVICE]
    return found


# --- link keys from events ---------------------------------------------------------------------


def test_signup_names_its_device_and_ip_hashed_with_its_risk_flags() -> None:
    event = signup(
        "c-1",
        ts(1),
        device="fp-123",
        ip="198.51.100.7",
        email_domain="YopMail.com",
        phone_verified=False,
        ip_country="NG",
    )
    device, ip = sightings(event)
    assert (device.kind, ip.kind) == (DEVICE, IP)
    assert device.key == link_key(DEVICE, "fp-123") != link_key(IP, "fp-123")
    assert "fp-123" not in device.key
    assert "198.51.100.7" not in ip.key
    assert device.flags == (DISPOSABLE_EMAIL, PHONE_UNVERIFIED, COUNTRY_MISMATCH)
    assert device.email_domain == "yopmail.com"
    assert (device.customer_id, device.ts_ms, device.event_id) == (
        "c-1",
        event.ts_ms,
        event.event_id,
    )


def test_card_names_its_fingerprint_with_prepaid_and_country_flags() -> None:
    (found,) = sightings(card_added("c-1", ts(1), billing_country="FR"))
    assert found.key == link_key(CARD, "card-1")
    assert found.flags == (PREPAID_CARD, COUNTRY_MISMATCH)
    assert found.email_domain is None


@pytest.mark.parametrize(
    "event",
    [
        signup("c-1", ts(1), device=None, ip=None),
        replace(signup("c-1", ts(1)), status="failed"),
        card_added("c-1", ts(1), fingerprint=None),
        payment_event("payment.succeeded"),
        activity_event("signin"),
        usage_event(),
    ],
    ids=[
        "signup-without-keys",
        "failed-signup",
        "card-without-fingerprint",
        "payment",
        "signin",
        "usage",
    ],
)
def test_events_without_link_keys_give_no_sighting(event: Event) -> None:
    assert sightings(event) == ()


def test_sighting_round_trips_through_json() -> None:
    for sighting in sightings(signup("c-1", ts(1), phone_verified=False)):
        assert Sighting.from_dict(orjson.loads(orjson.dumps(sighting.to_dict()))) == sighting


@pytest.mark.parametrize(
    "change",
    [
        {"key": "planet:abc"},
        {"key": ""},
        {"ts_ms": "soon"},
        {"ts_ms": True},
        {"flags": "bad"},
        {"email_domain": 5},
        {"customer_id": None},
    ],
    ids=lambda change: next(iter(change)),
)
def test_malformed_sighting_is_rejected(change: dict[str, Any]) -> None:
    doc = {**device_sighting("c-1", ts(1)).to_dict(), **change}
    with pytest.raises((KeyError, TypeError, ValueError)):
        Sighting.from_dict(doc)


# --- rings -------------------------------------------------------------------------------------


def test_first_member_alone_is_no_ring() -> None:
    linker = RingLinker()
    sighting = device_sighting("c-1", ts(1))
    state = linker.new_state(sighting.key)
    assert linker.step(state, sighting) == []
    assert list(state.members) == ["c-1"]


def test_second_member_links_both_with_deterministic_ids() -> None:
    linker = RingLinker()
    first, second = device_sighting("c-1", ts(1, 2)), device_sighting("c-2", ts(1, 2, 40))
    state = linker.new_state(first.key)
    linker.step(state, first)
    links = linker.step(state, second)
    assert [link.customer_id for link in links] == ["c-1", "c-2"]
    assert len({link.event_id for link in links}) == 2
    for link in links:
        assert (link.operation, link.actor, link.ts) == (LINK_OPERATION, LINK_ACTOR, ts(1, 2, 40))
        props = link.properties
        assert (props["link"], props["count"], props["burst"], props["span_s"]) == (
            DEVICE,
            2,
            2,
            2400,
        )
        assert props["joined"] == "c-2"
        assert [m["customer_id"] for m in props["members"]] == ["c-1", "c-2"]
    again = linker.new_state(first.key)
    linker.step(again, first)
    assert [link.event_id for link in linker.step(again, second)] == [
        link.event_id for link in links
    ]


def test_a_member_seen_again_is_not_linked_again() -> None:
    linker = RingLinker()
    state = linker.new_state(device_sighting("c-1", ts(1)).key)
    linker.step(state, device_sighting("c-1", ts(1)))
    linker.step(state, device_sighting("c-2", ts(1, 1)))
    assert linker.step(state, device_sighting("c-1", ts(1, 3))) == []
    assert linker.step(state, device_sighting("c-2", ts(1, 3))) == []


def test_third_member_links_all_three_ordered_by_first_seen() -> None:
    linker = RingLinker()
    state = linker.new_state(device_sighting("c-1", ts(1)).key)
    for customer, hour in (("c-9", 1), ("c-2", 2)):
        linker.step(state, device_sighting(customer, ts(1, hour)))
    links = linker.step(state, device_sighting("c-1", ts(1, 3)))
    assert [link.customer_id for link in links] == ["c-9", "c-2", "c-1"]
    assert links[0].properties["count"] == 3


def test_members_leave_after_the_window_and_the_key_forms_a_new_ring() -> None:
    linker = RingLinker()
    state = linker.new_state(device_sighting("c-1", ts(1)).key)
    linker.step(state, device_sighting("c-1", ts(1)))
    old_ring = linker.step(state, device_sighting("c-2", ts(2)))[0].properties["ring_id"]
    assert linker.step(state, device_sighting("c-3", ts(20))) == []  # both left: a new ring
    links = linker.step(state, device_sighting("c-4", ts(21)))
    assert [link.customer_id for link in links] == ["c-3", "c-4"]
    assert links[0].properties["ring_id"] != old_ring


def test_a_sighting_older_than_the_window_is_not_counted() -> None:
    linker = RingLinker()
    state = linker.new_state(device_sighting("c-1", ts(1)).key)
    linker.step(state, device_sighting("c-1", ts(20)))
    assert linker.step(state, device_sighting("c-2", ts(2))) == []
    assert list(state.members) == ["c-1"]


def test_a_late_member_is_linked_at_the_rings_newest_time() -> None:
    linker = RingLinker()
    state = linker.new_state(device_sighting("c-1", ts(1)).key)
    linker.step(state, device_sighting("c-1", ts(1, 5)))
    links = linker.step(state, device_sighting("c-2", ts(1, 3)))
    assert {link.ts for link in links} == {ts(1, 5)}
    assert [m["customer_id"] for m in links[0].properties["members"]] == ["c-2", "c-1"]


def test_ip_rings_are_shorter_than_device_rings() -> None:
    settings = LinkerSettings()
    assert settings.window_ms[IP] == MS_PER_DAY < settings.window_ms[DEVICE]


def test_the_cap_pushes_the_earliest_member_out() -> None:
    linker = RingLinker(LinkerSettings(max_members=3))
    state = linker.new_state(device_sighting("c-1", ts(1)).key)
    for n in range(1, 4):
        linker.step(state, device_sighting(f"c-{n}", ts(1, n)))
    links = linker.step(state, device_sighting("c-4", ts(1, 4)))
    assert [link.customer_id for link in links] == ["c-2", "c-3", "c-4"]
    assert (links[0].properties["count"], links[0].properties["dropped"]) == (3, 1)


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [([], 0), ([0], 1), ([0, 60], 2), ([0, 61], 1), ([0, 10, 20, 80, 90], 3), ([0, 0, 0], 3)],
)
def test_burst_is_the_most_within_any_span(minutes: list[int], expected: int) -> None:
    assert burst([m * 60_000 for m in minutes], MS_PER_HOUR) == expected


def test_state_dump_is_json_that_loads_back() -> None:
    linker = RingLinker()
    state = linker.new_state(device_sighting("c-1", ts(1)).key)
    for n in range(3):
        linker.step(state, device_sighting(f"c-{n}", ts(1, n)))
    assert linker.load(orjson.loads(orjson.dumps(linker.dump(state)))) == state
    with pytest.raises(RingStateVersionError):
        linker.load({**linker.dump(state), "v": 99})


# --- reading links -------------------------------------------------------------------------------


def one_link() -> ActivityEvent:
    return with_links([signup("c-1", ts(1)), signup("c-2", ts(1, 1), ip="192.0.2.1")])[-1]  # type: ignore[return-value]


def test_a_link_reads_back() -> None:
    link = read_link(one_link())
    assert link is not None
    assert (link.link, link.count, link.joined) == (DEVICE, 2, "c-2")
    assert [m[0] for m in link.members] == ["c-1", "c-2"]
    assert link.started_ms == parse_ts_ms(ts(1))


@pytest.mark.parametrize(
    "change",
    [
        {"actor": "mallory@example.com"},
        {"status": "failed"},
        {"operation": "ring.unlink"},
        {"properties": {"ring_id": "r", "members": 7}},
        {"properties": {}},
    ],
    ids=["other-actor", "failed", "other-operation", "bad-members", "empty"],
)
def test_a_link_not_made_by_streamwatch_or_unreadable_is_ignored(change: dict[str, Any]) -> None:
    assert read_link(replace(one_link(), **change)) is None


def test_rings_feed_links_after_the_event_that_caused_them() -> None:
    events: list[Event] = [
        signup("c-1", ts(1), ip="10.0.0.1"),
        card_added("c-1", ts(1, 0, 5)),
        signup("c-2", ts(1, 1), device="dev-2", ip="10.0.0.2"),
        card_added("c-2", ts(1, 1, 5)),
    ]
    linked = with_links(events)
    assert [e.customer_id for e in linked[4:]] == ["c-1", "c-2"]
    assert linked[3] is events[3]
    rings = Rings()
    for event in events:
        rings.observe(event)
    assert len(rings.states) == 5  # two devices, two IPs, one card
    restored = Rings()
    restored.restore(orjson.loads(orjson.dumps(rings.snapshot())))
    assert restored.snapshot() == rings.snapshot()


def test_links_are_contract_events_the_activity_schema_accepts() -> None:
    schema = orjson.loads((packaged_catalogue() / "schemas" / "activity.schema.json").read_bytes())
    validator = Draft202012Validator(schema)
    link = one_link()
    doc = event_to_dict(link)
    assert list(validator.iter_errors(doc)) == []
    assert decode_event(orjson.dumps(doc)) == link


def test_a_ring_every_member_has_left_may_be_forgotten_and_a_fresh_one_links_alike() -> None:
    linker = RingLinker()
    kept = linker.new_state(device_sighting("c-1", ts(1)).key)
    linker.step(kept, device_sighting("c-1", ts(1)))
    linker.step(kept, device_sighting("c-2", ts(2)))
    eight_days_on = parse_ts_ms(ts(2)) + 8 * MS_PER_DAY
    assert not linker.forgettable(kept, parse_ts_ms(ts(2)) + 6 * MS_PER_DAY)
    assert linker.forgettable(kept, eight_days_on)
    fresh = linker.new_state(kept.key)
    for state in (kept, fresh):
        linker.step(state, device_sighting("c-3", ts(20)))
    assert linker.step(kept, device_sighting("c-4", ts(21))) == linker.step(
        fresh, device_sighting("c-4", ts(21))
    ), "dropping the old ring changes no link"


def test_replay_rings_drop_keys_whose_members_all_left() -> None:
    rings = Rings()
    early = [signup("c-1", ts(1), "dev-a"), signup("c-2", ts(1), "dev-b")]
    for event in early:
        rings.observe(event)
    assert set(rings.states) == {s.key for e in early for s in sightings(e)}
    rings.observe(signup("c-3", ts(20), "dev-c"))
    assert set(rings.states) == {s.key for s in sightings(signup("c-3", ts(20), "dev-c"))}


# --- the gate: sightings folded in one order, whatever order they come in ----------------------


def test_the_gate_holds_sightings_until_every_source_has_passed_them() -> None:
    gate = SightingGate(2)
    early = device_sighting("c-1", "2026-10-01T01:00:00Z")
    gate.add(early, 10)
    assert gate.ready() == [], "no source has said anything yet"
    gate.passed(0, parse_ts_ms("2026-10-01T02:00:00Z"))
    assert gate.ready() == [], "source 1 has said nothing yet"
    gate.passed(1, parse_ts_ms("2026-10-01T01:00:00Z"))
    assert gate.ready() == [], "source 1 may still send another sighting at 01:00"
    gate.passed(1, ALWAYS)  # idle
    assert gate.ready() == [(early, 10)]
    assert len(gate) == 0
    assert gate.first_tag() is None


def test_the_gate_lets_sightings_out_in_time_order_whatever_order_they_came_in() -> None:
    times = ["2026-10-01T03:00:00Z", "2026-10-01T01:00:00Z", "2026-10-01T02:00:00Z"]
    found = [device_sighting(f"c-{n}", at) for n, at in enumerate(times)]
    orders = []
    for arrival in (found, found[::-1], [found[1], found[2], found[0]]):
        gate = SightingGate(1)
        for tag, sighting in enumerate(arrival):
            gate.add(sighting, tag)
        gate.passed(0, ALWAYS)
        orders.append([s.customer_id for s, _ in gate.ready()])
    assert orders == [["c-1", "c-2", "c-0"]] * 3


def test_the_first_tag_is_the_earliest_still_held_and_a_late_sighting_goes_at_once() -> None:
    gate = SightingGate(1)
    gate.add(device_sighting("c-1", "2026-10-01T05:00:00Z"), 3)
    gate.add(device_sighting("c-2", "2026-10-01T01:00:00Z"), 4)
    gate.passed(0, parse_ts_ms("2026-10-01T02:00:00Z"))
    assert [s.customer_id for s, _ in gate.ready()] == ["c-2"]
    assert gate.first_tag() == 3, "c-1 (offset 3) is still held"
    late = device_sighting("c-3", "2026-10-01T00:30:00Z")
    gate.add(late, 5)
    assert gate.ready() == [(late, 5)], "already passed: let out at the next ready"
    assert gate.first_tag() == 3


def test_rings_grown_through_the_gate_do_not_depend_on_arrival_order() -> None:
    events = [signup(f"c-{n}", f"2026-10-01T0{n}:00:00Z", ip=f"198.51.100.{n}") for n in range(5)]
    found = [s for e in events for s in sightings(e) if s.kind == DEVICE]
    seen = []
    for arrival in (found, found[::-1], found[2:] + found[:2]):
        gate, rings = SightingGate(1), Rings()
        for sighting in arrival:
            gate.add(sighting)
        gate.passed(0, ALWAYS)
        links = [link for s, _ in gate.ready() for link in rings.link((s,), s.ts_ms)]
        seen.append([(link.event_id, link.properties["count"]) for link in links])
    assert seen[0] == seen[1] == seen[2]
    assert [count for _, count in seen[0]][-5:] == [5] * 5
