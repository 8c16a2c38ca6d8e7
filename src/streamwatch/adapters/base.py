"""What every adapter shares: the refusal, the mapping context, and field readers that refuse.

An adapter's ``map_record(record, ctx)`` returns the contract events (wire-form dicts) that one
source record stands for, or raises ``Refused`` with a stable ``code`` saying why it stands for
none. It reads nothing but its arguments: no files, no clock, no network. Everything a record
does not carry itself (which customer a subscription belongs to, prices, the time zone of
naive timestamps) comes in the ``Context``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Final

from streamwatch.core.events import subscription_of
from streamwatch.core.ids import stable_id
from streamwatch.core.timeutil import MAX_TS_MS, MIN_TS_MS, format_ts

DAY_S: Final = 86_400
HOUR_S: Final = 3_600


class Refused(ValueError):
    """One source record that maps to no contract event, and why.

    ``code`` is stable and short (``missing_field``, ``interim_status``, ``inbound_only``...),
    so that a run's summary counts records by it; ``message`` says what was found. A refusal
    is not a crash: the record is counted and the run goes on.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def reason(self) -> str:
        """``code: message``, as the summary and the dead-letter topic show it."""
        return f"{self.code}: {self.message}"


@dataclass(frozen=True, slots=True)
class Rate:
    """A unit price for one meter, in ``currency`` per ``unit`` (the unit as the source says)."""

    price: float
    currency: str
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class Context:
    """What a mapping may know beyond the record. Immutable; build one per run.

    ``customers`` maps a subscription id, tenant id or payment-processor customer id (keys
    lower-cased) to the streamwatch customer id. Without an entry, a record's customer is its
    customer tenant where the record names one, else its subscription (see ``customer_for``).
    ``rates`` maps a meter id (lower-cased) to its ``Rate``, for sources that carry no price.
    ``tz`` is the zone of timestamps written without an offset (UTC unless told otherwise).
    ``subscription_id`` and ``customer_id`` stand in for sources whose records do not name them
    (Partner Center utilization records are fetched per customer and subscription).
    ``cost_column`` picks FOCUS's cost: ``BilledCost`` (invoiced) or ``EffectiveCost``
    (amortized). ``currency`` and ``convert`` (amount, from, to, at_ms -> amount; a dated
    rate table's) let a priced source be priced in the customer's currency.
    """

    customers: Mapping[str, str] = field(default_factory=dict)
    rates: Mapping[str, Rate] = field(default_factory=dict)
    tz: tzinfo = UTC
    subscription_id: str | None = None
    customer_id: str | None = None
    cost_column: str = "BilledCost"
    currency: str | None = None
    convert: Callable[[float, str, str, int], float] | None = None

    def customer_for(self, *keys: str | None, fallback: str | None = None) -> str:
        """The customer id for the first of ``keys`` the map knows, else ``fallback``, else the
        first non-empty key. Raises Refused(``no_customer``) when nothing names one."""
        for key in keys:
            if key:
                known = self.customers.get(key.lower())
                if known:
                    return known
        if self.customer_id:
            return self.customer_id
        if fallback:
            return fallback
        for key in keys:
            if key:
                return key.lower()
        raise Refused("no_customer", "the record names no customer, tenant or subscription")


def event_id(prefix: str, *parts: object) -> str:
    """A stable event id from the source record's own identity: the same record (re-delivered,
    re-exported, re-imported) always gets the same id, so the core processes it once."""
    return f"{prefix}-{stable_id(*(str(p) for p in parts))}"


# -- field readers -------------------------------------------------------------------------


def need(record: Mapping[str, Any], name: str) -> Any:
    """The value at ``name`` (dots walk into objects); Refused(``missing_field``) when absent,
    null or an empty string."""
    value = dig(record, name)
    if value is None or value == "":
        raise Refused("missing_field", f"field {name!r} is missing")
    return value


def dig(record: Mapping[str, Any], name: str) -> Any:
    """The value at a dotted path, or None where any step is missing or not an object."""
    value: Any = record
    for part in name.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def text(record: Mapping[str, Any], name: str) -> str:
    """A required string (``{"value": ...}`` objects, as the REST activity log writes them,
    are unwrapped)."""
    value = need(record, name)
    if isinstance(value, Mapping):
        value = value.get("value")
        if value is None or value == "":
            raise Refused("missing_field", f"field {name!r} has no value")
    if not isinstance(value, str):
        raise Refused("wrong_type", f"field {name!r} must be a string, not {_kind(value)}")
    return value


def opt_text(record: Mapping[str, Any], name: str) -> str | None:
    """An optional string, unwrapped like ``text``; None when absent, empty or not a string."""
    value = dig(record, name)
    if isinstance(value, Mapping):
        value = value.get("value")
    if isinstance(value, str) and value.strip() and value.strip().upper() != "NULL":
        return value.strip()
    return None


def number(record: Mapping[str, Any], name: str) -> float:
    """A required finite number; numeric strings (CSV cells, Partner Center's ``"10"``) too."""
    value = need(record, name)
    return to_number(value, name)


def opt_number(record: Mapping[str, Any], name: str) -> float | None:
    """An optional finite number; None when absent, empty or ``NULL``."""
    value = dig(record, name)
    if value is None or (isinstance(value, str) and value.strip().upper() in {"", "NULL"}):
        return None
    return to_number(value, name)


def to_number(value: Any, name: str) -> float:
    """``value`` as a finite float, or Refused(``wrong_type``/``invalid_value``)."""
    if isinstance(value, bool):
        raise Refused("wrong_type", f"field {name!r} must be a number, not a boolean")
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip().replace(",", ""))
        except ValueError:
            raise Refused("wrong_type", f"field {name!r} is {value[:40]!r}, not a number") from None
    else:
        raise Refused("wrong_type", f"field {name!r} must be a number, not {_kind(value)}")
    if not math.isfinite(result):
        raise Refused("invalid_value", f"field {name!r} is not a finite number")
    return result


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", bool: "a boolean", str: "a string"}.get(
        type(value), type(value).__name__
    )


# -- time ----------------------------------------------------------------------------------

_FRACTION = re.compile(r"(\.\d{1,6})\d*")
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def when(value: Any, name: str, tz: tzinfo = UTC) -> int:
    """A source timestamp as epoch milliseconds (UTC).

    Accepts RFC 3339 / ISO 8601 with or without an offset (without one, it is in ``tz``), with
    any number of fractional digits (Azure writes seven), dates alone (midnight), US dates
    ``MM/DD/YYYY`` as Azure cost exports write them, and epoch seconds or milliseconds as
    numbers. Raises Refused(``invalid_timestamp``) for anything else and for instants outside
    the contract's range (Partner Center writes ``9999-12-31`` for "never").
    """
    if isinstance(value, bool) or value is None:
        raise Refused("invalid_timestamp", f"field {name!r} is not a timestamp")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise Refused("invalid_timestamp", f"field {name!r} is not a finite number")
        ms = int(value) if abs(value) >= 1e11 else int(value * 1000)
        return _in_range(ms, name, value)
    if not isinstance(value, str):
        raise Refused("invalid_timestamp", f"field {name!r} must be a string, not {_kind(value)}")
    raw = value.strip()
    dt: datetime | None = None
    us = _US_DATE.fullmatch(raw)
    if us:
        month, day, year, hour, minute, second = us.groups()
        try:
            dt = datetime(
                int(year),
                int(month),
                int(day),
                int(hour or 0),
                int(minute or 0),
                int(second or 0),
                tzinfo=tz,
            )
        except ValueError:
            dt = None
    else:
        cleaned = _FRACTION.sub(lambda m: m.group(1), raw.replace("z", "Z"))
        try:
            dt = datetime.fromisoformat(cleaned)
        except ValueError:
            dt = None
    if dt is None:
        raise Refused("invalid_timestamp", f"field {name!r} is {raw[:40]!r}, not a timestamp")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    try:
        ms = (dt - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    except OverflowError:
        raise Refused("invalid_timestamp", f"field {name!r} is out of range") from None
    return _in_range(ms, name, raw)


def _in_range(ms: int, name: str, shown: object) -> int:
    if not MIN_TS_MS <= ms <= MAX_TS_MS:
        raise Refused("invalid_timestamp", f"field {name!r} ({shown}) is out of range")
    return ms


def ts(ms: int) -> str:
    """Epoch milliseconds as the contract's RFC 3339 UTC string."""
    return format_ts(ms)


# -- Azure vocabulary ----------------------------------------------------------------------


def region_of(value: str | None) -> str:
    """An Azure location in one spelling: ``East US 2``, ``EASTUS2`` and ``eastus2`` are all
    ``eastus2``; empty for none."""
    if not value:
        return ""
    return re.sub(r"[\s_-]", "", value).lower()


def resource_of(value: str | None) -> str:
    """A resource id in one spelling (Azure ids are case-insensitive; sources disagree)."""
    return value.strip().lower() if value else ""


def subscription_in(resource_id: str | None) -> str | None:
    """The subscription id inside a resource id, lower-cased."""
    if not resource_id:
        return None
    found = subscription_of(resource_id)
    return found.lower() if found else None


_METER_WORDS: Final = (
    ("gpu", ("gpu", " nc", " nd", " nv", "ncas", "ndas", "nvads", "a100", "h100", "t4 ")),
    (
        "egress",
        ("bandwidth", "data transfer out", "egress", "internet egress", "networking egress"),
    ),
    ("storage", ("storage", "disk", "blob", "backup", "files", "queue", "table", "snapshot")),
    (
        "compute",
        ("virtual machine", "compute", "container", "kubernetes", "functions", "app service"),
    ),
    ("license", ("license", "licence", "software", "marketplace", "windows server", "sql server")),
)


def meter_of(*descriptions: str | None) -> str:
    """The contract meter for a source's meter category, sub-category and name.

    GPU machines first (an N-series VM is ``gpu``, not ``compute``), then outbound data
    (``egress``), storage, compute and licences; anything else is ``other``.
    """
    joined = " " + " ".join(d for d in descriptions if d).lower() + " "
    for meter, words in _METER_WORDS:
        if any(word in joined for word in words):
            return meter
    return "other"


def currency_of(value: Any, name: str) -> str:
    """An ISO 4217 code, upper-cased; Refused(``invalid_value``) for anything else."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value.strip()):
        raise Refused("invalid_value", f"field {name!r} is {value!r}, not an ISO 4217 currency")
    return value.strip().upper()


def ms_of(seconds: float) -> int:
    """Seconds as whole milliseconds."""
    return round(seconds * 1000)


# -- usage and credits ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Charge:
    """One priced line of a bill, as the usage adapters read it, before it becomes an event."""

    event_id: str
    customer_id: str
    ts_ms: int
    subscription_id: str
    resource_id: str
    meter: str
    sku: str
    region: str
    quantity: float
    unit: str
    cost: float
    currency: str
    interval_s: int
    invoice_id: str | None = None
    vcpus: int | None = None
    gpus: int | None = None


def charge_event(line: Charge) -> dict[str, Any]:
    """The contract event for one bill line: ``usage`` for consumption, a ``credit`` payment
    for money taken off the bill.

    A negative cost (a credit, refund, correction or negative adjustment) is not consumption:
    it becomes a ``payment`` of kind ``credit`` whose ``amount`` is the size of the credit, so
    that spend is never summed with it. A non-negative cost with a negative quantity cannot be
    told apart from a mistake and is refused (``negative_quantity``).
    """
    cost = line.cost + 0.0  # -0.0 becomes 0.0
    if cost < 0:
        event: dict[str, Any] = {
            "event_id": line.event_id,
            "type": "payment",
            "customer_id": line.customer_id,
            "ts": ts(line.ts_ms),
            "kind": "credit",
            "amount": -cost,
            "currency": line.currency,
        }
        if line.invoice_id:
            event["invoice_id"] = line.invoice_id
        return event
    if line.quantity < 0:
        raise Refused(
            "negative_quantity",
            f"quantity {line.quantity:g} is negative but cost {cost:g} is not: not a credit",
        )
    event = {
        "event_id": line.event_id,
        "type": "usage",
        "customer_id": line.customer_id,
        "ts": ts(line.ts_ms),
        "subscription_id": line.subscription_id,
        "resource_id": line.resource_id,
        "meter": line.meter,
        "sku": line.sku,
        "region": line.region,
        "quantity": line.quantity + 0.0,
        "unit": line.unit,
        "cost": cost,
        "currency": line.currency,
        "interval_s": line.interval_s,
    }
    if line.vcpus is not None:
        event["vcpus"] = line.vcpus
    if line.gpus is not None:
        event["gpus"] = line.gpus
    return event


def interval_of(start_ms: int, end_ms: int | None, default_s: int = DAY_S) -> int:
    """The metered interval in whole seconds: ``end - start`` when the source gives a positive
    one, else ``default_s`` (billing rows are daily)."""
    if end_ms is None or end_ms <= start_ms:
        return default_s
    return max(1, (end_ms - start_ms) // 1000)
