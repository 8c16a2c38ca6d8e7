"""Money at risk across customers billed in different currencies: never compared nor summed
across currencies as raw numbers.

Each customer's money at risk is in its own currency. A view across customers (who has the most
money at risk, how much in all) either converts every amount through dated rates the user gave
(``Reporting``: an ``adapters.rates.FxRates`` into the reporting currency, and the day whose
rates apply), and says which rates it used, or keeps the currencies apart: one list per
currency, each ordered within itself, and one total per currency.

``rank`` is pure and deterministic: given each currency's rows and the same ``Reporting``, it
returns the same ``Ranking``. ``load_reporting`` reads the rates file (the one function here
that does I/O).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

from streamwatch.adapters.rates import FxRates, parse_fx
from streamwatch.core.timeutil import MS_PER_DAY

NO_CURRENCY: Final = "XXX"
"""ISO 4217's "no currency": the money at risk of a customer with no money seen yet (always 0),
or of one whose money is not known at all. Such customers are listed apart, riskiest first."""


@dataclass(frozen=True, slots=True)
class Exposure:
    """One customer's money at risk, in its own currency, with its risk."""

    customer_id: str
    amount: float
    currency: str
    risk: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "money_at_risk": self.amount,
            "currency": self.currency,
            "risk": self.risk,
        }


@dataclass(frozen=True, slots=True)
class Reporting:
    """Convert money at risk into ``fx.base`` at the rates in force on the day ``at_ms`` falls
    in; ``source`` names the rates file in what is shown."""

    fx: FxRates
    at_ms: int
    source: str

    @property
    def currency(self) -> str:
        """The reporting currency (the rates file's base)."""
        return self.fx.base

    @property
    def day(self) -> str:
        """The day whose rates apply, ``YYYY-MM-DD`` (UTC)."""
        return day_text(self.at_ms)


@dataclass(frozen=True, slots=True)
class Converted:
    """A customer's money at risk with its amount in the reporting currency, and the rate used
    (one unit of ``row.currency`` is ``rate`` of the reporting currency), in force from
    ``rate_from_ms`` (None for the reporting currency itself, whose rate is 1)."""

    row: Exposure
    amount: float
    rate: float
    rate_from_ms: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.row.to_dict(),
            "converted": round(self.amount, 2),
            "rate": self.rate,
            "rate_from": None if self.rate_from_ms is None else day_text(self.rate_from_ms),
        }


@dataclass(frozen=True, slots=True)
class Ranking:
    """Customers by money at risk, as ``rank`` orders them.

    - With ``reporting``: ``converted``, one order in the reporting currency, most first;
      ``apart``, per currency, the customers whose currency has no rate in force on the day
      (not converted, each list ordered within itself).
    - Without: ``converted`` is empty and ``apart`` holds every currency, each ordered within
      itself: there is no order across currencies.

    ``unknown``: customers whose money at risk is not known yet (``NO_CURRENCY``), riskiest
    first. Currencies in ``apart`` are in alphabetical order.
    """

    reporting: Reporting | None
    converted: tuple[Converted, ...]
    apart: Mapping[str, tuple[Exposure, ...]]
    unknown: tuple[Exposure, ...]

    @property
    def rates_used(self) -> dict[str, tuple[float, int]]:
        """(rate, in force from ms) of each converted currency but the reporting one."""
        used = {}
        for c in self.converted:
            if c.rate_from_ms is not None:
                used[c.row.currency] = (c.rate, c.rate_from_ms)
        return dict(sorted(used.items()))

    @property
    def rows(self) -> tuple[Exposure, ...]:
        """Every customer listed, in the order shown: converted, then each currency kept apart,
        then those whose money at risk is not known yet."""
        apart = [r for rows in self.apart.values() for r in rows]
        return (*(c.row for c in self.converted), *apart, *self.unknown)

    def note(self) -> str:
        """What was done, in one sentence: which rates converted what, or that nothing was."""
        reporting = self.reporting
        if reporting is None:
            return (
                "no currency rates given: money at risk is ordered and totalled within each "
                "currency, never across currencies"
            )
        used = ", ".join(f"{cur} {rate:.4f}" for cur, (rate, _) in self.rates_used.items())
        text = (
            f"money at risk converted to {reporting.currency} at the rates in force on "
            f"{reporting.day} (file {reporting.source})" + (f": {used}" if used else "")
        )
        if self.apart:
            text += (
                f"; not converted, for want of a rate on or before {reporting.day}: "
                + ", ".join(self.apart)
                + " (listed apart)"
            )
        return text

    def totals(self) -> dict[str, float]:
        """Money at risk of the customers listed, added up: one total in the reporting currency
        for the converted, and one per currency for the rest (never summed together)."""
        out: dict[str, float] = {}
        if self.reporting is not None and self.converted:
            out[self.reporting.currency] = round(sum(c.amount for c in self.converted), 2)
        for currency, rows in self.apart.items():
            # A currency kept apart is never the reporting one (that one always converts).
            out[currency] = round(sum(r.amount for r in rows), 2)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``streamwatch risk --top N --json``, the console's ``/api/risk``)."""
        reporting = self.reporting
        return {
            "note": self.note(),
            "reporting": None
            if reporting is None
            else {
                "currency": reporting.currency,
                "day": reporting.day,
                "file": reporting.source,
                "rates": {
                    cur: {"rate": rate, "from": day_text(since)}
                    for cur, (rate, since) in self.rates_used.items()
                },
            },
            "converted": [c.to_dict() for c in self.converted],
            "by_currency": {cur: [r.to_dict() for r in rows] for cur, rows in self.apart.items()},
            "unknown": [r.to_dict() for r in self.unknown],
            "totals": self.totals(),
        }


def rank(groups: Mapping[str, Iterable[Exposure]], n: int, reporting: Reporting | None) -> Ranking:
    """The ``n`` customers with the most money at risk, from ``groups`` (currency -> its rows,
    in any order), as ``Ranking`` says; at most ``n`` per list. Ties: riskiest first, then by
    customer id. Deterministic."""
    apart: dict[str, tuple[Exposure, ...]] = {}
    converted: list[Converted] = []
    unknown: list[Exposure] = []
    for currency in sorted(groups):
        rows = list(groups[currency])
        if not rows:
            continue
        if currency == NO_CURRENCY:
            unknown.extend(rows)
            continue
        rate = None if reporting is None else _rate(reporting, currency)
        if rate is None:
            apart[currency] = tuple(_ordered(rows)[:n])
            continue
        converted.extend(Converted(r, r.amount * rate[0], rate[0], rate[1]) for r in rows)
    converted.sort(key=lambda c: (-c.amount, -c.row.risk, c.row.customer_id))
    unknown.sort(key=lambda r: (-r.risk, r.customer_id))
    return Ranking(reporting, tuple(converted[:n]), apart, tuple(unknown[:n]))


def _rate(reporting: Reporting, currency: str) -> tuple[float, int | None] | None:
    """(rate, in force from) of ``currency`` into the reporting currency on the day; None when
    the file has none on or before it."""
    if currency == reporting.currency:
        return 1.0, None
    try:
        return reporting.fx.rate(currency, reporting.at_ms)
    except KeyError:
        return None


def _ordered(rows: Sequence[Exposure]) -> list[Exposure]:
    """Most money first, then riskiest, then by id: one currency's rows."""
    return sorted(rows, key=lambda r: (-r.amount, -r.risk, r.customer_id))


def day_ms(text: str) -> int:
    """The start (UTC) of the day ``YYYY-MM-DD``; ValueError when ``text`` is not one."""
    day = date.fromisoformat(text.strip())
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def day_text(ms: int) -> str:
    """``YYYY-MM-DD`` of the UTC day ``ms`` falls in."""
    return datetime.fromtimestamp(ms // 1000, UTC).date().isoformat()


def today_ms(now_ms: int) -> int:
    """The start (UTC) of the day ``now_ms`` falls in."""
    return now_ms - now_ms % MS_PER_DAY


def load_reporting(path: Path, currency: str, at_ms: int) -> Reporting:
    """``Reporting`` from the rates file at ``path`` (CSV ``date,currency,rate``: one unit of
    ``currency`` is ``rate`` units of the reporting ``currency`` from ``date`` on), for the day
    ``at_ms`` falls in. Raises OSError when the file cannot be read and
    ``adapters.rates.TableError`` when a line is malformed; the message names it."""
    fx = parse_fx(path.read_text(encoding="utf-8"), currency.strip().upper())
    return Reporting(fx, today_ms(at_ms), path.name)


def read_reporting(path: Path, currency: str, at_ms: int) -> Reporting:
    """``load_reporting``, its errors worded for a command's message: OSError (the file cannot
    be read) or ValueError (a line is malformed), each naming the file."""
    try:
        return load_reporting(path, currency, at_ms)
    except OSError as exc:
        raise OSError(f"cannot read the rates file {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
