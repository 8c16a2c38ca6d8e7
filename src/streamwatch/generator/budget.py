"""The budget rule, applied while events are emitted, so that labels are its exact ground truth.

Rule (the ``budget_threshold`` detector implements the same one):

* A ``budget.set`` activity with status ``succeeded`` sets the monthly budget (``amount`` in
  ``currency``) from its ``ts`` on; a later one replaces it.
* Money is exact: every ``cost`` and the ``amount`` count as whole micro-units,
  ``round(value * 1_000_000)`` (the generator writes costs with at most 6 decimals).
* Month = UTC calendar month of the event's ``ts``. Month spend = sum of the micro-units of the
  customer's usage events of that month whose ``currency`` is the budget's currency (usage
  before any ``budget.set`` counts too).
* Each of 50%, 80%, 100% is crossed at most once per month: at the first usage event *in the
  budget currency* after which ``spend * 100 >= amount * pct`` while a budget is in force, or
  at a ``budget.set`` that finds the month's spend already there. Several thresholds may cross
  at one event; they are reported in the order 50%, 80%, 100%.
* Forecast, at most once per month: at the first usage event in the budget currency with
  ``ts - month_start >= 3 days`` where ``spend * month_ms > amount * elapsed_ms`` (integers:
  the linear projection to month end exceeds the budget) and 100% has not been crossed in that
  month (including at this very event). Never at a ``budget.set``.

Usage events in another currency add to that currency's spend and are otherwise ignored.
"""

from __future__ import annotations

from typing import Final

from streamwatch.generator.timefmt import month_key, month_start, next_month_start

MICROS: Final = 1_000_000
THRESHOLDS: Final[tuple[tuple[str, int], ...]] = (("50%", 50), ("80%", 80), ("100%", 100))
FORECAST_AFTER_S: Final = 259_200
NOTHING: Final[tuple[str, ...]] = ()


def micros(value: float) -> int:
    """A money value in whole micro-units, as the rule counts it."""
    return round(value * MICROS)


class BudgetRule:
    """One customer's budget and current-month spend. Feed it events in emission order.

    ``on_usage`` and ``on_budget_set`` return the names of the lines crossed at that event
    ("50%", "80%", "100%", "forecast"); ``month`` is the ``YYYY-MM`` they belong to.
    """

    __slots__ = ("_crossed", "_end_s", "_spend", "_start_s", "amount", "currency", "month")

    def __init__(self) -> None:
        self.amount: int | None = None
        """The budget in micro-units."""
        self.currency: str | None = None
        self.month = ""
        self._start_s = 0
        self._end_s = 0
        self._spend: dict[str, int] = {}
        self._crossed: set[str] = set()

    @property
    def month_start_s(self) -> int:
        """Start of the current month (epoch seconds)."""
        return self._start_s

    def _roll(self, ts_s: int) -> None:
        if self._start_s <= ts_s < self._end_s:
            return
        self._start_s = month_start(ts_s)
        self._end_s = next_month_start(ts_s)
        self.month = month_key(ts_s)
        self._spend = {}
        self._crossed = set()

    def on_budget_set(self, ts_s: int, amount: float, currency: str) -> tuple[str, ...]:
        """A succeeded ``budget.set``: install it and report thresholds the month already passed."""
        self._roll(ts_s)
        self.amount = micros(amount)
        self.currency = currency
        return self._thresholds(self._spend.get(currency, 0))

    def on_usage(self, ts_s: int, cost_micros: int, currency: str) -> tuple[str, ...]:
        """A usage event costing ``cost_micros``: add it and report what it crossed."""
        if not self._start_s <= ts_s < self._end_s:
            self._roll(ts_s)
        spend = self._spend.get(currency, 0) + cost_micros
        self._spend[currency] = spend
        amount = self.amount
        if amount is None or currency != self.currency:
            return NOTHING
        crossed = self._thresholds(spend)
        done = self._crossed
        elapsed_s = ts_s - self._start_s
        if "forecast" in done or "100%" in done or elapsed_s < FORECAST_AFTER_S:
            return crossed
        if spend * (self._end_s - self._start_s) > amount * elapsed_s:
            done.add("forecast")
            return (*crossed, "forecast")
        return crossed

    def _thresholds(self, spend: int) -> tuple[str, ...]:
        amount = self.amount
        # 100% implies 50% and 80% (spend only grows within a month): nothing left to cross.
        if amount is None or "100%" in self._crossed:
            return NOTHING
        out: tuple[str, ...] = NOTHING
        for name, pct in THRESHOLDS:
            if name not in self._crossed and spend * 100 >= amount * pct:
                self._crossed.add(name)
                out = (*out, name)
        return out
