"""The one codec of the wire contract: raw bytes in, validated events out; outputs to JSON bytes.

``decode_event`` either returns an event or raises ``DecodeError`` naming the field and the
problem; it never lets another exception escape for any input bytes. Unknown keys are ignored
and unknown activity operations accepted (forward compatibility).

Every number the core does arithmetic on is bounded (``MAX_MONEY`` and the other limits below,
``PROPERTY_LIMITS`` for the properties of known operations) and timestamps lie within
``timeutil.TS_RANGE``, so that whatever one accepted event carries, the core can convert it
(to whole micro-units, to dates), compute with it and keep the result in a JSON snapshot. A
number beyond its limit is ``out_of_range``, naming the field and the limit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import fields
from math import copysign
from typing import Any, Final, TypeVar

import orjson

from streamwatch.core import feedback
from streamwatch.core.events import (
    ACTIVITY_STATUSES,
    EVENT_TYPES,
    INSTRUMENT_TYPES,
    METERS,
    PAYMENT_KINDS,
    ActivityEvent,
    Alert,
    EnforcementRequest,
    Event,
    Instrument,
    PaymentEvent,
    UsageEvent,
)
from streamwatch.core.timeutil import MS_PER_DAY, TimestampError, parse_ts_ms

T = TypeVar("T")

MAX_EVENT_BYTES: Final = 1024 * 1024
"""Larger messages are dead-lettered unparsed: no contract event comes near this size."""

MAX_DEPTH: Final = 16
"""Deepest nesting accepted inside ``properties``; deeper documents are dead-lettered."""

MAX_ID_CHARS: Final = 256
_CURRENCY = re.compile(r"[A-Z]{3}")

MAX_MONEY: Final = 1_000_000_000
"""Largest usage ``cost``, payment ``amount`` and ``budget.set`` amount, in currency units.

A billion in one record is far beyond any real charge, while in the micro-units the detectors
keep money in (``round(x * 1_000_000)``, at most 1e15) it stays exact in a float and a month of
hourly records at the cap (744 x 1e15) fills under a tenth of the int64 range of a snapshot."""
MAX_QUANTITY: Final = 10**12
"""Largest usage ``quantity``: a trillion hours, GB or calls in one record; sums of it stay far
from overflowing a float."""
MAX_COUNT: Final = 1_000_000
"""Largest ``vcpus`` and ``gpus`` of a usage event: far beyond any one machine."""
MAX_INTERVAL_S: Final = 366 * MS_PER_DAY // 1000
"""Longest metered ``interval_s``: a leap year."""
MAX_BYTES: Final = 10**15
"""Largest ``network.flow`` bytes_out: a petabyte in one flow summary."""
MAX_FACTOR: Final = 1000
"""Largest ``feedback.expect`` factor (planned growth)."""
MAX_PORT: Final = 65_535
MAX_WHOLE: Final = 2**53
"""Largest count or number of seconds in a ``ring.link``: still exact as a float."""

PROPERTY_LIMITS: Final[dict[str, dict[str, tuple[int | None, int]]]] = {
    "budget.set": {"amount": (None, MAX_MONEY)},
    "network.flow": {"bytes_out": (0, MAX_BYTES), "dst_port": (0, MAX_PORT)},
    "feedback.expect": {"factor": (None, MAX_FACTOR)},
    "ring.link": dict.fromkeys(
        ("count", "dropped", "burst", "burst_window_s", "span_s"), (None, MAX_WHOLE)
    ),
}
"""Numeric properties of known operations that a detector computes with, as (floor, ceiling).

A JSON number above its ceiling or below its floor (and, for ``dst_port``, a string of digits
outside it or not in ASCII) is ``out_of_range``. Without a floor, a small or negative number
is kept: the detector ignores it (a budget of 0, a factor below 1, a negative ring count). A
value of another type is kept too, and ignored by the detectors. ``vm.create`` counts are not
listed: the mining detector clamps them itself. Other properties, and all properties of other
operations, are kept as they are: no detector does arithmetic on them."""


class DecodeError(ValueError):
    """Why an input message belongs on the dead-letter topic: mostly, it breaks the contract.

    ``code`` is a stable machine-readable category. The codec raises ``invalid_json``,
    ``invalid_utf8``, ``not_an_object``, ``too_large``, ``too_deep``, ``unknown_type``,
    ``missing_field``, ``wrong_type``, ``invalid_value``, ``invalid_timestamp`` and
    ``out_of_range`` (a number beyond the limit the contract sets for its field, so that the core
    can compute with it). The dead-letter topic also carries ``processing_error`` (the core
    raised on this one event; see ``deadletter.processing_error``), ``future_event`` (an event
    more than the allowed skew ahead of its partition's event time, held aside), from the
    suspension worker, ``invalid_signature``, from ``streamwatch ingest``, ``unmappable`` (a
    raw record of a real-world format its adapter could not map), and from ``streamwatch
    notify``, ``undeliverable`` (an alert a sink would not take). ``field`` names the offending
    field where there is one. Operators fix the producer named in the dead-letter record.
    """

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message

    @property
    def reason(self) -> str:
        """``code: message``, as written to dead-letter records and logs."""
        return f"{self.code}: {self.message}"


def decode_event(raw: bytes) -> Event:
    """Decode and validate one input message. Deterministic; raises DecodeError only."""
    return event_from_dict(parse_object(raw))


Envelope = tuple[str, str, str, int]
"""``(type, event_id, customer_id, ts_ms)`` of a message whose envelope is valid."""


def envelope(doc: dict[str, Any]) -> Envelope | None:
    """The envelope of a parsed message if it is valid (the checks ``event_from_dict`` makes
    first), else None. Deterministic, never raises: what routes a message (its customer, its
    event time) without validating the rest, so that every reader of a stream routes it alike
    and only the one that owns its customer pays for the rest."""
    get = doc.get
    kind, event_id, customer_id, ts = get("type"), get("event_id"), get("customer_id"), get("ts")
    if not (
        type(kind) is str
        and type(event_id) is str
        and type(customer_id) is str
        and type(ts) is str
        and kind in EVENT_TYPES
        and 0 < len(event_id) <= MAX_ID_CHARS
        and 0 < len(customer_id) <= MAX_ID_CHARS
    ):
        return None
    ts_ms = _TS_CACHE.get(ts)
    if ts_ms is None:
        try:
            ts_ms = _ts_ms(ts)
        except DecodeError:
            return None
    return kind, event_id, customer_id, ts_ms


def parse_object(raw: bytes) -> dict[str, Any]:
    """The JSON object in ``raw``; raises DecodeError (``too_large``, ``invalid_utf8``,
    ``too_deep``, ``invalid_json``, ``not_an_object``) only."""
    if len(raw) > MAX_EVENT_BYTES:
        raise DecodeError(
            "too_large", f"message is {len(raw)} bytes, the limit is {MAX_EVENT_BYTES}"
        )
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        text = str(exc)
        if "utf-8" in text.lower() or "surrogate" in text.lower():
            raise DecodeError("invalid_utf8", f"message is not valid UTF-8 ({text})") from exc
        if "recursion" in text.lower() or "depth" in text.lower():
            raise DecodeError("too_deep", f"document nests too deeply ({text})") from exc
        raise DecodeError("invalid_json", f"message is not valid JSON ({text})") from exc
    if not isinstance(doc, dict):
        raise DecodeError("not_an_object", f"message is a JSON {_json_type(doc)}, not an object")
    return doc


def event_from_dict(doc: dict[str, Any]) -> Event:
    """Validate a decoded JSON object into an event; raises DecodeError naming the field."""
    get = doc.get
    kind, event_id, customer_id, ts = get("type"), get("event_id"), get("customer_id"), get("ts")
    if not (
        type(kind) is str
        and type(event_id) is str
        and type(customer_id) is str
        and type(ts) is str
        and kind in EVENT_TYPES
        and 0 < len(event_id) <= MAX_ID_CHARS
        and 0 < len(customer_id) <= MAX_ID_CHARS
    ):
        kind, event_id, customer_id, ts = _envelope(doc)
    ts_ms = _TS_CACHE.get(ts)
    if ts_ms is None:
        ts_ms = _ts_ms(ts)
    return _event(doc, kind, event_id, customer_id, ts, ts_ms)


def event_from_envelope(doc: dict[str, Any], env: Envelope) -> Event:
    """``event_from_dict`` of a message whose ``envelope`` is ``env`` (not checked again)."""
    return _event(doc, env[0], env[1], env[2], doc["ts"], env[3])


def _event(
    doc: dict[str, Any], kind: str, event_id: str, customer_id: str, ts: str, ts_ms: int
) -> Event:
    if kind == "usage":
        return _usage_fast(doc, event_id, customer_id, ts, ts_ms) or _usage(
            doc, event_id, customer_id, ts, ts_ms
        )
    if kind == "activity":
        return _activity(doc, event_id, customer_id, ts, ts_ms)
    return _payment(doc, event_id, customer_id, ts, ts_ms)


def _envelope(doc: dict[str, Any]) -> tuple[str, str, str, str]:
    """The envelope fields, checked one by one so that the error names the first bad one."""
    kind = _str(doc, "type")
    if kind not in EVENT_TYPES:
        raise DecodeError(
            "unknown_type",
            f"type {kind!r} is not one of usage, activity, payment",
            "type",
        )
    return kind, _id(doc, "event_id"), _id(doc, "customer_id"), _str(doc, "ts")


def _ts_ms(ts: str) -> int:
    """``ts`` in epoch milliseconds, memoised; raises DecodeError (``invalid_timestamp``)."""
    try:
        ts_ms = parse_ts_ms(ts)
    except TimestampError as exc:
        raise DecodeError("invalid_timestamp", str(exc), "ts") from exc
    if len(_TS_CACHE) >= _TS_CACHE_SIZE:
        _TS_CACHE.clear()
    _TS_CACHE[ts] = ts_ms
    return ts_ms


_TS_CACHE: dict[str, int] = {}
"""Parsed timestamps: events of one interval share their ``ts``. A pure memo, cleared when full."""
_TS_CACHE_SIZE: Final = 4096


def _usage_fast(
    doc: dict[str, Any], event_id: str, customer_id: str, ts: str, ts_ms: int
) -> UsageEvent | None:
    """The well-formed usage event in one pass, or None to let ``_usage`` name the problem.

    Usage is most of the traffic, so the common case must be cheap; every check here is one
    that ``_usage`` also makes, and anything unusual falls through to it.
    """
    get = doc.get
    subscription_id, resource_id, meter = get("subscription_id"), get("resource_id"), get("meter")
    sku, region, unit, currency = get("sku"), get("region"), get("unit"), get("currency")
    quantity, cost, interval = get("quantity"), get("cost"), get("interval_s", 3600)
    vcpus, gpus, cpu_util, gpu_util = get("vcpus"), get("gpus"), get("cpu_util"), get("gpu_util")
    if not (
        type(subscription_id) is str
        and type(resource_id) is str
        and type(meter) is str
        and meter in METERS
        and type(sku) is str
        and type(region) is str
        and type(unit) is str
        and type(currency) is str
        and currency in _CURRENCIES
        and (type(quantity) is float or type(quantity) is int)
        and 0 <= quantity <= MAX_QUANTITY
        and (quantity or copysign(1.0, quantity) > 0)  # not -0.0
        and (type(cost) is float or type(cost) is int)
        and 0 <= cost <= MAX_MONEY
        and (cost or copysign(1.0, cost) > 0)
        and type(interval) is int
        and 0 < interval <= MAX_INTERVAL_S
        and (vcpus is None or (type(vcpus) is int and 0 <= vcpus <= MAX_COUNT))
        and (gpus is None or (type(gpus) is int and 0 <= gpus <= MAX_COUNT))
        and (cpu_util is None or (type(cpu_util) is float and 0.0 <= cpu_util <= 1.0))
        and (gpu_util is None or (type(gpu_util) is float and 0.0 <= gpu_util <= 1.0))
    ):
        return None
    return _new_usage(
        event_id,
        customer_id,
        ts,
        ts_ms,
        subscription_id,
        resource_id,
        meter,
        sku,
        region,
        float(quantity),
        unit,
        float(cost),
        currency,
        interval,
        vcpus,
        gpus,
        cpu_util,
        gpu_util,
    )


def _constructor(cls: type[T]) -> Callable[..., T]:
    """A function building ``cls`` (a frozen, slotted dataclass) from all its fields in order,
    the same object as ``cls(*values)`` at about half the cost: it sets the slots through their
    descriptors, where the generated ``__init__`` goes through ``object.__setattr__`` by name
    for each field. For the hot path of the codec only; ``__post_init__`` is not run (the
    classes it serves have none)."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has a __post_init__")
    scope: dict[str, Any] = {"new": object.__new__, "cls": cls}
    for n, name in enumerate(names):
        scope[f"set{n}"] = getattr(cls, name).__set__
    params = ", ".join(f"v{n}" for n in range(len(names)))
    sets = "".join(f"    set{n}(o, v{n})\n" for n in range(len(names)))
    exec(f"def build({params}):\n    o = new(cls)\n{sets}    return o\n", scope)  # noqa: S102
    build: Callable[..., T] = scope["build"]
    return build


_new_usage = _constructor(UsageEvent)


_CURRENCIES: set[str] = set()
"""Currency codes already seen to be well-formed (a pure memo of ``_CURRENCY``)."""


def _usage(doc: dict[str, Any], event_id: str, customer_id: str, ts: str, ts_ms: int) -> Event:
    meter = _str(doc, "meter")
    if meter not in METERS:
        raise DecodeError(
            "invalid_value", f"meter {meter!r} is not one of {sorted(METERS)}", "meter"
        )
    interval = doc.get("interval_s", 3600)
    if isinstance(interval, bool) or not isinstance(interval, int) or interval <= 0:
        raise DecodeError(
            "invalid_value",
            f"interval_s must be a positive integer, not {interval!r}",
            "interval_s",
        )
    if interval > MAX_INTERVAL_S:
        raise _out_of_range("interval_s", interval, 1, MAX_INTERVAL_S)
    return UsageEvent(
        event_id=event_id,
        customer_id=customer_id,
        ts=ts,
        ts_ms=ts_ms,
        subscription_id=_str(doc, "subscription_id"),
        resource_id=_str(doc, "resource_id"),
        meter=meter,
        sku=_str(doc, "sku"),
        region=_str(doc, "region"),
        quantity=_amount(doc, "quantity", MAX_QUANTITY),
        unit=_str(doc, "unit"),
        cost=_amount(doc, "cost", MAX_MONEY),
        currency=_currency(doc, "currency"),
        interval_s=interval,
        vcpus=_opt_count(doc, "vcpus"),
        gpus=_opt_count(doc, "gpus"),
        cpu_util=_opt_fraction(doc, "cpu_util"),
        gpu_util=_opt_fraction(doc, "gpu_util"),
    )


def _activity(doc: dict[str, Any], event_id: str, customer_id: str, ts: str, ts_ms: int) -> Event:
    status = _str(doc, "status")
    if status not in ACTIVITY_STATUSES:
        raise DecodeError(
            "invalid_value", f"status {status!r} is not 'succeeded' or 'failed'", "status"
        )
    properties = doc.get("properties", {})
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise DecodeError(
            "wrong_type",
            f"properties must be an object, not a JSON {_json_type(properties)}",
            "properties",
        )
    if _depth(properties, 1) > MAX_DEPTH:
        raise DecodeError(
            "too_deep", f"properties nest deeper than {MAX_DEPTH} levels", "properties"
        )
    operation = _str(doc, "operation")
    limits = PROPERTY_LIMITS.get(operation)
    if limits is not None and properties:
        _check_properties(operation, properties, limits)
    if operation in feedback.OPERATIONS:
        try:
            feedback.check(operation, properties, ts_ms)
        except feedback.FeedbackError as exc:
            raise DecodeError("invalid_value", f"{operation}: {exc}", exc.field) from exc
    return ActivityEvent(
        event_id=event_id,
        customer_id=customer_id,
        ts=ts,
        ts_ms=ts_ms,
        operation=operation,
        actor=_str(doc, "actor"),
        status=status,
        resource_id=_opt_str(doc, "resource_id") or "",
        actor_ip=_opt_str(doc, "actor_ip"),
        region=_opt_str(doc, "region"),
        properties=properties,
    )


def _payment(doc: dict[str, Any], event_id: str, customer_id: str, ts: str, ts_ms: int) -> Event:
    kind = _str(doc, "kind")
    if kind not in PAYMENT_KINDS:
        raise DecodeError("invalid_value", f"kind {kind!r} is not a payment kind", "kind")
    amount = (
        _amount(doc, "amount", MAX_MONEY)
        if kind != "instrument.added"
        else _opt_amount(doc, "amount", MAX_MONEY)
    )
    currency = _currency(doc, "currency") if amount is not None else _opt_str(doc, "currency")
    invoice_id = _opt_str(doc, "invoice_id")
    due_date = _opt_str(doc, "due_date")
    if kind == "invoice.issued":
        if invoice_id is None:
            raise DecodeError(
                "missing_field", "field 'invoice_id' is required for invoice.issued", "invoice_id"
            )
        if due_date is None:
            raise DecodeError(
                "missing_field", "field 'due_date' is required for invoice.issued", "due_date"
            )
        try:
            parse_ts_ms(due_date if "T" in due_date else due_date + "T00:00:00Z")
        except TimestampError as exc:
            raise DecodeError("invalid_timestamp", str(exc), "due_date") from exc
    instrument = _instrument(doc.get("instrument"))
    if kind == "instrument.added" and instrument is None:
        raise DecodeError(
            "missing_field", "field 'instrument' is required for instrument.added", "instrument"
        )
    return PaymentEvent(
        event_id=event_id,
        customer_id=customer_id,
        ts=ts,
        ts_ms=ts_ms,
        kind=kind,
        invoice_id=invoice_id,
        amount=amount,
        currency=currency,
        due_date=due_date,
        instrument=instrument,
        billing_country=_opt_str(doc, "billing_country"),
        failure_reason=_opt_str(doc, "failure_reason"),
    )


def _instrument(value: Any) -> Instrument | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise DecodeError(
            "wrong_type",
            f"instrument must be an object, not a JSON {_json_type(value)}",
            "instrument",
        )
    kind = _str(value, "type", "instrument.")
    if kind not in INSTRUMENT_TYPES:
        raise DecodeError(
            "invalid_value",
            f"instrument.type {kind!r} is not one of {sorted(INSTRUMENT_TYPES)}",
            "instrument.type",
        )
    return Instrument(
        type=kind,
        fingerprint=_opt_str(value, "fingerprint", "instrument."),
        country=_opt_str(value, "country", "instrument."),
    )


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return "object"


def _depth(value: Any, level: int) -> int:
    """How deep containers nest, counting ``value`` itself at ``level`` (stops past the limit)."""
    if not isinstance(value, dict | list):
        return level - 1
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level - 1


def _str(doc: dict[str, Any], name: str, prefix: str = "") -> str:
    value = doc.get(name)
    if value is None:
        raise DecodeError("missing_field", f"field {prefix}{name!r} is required", prefix + name)
    if not isinstance(value, str):
        raise DecodeError(
            "wrong_type",
            f"field {prefix}{name!r} must be a string, not a JSON {_json_type(value)}",
            prefix + name,
        )
    return value


def _id(doc: dict[str, Any], name: str) -> str:
    value = _str(doc, name)
    if not value or len(value) > MAX_ID_CHARS:
        raise DecodeError(
            "invalid_value", f"field {name!r} must be 1 to {MAX_ID_CHARS} characters", name
        )
    return value


def _opt_str(doc: dict[str, Any], name: str, prefix: str = "") -> str | None:
    value = doc.get(name)
    if value is None or isinstance(value, str):
        return value
    raise DecodeError(
        "wrong_type",
        f"field {prefix}{name!r} must be a string, not a JSON {_json_type(value)}",
        prefix + name,
    )


def _number(doc: dict[str, Any], name: str, limit: int | None = None) -> float | None:
    """The field as a finite float; with ``limit``, out_of_range above it."""
    value = doc.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError(
            "wrong_type", f"field {name!r} must be a number, not a JSON {_json_type(value)}", name
        )
    try:
        number = float(value)
    except OverflowError:  # an int beyond any float (from a dict, not from JSON)
        number = math.inf if value > 0 else -math.inf
    if limit is not None and number > limit:
        raise _out_of_range(name, value, 0, limit)
    if not math.isfinite(number):
        raise DecodeError("invalid_value", f"field {name!r} must be finite", name)
    return number


def _amount(doc: dict[str, Any], name: str, limit: int) -> float:
    number = _opt_amount(doc, name, limit)
    if number is None:
        raise DecodeError("missing_field", f"field {name!r} is required", name)
    return number


def _opt_amount(doc: dict[str, Any], name: str, limit: int) -> float | None:
    """A number from 0 to ``limit``; negative zero is refused with the negative numbers."""
    number = _number(doc, name, limit)
    if number is not None and (number < 0 or copysign(1.0, number) < 0):
        raise DecodeError("invalid_value", f"field {name!r} must be >= 0, not {number!r}", name)
    return number


def _out_of_range(
    name: str, value: Any, low: int | None, high: int, operation: str | None = None
) -> DecodeError:
    """``out_of_range`` for field ``name``: ``value`` is outside ``low`` (if any) to ``high``."""
    if isinstance(value, str):
        shown = repr(value[:40]) + ("..." if len(value) > 40 else "")
    elif isinstance(value, int) and value.bit_length() > 64:
        shown = f"a {value.bit_length()}-bit integer"  # repr may be thousands of digits
    else:
        shown = repr(value)
    of = f" of {operation}" if operation else ""
    if low is None:
        limit = f"above the contract's limit of {high:,}"
    else:
        limit = f"outside the contract's range {low:,} to {high:,}"
    return DecodeError("out_of_range", f"field {name!r}{of} is {shown}, {limit}", name)


def _check_properties(
    operation: str, properties: dict[str, Any], limits: dict[str, tuple[int | None, int]]
) -> None:
    """Raise out_of_range for a numeric property of ``operation`` outside its range."""
    for name, (low, high) in limits.items():
        value = properties.get(name)
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            if value <= high and (low is None or low <= value):  # False for NaN
                continue
        elif not (isinstance(value, str) and value.isdigit() and name == "dst_port"):
            continue  # another type: the detectors ignore it
        elif _small_digits(value, high):
            continue
        raise _out_of_range(f"properties.{name}", value, low, high, operation)


def _small_digits(text: str, high: int) -> bool:
    """Whether ``text`` (all digits) is an ASCII decimal number of at most ``high``: what a
    detector may turn into an int (other digits, or thousands of them, make ``int()`` raise)."""
    return text.isascii() and len(text.lstrip("0")) <= len(str(high)) and int(text) <= high


def _opt_fraction(doc: dict[str, Any], name: str) -> float | None:
    number = _number(doc, name)
    if number is not None and not 0.0 <= number <= 1.0:
        raise DecodeError(
            "invalid_value", f"field {name!r} must be between 0 and 1, not {number:g}", name
        )
    return number


def _opt_count(doc: dict[str, Any], name: str) -> int | None:
    value = doc.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError(
            "wrong_type", f"field {name!r} must be a number, not a JSON {_json_type(value)}", name
        )
    if not isinstance(value, int) or value < 0:
        raise DecodeError(
            "invalid_value", f"field {name!r} must be a whole number >= 0, not {value!r}", name
        )
    if value > MAX_COUNT:
        raise _out_of_range(name, value, 0, MAX_COUNT)
    return value


def _currency(doc: dict[str, Any], name: str) -> str:
    value = _str(doc, name)
    if value in _CURRENCIES:
        return value
    if not _CURRENCY.fullmatch(value):
        raise DecodeError(
            "invalid_value", f"field {name!r} must be an ISO 4217 code like 'USD'", name
        )
    if len(_CURRENCIES) < 1024:
        _CURRENCIES.add(value)
    return value


def encode(message: Alert | EnforcementRequest | dict[str, Any]) -> bytes:
    """Serialise an output message (or any JSON-ready dict) to compact UTF-8 JSON."""
    if isinstance(message, dict):
        return orjson.dumps(message)
    return orjson.dumps(message.to_dict())


def event_to_dict(event: Event) -> dict[str, Any]:
    """The wire form of an input event (used by replay outputs, tests and the generator)."""
    out: dict[str, Any] = {"type": event.type}
    for name in event.__slots__:
        if name == "ts_ms":
            continue
        value = getattr(event, name)
        if value is None:
            continue
        if isinstance(value, Instrument):
            value = {k: getattr(value, k) for k in Instrument.__slots__ if getattr(value, k)}
        out[name] = value
    return out
