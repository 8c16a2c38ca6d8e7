"""Small helpers that turn numbers into the words of alert reasons."""

from __future__ import annotations

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def money(amount: float, currency: str) -> str:
    """``$1,234.56`` for known symbols, ``1,234.56 CHF`` otherwise."""
    symbol = _SYMBOLS.get(currency)
    if symbol:
        return f"{symbol}{amount:,.2f}"
    return f"{amount:,.2f} {currency}"


def percent(fraction: float) -> str:
    """``51%`` for 0.514."""
    return f"{fraction * 100:.0f}%"


def days(n: int) -> str:
    """``1 day``, ``3 days``."""
    return f"{n} day" if n == 1 else f"{n} days"
