"""``Core.forgettable``: a customer quiet for longer than ``Settings.forget_after_s`` may be
dropped, unless something in its state must still age: a rung, a running cooldown, a recent
alert, or what a detector ``retains`` (money owed, collections to come, users yet to turn
inactive)."""

from __future__ import annotations

from typing import Any, ClassVar

from streamwatch.core.detectors.base import Capability, Finding
from streamwatch.core.detectors.budget import BudgetDetector
from streamwatch.core.detectors.payments import PaymentsDetector
from streamwatch.core.detectors.stale_access import StaleAccessDetector
from streamwatch.core.engine import Core, Settings
from streamwatch.core.events import Event
from streamwatch.core.policy import Policy
from streamwatch.core.state import CustomerState, Rung
from streamwatch.core.timeutil import MS_PER_DAY, MS_PER_HOUR, parse_ts_ms
from streamwatch.testing import (
    NOW_MS,
    activity_event,
    default_policy,
    payment_event,
    ts,
    usage_event,
)

T = parse_ts_ms(ts(1))


def quiet_customer(core: Core, *events: Event) -> CustomerState:
    state = core.new_state("cust-1")
    for event in events or (usage_event(event_id="u-1", at=ts(1)),):
        core.step(state, event, NOW_MS)
    return state


def swept(core: Core, state: CustomerState, until_ms: int) -> bool:
    """Sweep to ``until_ms`` as a caller does at an hour mark, then ask."""
    core.sweep(state, until_ms, NOW_MS)
    return core.forgettable(state, until_ms)


def test_a_customer_is_forgettable_once_quiet_for_longer_than_the_setting() -> None:
    assert Settings().forget_after_s == 90 * 86400
    core = Core(policy=Policy(), detectors=[BudgetDetector()])
    state = quiet_customer(core)
    assert not core.forgettable(state, T + 90 * MS_PER_DAY)
    assert core.forgettable(state, T + 90 * MS_PER_DAY + 1)


def test_the_quiet_period_is_configurable() -> None:
    core = Core(policy=Policy(), detectors=[BudgetDetector()], settings=Settings(forget_after_s=60))
    state = quiet_customer(core)
    assert not core.forgettable(state, T + 60_000)
    assert core.forgettable(state, T + 60_001)


def test_an_event_makes_the_customer_unforgettable_again() -> None:
    core = Core(policy=Policy(), detectors=[BudgetDetector()])
    state = quiet_customer(core)
    core.step(state, usage_event(event_id="u-2", at=ts(20, month=11)), NOW_MS)
    assert not core.forgettable(state, T + 91 * MS_PER_DAY)


def test_an_unpaid_invoice_keeps_the_customer_until_it_is_paid() -> None:
    core = Core(policy=Policy(), detectors=[PaymentsDetector()])
    issued = payment_event(
        "invoice.issued",
        event_id="p-1",
        at=ts(1),
        amount=100.0,
        invoice_id="INV-1",
        due_date="2026-10-31",
    )
    state = quiet_customer(core, issued)
    year = T + 365 * MS_PER_DAY
    assert not swept(core, state, year)  # every collections line is behind; the debt is not
    assert state.detectors["payments"].next_ms is None
    paid = payment_event(
        "payment.succeeded", event_id="p-2", at=ts(2), amount=100.0, invoice_id="INV-1"
    )
    core.step(state, paid, NOW_MS)
    assert swept(core, state, year)


def test_collections_still_to_come_keep_the_customer() -> None:
    core = Core(policy=Policy(), detectors=[PaymentsDetector()])
    state = quiet_customer(core)
    ledger = state.detectors["payments"]
    ledger.next_ms = T + 400 * MS_PER_DAY  # as if a line were due far ahead
    assert not core.forgettable(state, T + 365 * MS_PER_DAY)


def test_more_charged_back_than_prepaid_keeps_the_customer() -> None:
    core = Core(policy=Policy(), detectors=[PaymentsDetector()])
    card = {"type": "credit_card", "fingerprint": "c-1"}
    state = quiet_customer(
        core,
        payment_event("prepayment", event_id="p-1", at=ts(1), amount=50.0, instrument=card),
        payment_event("chargeback", event_id="p-2", at=ts(2), amount=80.0, instrument=card),
    )
    assert state.detectors["payments"].credit < 0
    assert not swept(core, state, T + 365 * MS_PER_DAY)


def test_a_user_yet_to_turn_inactive_keeps_the_customer_and_the_alert_for_a_while() -> None:
    core = Core(policy=Policy(), detectors=[StaleAccessDetector()])
    created = activity_event(
        "user.create",
        event_id="a-1",
        at=ts(1),
        actor="admin@example.com",
        properties={"principal": "bob@example.com"},
    )
    state = quiet_customer(core, created)
    assert not swept(core, state, T + 89 * MS_PER_DAY)  # bob is due inactive at day 90
    day_91 = T + 91 * MS_PER_DAY
    assert not swept(core, state, day_91)  # found inactive: its alert may still be amended
    assert [a.kind for a in state.alerts.values()] == ["stale_access"] * 2
    assert state.detectors["stale_access"].due_ms is None
    assert not swept(core, state, T + 119 * MS_PER_DAY)
    assert swept(core, state, T + 120 * MS_PER_DAY + MS_PER_HOUR)


def test_a_restrictive_rung_keeps_the_customer_held_or_lifted() -> None:
    core = Core(policy=Policy(), detectors=[BudgetDetector()])
    for rung in (Rung(["alert-1"]), Rung([], lifted=1)):
        state = quiet_customer(core)
        state.rungs["suspend-rule"] = rung
        assert not core.forgettable(state, T + 365 * MS_PER_DAY)


def test_a_running_cooldown_keeps_the_customer() -> None:
    policy = default_policy()
    rule = max(policy.rules, key=lambda r: r.cooldown_s)
    core = Core(policy=policy, detectors=[BudgetDetector()], settings=Settings(forget_after_s=60))
    state = quiet_customer(core)
    state.cooldowns[rule.id] = T
    assert not core.forgettable(state, T + rule.cooldown_s * 1000 - 1)
    assert core.forgettable(state, T + rule.cooldown_s * 1000)
    state.cooldowns = {"a-rule-no-longer-in-the-policy": T}
    assert core.forgettable(state, T + 120_000)


class Holding:
    """A detector that always has something to keep, or nothing (``Plain``: no ``retains``)."""

    name: ClassVar[str] = "holding"
    version: ClassVar[str] = "1"
    event_types: ClassVar[frozenset[str]] = frozenset({"usage"})
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.RETAINS})

    def __init__(self, holds: bool) -> None:
        self.holds = holds
        self.asked: list[int] = []

    def new_state(self) -> dict[str, Any]:
        return {}

    def observe(self, state: dict[str, Any], event: Event) -> list[Finding]:
        return []

    def dump(self, state: dict[str, Any]) -> dict[str, Any]:
        return dict(state)

    def load(self, data: dict[str, Any]) -> dict[str, Any]:
        return dict(data)

    def retains(self, state: dict[str, Any], until_ms: int) -> bool:
        self.asked.append(until_ms)
        return self.holds


class Plain(Holding):
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    retains = None  # type: ignore[assignment]


def test_a_detector_keeps_the_customer_through_retains_and_only_when_quiet() -> None:
    later = T + 100 * MS_PER_DAY
    holding = Holding(True)
    core = Core(policy=Policy(), detectors=[holding, BudgetDetector()])
    state = quiet_customer(core)
    assert not core.forgettable(state, T + MS_PER_DAY)
    assert holding.asked == []  # not quiet: detectors are not asked
    assert not core.forgettable(state, later)
    assert holding.asked == [later]
    for detector in (Holding(False), Plain(True)):
        core = Core(policy=Policy(), detectors=[detector])
        assert core.forgettable(quiet_customer(core), later)
