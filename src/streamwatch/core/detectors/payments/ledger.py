"""One customer's payment ledger: what it used, was invoiced, paid and still owes, and how it
pays; with its snapshot form and the money at risk derived from it.

Money is kept in whole micro-units (``round(amount * 1_000_000)``) of the customer's currency,
the first currency it was seen using or paying in; amounts in another currency are not
counted (a customer bills in one currency). Bounded: at most ``INVOICES_KEPT`` invoices,
``INSTRUMENTS_KEPT`` instruments, ``MONTHS_KEPT`` months of usage, ``RECENT_H`` hours of it
by hour (``recent``: where, in event-time order, a line was crossed by usage arriving late) and
its rate over the last ``RATE_H`` hours (``last_hours``: a surge money at risk must not average
away over the month).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Final

from streamwatch.core.detectors.base import by_name, defaults_of, named, sparse_by_name
from streamwatch.core.events import PaymentEvent
from streamwatch.core.metering import (
    HOUR_S,
    add_by_hour,
    dump_by_hour,
    hours_covered,
    load_by_hour,
)
from streamwatch.core.projection import Projection, project
from streamwatch.core.timeutil import MS_PER_HOUR, format_ts, month_bounds_ms, month_key

MICROS: Final = 1_000_000
MONEY_CAP: Final = 1 << 62
"""Sums of money saturate at this many micro-units (about 4.6e12 currency units), far beyond any
real ledger. The codec bounds each record's amount, not how many records come: without this a
flood of records at that bound could grow a sum past the int64 range of a JSON snapshot."""
RECENT_H: Final = 48
"""Hours of usage the ledger keeps by hour behind its newest, to stamp a line crossed at its
event time when usage arrives out of order (the allowed lateness of usage)."""
RATE_H: Final = 6
"""Hours behind the newest event's over which the ledger measures the recent rate of usage:
long enough that one busy hour does not make a day's projection, short enough that a theft or
a flood that began this morning is not averaged over the month."""
INVOICES_KEPT: Final = 24
INSTRUMENTS_KEPT: Final = 8
MONTHS_KEPT: Final = 3
ACCOUNT: Final = "(account)"
"""Key of the pseudo-invoice holding payment failures that name no invoice."""
PREPAID_TYPES: Final = frozenset({"prepaid_card", "stored_value"})
"""Instruments that cannot be charged beyond their balance."""
CHARGEABLE_TYPES: Final = frozenset({"credit_card", "debit_card", "direct_debit"})
"""Instruments the reseller charges at the invoice."""
NEIGHBOURS: Final = frozenset(
    frozenset(pair.split("-"))
    for pair in (
        "AT-DE", "BE-FR", "BE-LU", "BE-NL", "CA-US", "CH-AT", "CH-DE", "CH-FR", "CH-IT",
        "CZ-DE", "DE-DK", "DE-LU", "DE-NL", "DE-PL", "DK-SE", "ES-PT", "FI-SE", "FR-LU",
        "GB-IE", "MX-US", "NO-SE",
    )
)  # fmt: skip
"""Neighbouring countries between which companies often keep an address on one side and bank
on the other (an Austrian company with a German address): their mismatch alone is no risk."""


def countries_agree(countries: set[str]) -> bool:
    """Whether a set of country codes is one country, or two neighbours (``NEIGHBOURS``)."""
    return len(countries) <= 1 or (len(countries) == 2 and frozenset(countries) in NEIGHBOURS)


@dataclass(slots=True)
class Invoice:
    """An invoice (or the ``ACCOUNT`` pseudo-invoice), as far as the stream has told."""

    amount: int = 0
    """Invoiced, micro-units; 0 when the invoice is known only from a failure or payment."""
    paid: int = 0
    due_ms: int | None = None
    since_ms: int = 0
    """Collections lines crossed before this (issue or reopening by a chargeback) are dated
    here: the ledger could not have known of them earlier."""
    failures: int = 0
    failure_reason: str | None = None
    failure_severity: str | None = None
    """Severity of the payment_failure alert raised for it (None: none open)."""
    stage: str | None = None
    """Collections stage of the last collections finding (None: none open)."""
    bucket: str | None = None
    raised_days: int = 0
    """Days past due of the last collections line raised (0: none)."""
    next_ms: int | None = None
    """When the next collections finding is due (None: none can come)."""

    @property
    def owed(self) -> int:
        """Still unpaid, micro-units (never negative)."""
        return max(0, self.amount - self.paid)


@dataclass(slots=True)
class InstrumentSeen:
    """A payment instrument added, and whether it was alerted on."""

    key: str
    type: str
    country: str | None
    billing_country: str | None
    alert: str | None = None
    """Severity of the open high_risk_instrument alert on it (None: none open)."""
    ts_ms: int = 0


@dataclass(slots=True)
class MonthUsage:
    """Usage cost of one calendar month, and whether an invoice has billed it."""

    start_ms: int
    end_ms: int
    micros: int = 0
    first_ms: int | None = None
    last_end_ms: int = 0
    billed: bool = False


@dataclass(slots=True)
class PaymentsState:
    """The ledger (see the module docstring)."""

    currency: str | None = None
    last_ms: int = 0
    """Latest event time seen: the "now" money at risk is projected from."""
    signup_ms: int | None = None
    signup_country: str | None = None
    instruments: list[InstrumentSeen] = field(default_factory=list)
    chargeable: bool = False
    """A card or direct-debit mandate the reseller can charge, whose countries agree."""
    risky: bool = False
    """A prepaid or stored-value instrument, or one whose countries disagree, was added."""
    cleared_ms: int | None = None
    """When the first payment or prepayment cleared."""
    first_usage_ms: int | None = None
    unpaid_usage: int = 0
    """Usage before the first payment or prepayment cleared, micro-units."""
    ubp: str | None = None
    """Severity of the open usage_before_payment alert (None: none open)."""
    ubp_seen: bool = False
    """A usage_before_payment alert was ever raised (it is raised once per customer)."""
    months: dict[str, MonthUsage] = field(default_factory=dict)
    credit: int = 0
    """Prepayments and payments not applied to an invoice, less chargebacks of them; negative
    when more was charged back than was prepaid."""
    invoices: dict[str, Invoice] = field(default_factory=dict)
    next_ms: int | None = None
    """The earliest ``Invoice.next_ms``: ``advance`` does nothing before it."""
    chargebacks: int = 0
    used: int = 0
    """Usage so far in the customer's currency, micro-units (see ``unsecured``)."""
    paid_in: int = 0
    """Payments and prepayments cleared, less chargebacks, micro-units."""
    ux: str | None = None
    """Severity of the open unsecured-exposure alert (None: none open)."""
    recent: dict[int, int] = field(default_factory=dict)
    """Usage in the customer's currency by epoch hour, micro-units, the last ``RECENT_H``
    hours behind the newest: where a line was crossed in event-time order when usage arrives
    late and out of order (``crossed_at``)."""
    last_hours: dict[int, int] = field(default_factory=dict)
    """Usage in the customer's currency by epoch hour, each record spread evenly over the hours
    it covers (a daily record is a day at its hourly rate), from ``RATE_H`` hours behind the
    hour of ``last_ms`` on (a daily record's hours ahead of it are kept until they pass):
    the recent rate ``exposure`` also projects."""
    floor_ms: int | None = None
    """The latest sign-up, instrument or chargeback event time: a line is never stamped
    before it (the standing it was judged by held only from then)."""
    ubp_at: int | None = None
    """When the open usage_before_payment alert opened, as last stamped."""
    ux_at: int | None = None
    """When the open unsecured-exposure alert opened, as last stamped."""
    current: MonthUsage | None = field(default=None, compare=False, repr=False)
    """The month usage was last added to (a cache of one of ``months``; not snapshotted)."""


def capped(micros: int) -> int:
    """``micros`` saturated to ``-MONEY_CAP`` .. ``MONEY_CAP`` (see ``MONEY_CAP``)."""
    return max(-MONEY_CAP, min(MONEY_CAP, micros))


def micros_of(state: PaymentsState, event: PaymentEvent) -> int | None:
    """The event's amount in micro-units of the customer's currency (0 for none), None if in
    another currency. The first currency seen becomes the customer's."""
    if event.amount is None or event.amount <= 0.0:
        return 0
    if state.currency is None and event.currency is not None:
        state.currency = event.currency
    if event.currency is not None and event.currency != state.currency:
        return None
    return round(event.amount * MICROS)


def refresh_cover(state: PaymentsState) -> None:
    """Record whether a chargeable instrument whose countries agree (or are neighbours) is on
    file."""
    country = state.signup_country
    state.chargeable = any(
        seen.type in CHARGEABLE_TYPES
        and countries_agree({c for c in (seen.country, seen.billing_country, country) if c})
        for seen in state.instruments
    )


def note_recent(state: PaymentsState, ts_ms: int, micros: int) -> None:
    """Add ``micros`` to the hour of ``ts_ms`` and forget hours ``RECENT_H`` behind the newest
    (they are counted in the ledger's sums all the same)."""
    add_by_hour(state.recent, ts_ms // MS_PER_HOUR, micros, MONEY_CAP, RECENT_H)


def note_rate(state: PaymentsState, ts_ms: int, interval_s: int, micros: int) -> None:
    """Spread ``micros``, metered over ``interval_s`` seconds from ``ts_ms``, over the hours it
    covers in ``last_hours``, and, when that adds an hour, forget the hours ``RATE_H`` behind
    the hour of ``last_ms``."""
    by_hour = state.last_hours
    kept = len(by_hour)
    low = state.last_ms // MS_PER_HOUR - RATE_H + 1
    first = ts_ms // MS_PER_HOUR
    if interval_s <= HOUR_S:  # the hot path: a record whole in its hour
        if micros and first >= low:
            total = by_hour.get(first, 0) + micros
            by_hour[first] = total if total < MONEY_CAP else MONEY_CAP
    else:
        hours = hours_covered(interval_s)
        share = micros // hours
        if share:  # (an hour of 0, which a snapshot leaves out, would not restore)
            for hour in range(max(first, low), first + hours):
                total = by_hour.get(hour, 0) + share
                by_hour[hour] = total if total < MONEY_CAP else MONEY_CAP
    if len(by_hour) > kept and len(by_hour) > RATE_H:
        # Only when an hour was added: hours left behind meanwhile are outside the window
        # ``recent_micros`` reads, and go with the next new hour.
        for hour in [h for h in by_hour if h < low]:
            del by_hour[hour]


def recent_micros(state: PaymentsState) -> int:
    """Usage over the ``RATE_H`` hours up to and including the hour of ``last_ms``."""
    newest = state.last_ms // MS_PER_HOUR
    return sum(v for h, v in state.last_hours.items() if newest - RATE_H < h <= newest)


def raise_floor(state: PaymentsState, ts_ms: int) -> None:
    """A sign-up, instrument or chargeback at ``ts_ms``: no line is stamped before it."""
    if state.floor_ms is None or ts_ms > state.floor_ms:
        state.floor_ms = ts_ms


def crossed_at(
    state: PaymentsState,
    total: int,
    crosses: Callable[[int, int], bool],
    ts_ms: int,
    since_ms: int | None = None,
) -> int:
    """When a line was crossed in event-time order: ``total`` (a sum the usage of
    ``recent`` is counted in) is replayed hour by hour over the hours kept, and the first
    hour whose sum so far ``crosses(sum, as_of_ms)`` (as of the hour's end, or ``ts_ms`` in
    the hour of ``ts_ms``) gives the start of that hour, or ``ts_ms`` when that is its hour;
    ``ts_ms`` when none does. Only hours that start at or after ``floor_ms`` and
    ``since_ms`` are judged (the rule judged usage by the standing it has now only from
    then), and the result is never before ``floor_ms``."""
    recent = state.recent
    own = ts_ms - ts_ms % MS_PER_HOUR
    floor = state.floor_ms
    since = max(floor or 0, since_ms or 0)
    at = ts_ms
    spent = total - sum(recent.values())
    for hour in sorted(recent):
        spent += recent[hour]
        start = hour * MS_PER_HOUR
        if start < since:
            continue
        if crosses(spent, ts_ms if start == own else start + MS_PER_HOUR - 1):
            at = ts_ms if start == own else start
            break
    return at if floor is None or at >= floor else floor


def amends(stamped: int | None, at: int) -> bool:
    """Whether a line found crossed at ``at`` moves a stamp earlier by an hour or more (not
    within the hour it was stamped in)."""
    return stamped is not None and at < stamped - stamped % MS_PER_HOUR


def restamped(reason: str, evidence: dict[str, Any], at: int, ts_ms: int, what: str) -> str:
    """``reason`` with a sentence saying when, in event-time order, the line was crossed
    (``what``: "went past 2x the allowance", say), and ``evidence["stamped_at"]``, when usage
    arrived out of order and that was not at ``ts_ms``; else ``reason`` unchanged."""
    if at == ts_ms:
        return reason
    when = f"in the hour from {format_ts(at)}" if at % MS_PER_HOUR == 0 else format_ts(at)
    evidence["stamped_at"] = format_ts(at)
    return f"{reason} Counted in event-time order it {what} {when}."


def month_of(state: PaymentsState, ts_ms: int) -> MonthUsage:
    """The usage record of the calendar month of ``ts_ms`` (created, oldest dropped)."""
    for month in state.months.values():
        if month.start_ms <= ts_ms < month.end_ms:
            return month
    key = month_key(ts_ms)
    start, end = month_bounds_ms(key)
    month = state.months[key] = MonthUsage(start, end)
    if len(state.months) > MONTHS_KEPT:
        oldest = min(state.months)
        if state.current is state.months[oldest]:
            state.current = None
        del state.months[oldest]
    return month


def drop_old_invoices(state: PaymentsState, keep: str) -> None:
    """Keep ``INVOICES_KEPT`` invoices, ``keep`` among them: settled ones go first, then the
    oldest."""
    invoices = state.invoices
    while len(invoices) > INVOICES_KEPT:
        others = [k for k in invoices if k != keep]
        settled = [k for k in others if invoices[k].owed == 0 and invoices[k].stage is None]
        del invoices[settled[0] if settled else others[0]]


NO_CURRENCY: Final = "XXX"
"""ISO 4217's code for "no currency": the money at risk of a customer with no money seen yet."""


def exposure(state: PaymentsState) -> dict[str, Any]:
    """Money at risk: unbilled usage plus unpaid invoices, less prepayments and credit, and
    the current month's usage projected ahead (``core.projection``): its rate over the hours
    metered so far this month, carried on as long as it was observed (at least a day), never
    past the next invoice (the start of the next calendar month: invoices are monthly); or,
    when it adds more, the rate of the last ``RATE_H`` hours carried a day (a surge that began
    this morning, which the month's rate averages away). ``method`` says which, in words.
    Before any money was seen: all zero, currency ``XXX``.

    ``amount`` is the projected figure (never negative); ``now`` the same today.
    """
    now = state.last_ms
    if state.currency is None:
        return _nothing_seen(now)
    unbilled = sum(m.micros for m in state.months.values() if not m.billed)
    unpaid = sum(inv.owed for inv in state.invoices.values()) + max(0, -state.credit)
    prepaid = max(0, state.credit)
    next_invoice = month_bounds_ms(month_key(now))[1]
    projected = unbilled
    current = state.months.get(month_key(now))
    run = ahead = project(0.0, 1.0, 0.0)
    if current is not None and not current.billed and current.first_ms is not None:
        # Run rate over the hours metered so far this month (at least one), carried on.
        since = max(current.start_ms, current.first_ms)
        metered = max(MS_PER_HOUR, current.last_end_ms - since)
        until = max(0, next_invoice - max(now, current.last_end_ms))
        run = project(current.micros / MICROS, metered / MS_PER_HOUR, until / MS_PER_HOUR)
        recent = project(recent_micros(state) / MICROS, float(RATE_H), until / MS_PER_HOUR)
        ahead = recent if recent.amount > run.amount else run
        projected += round(ahead.amount * MICROS)
    return {
        "amount": _money(max(0, projected + unpaid - prepaid)),
        "currency": state.currency,
        "unbilled": _money(unbilled),
        "unpaid": _money(unpaid),
        "prepaid": _money(prepaid),
        "projected": _money(projected),
        "now": _money(max(0, unbilled + unpaid - prepaid)),
        "next_invoice": format_ts(next_invoice),
        "as_of": format_ts(now),
        **_projection(ahead, run, state.currency),
    }


def _projection(ahead: Projection, run: Projection, currency: str) -> dict[str, Any]:
    """``ahead`` as alert fields, its method saying when it is the last hours' rate, not the
    month's ``run``."""
    fields = ahead.evidence(currency)
    if ahead is not run:
        fields["method"] += (
            f": the last {RATE_H} hours' rate, which adds more than this month's "
            f"({run.method(currency)})"
        )
    return fields


def _nothing_seen(now: int) -> dict[str, Any]:
    """The money at risk of a customer the ledger has seen no money of (a provider notice
    before any usage, say): nothing, in no currency."""
    return {
        "amount": 0.0,
        "currency": NO_CURRENCY,
        "unbilled": 0.0,
        "unpaid": 0.0,
        "prepaid": 0.0,
        "projected": 0.0,
        "now": 0.0,
        "next_invoice": format_ts(month_bounds_ms(month_key(now))[1]),
        "as_of": format_ts(now),
        "rate_per_h": 0.0,
        "observed_h": 0.0,
        "horizon_h": 0.0,
        "method": "no usage or payment seen yet",
    }


def _month(key: str, fields: list[Any] | dict[str, Any]) -> MonthUsage:
    if isinstance(fields, list):  # state version 1; earlier ones began with the bounds
        fields = dict(zip(_MONTH_FIELDS, fields[-4:], strict=True))
    return MonthUsage(*month_bounds_ms(key), **fields)


def _money(micros: int) -> float:
    return round(micros / MICROS, 2)


_INVOICE_DEFAULTS: Final = defaults_of(Invoice)
_INVOICE_FIELDS: Final = tuple(f.name for f in fields(Invoice))
_INSTRUMENT_FIELDS: Final = tuple(f.name for f in fields(InstrumentSeen))
_MONTH_FIELDS: Final = ("micros", "first_ms", "last_end_ms", "billed")


def dump_state(state: PaymentsState) -> dict[str, Any]:
    """The ledger as a JSON-ready dict, by field name (state version 2).

    A month leaves out its bounds (they follow from its key); an invoice leaves out the
    fields at their default. Version 1 had the same keys with positional lists (a month
    ``[micros, first_ms, last_end_ms, billed]``, an invoice ``Invoice``'s fields in order
    without the trailing ones at their default); ``load_state`` reads both.
    """
    out: dict[str, Any] = {
        "currency": state.currency,
        "last_ms": state.last_ms,
        "signup": {"signup_ms": state.signup_ms, "signup_country": state.signup_country},
        "instruments": [by_name(i) for i in state.instruments],
        "flags": {"chargeable": state.chargeable, "risky": state.risky, "ubp_seen": state.ubp_seen},
        "cleared_ms": state.cleared_ms,
        "first_usage_ms": state.first_usage_ms,
        "unpaid_usage": state.unpaid_usage,
        "ubp": state.ubp,
        "months": {
            key: {name: getattr(m, name) for name in _MONTH_FIELDS}
            for key, m in state.months.items()
        },
        "credit": state.credit,
        "invoices": {
            key: sparse_by_name(inv, _INVOICE_DEFAULTS) for key, inv in state.invoices.items()
        },
        "next_ms": state.next_ms,
        "chargebacks": state.chargebacks,
    }
    if state.used or state.paid_in or state.ux is not None:
        # Only when there is any, so that a snapshot without it is one written before the
        # unsecured-exposure rule (whose figures the detector's load derives).
        out["exposure"] = {"used": state.used, "paid_in": state.paid_in, "ux": state.ux}
    if state.last_hours:
        out["rate"] = dump_by_hour(state.last_hours)
    if state.recent or state.floor_ms is not None:
        out["arrival"] = {
            "recent": dump_by_hour(state.recent),
            "floor_ms": state.floor_ms,
            "ubp_at": state.ubp_at,
            "ux_at": state.ux_at,
        }
    return out


def load_state(data: dict[str, Any]) -> PaymentsState:
    """The inverse of ``dump_state``; also reads the positional forms of state version 1 and
    the earlier one, whose months began with their bounds and whose invoices listed every
    field."""
    flags = named(data["flags"], ("chargeable", "risky", "ubp_seen"))
    return PaymentsState(
        currency=data["currency"],
        last_ms=data["last_ms"],
        **named(data["signup"], ("signup_ms", "signup_country")),
        instruments=[
            InstrumentSeen(**named(fields, _INSTRUMENT_FIELDS)) for fields in data["instruments"]
        ],
        chargeable=flags["chargeable"],
        risky=flags["risky"],
        cleared_ms=data["cleared_ms"],
        first_usage_ms=data["first_usage_ms"],
        unpaid_usage=data["unpaid_usage"],
        ubp=data["ubp"],
        ubp_seen=flags["ubp_seen"],
        months={key: _month(key, fields) for key, fields in data["months"].items()},
        credit=data["credit"],
        invoices={
            key: Invoice(**named(fields, _INVOICE_FIELDS))
            for key, fields in data["invoices"].items()
        },
        next_ms=data["next_ms"],
        chargebacks=data["chargebacks"],
        # Snapshots written before the unsecured-exposure rule have no "exposure".
        **named(data.get("exposure", {}), ("used", "paid_in", "ux")),
        # Snapshots written before the recent rate have no "rate".
        last_hours=load_by_hour(data.get("rate") or []),
        # Snapshots written before usage was stamped at its event time have no "arrival".
        **_arrival(data.get("arrival", {})),
    )


def _arrival(fields: dict[str, Any]) -> dict[str, Any]:
    out = dict(fields)
    out["recent"] = load_by_hour(fields.get("recent") or [])
    return out
