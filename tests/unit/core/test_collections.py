"""Collections: the policy file (dunning stages and the enforcement rules made from them) and
the timed ageing of unpaid invoices, driven by the customer's own events or by fleet sweeps."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest

from streamwatch.config import build_core, default_collections_text, load_collections
from streamwatch.core.collections import (
    DEFAULT_COLLECTIONS,
    CollectionsPolicyError,
    bucket_of,
    parse_collections,
    with_collections,
)
from streamwatch.core.detectors.payments import PaymentsDetector
from streamwatch.core.engine import Core, Fleet
from streamwatch.core.events import Alert, Event
from streamwatch.core.policy import Policy, PolicyError, parse_policy
from streamwatch.core.timeutil import MS_PER_DAY, MS_PER_HOUR, format_ts, parse_ts_ms
from streamwatch.generator.scenarios.payments_kit import DUNNING
from streamwatch.testing import Outcome, default_policy, payment_event, run, ts, usage_event

CUSTOMER = "cust-1"
DUE = "2026-10-31"
DUE_MS = parse_ts_ms("2026-10-31T00:00:00Z")


class Ids:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"c-{self.n:05d}"


eid = Ids()


def core() -> Core:
    return build_core()


def at(days_past_due: float) -> str:
    return format_ts(DUE_MS + round(days_past_due * MS_PER_DAY))


def issued(amount: float = 500.0, invoice: str = "INV-1", when: str = ts(1, 3)) -> Event:
    return payment_event(
        "invoice.issued",
        event_id=eid(),
        customer_id=CUSTOMER,
        at=when,
        amount=amount,
        invoice_id=invoice,
        due_date=DUE,
    )


def paid(amount: float, when: str, invoice: str | None = "INV-1") -> Event:
    return payment_event(
        "payment.succeeded",
        event_id=eid(),
        customer_id=CUSTOMER,
        at=when,
        amount=amount,
        invoice_id=invoice,
    )


def daily_usage(until_days_past_due: int, cost: float = 1.0) -> list[Event]:
    """One usage event a day at midnight, from the due date on."""
    return [
        usage_event(event_id=eid(), customer_id=CUSTOMER, at=at(d), cost=cost)
        for d in range(until_days_past_due + 1)
    ]


def collections(out: Outcome) -> list[Alert]:
    return [a for a in out.alerts if a.kind == "collections"]


def ladder(alerts: list[Alert]) -> list[tuple[str, int, str, str]]:
    return [
        (a.evidence["stage"], a.evidence["days_past_due"], a.evidence["bucket"], a.event_time)
        for a in alerts
    ]


# --- the policy file --------------------------------------------------------------------------


def test_packaged_policy_is_the_default_one_and_the_generators_mirror() -> None:
    packaged = load_collections()
    blank = tuple(dataclasses.replace(s, description="") for s in packaged.stages)
    assert blank == DEFAULT_COLLECTIONS.stages
    assert all(s.description for s in packaged.stages)
    assert [(s.name, s.days_past_due, s.min_amount) for s in packaged.stages] == list(DUNNING)


def test_build_core_adds_one_enforcement_rule_per_stage() -> None:
    engine = build_core()
    rules = {r.id: r for r in engine.policy.rules if r.id.startswith("collections-")}
    assert list(rules) == [f"collections-{s.name}" for s in DEFAULT_COLLECTIONS.stages]
    for stage in DEFAULT_COLLECTIONS.stages:
        rule = rules[f"collections-{stage.name}"]
        assert rule.kinds == frozenset({"collections"})
        assert dict(rule.where) == {"stage": stage.name, "status": "open"}
        assert rule.action == stage.action
        assert rule.requires_approval is (stage.action in ("restrict", "suspend"))
    detector = next(d for d in engine.detectors if isinstance(d, PaymentsDetector))
    assert detector.collections == load_collections()


def test_one_file_drives_both_the_stages_and_the_rules() -> None:
    custom = parse_collections(
        """
        [[stage]]
        name = "final_notice"
        days_past_due = 7
        min_amount = 10
        action = "restrict"
        requires_approval = false
        """
    )
    engine = build_core(collections=custom)
    [rule] = [r for r in engine.policy.rules if r.id.startswith("collections-")]
    assert (rule.id, rule.action, rule.requires_approval) == (
        "collections-final_notice",
        "restrict",
        False,
    )
    out = run(Fleet(engine), [issued(), *daily_usage(8)])
    [alert] = collections(out)
    assert ladder([alert]) == [("final_notice", 7, "1-30", at(7))]
    assert [r.policy for r in out.requests] == ["collections-final_notice"]


def test_a_policy_rule_clashing_with_a_stage_is_refused() -> None:
    clash = parse_policy(
        '[[rule]]\nid = "collections-reminder"\nkinds = ["collections"]\naction = "notify"\n'
    )
    with pytest.raises(PolicyError, match="collections-reminder"):
        with_collections(clash, DEFAULT_COLLECTIONS)


def test_rules_are_appended_without_touching_the_rest_of_the_policy() -> None:
    base = Policy(dry_run=True, version="7")
    merged = with_collections(base, DEFAULT_COLLECTIONS)
    assert (merged.dry_run, merged.version, len(merged.rules)) == (True, "7", 4)


STAGE = 'name = "reminder"\ndays_past_due = 1\naction = "notify"\n'


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("stage = [", "not valid TOML"),
        ("", "at least one"),
        ("version = '1'\nextra = 1\n[[stage]]\n" + STAGE, "extra"),
        ('[[stage]]\nname = "Bad Name"\ndays_past_due = 1\naction = "notify"\n', "'name'"),
        ('[[stage]]\nname = "a"\ndays_past_due = 0\naction = "notify"\n', "days_past_due"),
        ('[[stage]]\nname = "a"\ndays_past_due = "1"\naction = "notify"\n', "days_past_due"),
        ('[[stage]]\nname = "a"\ndays_past_due = 1\naction = "resume"\n', "action"),
        ('[[stage]]\nname = "a"\ndays_past_due = 1\naction = "notify"\nmin_amount = -1\n', "min_"),
        ('[[stage]]\nname = "a"\ndays_past_due = 1\naction = "notify"\nseverity = "x"\n', "sever"),
        ('[[stage]]\nname = "a"\ndays_past_due = 1\naction = "notify"\ncooldown_s = 1.5\n', "cool"),
        (
            '[[stage]]\nname = "a"\ndays_past_due = 1\naction = "notify"\nrequires_approval = 1\n',
            "requires_approval",
        ),
        ('[[stage]]\nname = "a"\ndays_past_due = 1\naction = "notify"\ncolour = "red"\n', "colour"),
        ("[[stage]]\n" + STAGE + "[[stage]]\n" + STAGE, "twice"),
        (
            "[[stage]]\n" + STAGE + '[[stage]]\nname = "b"\ndays_past_due = 1\naction = "notify"\n',
            "its own day",
        ),
    ],
    ids=[
        "toml",
        "no-stage",
        "unknown-top-level",
        "name",
        "days-zero",
        "days-text",
        "resume",
        "negative-amount",
        "severity",
        "cooldown",
        "approval",
        "unknown-field",
        "duplicate-name",
        "duplicate-day",
    ],
)
def test_malformed_collections_policy_names_the_field(text: str, named: str) -> None:
    with pytest.raises(CollectionsPolicyError, match=named):
        parse_collections(text)


def test_stages_are_sorted_by_day_and_defaults_follow_the_action() -> None:
    policy = parse_collections(
        '[[stage]]\nname = "late"\ndays_past_due = 40\naction = "suspend"\n'
        '[[stage]]\nname = "early"\ndays_past_due = 2\naction = "notify"\n'
    )
    assert [s.name for s in policy.stages] == ["early", "late"]
    late = policy.stages[1]
    assert (late.severity, late.requires_approval, late.min_amount) == ("critical", True, 0.0)


def test_packaged_text_explains_itself() -> None:
    text = default_collections_text()
    assert text.count("\n#") >= 15
    assert "requires_approval = true" in text


@pytest.mark.parametrize(
    ("days", "bucket"),
    [(0, None), (1, "1-30"), (30, "1-30"), (31, "31-60"), (61, "61-90"), (90, "61-90"),
     (91, "over_90"), (400, "over_90")],
)  # fmt: skip
def test_ageing_buckets(days: int, bucket: str | None) -> None:
    assert bucket_of(days) == bucket


# --- ageing -----------------------------------------------------------------------------------


def test_unpaid_invoice_climbs_the_ladder_at_the_policys_ages() -> None:
    out = run(Fleet(core()), [issued(), *daily_usage(100)])
    alerts = collections(out)
    assert ladder(alerts) == [
        ("reminder", 1, "1-30", at(1)),
        ("prepayment", 15, "1-30", at(15)),
        ("restrict", 30, "1-30", at(30)),
        ("restrict", 31, "31-60", at(31)),
        ("suspend", 60, "31-60", at(60)),
        ("suspend", 61, "61-90", at(61)),
        ("suspend", 91, "over_90", at(91)),
    ]
    assert len({a.alert_id for a in alerts}) == 1
    assert [a.revision for a in alerts] == list(range(1, 8))
    assert [a.severity for a in alerts] == [
        "low", "medium", "high", "high", "critical", "critical", "critical",
    ]  # fmt: skip
    last = alerts[-1].evidence
    assert last["status"] == "open"
    assert last["amount_due"] == 500.0
    assert last["customer_overdue"] == {"over_90": 500.0}
    assert last["due_date"] == "2026-10-31T00:00:00Z"
    requests = [(r.policy, r.action, r.requires_approval) for r in out.requests]
    assert requests == [
        ("collections-reminder", "notify", False),
        ("collections-prepayment", "require_prepayment", False),
        ("collections-restrict", "restrict", True),
        ("collections-suspend", "suspend", True),
        ("collections-suspend", "suspend", True),  # over 90 days, after the week's cooldown
    ]
    # Asking again after the cooldown is a request of its own (a person may have turned the
    # first down), never a copy under the same id with another reason.
    assert len({r.request_id for r in out.requests}) == len(out.requests)


def test_small_balance_stays_at_the_stage_its_amount_allows() -> None:
    alerts = collections(run(Fleet(core()), [issued(30.0), *daily_usage(70)]))
    assert [(s, d) for s, d, _, _ in ladder(alerts)] == [
        ("reminder", 1),
        ("prepayment", 15),
        ("prepayment", 31),
        ("prepayment", 61),
    ]


def test_partial_payment_keeps_the_invoice_at_an_earlier_stage() -> None:
    events = [issued(120.0), *daily_usage(20), paid(90.0, at(20.5)), *daily_usage(65)[21:]]
    alerts = collections(run(Fleet(core()), events))
    assert [(s, d) for s, d, _, _ in ladder(alerts)] == [
        ("reminder", 1),
        ("prepayment", 15),
        ("prepayment", 31),  # 30 left: too little to restrict at 30 days
        ("prepayment", 61),
    ]
    assert alerts[2].evidence["amount_due"] == 30.0


def test_payment_in_full_resolves_the_incident() -> None:
    out = run(Fleet(core()), [issued(), *daily_usage(40), paid(500.0, at(40.2)), *daily_usage(99)])
    alerts = collections(out)
    resolved = alerts[-1]
    assert resolved.alert_id == alerts[0].alert_id
    assert (resolved.severity, resolved.score) == ("info", 0.1)
    assert resolved.evidence["status"] == "resolved"
    assert resolved.evidence["stage"] == "restrict"
    assert resolved.evidence["days_past_due"] == 40
    assert resolved.event_time == at(40.2)
    assert all(a.event_time <= at(40.2) for a in alerts)
    assert not any(r.action == "suspend" for r in out.requests)


def test_credit_pays_what_is_owed_earliest_first() -> None:
    events = [
        issued(100.0, "INV-1"),
        issued(100.0, "INV-2", when=ts(2, 3)),
        *daily_usage(3),
        paid(150.0, at(3.5), invoice=None),
    ]
    alerts = collections(run(Fleet(core()), events))
    states = [(a.evidence["invoice_id"], a.evidence["status"]) for a in alerts]
    assert states == [("INV-1", "open"), ("INV-2", "open"), ("INV-1", "resolved")]


def test_invoice_paid_on_time_raises_nothing() -> None:
    out = run(Fleet(core()), [issued(), paid(500.0, ts(10)), *daily_usage(100)])
    assert collections(out) == []


def test_invoice_issued_already_overdue_is_dated_when_it_arrives() -> None:
    late = issued(when=at(40.5))
    alerts = collections(run(Fleet(core()), [late, *daily_usage(45)[41:]]))
    assert ladder(alerts) == [("restrict", 40, "31-60", late.ts)]


def test_chargeback_of_a_paid_invoice_reopens_it_from_then_on() -> None:
    events = [
        issued(),
        paid(500.0, ts(10)),
        *daily_usage(20),
        payment_event("chargeback", event_id=eid(), customer_id=CUSTOMER, at=at(20.5), amount=500.0,
                invoice_id="INV-1"),
        *daily_usage(35)[21:],
    ]  # fmt: skip
    alerts = collections(run(Fleet(core()), events))
    assert ladder(alerts) == [
        ("prepayment", 20, "1-30", at(20.5)),
        ("restrict", 30, "1-30", at(30)),
        ("restrict", 31, "31-60", at(31)),
    ]


def test_customer_ageing_counts_every_overdue_invoice() -> None:
    events = [issued(100.0, "INV-1"), issued(50.0, "INV-0", when=ts(1, 2)), *daily_usage(2)]
    alerts = collections(run(Fleet(core()), events))
    assert alerts[-1].evidence["customer_overdue"] == {"1-30": 150.0}
    assert alerts[-1].evidence["customer_overdue_total"] == 150.0


# --- timed: own events and sweeps agree ----------------------------------------------------------


def views(alerts: list[Alert]) -> list[dict[str, Any]]:
    keep = ("alert_id", "revision", "kind", "event_time", "severity", "evidence")
    return [{k: a.to_dict()[k] for k in keep} for a in alerts]


def test_sweeps_age_a_quiet_customer_exactly_as_its_own_later_events_do() -> None:
    by_events, by_sweeps = Fleet(core()), Fleet(core())
    start = [issued(), usage_event(event_id=eid(), customer_id=CUSTOMER, at=ts(1, 5))]
    run(by_events, start)
    run(by_sweeps, start)
    stepped = run(by_events, daily_usage(95)).alerts
    swept: list[Alert] = []
    for hour in range(parse_ts_ms(ts(1, 6)), parse_ts_ms(at(95)) + 1, MS_PER_HOUR):
        swept.extend(by_sweeps.sweep(hour, 0).alerts)
    assert len(stepped) == 7
    assert views(swept) == views(stepped)


def test_a_sweep_across_weeks_gives_every_line_with_its_own_time() -> None:
    by_hours, at_once = Fleet(core()), Fleet(core())
    for fleet in (by_hours, at_once):
        run(fleet, [issued()])
    hourly: list[Alert] = []
    for hour in range(parse_ts_ms(ts(1, 4)), parse_ts_ms(at(70)) + 1, MS_PER_HOUR):
        hourly.extend(by_hours.sweep(hour, 0).alerts)
    jumped = at_once.sweep(parse_ts_ms(at(70)), 0).alerts
    assert views(jumped) == views(hourly)


def test_advance_before_the_next_line_finds_nothing_and_changes_nothing() -> None:
    detector = PaymentsDetector()
    state = detector.new_state()
    detector.observe(state, issued())
    before = orjson.dumps(detector.dump(state))
    assert detector.advance(state, DUE_MS + MS_PER_DAY - MS_PER_HOUR) == []
    assert orjson.dumps(detector.dump(state)) == before
    assert state.next_ms == DUE_MS + MS_PER_DAY
    assert [f.evidence["stage"] for f in detector.advance(state, DUE_MS + MS_PER_DAY)] == [
        "reminder"
    ]
    assert detector.advance(state, DUE_MS + MS_PER_DAY) == []


def test_restart_in_the_middle_of_the_ladder_continues_it() -> None:
    engine = core()
    events = [issued(), *daily_usage(70)]
    whole = collections(run(Fleet(engine), events))
    first = Fleet(engine)
    head = collections(run(first, events[:20]))
    blob = orjson.dumps(engine.snapshot(first.states[CUSTOMER]))
    second = Fleet(build_core())
    second.states[CUSTOMER] = second.core.restore(orjson.loads(blob))
    tail = collections(run(second, events[20:]))
    assert views(head + tail) == views(whole)


def test_collections_rules_need_the_collections_policy() -> None:
    # A core built without build_core still ages invoices; only the rules are missing.
    out = run(
        Fleet(Core(default_policy(), detectors=[PaymentsDetector()])), [issued(), *daily_usage(2)]
    )
    assert [a.evidence["stage"] for a in collections(out)] == ["reminder"]
    assert out.requests == []
