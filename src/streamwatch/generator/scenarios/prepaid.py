"""Prepaid money: a fraudster who charges back, and a careful customer who pays ahead.

``prepaid_chargeback``: a new customer signs up with a prepaid card (in half of the cases
issued in another country than its sign-up and billing country) and starts consuming at once.
One to four days after its first usage it tops up 25 to 60 on the prepaid card, then charges
the top-up back three to twelve days later, and pays none of its invoices.

``prepaid_bank_transfer`` (benign look-alike): a new customer paying by bank transfer makes a
prepayment minutes after sign-up, before any usage; its first bank transfer clears a day
after its first usage, and it pays its invoices on time by transfer.

Labels: ``high_risk_instrument`` at the prepaid card's ``instrument.added``;
``usage_before_payment`` at the first usage (benign for the bank-transfer customer, whose
usage the prepayment secures), and, benign, from the fraudster's top-up to the end of the
stream (usage that outruns the top-up is an unsecured exposure); ``chargeback`` at the
chargeback; ``collections`` at each dunning stage of the fraudster's unpaid invoices.
"""

from __future__ import annotations

import random
from typing import Final

from streamwatch.generator.plan import CustomerPlan, LabelSpec
from streamwatch.generator.scenarios.payments_kit import (
    bills,
    card,
    dunning_labels,
    foreign_country,
    off_the_hour,
    on_time,
    pay,
    set_instrument,
)
from streamwatch.generator.scenarios.registry import register_scenario
from streamwatch.generator.timefmt import DAY_S, HOUR_S, ceil_hour

PREPAID_CHARGEBACK: Final = "prepaid_chargeback"
PREPAID_BANK_TRANSFER: Final = "prepaid_bank_transfer"


@register_scenario(PREPAID_CHARGEBACK)
def prepaid_chargeback(plan: CustomerPlan, rng: random.Random) -> None:
    """Prepaid-card sign-up, usage before payment, a top-up charged back (see the module
    docstring)."""
    planned = bills(plan, rng)
    abroad = rng.random() < 0.5
    country = foreign_country(plan, rng) if abroad else plan.country.code
    prepaid = card(plan, "prepaid_card", country=country)
    set_instrument(
        plan,
        prepaid,
        LabelSpec(
            "high_risk_instrument",
            PREPAID_CHARGEBACK,
            {"instrument": "prepaid_card", "countries_disagree": abroad},
        ),
    )
    plan.usage_labels.append(
        (plan.signup_s, LabelSpec("usage_before_payment", PREPAID_CHARGEBACK, {}))
    )
    first_usage = _first_usage_s(plan)
    topped_up = off_the_hour(first_usage + rng.randrange(DAY_S, 4 * DAY_S), rng)
    amount = float(rng.randint(25, 60))
    money = {"amount": amount, "currency": plan.currency, "instrument": prepaid}
    plan.schedule(topped_up, "payment", {"kind": "prepayment", **money})
    # From the top-up on, usage may outrun it: an unsecured-exposure alert is right, but
    # whether the usage gets that far is the archetype's, so it is not required.
    exposure = LabelSpec(
        "usage_before_payment",
        PREPAID_CHARGEBACK,
        {"basis": "unsecured_exposure"},
        benign=True,
        end_s=plan.horizon_end_s,
    )
    plan.usage_labels.append((topped_up, exposure))
    charged_back = topped_up + rng.randrange(3 * DAY_S, 12 * DAY_S)
    plan.schedule(
        charged_back,
        "payment",
        {"kind": "chargeback", **money, "failure_reason": "fraudulent"},
        LabelSpec("chargeback", PREPAID_CHARGEBACK, {"amount": amount}),
    )
    # Credit pays the earliest invoice owed when the top-up clears, or else the first one
    # issued before the chargeback takes the credit back.
    issued = [b for b in planned if b.issued_s < charged_back]
    owed = [b for b in issued if b.issued_s < topped_up] or issued
    for bill in planned:
        credited = amount if owed and bill is owed[0] else 0.0
        dunning_labels(plan, bill, PREPAID_CHARGEBACK, None, credited=credited)


@register_scenario(PREPAID_BANK_TRANSFER)
def prepaid_bank_transfer(plan: CustomerPlan, rng: random.Random) -> None:
    """A bank-transfer customer that prepays before using anything (benign)."""
    planned = bills(plan, rng)
    transfer = card(plan, "bank_transfer")
    added = set_instrument(plan, transfer, None)
    week = plan.expected_cost(plan.signup_s, plan.signup_s + 7 * 24 * HOUR_S)
    amount = float(max(50, round(week, -1)))
    money = {"amount": amount, "currency": plan.currency, "instrument": transfer}
    plan.schedule(added + rng.randrange(30, 120), "payment", {"kind": "prepayment", **money})
    plan.usage_labels.append(
        (
            plan.signup_s,
            LabelSpec("usage_before_payment", PREPAID_BANK_TRANSFER, {"prepaid": amount}, True),
        )
    )
    cleared = off_the_hour(_first_usage_s(plan) + DAY_S, rng)
    plan.schedule(cleared, "payment", {"kind": "payment.succeeded", **money})
    for bill in planned:
        pay(plan, bill, on_time(bill, rng), transfer)


def _first_usage_s(plan: CustomerPlan) -> int:
    """When the customer's first usage is metered (the first whole hour of a resource)."""
    first = min((r.active_from_s for r in plan.resources), default=plan.signup_s)
    return ceil_hour(max(first, plan.signup_s, plan.horizon_start_s))
