"""New accounts whose usage runs far ahead of the money that secures it.

``prepaid_gpu``: a new account paying by prepaid card or bank transfer prepays 20-50 minutes
after sign-up, 20 to 50 in its currency, then starts 4-8 GPUs a few hours later and runs them
for one to three days: hundreds of dollars against a prepayment of tens. The prepayment clears
before any usage, so nothing was ever "used before payment".

``prepaid_gpu_ring``: the same done by 3-4 accounts opened by one operator within a day (one
device), each prepaying a little and running GPUs of its own.

``card_ramp_chargeback``: a new account on a credit card whose countries all match (it looks
chargeable) runs small machines on its first day, then from its second day ramps GPUs up,
a few more every eight hours. The reseller charges 200 on the card at its billing threshold;
the cardholder disputes it once the account has used about 8,000: a chargeback, and the
machines stop (the reseller suspends).

Labels: ``usage_before_payment`` from the first GPU hour until the exposure should have been
seen (12 hours later; for the card ramp, when its GPUs have cost 3,000), with the loss that
followed in the detail (``loss``: usage not covered by money kept); ``high_risk_instrument`` at
a prepaid card; ``chargeback`` at the chargeback.
"""

from __future__ import annotations

import random
from typing import Final

from streamwatch.generator.ids import hex_token
from streamwatch.generator.plan import CustomerPlan, LabelSpec, Resource
from streamwatch.generator.scenarios.mining_kit import add_machines, drop_machines, price
from streamwatch.generator.scenarios.payments_kit import card, set_instrument
from streamwatch.generator.scenarios.registry import register_scenario
from streamwatch.generator.scenarios.ring_kit import Identity, new_account, onboard, random_ip
from streamwatch.generator.timefmt import DAY_S, HOUR_S, ceil_hour

KIND: Final = "usage_before_payment"
PREPAID_GPU: Final = "prepaid_gpu"
PREPAID_GPU_RING: Final = "prepaid_gpu_ring"
CARD_RAMP: Final = "card_ramp_chargeback"
GPU_SKU: Final = "Standard_NC24ads_A100_v4"
THRESHOLD_CHARGE: Final = 200.0
CHARGEBACK_AT: Final = 8_000.0
RAMP_FOUND_BY: Final = 3_000.0
"""The card ramp's label ends when its GPUs have cost this much: found later is too late."""
FOUND_WITHIN_S: Final = 12 * HOUR_S


@register_scenario(PREPAID_GPU, also=("high_risk_instrument", "spend_spike", "crypto_mining"))
def prepaid_gpu(plan: CustomerPlan, rng: random.Random) -> None:
    """A small prepayment, then hundreds of GPU dollars (see the module docstring)."""
    drop_machines(plan)
    plan.budget_scenario = PREPAID_GPU
    _prepay_and_burn(plan, rng, PREPAID_GPU, rng.choice(("prepaid_card", "bank_transfer")))


@register_scenario(
    PREPAID_GPU_RING,
    also=("high_risk_instrument", "spend_spike", "crypto_mining", "bot_signup"),
)
def prepaid_gpu_ring(plan: CustomerPlan, rng: random.Random) -> None:
    """Three or four accounts of one operator doing ``prepaid_gpu`` (see the module docstring)."""
    drop_machines(plan)
    plan.budget_scenario = PREPAID_GPU_RING
    device = hex_token(rng, 32)
    kind = rng.choice(("prepaid_card", "bank_transfer"))
    for n in range(rng.randint(3, 4)):
        if n == 0:
            account = plan
        else:
            signup = plan.signup_s + rng.randrange(HOUR_S, DAY_S)
            if signup >= plan.horizon_end_s - 2 * DAY_S:
                break
            account = new_account(plan, n, signup, rng)
            who = Identity(plan.email_domain, True, device, random_ip(plan, rng), None)
            onboard(account, who, rng, LabelSpec("bot_signup", PREPAID_GPU_RING, {}, True))
            drop_machines(account)
            account.schedule(
                signup + rng.randrange(60, 8 * 60),
                "payment",
                {
                    "kind": "instrument.added",
                    "instrument": card(account, kind, fingerprint=hex_token(rng, 24)),
                    "billing_country": account.country.code,
                },
            )
            plan.companions.append(account)
        account.device_fingerprint = device
        _prepay_and_burn(account, rng, PREPAID_GPU_RING, kind)


def _prepay_and_burn(plan: CustomerPlan, rng: random.Random, scenario: str, kind: str) -> None:
    instrument = card(plan, kind)
    label = None
    if kind == "prepaid_card":
        label = LabelSpec("high_risk_instrument", scenario, {"instrument": kind})
    added = _set_or_find_instrument(plan, instrument, label)
    amount = float(rng.randint(20, 50))
    plan.schedule(
        added + rng.randrange(20 * 60, 50 * 60),
        "payment",
        {
            "kind": "prepayment",
            "amount": amount,
            "currency": plan.currency,
            "instrument": instrument,
        },
    )
    start = max(plan.signup_s, plan.horizon_start_s) + rng.randrange(2 * HOUR_S, 8 * HOUR_S)
    start = min(start, plan.horizon_end_s - DAY_S)
    hours = rng.randint(24, 72)
    until = ceil_hour(start) + hours * HOUR_S
    res = add_machines(
        plan,
        start,
        plan.region,
        "rg-gpu",
        "vmss-gpu",
        GPU_SKU,
        rng.randint(4, 8),
        rng.uniform(0.9, 0.99),
        until_s=until,
    )
    used = _cost([res], plan.horizon_end_s)
    first = ceil_hour(start)
    detail = {"prepaid": amount, "loss": round(max(0.0, used - amount), 2)}
    plan.usage_labels.append(
        (first, LabelSpec(KIND, scenario, detail, end_s=first + FOUND_WITHIN_S))
    )


def _set_or_find_instrument(
    plan: CustomerPlan, instrument: dict[str, object], label: LabelSpec | None
) -> int:
    """The account's ``instrument.added`` made ``instrument``; its time."""
    for item in plan.scheduled:
        body = item.body
        if isinstance(body, dict) and body.get("kind") == "instrument.added":
            body["instrument"] = dict(instrument, fingerprint=body["instrument"]["fingerprint"])
            item.label = label
            return item.ts_s
    return set_instrument(plan, instrument, label)


@register_scenario(CARD_RAMP, also=("spend_spike", "crypto_mining"))
def card_ramp_chargeback(plan: CustomerPlan, rng: random.Random) -> None:
    """GPUs ramped up from day two on a matching card, charged back (see the module
    docstring)."""
    plan.budget_scenario = CARD_RAMP
    signup = max(plan.signup_s, plan.horizon_start_s)
    start = signup + DAY_S + rng.randrange(2 * HOUR_S, 12 * HOUR_S)
    if start >= plan.horizon_end_s - 3 * DAY_S:
        start = plan.horizon_start_s + DAY_S
    gpu_price = price(plan, GPU_SKU)
    steps: list[tuple[int, int]] = []
    at, machines, spent = start, 0, 0.0
    found_by: int | None = None
    stop = plan.horizon_end_s
    hour = ceil_hour(start)
    while hour < plan.horizon_end_s:
        if hour >= ceil_hour(at):
            count = rng.randint(1, 3)
            steps.append((at, count))
            machines += count
            at += 8 * HOUR_S + rng.randrange(-HOUR_S, HOUR_S)
        spent += machines * gpu_price
        if found_by is None and spent >= RAMP_FOUND_BY:
            found_by = hour + HOUR_S
        if spent >= CHARGEBACK_AT:
            stop = hour + HOUR_S
            break
        hour += HOUR_S
    resources: list[Resource] = []
    for i, (ts, count) in enumerate(steps):
        resources.append(
            add_machines(
                plan,
                ts,
                plan.region,
                "rg-train",
                f"vmss-train-{i + 1}",
                GPU_SKU,
                count,
                rng.uniform(0.85, 0.99),
                until_s=stop if stop < plan.horizon_end_s else None,
            )
        )
    instrument = card(plan)
    charged = start + rng.randrange(2 * HOUR_S, 6 * HOUR_S) + 17
    money = {"amount": THRESHOLD_CHARGE, "currency": plan.currency, "instrument": instrument}
    plan.schedule(charged, "payment", {"kind": "payment.succeeded", **money})
    used = _cost(resources, stop) + plan.expected_cost(signup, start)
    if stop < plan.horizon_end_s:
        plan.schedule(
            stop + rng.randrange(60, 1800),
            "payment",
            {"kind": "chargeback", **money, "failure_reason": "fraudulent"},
            LabelSpec("chargeback", CARD_RAMP, {"amount": THRESHOLD_CHARGE}),
        )
    first = ceil_hour(start)
    detail = {"loss": round(used, 2), "gpu_cost_at_label_end": RAMP_FOUND_BY}
    end = found_by if found_by is not None else first + 2 * DAY_S
    plan.usage_labels.append((first, LabelSpec(KIND, CARD_RAMP, detail, end_s=end)))


def _cost(resources: list[Resource], end_s: int) -> float:
    return sum(r.expected_cost(r.active_from_s, end_s) for r in resources)
