"""Customers that do not pay their invoices on time, and look-alikes that nearly do.

``late_payer``: pays its invoices as usual until one (the first expected to owe 200 or more
whose ladder up to restrict fits in the stream, else the first that can go overdue in it) goes
unpaid for 16 to 75 days past its due date (within the stream where it can), so that it climbs
the dunning ladder, and is then paid in full. Half of them pay by a card that expired: the
reseller's charges fail at issue and twice more (``payment_failure`` from the second failure),
and the customer adds a new card the day it pays. Later invoices are paid on time.

``never_pays``: a new customer that pays nothing. Half of them have a card that is declined
at every charge (three attempts per invoice); the other half pay by bank transfer, which the
reseller cannot collect, so their usage is also usage before payment.

Benign look-alikes:

``pays_late_once``: one invoice paid one to six days after its due date (the reminder is the
only stage it reaches; labelled benign).

``card_declined_once``: one charge declined, the retry two days later succeeds (a single
failure; labelled benign).

Labels: ``collections`` at each dunning stage an unpaid invoice reaches (``DUNNING``), at the
instant it reaches it; ``payment_failure`` at the second failed charge of an invoice;
``usage_before_payment`` at the first usage of a bank-transfer customer that never pays.
"""

from __future__ import annotations

import random
from typing import Final

from streamwatch.generator.plan import CustomerPlan, LabelSpec
from streamwatch.generator.scenarios.payments_kit import (
    Bill,
    bills,
    card,
    dunning_labels,
    fail,
    off_the_hour,
    on_time,
    pay,
    set_instrument,
)
from streamwatch.generator.scenarios.registry import register_scenario
from streamwatch.generator.timefmt import DAY_S, HOUR_S

LATE_PAYER: Final = "late_payer"
NEVER_PAYS: Final = "never_pays"
PAYS_LATE_ONCE: Final = "pays_late_once"
CARD_DECLINED_ONCE: Final = "card_declined_once"
SIZEABLE: Final = 200.0
RETRY_DAYS: Final = (0, 4, 8)
"""Charge attempts of a failing card, in days after the first (a day after issue)."""


@register_scenario(LATE_PAYER)
def late_payer(plan: CustomerPlan, rng: random.Random) -> None:
    """One invoice paid weeks late, after the ladder (see the module docstring)."""
    planned = bills(plan, rng)
    late = _chosen(planned, plan)
    expired = rng.random() < 0.5
    instrument = card(plan)
    for bill in planned:
        if bill is not late:
            pay(plan, bill, on_time(bill, rng), instrument)
            continue
        # Paid within the stream where it can be, so that the incident is seen to end.
        room = (plan.horizon_end_s - bill.due_s) // DAY_S - 1
        paid = off_the_hour(bill.line_s(rng.randint(16, max(16, min(75, room)))), rng)
        if expired:
            _failing_charges(plan, bill, instrument, "expired_card", LATE_PAYER, rng, paid)
            new_card = card(plan, fingerprint=f"{plan.card_fingerprint}-new")
            plan.schedule(
                paid - rng.randrange(5 * 60, 30 * 60),
                "payment",
                {
                    "kind": "instrument.added",
                    "instrument": new_card,
                    "billing_country": plan.country.code,
                },
            )
            instrument = new_card
        pay(plan, bill, paid, instrument)
        dunning_labels(plan, bill, LATE_PAYER, paid)


@register_scenario(NEVER_PAYS)
def never_pays(plan: CustomerPlan, rng: random.Random) -> None:
    """A new customer that pays nothing (see the module docstring)."""
    planned = bills(plan, rng)
    if rng.random() < 0.5:
        instrument = card(plan)
        for bill in planned:
            _failing_charges(plan, bill, instrument, "card_declined", NEVER_PAYS, rng, None)
    else:
        set_instrument(plan, card(plan, "bank_transfer"), None)
        plan.usage_labels.append(
            (
                plan.signup_s,
                LabelSpec("usage_before_payment", NEVER_PAYS, {"instrument": "bank_transfer"}),
            )
        )
    for bill in planned:
        dunning_labels(plan, bill, NEVER_PAYS, None)


@register_scenario(PAYS_LATE_ONCE)
def pays_late_once(plan: CustomerPlan, rng: random.Random) -> None:
    """One invoice paid a few days after its due date (benign)."""
    planned = bills(plan, rng)
    late = planned[rng.randrange(len(planned))] if planned else None
    instrument = card(plan)
    for bill in planned:
        if bill is not late:
            pay(plan, bill, on_time(bill, rng), instrument)
            continue
        paid = off_the_hour(bill.line_s(1) + rng.randrange(12 * HOUR_S, 5 * DAY_S), rng)
        pay(plan, bill, paid, instrument)
        dunning_labels(plan, bill, PAYS_LATE_ONCE, paid, benign=True)


@register_scenario(CARD_DECLINED_ONCE)
def card_declined_once(plan: CustomerPlan, rng: random.Random) -> None:
    """One charge declined, the retry succeeds (benign)."""
    planned = bills(plan, rng)
    declined = planned[rng.randrange(len(planned))] if planned else None
    instrument = card(plan)
    for bill in planned:
        if bill is not declined:
            pay(plan, bill, on_time(bill, rng), instrument)
            continue
        first = off_the_hour(bill.issued_s + DAY_S, rng)
        label = LabelSpec("payment_failure", CARD_DECLINED_ONCE, {"invoice_id": bill.number}, True)
        fail(plan, bill, first, instrument, "insufficient_funds", label)
        pay(plan, bill, first + 2 * DAY_S, instrument)


def _chosen(planned: list[Bill], plan: CustomerPlan) -> Bill | None:
    """The invoice a late payer leaves unpaid: the first expected to owe ``SIZEABLE`` whose
    ladder up to restrict fits in the horizon, else the first whose ladder starts in it, else
    the first."""
    for days, sizeable in ((31, SIZEABLE), (16, 0.0)):
        for bill in planned:
            if bill.expected >= sizeable and bill.line_s(days) < plan.horizon_end_s:
                return bill
    return planned[0] if planned else None


def _failing_charges(
    plan: CustomerPlan,
    bill: Bill,
    instrument: dict[str, str],
    reason: str,
    scenario: str,
    rng: random.Random,
    before_s: int | None,
) -> None:
    """Charges of the bill that fail, a day after issue and then ``RETRY_DAYS`` later (those
    before ``before_s``); the second is labelled."""
    first = off_the_hour(bill.issued_s + DAY_S, rng)
    for n, days in enumerate(RETRY_DAYS):
        at = first + days * DAY_S
        if before_s is not None and at >= before_s:
            break
        label = (
            LabelSpec("payment_failure", scenario, {"invoice_id": bill.number, "reason": reason})
            if n == 1
            else None
        )
        fail(plan, bill, at, instrument, reason, label)
