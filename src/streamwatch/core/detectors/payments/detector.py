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

Resolution convention: a cleared cause amends the same incident with ``status = "resolved"``
and severity info; open findings carry ``status = "open"``.

Money at risk (``exposure``) comes from the same ledger. Deterministic; no learning: these are
rules over what was billed and paid.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

from streamwatch.core.collections import (
    DEFAULT_COLLECTIONS,
    CollectionsPolicy,
    Stage,
    bucket_of,
)
from streamwatch.core.detectors.base import Capability, Finding, Setup
from streamwatch.core.detectors.payments.ledger import (
    ACCOUNT,
    INSTRUMENTS_KEPT,
    MICROS,
    MONEY_CAP,
    InstrumentSeen,
    Invoice,
    PaymentsState,
    capped,
    drop_old_invoices,
    dump_state,
    exposure,
    load_state,
    month_of,
)
from streamwatch.core.detectors.registry import register
from streamwatch.core.events import (
    SEVERITIES,
    ActivityEvent,
    Event,
    PaymentEvent,
    Severity,
    UsageEvent,
)
from streamwatch.core.explain import money
from streamwatch.core.severity import score_of
from streamwatch.core.timeutil import MS_PER_DAY, TimestampError, format_ts, parse_ts_ms

PREPAID_TYPES: Final = frozenset({"prepaid_card", "stored_value"})
CHARGEABLE_TYPES: Final = frozenset({"credit_card", "debit_card", "direct_debit"})
UBP_LEVELS: Final[tuple[tuple[int, Severity], ...]] = (
    (0, "medium"),
    (100 * MICROS, "high"),
    (1_000 * MICROS, "critical"),
)
"""usage_before_payment severity by the amount at risk: (from, severity)."""
MAX_FAILURES: Final = 10
LARGE_FAILURE: Final = 1_000 * MICROS
YOUNG_MS: Final = 30 * MS_PER_DAY
UBP_INCIDENT: Final = "unpaid-usage"


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
            "usage_before_payment",
            "high_risk_instrument",
            "payment_failure",
            "chargeback",
            "collections",
        }
    )
    state_version: ClassVar[int] = 2
    state_reads: ClassVar[frozenset[int]] = frozenset({1, 2})

    @classmethod
    def from_setup(cls, setup: Setup) -> PaymentsDetector:
        """This detector as the deployment's ``setup`` configures it (see ``Setup``)."""
        return cls(setup.collections)

    def __init__(self, collections: CollectionsPolicy | None = None) -> None:
        self._collections = collections or DEFAULT_COLLECTIONS
        self._lines = self._collections.lines

    @property
    def collections(self) -> CollectionsPolicy:
        """The dunning stages in use."""
        return self._collections

    def new_state(self) -> PaymentsState:
        return PaymentsState()

    def dump(self, state: PaymentsState) -> dict[str, Any]:
        return dump_state(state)

    def load(self, data: dict[str, Any]) -> PaymentsState:
        return load_state(data)

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
            return []
        unpaid = state.unpaid_usage + micros
        state.unpaid_usage = unpaid if unpaid < MONEY_CAP else MONEY_CAP
        if state.first_usage_ms is None or ts < state.first_usage_ms:
            state.first_usage_ms = ts
        if state.signup_ms is None or (state.ubp is None and (state.chargeable or state.ubp_seen)):
            return []
        return self._unpaid_usage(state, ts)

    def _unpaid_usage(self, state: PaymentsState, ts_ms: int) -> list[Finding]:
        """Raise or escalate usage_before_payment, if it applies at ``ts_ms``."""
        first = state.first_usage_ms
        if state.signup_ms is None or state.cleared_ms is not None or first is None:
            return []
        if state.ubp is None and (state.chargeable or state.ubp_seen):
            return []
        severity: Severity = "medium"
        for start, level in UBP_LEVELS:
            if state.unpaid_usage >= start:
                severity = level
        if state.ubp is not None and SEVERITIES.index(severity) <= SEVERITIES.index(state.ubp):
            return []
        state.ubp = severity
        state.ubp_seen = True
        cur = state.currency or ""
        at_risk = state.unpaid_usage / MICROS
        cover = self._cover(state)
        reason = (
            f"The customer signed up at {format_ts(state.signup_ms)} and has used "
            f"{money(at_risk, cur)} since its first usage at {format_ts(first)} with no payment "
            f"or prepayment cleared; {cover}."
        )
        return [
            Finding(
                incident=UBP_INCIDENT,
                kind="usage_before_payment",
                severity=severity,
                score=score_of(severity),
                event_time_ms=ts_ms,
                window_start_ms=first,
                window_end_ms=ts_ms,
                reasons=(reason,),
                evidence={
                    "status": "open",
                    "amount_at_risk": round(at_risk, 2),
                    "currency": cur,
                    "first_usage": format_ts(first),
                    "signup": format_ts(state.signup_ms),
                    "instrument": state.instruments[-1].type if state.instruments else "none",
                },
            )
        ]

    @staticmethod
    def _cover(state: PaymentsState) -> str:
        if not state.instruments:
            return "no payment instrument is on file"
        kinds = sorted({i.type for i in state.instruments})
        if set(kinds) <= PREPAID_TYPES:
            return f"it pays by {' and '.join(kinds)}, which cannot be charged beyond its balance"
        if "bank_transfer" in kinds and not set(kinds) & CHARGEABLE_TYPES:
            return "it pays by bank transfer, which the reseller cannot collect"
        return "its card's countries disagree, so it does not secure the usage"

    def _resolve_unpaid_usage(
        self, state: PaymentsState, ts_ms: int, cleared_by: str
    ) -> list[Finding]:
        if state.ubp is None or state.first_usage_ms is None:
            return []
        state.ubp = None
        cur = state.currency or ""
        at_risk = state.unpaid_usage / MICROS
        reason = (
            f"Resolved: {cleared_by} at {format_ts(ts_ms)} secures the "
            f"{money(at_risk, cur)} used before payment."
        )
        return [
            Finding(
                incident=UBP_INCIDENT,
                kind="usage_before_payment",
                severity="info",
                score=score_of("info"),
                event_time_ms=ts_ms,
                window_start_ms=state.first_usage_ms,
                window_end_ms=ts_ms,
                reasons=(reason,),
                evidence={
                    "status": "resolved",
                    "amount_at_risk": round(at_risk, 2),
                    "currency": cur,
                    "first_usage": format_ts(state.first_usage_ms),
                    "cleared_by": cleared_by,
                    "cleared_at": format_ts(ts_ms),
                },
            )
        ]

    # -- sign-up and instruments ---------------------------------------------------------------

    def _signup(self, state: PaymentsState, event: ActivityEvent) -> list[Finding]:
        if state.signup_ms is not None and state.signup_ms <= event.ts_ms:
            return []
        props = event.properties
        country = _text(props.get("ip_country")) or _text(props.get("country"))
        state.signup_ms = event.ts_ms
        state.signup_country = country
        findings: list[Finding] = []
        # Instruments whose event came first are judged again now that the country is known.
        for seen in state.instruments:
            findings.extend(self._judge_instrument(state, seen, event.ts_ms))
        _refresh_cover(state)
        if state.first_usage_ms is not None:
            findings.extend(self._unpaid_usage(state, max(event.ts_ms, state.first_usage_ms)))
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
        if len(state.instruments) > INSTRUMENTS_KEPT:
            quiet = [i for i in state.instruments if i.alert is None]
            state.instruments.remove(quiet[0] if quiet else state.instruments[0])
        findings = self._judge_instrument(state, seen, event.ts_ms)
        _refresh_cover(state)
        first = state.first_usage_ms
        if state.chargeable and first is not None and event.ts_ms <= first:
            # The card was on file before the first usage; its event came later.
            findings.extend(self._resolve_unpaid_usage(state, event.ts_ms, "a chargeable card"))
        return findings

    def _judge_instrument(
        self, state: PaymentsState, seen: InstrumentSeen, ts_ms: int
    ) -> list[Finding]:
        prepaid = seen.type in PREPAID_TYPES
        countries = sorted(
            {c for c in (seen.country, seen.billing_country, state.signup_country) if c}
        )
        disagree = len(countries) > 1
        if not prepaid and not disagree:
            return []
        state.risky = True
        severity: Severity = "high" if (prepaid and disagree) or len(countries) > 2 else "medium"
        if seen.alert is not None and SEVERITIES.index(severity) <= SEVERITIES.index(seen.alert):
            return []
        seen.alert = severity
        said = []
        if prepaid:
            what = seen.type.replace("_", " ")
            said.append(f"a {what}, which cannot be charged beyond its balance")
        if disagree:
            said.append(
                f"instrument country {seen.country or '?'}, billing country "
                f"{seen.billing_country or '?'} and sign-up country "
                f"{state.signup_country or '?'} disagree"
            )
        reason = f"Payment instrument added at {format_ts(seen.ts_ms)}: " + "; ".join(said) + "."
        return [
            Finding(
                incident=seen.key,
                kind="high_risk_instrument",
                severity=severity,
                score=score_of(severity),
                event_time_ms=max(ts_ms, seen.ts_ms),
                window_start_ms=seen.ts_ms,
                window_end_ms=max(ts_ms, seen.ts_ms),
                reasons=(reason,),
                evidence={
                    "status": "open",
                    "instrument_type": seen.type,
                    "prepaid": prepaid,
                    "countries_disagree": disagree,
                    "instrument_country": seen.country,
                    "billing_country": seen.billing_country,
                    "signup_country": state.signup_country,
                },
            )
        ]

    def _resolve_instruments(self, state: PaymentsState, ts_ms: int) -> list[Finding]:
        findings = []
        for seen in state.instruments:
            if seen.alert is None:
                continue
            seen.alert = None
            findings.append(
                Finding(
                    incident=seen.key,
                    kind="high_risk_instrument",
                    severity="info",
                    score=score_of("info"),
                    event_time_ms=ts_ms,
                    window_start_ms=seen.ts_ms,
                    window_end_ms=ts_ms,
                    reasons=(
                        f"Resolved: a prepayment cleared at {format_ts(ts_ms)}, so usage on the "
                        f"{seen.type.replace('_', ' ')} is paid ahead.",
                    ),
                    evidence={
                        "status": "resolved",
                        "instrument_type": seen.type,
                        "cleared_at": format_ts(ts_ms),
                    },
                )
            )
        return findings

    # -- money in --------------------------------------------------------------------------

    def _micros(self, state: PaymentsState, event: PaymentEvent) -> int | None:
        """The event's amount in micro-units of the customer's currency, None if another."""
        if event.amount is None or event.amount <= 0.0:
            return 0
        if state.currency is None and event.currency is not None:
            state.currency = event.currency
        if event.currency is not None and event.currency != state.currency:
            return None
        return round(event.amount * MICROS)

    def _cleared(self, state: PaymentsState, event: PaymentEvent, what: str) -> list[Finding]:
        """A payment or prepayment cleared: what it resolves besides invoices."""
        if state.cleared_ms is None or event.ts_ms < state.cleared_ms:
            state.cleared_ms = event.ts_ms
        findings = self._resolve_unpaid_usage(state, event.ts_ms, what)
        account = state.invoices.get(ACCOUNT)
        if account is not None:
            findings.extend(self._resolve_failures(state, ACCOUNT, account, event.ts_ms))
        return findings

    def _prepayment(self, state: PaymentsState, event: PaymentEvent) -> list[Finding]:
        micros = self._micros(state, event)
        if micros == 0:
            return []
        findings = self._cleared(state, event, "a prepayment")
        findings.extend(self._resolve_instruments(state, event.ts_ms))
        if micros is not None:
            state.credit = capped(state.credit + micros)
            findings.extend(self._apply_credit(state, event.ts_ms))
        return findings

    def _payment_succeeded(self, state: PaymentsState, event: PaymentEvent) -> list[Finding]:
        micros = self._micros(state, event)
        if micros == 0:
            return []
        findings = self._cleared(state, event, "a payment")
        if micros is None:
            return findings
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
            self._schedule(state, inv)
            return []
        findings = self._resolve_failures(state, key, inv, ts_ms)
        findings.extend(self._resolve_collections(state, key, inv, ts_ms))
        inv.next_ms = None
        _refresh_next(state)
        return findings

    # -- invoices --------------------------------------------------------------------------

    def _invoice(self, state: PaymentsState, key: str) -> Invoice:
        inv = state.invoices.get(key)
        if inv is None:
            inv = state.invoices[key] = Invoice()
            drop_old_invoices(state, key)
            _refresh_next(state)
        return inv

    def _invoice_issued(self, state: PaymentsState, event: PaymentEvent) -> list[Finding]:
        if event.invoice_id is None or event.due_date is None:
            return []
        micros = self._micros(state, event)
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
            self._schedule(state, inv)
        return findings

    # -- failures and chargebacks -------------------------------------------------------------

    def _payment_failed(self, state: PaymentsState, event: PaymentEvent) -> list[Finding]:
        key = event.invoice_id or ACCOUNT
        inv = self._invoice(state, key)
        inv.failures += 1
        inv.failure_reason = event.failure_reason or inv.failure_reason
        if inv.failures < 2 or inv.failures > MAX_FAILURES:
            return []
        micros = self._micros(state, event) or 0
        at_stake = inv.owed if inv.owed > 0 else micros
        level = min(inv.failures, 4) - 1 + (1 if at_stake >= LARGE_FAILURE else 0)
        severity = SEVERITIES[level]
        inv.failure_severity = severity
        cur = state.currency or event.currency or ""
        what = "the account" if key == ACCOUNT else f"invoice {key}"
        reason = (
            f"{inv.failures} payments of {what} have failed"
            + (f", the last for {inv.failure_reason}" if inv.failure_reason else "")
            + (f"; {money(at_stake / MICROS, cur)} is at stake." if at_stake else ".")
        )
        return [
            Finding(
                incident=key,
                kind="payment_failure",
                severity=severity,
                score=score_of(severity),
                event_time_ms=event.ts_ms,
                window_start_ms=event.ts_ms,
                window_end_ms=event.ts_ms,
                reasons=(reason,),
                evidence={
                    "status": "open",
                    "invoice_id": None if key == ACCOUNT else key,
                    "failures": inv.failures,
                    "amount": round(at_stake / MICROS, 2),
                    "currency": cur,
                    "failure_reason": inv.failure_reason,
                },
            )
        ]

    def _resolve_failures(
        self, state: PaymentsState, key: str, inv: Invoice, ts_ms: int
    ) -> list[Finding]:
        inv.failures = 0
        if inv.failure_severity is None:
            return []
        inv.failure_severity = None
        what = "the account" if key == ACCOUNT else f"invoice {key}"
        return [
            Finding(
                incident=key,
                kind="payment_failure",
                severity="info",
                score=score_of("info"),
                event_time_ms=ts_ms,
                window_start_ms=ts_ms,
                window_end_ms=ts_ms,
                reasons=(f"Resolved: {what} was paid at {format_ts(ts_ms)}.",),
                evidence={
                    "status": "resolved",
                    "invoice_id": None if key == ACCOUNT else key,
                    "currency": state.currency,
                    "paid_at": format_ts(ts_ms),
                },
            )
        ]

    def _chargeback(self, state: PaymentsState, event: PaymentEvent) -> list[Finding]:
        ts = event.ts_ms
        micros = self._micros(state, event)
        if micros:
            key = event.invoice_id
            inv = state.invoices.get(key) if key is not None else None
            if key is not None and inv is not None and inv.amount > 0:
                settled = inv.owed == 0
                inv.paid = max(0, inv.paid - micros)
                if settled and inv.owed > 0:
                    # A settled invoice is owed again from now on.
                    inv.since_ms, inv.raised_days, inv.stage, inv.bucket = ts, 0, None, None
                self._schedule(state, inv)
            else:
                state.credit = capped(state.credit - micros)
        state.chargebacks += 1
        inst = event.instrument
        on_prepaid = inst is not None and inst.type in PREPAID_TYPES
        risky = on_prepaid or state.risky
        young = state.signup_ms is not None and ts - state.signup_ms < YOUNG_MS
        untrusted = risky or state.ubp_seen or young or state.chargebacks > 1
        severity: Severity = "critical" if risky or state.ubp_seen else "high"
        amount = event.amount or 0.0
        cur = event.currency or state.currency or ""
        said = []
        if on_prepaid and inst is not None:
            said.append(f"on a {inst.type.replace('_', ' ')}")
        elif state.risky:
            said.append("from a customer that added a high-risk instrument")
        if state.ubp_seen:
            said.append("after usage before payment")
        if young and state.signup_ms is not None:
            said.append(f"{_days((ts - state.signup_ms) // MS_PER_DAY)} after sign-up")
        where = f" of invoice {event.invoice_id}" if event.invoice_id else ""
        reason = (
            f"Chargeback{where} of {money(amount, cur)} at {format_ts(ts)}"
            + (f", {', '.join(said)}" if said else "")
            + f"; chargeback {state.chargebacks} of this customer."
        )
        return [
            Finding(
                incident=event.event_id,
                kind="chargeback",
                severity=severity,
                score=score_of(severity),
                event_time_ms=ts,
                window_start_ms=ts,
                window_end_ms=ts,
                reasons=(reason,),
                evidence={
                    "status": "open",
                    "amount": amount,
                    "currency": cur,
                    "invoice_id": event.invoice_id,
                    "instrument_type": inst.type if inst is not None else None,
                    "risky_instrument": risky,
                    "usage_before_payment": state.ubp_seen,
                    "standing": "untrusted" if untrusted else "established",
                    "chargebacks": state.chargebacks,
                },
            )
        ]

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
        ``until_ms``; see the module docstring."""
        if state.next_ms is None or until_ms < state.next_ms:
            return []
        findings: list[Finding] = []
        for key, inv in state.invoices.items():
            if inv.next_ms is not None and inv.next_ms <= until_ms:
                findings.extend(self._age(state, key, inv, until_ms))
                self._schedule(state, inv, refresh=False)
        _refresh_next(state)
        return findings

    def _walk(self, inv: Invoice, until_ms: int | None) -> list[tuple[int, int, Stage, str]]:
        """The collections findings of ``inv`` due by ``until_ms`` (None: the next one only),
        as (event time, days past due, stage, bucket), lines at the same time collapsed."""
        due_ms, owed = inv.due_ms, inv.owed
        if due_ms is None or owed <= 0:
            return []
        out: list[tuple[int, int, Stage, str]] = []
        current = (inv.stage, inv.bucket)
        for days in self._lines:
            if days <= inv.raised_days:
                continue
            at = max(due_ms + days * MS_PER_DAY, inv.since_ms)
            if until_ms is not None and at > until_ms:
                break
            if out and until_ms is None and at > out[-1][0]:
                break
            past = (at - due_ms) // MS_PER_DAY
            stage = self._collections.stage_for(past, owed)
            name = bucket_of(past)
            if stage is None or name is None or (stage.name, name) == current:
                continue
            current = (stage.name, name)
            if out and out[-1][0] == at:
                out[-1] = (at, past, stage, name)
            else:
                out.append((at, past, stage, name))
        return out

    def _schedule(self, state: PaymentsState, inv: Invoice, *, refresh: bool = True) -> None:
        nxt = self._walk(inv, None)
        inv.next_ms = nxt[0][0] if nxt else None
        if refresh:
            _refresh_next(state)

    def _age(self, state: PaymentsState, key: str, inv: Invoice, until_ms: int) -> list[Finding]:
        findings = []
        for at, past, stage, name in self._walk(inv, until_ms):
            inv.stage, inv.bucket = stage.name, name
            inv.raised_days = past
            findings.append(self._collections_finding(state, key, inv, at, past, stage, name))
        return findings

    def _collections_finding(
        self,
        state: PaymentsState,
        key: str,
        inv: Invoice,
        at_ms: int,
        past: int,
        stage: Stage,
        name: str,
    ) -> Finding:
        assert inv.due_ms is not None
        cur = state.currency or ""
        overdue = _ageing(state, at_ms)
        total = sum(overdue.values())
        owed = inv.owed / MICROS
        reason = (
            f"Invoice {key} of {money(inv.amount / MICROS, cur)} is {_days(past)} past due "
            f"(due {format_ts(inv.due_ms)}) with {money(owed, cur)} unpaid: stage "
            f"'{stage.name}' of the collections policy ({stage.action.replace('_', ' ')}). "
            f"The customer has {money(total, cur)} overdue in all."
        )
        return Finding(
            incident=key,
            kind="collections",
            severity=stage.severity,
            score=score_of(stage.severity),
            event_time_ms=at_ms,
            window_start_ms=inv.due_ms,
            window_end_ms=at_ms,
            reasons=(reason,),
            evidence={
                "status": "open",
                "invoice_id": key,
                "stage": stage.name,
                "action": stage.action,
                "days_past_due": past,
                "bucket": name,
                "amount_due": round(owed, 2),
                "invoice_amount": round(inv.amount / MICROS, 2),
                "currency": cur,
                "due_date": format_ts(inv.due_ms),
                "customer_overdue": {k: round(v, 2) for k, v in overdue.items()},
                "customer_overdue_total": round(total, 2),
            },
        )

    def _resolve_collections(
        self, state: PaymentsState, key: str, inv: Invoice, ts_ms: int
    ) -> list[Finding]:
        if inv.stage is None or inv.due_ms is None:
            return []
        stage = inv.stage
        inv.stage = inv.bucket = None
        past = max(0, (ts_ms - inv.due_ms) // MS_PER_DAY)
        return [
            Finding(
                incident=key,
                kind="collections",
                severity="info",
                score=score_of("info"),
                event_time_ms=ts_ms,
                window_start_ms=inv.due_ms,
                window_end_ms=ts_ms,
                reasons=(
                    f"Resolved: invoice {key} was paid in full at {format_ts(ts_ms)}, "
                    f"{_days(past)} past due.",
                ),
                evidence={
                    "status": "resolved",
                    "invoice_id": key,
                    "stage": stage,
                    "days_past_due": past,
                    "amount_due": 0.0,
                    "invoice_amount": round(inv.amount / MICROS, 2),
                    "currency": state.currency,
                    "due_date": format_ts(inv.due_ms),
                    "paid_at": format_ts(ts_ms),
                },
            )
        ]


_PAYMENTS: Final = {
    "instrument.added": PaymentsDetector._instrument_added,
    "prepayment": PaymentsDetector._prepayment,
    "invoice.issued": PaymentsDetector._invoice_issued,
    "payment.succeeded": PaymentsDetector._payment_succeeded,
    "payment.failed": PaymentsDetector._payment_failed,
    "chargeback": PaymentsDetector._chargeback,
}


def _refresh_cover(state: PaymentsState) -> None:
    """Whether a chargeable instrument whose countries agree is on file."""
    country = state.signup_country
    state.chargeable = any(
        seen.type in CHARGEABLE_TYPES
        and len({c for c in (seen.country, seen.billing_country, country) if c}) <= 1
        for seen in state.instruments
    )


def _refresh_next(state: PaymentsState) -> None:
    times = [inv.next_ms for inv in state.invoices.values() if inv.next_ms is not None]
    state.next_ms = min(times) if times else None


def _ageing(state: PaymentsState, at_ms: int) -> dict[str, float]:
    """What the customer owes past due at ``at_ms``, by ageing bucket (currency units)."""
    out: dict[str, float] = {}
    for inv in state.invoices.values():
        if inv.due_ms is None or inv.owed <= 0:
            continue
        name = bucket_of((at_ms - inv.due_ms) // MS_PER_DAY)
        if name is not None:
            out[name] = out.get(name, 0.0) + inv.owed / MICROS
    return out


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
