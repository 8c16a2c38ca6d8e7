"""Alerts by kind: how many incidents, how many messages, how many customers, how much money.

What a person wants first from a replay or an alerts file is one small table, a row per kind:

- ``alerts``: distinct incidents (alert ids);
- ``revisions``: alert messages, the first of each incident included (a growing incident is
  re-sent with the same id and a higher revision, so ``revisions - alerts`` is the amendments);
- ``customers``: distinct customers with an alert of that kind;
- ``money at risk``: for each of those customers, the ``money_at_risk.amount`` carried by its
  latest alert message of that kind, summed per currency. Money at risk is the customer's
  (unbilled usage and unpaid invoices, projected to the next invoice), not the alert's, so a
  customer counts once per kind however many alerts it has, and the TOTAL row counts each
  customer once, at its latest alert of any kind (the TOTAL is not the sum of the rows).

Fed wire-contract alert dicts (``Alert.to_dict()`` or lines of an alerts file) in the order they
were sent; "latest" means latest in that order. Pure and deterministic: the same alerts in the
same order give the same table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from streamwatch.text_table import table

TOTAL: Final = "TOTAL"
HEADER: Final = ("kind", "alerts", "revisions", "customers", "money at risk")


@dataclass(frozen=True, slots=True)
class KindRow:
    """One row of the table; ``money`` maps a currency to the amount at risk in it."""

    kind: str
    alerts: int
    revisions: int
    customers: int
    money: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, ``money`` named ``money_at_risk`` (currencies in order)."""
        doc = asdict(self)
        doc["money_at_risk"] = dict(sorted(doc.pop("money").items()))
        return doc


@dataclass(slots=True)
class _Kind:
    ids: set[str] = field(default_factory=set)
    revisions: int = 0
    money: dict[str, tuple[float, str] | None] = field(default_factory=dict)
    """customer -> (amount, currency) of its latest alert of the kind, None when unknown."""


class KindTally:
    """Counts alerts as they come (``add``), then gives the rows (``rows``, ``total``)."""

    def __init__(self) -> None:
        self._kinds: dict[str, _Kind] = {}
        self._all = _Kind()

    def add(self, alert_id: str, customer_id: str, kind: str, money_at_risk: object) -> None:
        """Count one alert message, given its fields (``money_at_risk`` as on the wire)."""
        money = _amount(money_at_risk)
        for tally in (self._kinds.setdefault(kind, _Kind()), self._all):
            tally.ids.add(alert_id)
            tally.revisions += 1
            tally.money[customer_id] = money

    def add_message(self, alert: Mapping[str, Any]) -> None:
        """Count one alert message as a dict. Raises KeyError for a dict without
        ``alert_id``, ``customer_id`` or ``kind`` (not an alert)."""
        self.add(
            str(alert["alert_id"]),
            str(alert["customer_id"]),
            str(alert["kind"]),
            alert.get("money_at_risk"),
        )

    def add_all(self, alerts: Iterable[Mapping[str, Any]]) -> KindTally:
        """Count each of ``alerts`` (dicts) in order; returns the tally."""
        for alert in alerts:
            self.add_message(alert)
        return self

    def rows(self) -> list[KindRow]:
        """One row per kind seen, most alerts first, then by kind."""
        rows = [_row(name, tally) for name, tally in self._kinds.items()]
        return sorted(rows, key=lambda r: (-r.alerts, r.kind))

    def total(self) -> KindRow:
        return _row(TOTAL, self._all)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"kinds": [row, ...], "total": row}``."""
        return {"kinds": [r.as_dict() for r in self.rows()], "total": self.total().as_dict()}

    def format(self) -> str:
        """The aligned text table (no trailing newline); a line saying so when empty."""
        rows = self.rows()
        if not rows:
            return "No alerts."
        return format_table([*rows, self.total()])


def format_table(rows: list[KindRow]) -> str:
    """Kind left-aligned, figures right-aligned; the last row (the total) below a rule."""
    cells = [
        [r.kind, str(r.alerts), str(r.revisions), str(r.customers), format_money(r.money)]
        for r in rows
    ]
    return "\n".join(table(HEADER, cells[:-1], cells[-1]))


def format_money(money: Mapping[str, float]) -> str:
    """``12,345.67 USD``, currencies joined by ``+``; ``-`` when no amount is known."""
    if not money:
        return "-"
    return " + ".join(f"{amount:,.2f} {currency}" for currency, amount in sorted(money.items()))


def _row(kind: str, tally: _Kind) -> KindRow:
    money: dict[str, float] = {}
    for known in tally.money.values():
        if known is not None:
            amount, currency = known
            money[currency] = round(money.get(currency, 0.0) + amount, 2)
    return KindRow(kind, len(tally.ids), tally.revisions, len(tally.money), money)


def _amount(money: object) -> tuple[float, str] | None:
    """(amount, currency) of an alert's ``money_at_risk``; None when absent or malformed."""
    if not isinstance(money, Mapping):
        return None
    amount, currency = money.get("amount"), money.get("currency")
    if isinstance(amount, int | float) and not isinstance(amount, bool) and currency:
        return float(amount), str(currency)
    return None
