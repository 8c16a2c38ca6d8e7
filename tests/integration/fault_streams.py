"""Input streams the worker's fault tests share."""

from __future__ import annotations

import random
from typing import Any

from streamwatch import testing as build


def budget_stream(
    prefix: str, customers: int, hours: int, notices: int, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Budgets for ``customers`` customers (``<prefix>-000`` on), then ``hours`` hours of
    interleaved usage (most cross 50/80/100% of the budget) and ``notices`` provider notices,
    some of which ask for suspension, so enforcement requests go out too."""
    rng = random.Random(seed)
    budgets, amounts = [], {}
    for n in range(customers):
        customer = f"{prefix}-{n:03d}"
        amounts[customer] = float(rng.choice([100, 200, 300, 400]))
        budgets.append(build.budget_set(amounts[customer], customer, ts="2026-10-01T00:00:00Z"))
    stream = []
    for hour in range(hours):
        for customer, amount in amounts.items():
            cost = round(amount * rng.uniform(0.02, 0.09), 2)
            ts = f"2026-10-{1 + hour // 24:02d}T{hour % 24:02d}:{rng.randrange(60):02d}:00Z"
            stream.append(build.usage(customer, ts=ts, cost=cost))
    for n in range(notices):
        customer = f"{prefix}-{rng.randrange(customers):03d}"
        notice = build.provider_notice(
            rng.choice(["aup.crypto_mining", "aup.spam", "aup.ddos"]),
            customer,
            ts="2026-10-01T12:00:00Z",
            notice_id=f"N-{n}",
            action_required=rng.choice(["suspend", "restrict", "none"]),
        )
        stream.insert(rng.randrange(len(stream)), notice)
    return budgets, stream
