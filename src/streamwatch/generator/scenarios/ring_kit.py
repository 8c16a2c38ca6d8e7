"""Building blocks of the scenarios with several accounts behind one device, card or IP.

A ring scenario keeps its customer as the ring's first account (``reidentify`` rewrites its
scheduled sign-up and card) and adds the further accounts as companions of it
(``CustomerPlan.companions``), each a small plan of its own made by ``new_account`` and
``onboard``: a sign-up (carrying the label), perhaps a card, a subscription and one machine.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from streamwatch.generator.archetypes import add_vm
from streamwatch.generator.catalog import FIRST_NAMES
from streamwatch.generator.ids import hex_token, uuid_like
from streamwatch.generator.plan import CustomerPlan, LabelSpec
from streamwatch.generator.rhythm import flat
from streamwatch.generator.timefmt import HOUR_S

KIND: Final = "bot_signup"
DISPOSABLE_DOMAINS: Final = (
    "mailinator.com",
    "yopmail.com",
    "guerrillamail.com",
    "sharklasers.com",
    "10minutemail.com",
    "trashmail.com",
    "maildrop.cc",
    "getnada.com",
)
FREE_DOMAINS: Final = ("gmail.com", "outlook.com", "yahoo.com", "proton.me", "gmx.de")
CARD_DELAY_S: Final = (60, 8 * 60)
"""A card is added this many seconds after sign-up (as normal customers do)."""
LAST_SIGNUP_MARGIN_S: Final = HOUR_S
"""Accounts that would sign up closer than this to the end of the stream are left out."""


@dataclass(frozen=True, slots=True)
class Identity:
    """What one account of a ring shows at sign-up."""

    email_domain: str
    phone_verified: bool
    device: str
    ip: str
    card: str | None
    card_type: str = "credit_card"


def random_ip(plan: CustomerPlan, rng: random.Random) -> str:
    """An address in the customer's country, as ``archetypes`` draws them."""
    return f"{plan.country.ip_prefix}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def new_account(
    leader: CustomerPlan, number: int, signup_s: int, rng: random.Random
) -> CustomerPlan:
    """A further account of ``leader``'s ring, ``<leader>-<number>``, signing up at
    ``signup_s``; its identity comes with ``onboard``."""
    customer = f"{leader.customer_id}-{number}"
    return CustomerPlan(
        customer_id=customer,
        archetype="ring_account",
        country=leader.country,
        currency=leader.currency,
        signup_s=signup_s,
        horizon_start_s=leader.horizon_start_s,
        horizon_end_s=leader.horizon_end_s,
        subscription_id=uuid_like(rng),
        email_domain=leader.email_domain,
        users=[f"{rng.choice(FIRST_NAMES)}{rng.randrange(100)}@{leader.email_domain}"],
        actor_ip=random_ip(leader, rng),
        device_fingerprint=hex_token(rng, 32),
        card_fingerprint=hex_token(rng, 24),
    )


def card_delay(rng: random.Random) -> int:
    """Seconds from sign-up to the card being added."""
    return rng.randrange(*CARD_DELAY_S)


def scheduled_card_time(plan: CustomerPlan) -> int | None:
    """When the plan's sign-up card is added, None if it adds none."""
    for item in plan.scheduled:
        if isinstance(item.body, dict) and item.body.get("kind") == "instrument.added":
            return item.ts_s
    return None


def onboard(
    plan: CustomerPlan,
    who: Identity,
    rng: random.Random,
    label: LabelSpec,
    card_s: int | None = None,
) -> None:
    """Schedule the account's sign-up (labelled), its card at ``card_s`` (if it has one), a
    subscription and one small machine."""
    _set_identity(plan, who)
    cc = plan.country.code
    plan.activity(
        plan.signup_s,
        "customer.signup",
        _signup_properties(plan, who),
        actor_ip=who.ip,
        resource_id=f"/customers/{plan.customer_id}",
        label=label,
    )
    if who.card is not None:
        if card_s is None:
            card_s = plan.signup_s + card_delay(rng)
        plan.schedule(
            card_s,
            "payment",
            {
                "kind": "instrument.added",
                "instrument": {"type": who.card_type, "fingerprint": who.card, "country": cc},
                "billing_country": cc,
            },
        )
    plan.activity(
        plan.signup_s + rng.randrange(8 * 60, 14 * 60),
        "subscription.create",
        {"subscription_id": plan.subscription_id, "offer": "MS-AZR-0003P"},
        region=plan.region,
    )
    add_vm(
        plan,
        plan.signup_s + rng.randrange(15 * 60, 60 * 60),
        "rg-1",
        "vm-1",
        rng.choice(("Standard_B1s", "Standard_D2s_v5")),
        "fixed",
        1.0,
        flat(),
        util_base=0.4,
    )


def reidentify(plan: CustomerPlan, who: Identity, label: LabelSpec) -> None:
    """Give an archetype customer's scheduled sign-up and card the identity ``who`` and label
    the sign-up."""
    _set_identity(plan, who)
    for item in plan.scheduled:
        body = item.body
        if not isinstance(body, dict):
            continue
        if body.get("operation") == "customer.signup":
            body["properties"] = _signup_properties(plan, who)
            body["actor_ip"] = who.ip
            item.label = label
        elif body.get("kind") == "instrument.added" and who.card is not None:
            body["instrument"] = dict(body["instrument"], type=who.card_type, fingerprint=who.card)


def _set_identity(plan: CustomerPlan, who: Identity) -> None:
    plan.email_domain = who.email_domain
    plan.device_fingerprint = who.device
    plan.actor_ip = who.ip
    if who.card is not None:
        plan.card_fingerprint = who.card


def _signup_properties(plan: CustomerPlan, who: Identity) -> dict[str, object]:
    cc = plan.country.code
    return {
        "country": cc,
        "email_domain": who.email_domain,
        "phone_verified": who.phone_verified,
        "device_fingerprint": who.device,
        "ip_country": cc,
    }


def signup_times(first_s: int, gaps_s: list[int], horizon_end_s: int) -> list[int]:
    """Sign-up times from ``first_s`` on, one gap apart, cut before the end of the stream."""
    times = [first_s]
    for gap in gaps_s:
        times.append(times[-1] + gap)
    return [t for t in times if t < horizon_end_s - LAST_SIGNUP_MARGIN_S] or [first_s]
