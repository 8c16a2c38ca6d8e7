"""Building blocks of the payment scenarios: the customer's monthly bills re-planned so that a
scenario decides how each is paid, payment events, instruments, and collections labels.

``bills`` replaces the archetype's invoices and payments with invoices due at midnight UTC,
30 days after their day of issue (a due date without a time, as billing systems write it), so
that every dunning line (a due date plus whole days) falls on a whole hour, where the
customer's hourly usage anchors its label. Amounts come from the usage ledger at emission
time, like the archetype's.

``DUNNING`` mirrors the packaged collections policy (``streamwatch/config/collections.toml``; a
test keeps them equal): the generator does not import the detector's configuration, as the
budget rule is written twice too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from streamwatch.generator.catalog import COUNTRIES
from streamwatch.generator.plan import BodyBuilder, CustomerPlan, JsonDict, LabelSpec, Ledger
from streamwatch.generator.timefmt import (
    DAY_S,
    HOUR_S,
    format_ts,
    month_key,
    month_start,
    month_starts,
)

DUNNING: Final[tuple[tuple[str, int, float], ...]] = (
    ("reminder", 1, 0.0),
    ("prepayment", 15, 20.0),
    ("restrict", 30, 50.0),
    ("suspend", 60, 100.0),
)
"""(stage, days past due, minimum amount due) of the packaged collections policy."""
SURE: Final = 1.25
"""An invoice expected to owe this many times a stage's minimum (and at least ``FLOOR``)
surely reaches the stage: labelled. Between ``UNSURE`` and ``SURE`` times the minimum, usage
noise decides: labelled benign (an alert may match, none is missed)."""
UNSURE: Final = 0.8
FLOOR: Final = 1.0
TERMS_DAYS: Final = 30


@dataclass(frozen=True, slots=True)
class Bill:
    """One monthly invoice: the usage of ``[month_s, next month)`` issued at ``issued_s``."""

    month_s: int
    number: str
    issued_s: int
    due_s: int
    expected: float
    """Noise-free estimate of the amount (``plan.expected_cost``)."""

    @property
    def due_date(self) -> str:
        """The due date as written on the invoice (``YYYY-MM-DD``, midnight UTC)."""
        return format_ts(self.due_s)[:10]

    def line_s(self, days: int) -> int:
        """When the invoice becomes ``days`` days past due."""
        return self.due_s + days * DAY_S


def bills(plan: CustomerPlan, rng: random.Random) -> list[Bill]:
    """Drop the archetype's invoices and payments; schedule the invoices again (see the module
    docstring) and return them, oldest first, for the scenario to schedule their payments."""
    plan.scheduled = [
        s for s in plan.scheduled if not (s.event_type == "payment" and callable(s.body))
    ]
    out = []
    for start in month_starts(plan.signup_s, plan.horizon_end_s):
        prev = month_start(start - 1)
        issued = start + 2 * HOUR_S + rng.randrange(4 * HOUR_S)
        bill = Bill(
            month_s=prev,
            number=f"INV-{month_key(prev).replace('-', '')}-{plan.customer_id[5:]}",
            issued_s=issued,
            due_s=(issued // DAY_S + TERMS_DAYS) * DAY_S,
            expected=plan.expected_cost(prev, start),
        )
        plan.schedule(issued, "payment", _invoice(plan, bill))
        out.append(bill)
    return out


def card(plan: CustomerPlan, kind: str = "credit_card", **fields: str) -> JsonDict:
    """The customer's instrument of ``kind`` (its own card fingerprint and country)."""
    return {
        "type": kind,
        "fingerprint": fields.get("fingerprint", plan.card_fingerprint),
        "country": fields.get("country", plan.country.code),
    }


def set_instrument(plan: CustomerPlan, instrument: JsonDict, label: LabelSpec | None) -> int:
    """Make the sign-up's ``instrument.added`` add ``instrument`` (labelled); its time."""
    for item in plan.scheduled:
        body = item.body
        if isinstance(body, dict) and body.get("kind") == "instrument.added":
            body["instrument"] = instrument
            item.label = label
            return item.ts_s
    raise ValueError(f"{plan.customer_id} has no instrument.added to change")


def foreign_country(plan: CustomerPlan, rng: random.Random) -> str:
    """A country code other than the customer's."""
    return rng.choice(sorted({c.code for c in COUNTRIES} - {plan.country.code}))


def pay(
    plan: CustomerPlan,
    bill: Bill,
    at_s: int,
    instrument: JsonDict,
    label: LabelSpec | None = None,
) -> None:
    """The bill paid in full at ``at_s``."""
    plan.schedule(at_s, "payment", _payment(plan, bill, "payment.succeeded", instrument), label)


def fail(
    plan: CustomerPlan,
    bill: Bill,
    at_s: int,
    instrument: JsonDict,
    reason: str,
    label: LabelSpec | None = None,
) -> None:
    """A failed attempt to charge the bill at ``at_s``."""
    builder = _payment(plan, bill, "payment.failed", instrument, reason)
    plan.schedule(at_s, "payment", builder, label)


def on_time(bill: Bill, rng: random.Random) -> int:
    """When a customer paying as usual pays: 2 to 12 days after issue, before the due date."""
    return bill.issued_s + rng.randint(2, 12) * DAY_S + rng.randrange(-3 * HOUR_S, 6 * HOUR_S)


def off_the_hour(at_s: int, rng: random.Random) -> int:
    """``at_s`` moved a little off any whole hour, so that it never ties with a dunning line."""
    return at_s - at_s % HOUR_S + rng.randrange(60, HOUR_S - 60)


def dunning_labels(
    plan: CustomerPlan,
    bill: Bill,
    scenario: str,
    settled_s: int | None,
    *,
    credited: float = 0.0,
    benign: bool = False,
) -> None:
    """Label each dunning stage the bill reaches before ``settled_s`` (None: never paid) within
    the horizon, by its expected amount less ``credited`` (see ``SURE``)."""
    owed = bill.expected - credited
    for stage, days, minimum in DUNNING:
        at = bill.line_s(days)
        if at >= plan.horizon_end_s or (settled_s is not None and settled_s <= at):
            continue
        if owed <= 0.0 or owed < UNSURE * minimum:
            continue
        sure = owed >= max(SURE * minimum, FLOOR)
        detail = {"invoice_id": bill.number, "stage": stage, "days_past_due": days}
        spec = LabelSpec("collections", scenario, detail, benign=benign or not sure)
        plan.usage_labels.append((at, spec))


def _invoice(plan: CustomerPlan, bill: Bill) -> BodyBuilder:
    def build(ledger: Ledger) -> JsonDict | None:
        amount = ledger.month_spend(bill.month_s)
        if amount <= 0.0:
            return None
        return {
            "kind": "invoice.issued",
            "invoice_id": bill.number,
            "amount": amount,
            "currency": plan.currency,
            "due_date": bill.due_date,
            "billing_country": plan.country.code,
        }

    return build


def _payment(
    plan: CustomerPlan,
    bill: Bill,
    kind: str,
    instrument: JsonDict,
    reason: str | None = None,
) -> BodyBuilder:
    def build(ledger: Ledger) -> JsonDict | None:
        amount = ledger.month_spend(bill.month_s)
        if amount <= 0.0:
            return None
        body: JsonDict = {
            "kind": kind,
            "invoice_id": bill.number,
            "amount": amount,
            "currency": plan.currency,
            "instrument": dict(instrument),
            "billing_country": plan.country.code,
        }
        if reason is not None:
            body["failure_reason"] = reason
        return body

    return build
