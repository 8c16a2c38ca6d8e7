"""Reference tables the user supplies, parsed from their text: unit prices, currency rates and
the customer map. Pure (the command reads the files and passes their text).

* Unit prices (``--rates``): CSV with ``meter_id,unit_price,currency[,unit]``, or a Partner
  Center Azure rate card (JSON: ``currency`` and ``meters[]`` with ``id``, ``rates["0"]``,
  ``unit``; the first tier's price is used).
* Currency rates (``FxRates``): CSV with ``date,currency,rate`` meaning one unit of
  ``currency`` is ``rate`` units of the table's base currency from ``date`` on; ``convert``
  uses the latest rate on or before the day asked, and says which.
* Customers (``--customers``): CSV with ``key,customer_id``, the key a subscription id, a
  tenant id or a payment-processor customer id.
"""

from __future__ import annotations

import bisect
import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from streamwatch.adapters.base import Rate, Refused, currency_of, to_number, when


class TableError(ValueError):
    """A reference table the user gave cannot be read; the message names the line. Fix the
    file and run again."""


def parse_rates(text: str) -> dict[str, Rate]:
    """Unit prices by meter id (lower-cased) from a rates CSV or a Partner Center rate card."""
    stripped = text.lstrip("\ufeff").strip()
    if stripped.startswith("{"):
        return _rate_card(stripped)
    out: dict[str, Rate] = {}
    for number, row in enumerate(csv.DictReader(io.StringIO(stripped)), 2):
        try:
            meter = (row.get("meter_id") or "").strip().lower()
            if not meter:
                raise Refused("missing_field", "meter_id is empty")
            out[meter] = Rate(
                price=to_number(row.get("unit_price"), "unit_price"),
                currency=currency_of(row.get("currency"), "currency"),
                unit=(row.get("unit") or "").strip() or None,
            )
        except Refused as exc:
            raise TableError(f"rates line {number}: {exc.message}") from None
    return out


def _rate_card(text: str) -> dict[str, Rate]:
    try:
        card = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise TableError(f"rate card is not JSON ({exc})") from None
    if not isinstance(card, dict) or not isinstance(card.get("meters"), list):
        raise TableError("a rate card needs 'currency' and a 'meters' array")
    try:
        currency = currency_of(card.get("currency"), "currency")
    except Refused as exc:
        raise TableError(f"rate card: {exc.message}") from None
    out: dict[str, Rate] = {}
    for meter in card["meters"]:
        if not isinstance(meter, dict) or not isinstance(meter.get("id"), str):
            continue
        tiers = meter.get("rates")
        first = tiers.get("0") if isinstance(tiers, dict) else None
        if isinstance(first, int | float) and not isinstance(first, bool):
            unit = meter.get("unit")
            out[meter["id"].lower()] = Rate(
                float(first), currency, unit if isinstance(unit, str) else None
            )
    return out


def parse_customers(text: str) -> dict[str, str]:
    """The customer map (keys lower-cased) from ``key,customer_id`` CSV (header optional)."""
    out: dict[str, str] = {}
    for number, row in enumerate(csv.reader(io.StringIO(text.lstrip("\ufeff"))), 1):
        if not row or not "".join(row).strip() or (number == 1 and row[0].strip() == "key"):
            continue
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            raise TableError(f"customers line {number}: expected key,customer_id")
        out[row[0].strip().lower()] = row[1].strip()
    return out


@dataclass(frozen=True, slots=True)
class FxRates:
    """Dated currency rates into one base currency (see the module docstring)."""

    base: str
    table: Mapping[str, tuple[tuple[int, float], ...]] = field(default_factory=dict)

    def rate(self, currency: str, at_ms: int) -> tuple[float, int]:
        """(rate, effective-from ms) of ``currency`` at ``at_ms``; KeyError when none applies."""
        if currency == self.base:
            return 1.0, at_ms
        dated = self.table.get(currency, ())
        index = bisect.bisect_right([d for d, _ in dated], at_ms) - 1
        if index < 0:
            raise KeyError(f"no {currency} rate on or before that day")
        return dated[index][1], dated[index][0]

    def convert(self, amount: float, currency: str, to: str, at_ms: int) -> float:
        """``amount`` in ``currency`` as ``to``, at the rates in force at ``at_ms``."""
        into_base = amount * self.rate(currency, at_ms)[0]
        return into_base / self.rate(to, at_ms)[0]


def parse_fx(text: str, base: str) -> FxRates:
    """``FxRates`` from ``date,currency,rate`` CSV (rates into ``base``)."""
    dated: dict[str, list[tuple[int, float]]] = {}
    for number, row in enumerate(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))), 2):
        try:
            day = when(row.get("date"), "date")
            currency = currency_of(row.get("currency"), "currency")
            rate = to_number(row.get("rate"), "rate")
        except Refused as exc:
            raise TableError(f"rates line {number}: {exc.message}") from None
        if rate <= 0:
            raise TableError(f"rates line {number}: a rate must be positive")
        dated.setdefault(currency, []).append((day, rate))
    table: dict[str, Any] = {k: tuple(sorted(v)) for k, v in dated.items()}
    return FxRates(base=base.upper(), table=table)
