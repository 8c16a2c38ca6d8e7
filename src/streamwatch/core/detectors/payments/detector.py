"""Payment-side detectors over one ledger per customer (``ledger``).

Kinds and rules:

* ``high_risk_instrument``: an ``instrument.added`` of a prepaid card or stored value, or one
  whose instrument country, billing country and sign-up country (the sign-up's ``ip_country``,
  else its ``country``) disagree. High when both hold or three countries differ, medium
  otherwise. Resolved when a prepayment clears. (Identity-level mismatches, such as sign-in
  countries or an unverified phone, are ``identity_mismatch``'s, not this rule's.)
* ``usage_before_payment``: a customer whose sign-up was seen (one whose sign-up predates the
  stream is established and never flagged) consumes while nothing secures the usage: no
  payment or prepayment has cleared, and no chargeable instrument (a credit or debit card or a
  direct-debit mandate whose countries agree; the reseller charges it at the invoice) is on
  file. Prepaid cards and stored value cannot be charged beyond their balance, and a bank
  transfer is paid only when the customer chooses to. Raised at the first usage event that
  costs money, so within the hour of the first usage; amended as the amount at risk reaches
  100 and 1,000 (medium, high, critical); resolved when a payment or prepayment clears. Once
  per customer.
  Its second incident, ``unsecured-exposure`` (``unsecured``): usage so far less the
  money cleared, against what a young customer of its age and standing is allowed; raised,
  amended as it reaches 2x and 4x the allowance, resolved when money clears. Evidence
  ``basis`` is ``unsecured_exposure``.
* ``payment_failure``: the second failed payment of an invoice (or of the account, for
  failures naming none), amended with each further failure up to ``MAX_FAILURES``: low at 2,
  medium at 3, high from 4, a step higher from 1,000 due. Resolved when the invoice is paid in
  full (the account: when any payment clears).
* ``chargeback``: every chargeback; critical when on a prepaid or stored-value card, when the
  customer added a risky instrument, or after usage before payment; high otherwise. Evidence
  ``standing`` is ``untrusted`` for those, for an account younger than 30 days or with a
  chargeback before, ``established`` otherwise.
* ``collections`` (timed): each invoice not paid by its due date ages through the dunning
  stages of the collections policy (``core.collections``) and the ageing buckets; its alert
  is amended at each line where its stage or bucket changes (the line's event time is the due
  date plus that many days), and resolved when the invoice is paid in full. Lines crossed
  before the ledger learnt of the debt (an invoice issued already late, a payment charged
  back) are dated at that moment, collapsed into one finding.

Usage that arrives late and out of order (billing data for an hour comes hours later, after
later hours) is judged at its event time: the ledger keeps its last ``RECENT_H`` hours of usage
by hour, and a ``usage_before_payment`` line (the amounts at risk, the multiples of the
allowance) is stamped with the hour in which the usage, counted in event-time order, reached
it (the usage event's own ``ts`` when that is its hour), never before the latest sign-up,
instrument or chargeback (``floor_ms``: the standing it is judged by held from then) nor, for
the allowance of a customer without a chargeable card, before money first cleared. An alert
opened and then found, as earlier hours arrive, to have opened an hour or more earlier is
amended with the earlier time (its first usage; the first multiple of the allowance passed).
In event-time order nothing changes.

Resolution convention: a cleared cause amends the same incident with ``status = "resolved"``
and severity info; open findings carry ``status = "open"``.

Money at risk (``exposure``) comes from the same ledger. Deterministic; no learning: these are
rules over what was billed and paid.

The parts, one module each: ``ledger`` (the state, its dump and the money at risk), one module
per kind (``usage_before_payment``, ``high_risk_instrument``, ``payment_failure``,
``chargeback``, ``dunning`` for ``collections``, ``unsecured``); this module routes each event
through the ledger and to the kinds it concerns.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

from streamwatch.core.collections import DEFAULT_COLLECTIONS, CollectionsPolicy
from streamwatch.core.detectors.base import Capability, Finding, Setup
from streamwatch.core.detectors.payments import (
    chargeback,
    dunning,
    high_risk_instrument,
    payment_failure,
    usage_before_payment,
)
from streamwatch.core.detectors.payments.dunning import (
    Dunning,
    refresh_next,
    resolve_collections,
)
from streamwatch.core.detectors.payments.high_risk_instrument import (
    judge_instrument,
    resolve_instruments,
)
from streamwatch.core.detectors.payments.ledger import (
    ACCOUNT,
    INSTRUMENTS_KEPT,
    MICROS,
    MONEY_CAP,
    RECENT_H,
    InstrumentSeen,
    Invoice,
    PaymentsState,
    capped,
    drop_old_invoices,
    dump_state,
    exposure,
    load_state,
    micros_of,
    month_of,
    note_rate,
    note_recent,
    raise_floor,
    refresh_cover,
)
from streamwatch.core.detectors.payments.payment_failure import payment_failed, resolve_failures
from streamwatch.core.detectors.payments.unsecured import (
    SLACK,
    YOUNG_DAYS,
    check_exposure,
    derive_exposure,
)
from streamwatch.core.detectors.payments.usage_before_payment import (
    resolve_unpaid_usage,
    unpaid_usage,
)
from streamwatch.core.detectors.registry import register
from streamwatch.core.events import ActivityEvent, Event, PaymentEvent, UsageEvent
from streamwatch.core.timeutil import MS_PER_DAY, MS_PER_HOUR, TimestampError, parse_ts_ms

YOUNG_MS: Final = YOUNG_DAYS * MS_PER_DAY
RECENT_MS: Final = RECENT_H * MS_PER_HOUR


@register(rank=50)
class PaymentsDetector:
    """The payment-side rules of the module docstring, over one ledger per customer."""

    name: ClassVar[str] = "payments"
    version: ClassVar[str] = "1"
    event_types: ClassVar[frozenset[str]] = frozenset({"usage", "activity", "payment"})
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.TIMED, Capability.MONEY_AT_RISK, Capability.RETAINS}
    )
    kinds: ClassVar[frozenset[str]] = frozenset(
        {
            usage_before_payment.KIND,
            high_risk_instrument.KIND,
            payment_failure.KIND,
            chargeback.KIND,
            dunning.KIND,
        }
    )
    state_version: ClassVar[int] = 2
    state_reads: ClassVar[frozenset[int]] = frozenset({1, 2})

    @classmethod
    def from_setup(cls, setup: Setup) -> PaymentsDetector:
        """This detector as the deployment's ``setup`` configures it (see ``Setup``)."""
        return cls(setup.collections)

    def __init__(self, collections: CollectionsPolicy | None = None) -> None:
        self._dunning = Dunning(collections or DEFAULT_COLLECTIONS)

    @property
    def collections(self) -> CollectionsPolicy:
        """The dunning stages in use."""
        return self._dunning.policy

    def new_state(self) -> PaymentsState:
        return PaymentsState()

    def dump(self, state: PaymentsState) -> dict[str, Any]:
        return dump_state(state)

    def load(self, data: dict[str, Any]) -> PaymentsState:
        state = load_state(data)
        if "exposure" not in data:
            derive_exposure(state)
        return state

    def exposure(self, state: PaymentsState) -> dict[str, Any] | None:
        """Money at risk of the customer (see ``ledger.exposure``)."""
        return exposure(state)

    def observe(self, state: PaymentsState, event: Event) -> list[Finding]:
        if type(event) is UsageEvent:
            return self._usage(state, event)
        state.last_ms = max(state.last_ms, event.ts_ms)
        if isinstance(event, PaymentEvent):
            handler = _PAYMENTS.get(event.kind)
            return handler(self, state, event) if handler is not None else []
        if (
            isinstance(event, ActivityEvent)
            and event.operation == "customer.signup"
            and event.status == "succeeded"
        ):
            return self._signup(state, event)
        return []

    # -- usage ------------------------------------------------------------------------------

    def _usage(self, state: PaymentsState, event: UsageEvent) -> list[Finding]:
        # The hot path: most events are usage. Comparisons rather than max() keep it cheap.
        ts = event.ts_ms
        if ts > state.last_ms:  # noqa: PLR1730
            state.last_ms = ts
        cost = event.cost
        if cost <= 0.0:
            return []
        if event.currency != state.currency:
            if state.currency is not None:
                return []
            state.currency = event.currency
        micros = round(cost * MICROS)
        findings: list[Finding] = []
        used = state.used + micros
        state.used = used if used < MONEY_CAP else MONEY_CAP
        signup = state.signup_ms
        if signup is not None and (
            ts - signup < YOUNG_MS + RECENT_MS or state.ux is not None or state.ubp is not None
        ):
            # Only where a line may still be crossed or amended: the hours kept are most of a
            # snapshot's bytes, and an established customer's usage crosses none.
            note_recent(state, ts, micros)
        elif state.recent:
            state.recent.clear()
        note_rate(state, ts, event.interval_s, micros)
        if signup is not None and (
            state.ux is not None or (state.used > state.paid_in + SLACK and ts - signup < YOUNG_MS)
        ):
            findings = check_exposure(state, ts)
        month = state.current
        if month is None or not month.start_ms <= ts < month.end_ms:
            month = state.current = month_of(state, ts)
        total = month.micros + micros
        month.micros = total if total < MONEY_CAP else MONEY_CAP
        if month.first_ms is None or ts < month.first_ms:
            month.first_ms = ts
        end = ts + event.interval_s * 1000
        if end > month.last_end_ms:  # noqa: PLR1730
            month.last_end_ms = end
        if state.cleared_ms is not None:
            return findings
        unpaid = state.unpaid_usage + micros
        state.unpaid_usage = unpaid if unpaid < MONEY_CAP else MONEY_CAP
        if state.first_usage_ms is None or ts < state.first_usage_ms:
            state.first_usage_ms = ts
        if state.signup_ms is None or (state.ubp is None and (state.chargeable or state.ubp_seen)):
            return findings
        return [*unpaid_usage(state, ts), *findings]

    # -- sign-up and instruments ---------------------------------------------------------------

    def _signup(self, state: PaymentsState, event: ActivityEvent) -> list[Finding]:
        if state.signup_ms is not None and state.signup_ms <= event.ts_ms:
            return []
        props = event.properties
        country = _text(props.get("ip_country")) or _text(props.get("country"))
        state.signup_ms = event.ts_ms
        state.signup_country = country
        raise_floor(state, event.ts_ms)
        findings: list[Finding] = []
        # Instruments whose event came first are judged again now that the country is known.
        for seen in state.instruments:
            findings.extend(judge_instrument(state, seen, event.ts_ms))
        refresh_cover(state)
        if state.first_usage_ms is not None:
            findings.extend(unpaid_usage(state, max(event.ts_ms, state.first_usage_ms)))
        return findings

    def _instrument_added(self, state: PaymentsState, event: PaymentEvent) -> list[Finding]:
        inst = event.instrument
        if inst is None:
            return []
        key = inst.fingerprint or event.event_id
        if any(seen.key == key for seen in state.instruments):
            return []
        ts = event.ts_ms
        seen = InstrumentSeen(key, inst.type, inst.country, event.billing_country, ts_ms=ts)
        state.instruments.append(seen)
        raise_floor(state, ts)
        if len(state.instruments) > INSTRUMENTS_KEPT:
            quiet = [i for i in state.instruments if i.alert is None]
            state.instruments.remove(quiet[0] if quiet else state.instruments[0])
        findings = judge_instrument(state, seen, event.ts_ms)
        refresh_cover(state)
        first = state.first_usage_ms
        if state.chargeable and first is not None and event.ts_ms <= first:
            # The card was on file before the first usage; its event came later.
            findings.extend(resolve_unpaid_usage(state, event.ts_ms, "a chargeable card"))
        return findings

    # -- money in --------------------------------------------------------------------------

    def _cleared(self, state: PaymentsState, event: PaymentEvent, what: str) -> list[Finding]:
        """A payment or prepayment cleared: what it resolves besides invoices."""
        if state.cleared_ms is None or event.ts_ms < state.cleared_ms:
            state.cleared_ms = event.ts_ms
        findings = resolve_unpaid_usage(state, event.ts_ms, what)
        account = state.invoices.get(ACCOUNT)
        if account is not None:
            findings.extend(resolve_failures(state, ACCOUNT, account, event.ts_ms))
        return findings

    def _prepayment(self, state: PaymentsState, event: PaymentEvent) -> list[Finding]:
        micros = micros_of(state, event)
        if micros == 0:
            return []
        findings = self._cleared(state, event, "a prepayment")
        findings.extend(resolve_instruments(state, event.ts_ms))
        if micros is not None:
            state.credit = capped(state.credit + micros)
            findings.extend(self._apply_credit(state, event.ts_ms))
            findings.extend(_paid_in(state, micros, event.ts_ms))
        return findings

    def _payment_succeeded(self, state: PaymentsState, event: PaymentEvent) -> list[Finding]:
        micros = micros_of(state, event)
        if micros == 0:
            return []
        findings = self._cleared(state, event, "a payment")
        if micros is None:
            return findings
        findings.extend(_paid_in(state, micros, event.ts_ms))
        if event.invoice_id is None:
            state.credit = capped(state.credit + micros)
            findings.extend(self._apply_credit(state, event.ts_ms))
            return findings
        inv = self._invoice(state, event.invoice_id)
        if inv.amount > 0 and inv.paid + micros > inv.amount:
            state.credit = capped(state.credit + inv.paid + micros - inv.amount)
            inv.paid = inv.amount
        else:
            inv.paid = capped(inv.paid + micros)
        findings.extend(self._settled_or_aged(state, event.invoice_id, inv, event.ts_ms))
        return findings

    def _apply_credit(self, state: PaymentsState, ts_ms: int) -> list[Finding]:
        """Credit pays what is owed, the earliest due first."""
        findings: list[Finding] = []
        owing = sorted(
            (inv.due_ms, key)
            for key, inv in state.invoices.items()
            if inv.owed > 0 and inv.due_ms is not None
        )
        for _, key in owing:
            if state.credit <= 0:
                break
            inv = state.invoices[key]
            paid = min(state.credit, inv.owed)
            inv.paid += paid
            state.credit -= paid
            findings.extend(self._settled_or_aged(state, key, inv, ts_ms))
        return findings

    def _settled_or_aged(
        self, state: PaymentsState, key: str, inv: Invoice, ts_ms: int
    ) -> list[Finding]:
        if inv.owed > 0:
            self._dunning.schedule(state, inv)
            return []
        findings = resolve_failures(state, key, inv, ts_ms)
        findings.extend(resolve_collections(state, key, inv, ts_ms))
        inv.next_ms = None
        refresh_next(state)
        return findings

    # -- invoices --------------------------------------------------------------------------

    def _invoice(self, state: PaymentsState, key: str) -> Invoice:
        inv = state.invoices.get(key)
        if inv is None:
            inv = state.invoices[key] = Invoice()
            drop_old_invoices(state, key)
            refresh_next(state)
        return inv

    def _invoice_issued(self, state: PaymentsState, event: PaymentEvent) -> list[Finding]:
        if event.invoice_id is None or event.due_date is None:
            return []
        micros = micros_of(state, event)
        if micros is None:
            return []
        due = event.due_date
        try:
            due_ms = parse_ts_ms(due if "T" in due else due + "T00:00:00Z")
        except TimestampError:
            return []
        # Invoices are monthly: one issued in a month bills the usage of the months before.
        billed_before = month_of(state, event.ts_ms).start_ms
        for month in state.months.values():
            if month.end_ms <= billed_before:
                month.billed = True
        inv = self._invoice(state, event.invoice_id)
        inv.amount = micros
        inv.due_ms = due_ms
        inv.since_ms = event.ts_ms
        findings = self._apply_credit(state, event.ts_ms) if state.credit > 0 else []
        if inv.owed > 0:
            self._dunning.schedule(state, inv)
        return findings

    # -- failures and chargebacks -------------------------------------------------------------

    def _payment_failed(self, state: PaymentsState, event: PaymentEvent) -> list[Finding]:
        key = event.invoice_id or ACCOUNT
        return payment_failed(state, key, self._invoice(state, key), event)

    def _chargeback(self, state: PaymentsState, event: PaymentEvent) -> list[Finding]:
        """The money goes back (the invoice it paid is owed again, or the credit shrinks), and
        the chargeback is raised."""
        ts = event.ts_ms
        micros = micros_of(state, event)
        raise_floor(state, ts)
        if micros:
            key = event.invoice_id
            inv = state.invoices.get(key) if key is not None else None
            if key is not None and inv is not None and inv.amount > 0:
                settled = inv.owed == 0
                inv.paid = max(0, inv.paid - micros)
                if settled and inv.owed > 0:
                    # A settled invoice is owed again from now on.
                    inv.since_ms, inv.raised_days, inv.stage, inv.bucket = ts, 0, None, None
                self._dunning.schedule(state, inv)
            else:
                state.credit = capped(state.credit - micros)
        findings = chargeback.charged_back(state, event)
        if micros:
            findings.extend(_paid_in(state, -micros, ts))
        return findings

    # -- collections -------------------------------------------------------------------------

    def retains(self, state: PaymentsState, until_ms: int) -> bool:  # noqa: ARG002
        """While money is owed (an invoice not paid in full, more charged back than was
        prepaid) or a collections line is still to come: the debt and its dunning outlive any
        quiet period. Usage not yet invoiced is not kept for: it ages into nothing."""
        return (
            state.next_ms is not None
            or state.credit < 0
            or any(inv.owed > 0 for inv in state.invoices.values())
        )

    def advance(self, state: PaymentsState, until_ms: int) -> list[Finding]:
        """Collections findings whose line (a due date plus some days) is at or before
        ``until_ms``; see ``dunning``."""
        return self._dunning.advance(state, until_ms)


_PAYMENTS: Final = {
    "instrument.added": PaymentsDetector._instrument_added,
    "prepayment": PaymentsDetector._prepayment,
    "invoice.issued": PaymentsDetector._invoice_issued,
    "payment.succeeded": PaymentsDetector._payment_succeeded,
    "payment.failed": PaymentsDetector._payment_failed,
    "chargeback": PaymentsDetector._chargeback,
}


def _paid_in(state: PaymentsState, micros: int, ts_ms: int) -> list[Finding]:
    """Money cleared (or, negative, charged back): the unsecured exposure moves."""
    state.paid_in = capped(state.paid_in + micros)
    if state.ux is None and micros > 0:
        return []
    return check_exposure(state, ts_ms) if state.signup_ms is not None else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
