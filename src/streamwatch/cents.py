"""Money in whole cents, so that a table and its total agree to the cent.

Rounding each line of a table to cents and rounding the total separately can disagree: three
lines of 0.333 show as 0.33 each (0.99) under a total of 1.00. ``split_cents`` rounds the exact
total once and hands its cents to the lines by the largest-remainder method, so the lines add up
to the total exactly and no line is off by more than a cent. Pure and deterministic: ties go to
the earlier line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal


def cents(value: float) -> int:
    """``value`` (an amount) rounded to whole cents, half to even, from its exact binary value."""
    return int((Decimal(value) * 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def split_cents(values: Sequence[float]) -> list[int]:
    """Whole cents for each of ``values`` that sum to the cents of their exact total.

    Each line gets its value's cents rounded toward zero, then the cents still missing go one
    each to the lines with the largest remainders. Values are amounts of one currency, >= 0.
    """
    if not values:
        return []
    exact = [Decimal(v) * 100 for v in values]
    total = cents(math.fsum(values))
    floors = [int(x) for x in exact]  # toward zero: values are not negative
    missing = total - sum(floors)
    order = sorted(range(len(values)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[: max(0, missing)]:
        floors[i] += 1
    return floors


def from_cents(amount: int) -> float:
    """Whole cents as the amount a table shows (two decimals)."""
    return amount / 100
