"""Money projected ahead from an observed rate, over a stated horizon.

A rate seen for one hour says little about the month: one $60 hour carried to month end read
"$42,600 at risk". Every projection of money in alerts goes through ``project``: the rate is
what was observed (amount over the hours it took), and the horizon is never longer than what was
observed, at least ``MIN_HORIZON_H`` (a day: what a reseller can act within), and never past
the time it is projected to (the next invoice, the month's end). The alert carries the
method in words (``Projection.method``) beside the figure, so a reader can redo it.

Pure and deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from streamwatch.core.explain import money

MIN_HORIZON_H: Final = 24.0


@dataclass(frozen=True, slots=True)
class Projection:
    """``rate_per_h`` observed over ``observed_h`` hours, carried ``horizon_h`` hours ahead:
    ``amount`` more."""

    rate_per_h: float
    observed_h: float
    horizon_h: float

    @property
    def amount(self) -> float:
        """What the rate adds over the horizon."""
        return self.rate_per_h * self.horizon_h

    def method(self, currency: str) -> str:
        """The projection in words, e.g. "rate $2.50/h observed over 6 h, projected over 24 h"."""
        return (
            f"rate {money(self.rate_per_h, currency)}/h observed over {self.observed_h:g} h, "
            f"projected over {self.horizon_h:g} h"
        )

    def evidence(self, currency: str) -> dict[str, Any]:
        """The projection as alert fields."""
        return {
            "rate_per_h": round(self.rate_per_h, 2),
            "observed_h": round(self.observed_h, 2),
            "horizon_h": round(self.horizon_h, 2),
            "method": self.method(currency),
        }


def project(amount: float, observed_h: float, until_h: float) -> Projection:
    """The rate of ``amount`` over ``observed_h`` hours (at least one), carried ahead for as
    long as it was observed, at least ``MIN_HORIZON_H`` and at most ``until_h`` hours."""
    observed = max(observed_h, 1.0)
    horizon = max(0.0, min(until_h, max(MIN_HORIZON_H, observed)))
    return Projection(max(amount, 0.0) / observed, observed, horizon)
