"""What the CSV billing adapters (Azure cost details, FOCUS) share: row identity and cells.

A cost export has no row id. A row is identified by every cell that is not a measure (cost,
price, quantity, exchange rate): the same usage exported again, or the same file imported
twice, gives the same ``event_id``, while two rows that differ in anything but their numbers
are two events. Empty cells are left out, so a newer export schema that adds empty columns
does not change the ids of old rows. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from streamwatch.adapters.base import event_id

_MEASURE_ENDINGS: Final = (
    "cost",
    "costinusd",
    "costinbillingcurrency",
    "costinpricingcurrency",
    "price",
    "quantity",
    "rate",
    "ratedate",
    "pricingtobilling",
)


def is_measure(column: str) -> bool:
    """Whether a column holds a number of the row (cost, price, quantity, exchange rate) rather
    than part of what the row is about; ``CostCenter`` is not a measure, ``EffectiveCost`` is."""
    return column.strip().lower().endswith(_MEASURE_ENDINGS)


def row_id(prefix: str, row: Mapping[str, Any]) -> str:
    """The stable id of a billing row (see the module docstring)."""
    parts = sorted(
        f"{key.strip().lower()}={str(value).strip()}"
        for key, value in row.items()
        if key
        and not is_measure(key)
        and value is not None
        and str(value).strip() not in {"", "NULL"}
    )
    return event_id(prefix, *parts)


def cell(row: Mapping[str, Any], *names: str) -> str | None:
    """The first non-empty cell among ``names`` (column names differ across schema versions;
    compared without case), or None. ``NULL`` counts as empty."""
    lowered = {k.strip().lower(): v for k, v in row.items() if k}
    for name in names:
        value = lowered.get(name.lower())
        if isinstance(value, str) and value.strip() and value.strip().upper() != "NULL":
            return value.strip()
    return None
