"""The evidence pack: what a reseller sends the provider when asking for a credit on fraudulent
or abusive consumption by one customer.

``build_evidence`` is pure and deterministic: the same inputs (in any order) give the same
pack. It takes the customer's contract events, the alerts and enforcement requests streamwatch
wrote about them, and the suspension worker's outcomes if there are any, and returns a
JSON-ready dict (see ``streamwatch.evidence_letter`` for the readable letter):

- ``incident``: it began with the first evidence of the fraud and abuse findings (of every
  alert when there is none; without alerts, the first event): an alert's ``window_start``, or
  its ``event_time`` where the window only frames the evidence (a budget month); it runs to the
  latest event or alert seen;
- ``finding``: whether streamwatch found fraud or abuse (``is_fraud_or_abuse``) and of which
  kinds; a credit request needs one;
- ``timeline``: each alert (its latest revision, placed at its first event time), each
  enforcement request (placed at the event time of the alert revision that caused it) and each
  outcome, in event-time order;
- ``money_at_risk``: the customer's money at risk as each alert revision reported it;
- ``usage``: cost by day since the incident began, and the top SKUs and regions;
- ``payments``: instruments, invoices (with what was paid, charged back and is outstanding),
  payments, failures, chargebacks, refunds and prepayments;
- ``money``: per currency, consumption since the incident began, invoiced, paid, unpaid
  (outstanding on the invoices, charged-back amounts included), charged back, refunded, prepaid.

Messages are matched to the customer by ``customer_id``; events repeating an ``event_id`` and
messages repeating an id (alert id and revision, request id) count once.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from streamwatch.cents import cents, from_cents, split_cents
from streamwatch.core.events import Event, PaymentEvent, UsageEvent
from streamwatch.core.timeutil import MS_PER_DAY, format_ts, ts_ms_or_none

FORMAT_VERSION: Final = "1"
TOP_LINES: Final = 10
"""SKUs and regions listed by cost; the rest are summed into one line."""

MessageKind = Literal["event", "alert", "request", "result"]
FRAUD_OR_ABUSE_KINDS: Final = frozenset(
    {
        "crypto_mining",
        "usage_before_payment",
        "high_risk_instrument",
        "chargeback",
        "bot_signup",
        "identity_mismatch",
        "privilege_escalation",
        "network_abuse",
    }
)
"""Alert kinds that are findings of fraud or abuse (``provider_notice`` depends on its category)."""
ABUSE_NOTICE_PREFIXES: Final = ("aup.", "fraud.")
FRAMING_WINDOW_KINDS: Final = frozenset({"budget_threshold", "stale_access"})
"""Kinds whose ``window_start`` frames the evidence rather than being part of it."""
MONEY_COLUMNS: Final = (
    "consumption_since_incident",
    "invoiced",
    "paid",
    "unpaid",
    "charged_back",
    "refunded",
    "prepaid",
)
OUTCOMES: Final = frozenset({"done", "failed", "awaiting_approval", "refused"})


def classify(doc: Mapping[str, Any]) -> MessageKind | None:
    """What a JSON message is: a contract event, an alert, an enforcement request, a worker's
    outcome, or None (not one of ours). Decides by shape, so mixed JSONL files can be read.

    A suspension worker's result carries the request's ``action`` too (and ``result_id``,
    ``outcome``), so it is told from a request by its ``outcome`` before ``action`` is looked at.
    """
    if "alert_id" in doc and "kind" in doc and "revision" in doc:
        return "alert"
    if "request_id" in doc and doc.get("outcome") in OUTCOMES:
        return "result"
    if "request_id" in doc and "action" in doc:
        return "request"
    if doc.get("type") in ("usage", "activity", "payment") and "event_id" in doc:
        return "event"
    return None


def build_evidence(
    customer_id: str,
    events: Iterable[Event],
    alerts: Iterable[Mapping[str, Any]],
    requests: Iterable[Mapping[str, Any]],
    results: Iterable[Mapping[str, Any]] = (),
    generated_at: str = "",
    top: int = TOP_LINES,
) -> dict[str, Any]:
    """The evidence pack of ``customer_id`` (see the module docstring). ``generated_at`` is the
    caller's wall clock, recorded as given."""
    mine_events = _unique_events(e for e in events if e.customer_id == customer_id)
    revisions = _unique(
        (a for a in alerts if a.get("customer_id") == customer_id),
        lambda a: (a["alert_id"], int(a["revision"])),
    )
    mine_requests = _unique(
        (r for r in requests if r.get("customer_id") == customer_id), lambda r: r["request_id"]
    )
    mine_results = _unique(
        (r for r in results if r.get("customer_id") == customer_id),
        lambda r: r.get("result_id") or (r["request_id"], r.get("outcome"), r.get("at")),
    )
    latest = latest_alerts(revisions)
    start_ms, end_ms = _incident_bounds(mine_events, revisions)
    enforcement = _enforcement(mine_requests, mine_results, revisions)
    usage = _usage(mine_events, start_ms, top)
    payments = _payments(mine_events, end_ms)
    return {
        "format": FORMAT_VERSION,
        "customer_id": customer_id,
        "generated_at": generated_at,
        "incident": {
            "start": format_ts(start_ms) if start_ms is not None else None,
            "end": format_ts(end_ms) if end_ms is not None else None,
            "began_with": _began_with(revisions),
        },
        "finding": _finding(latest),
        "money": _money(usage, payments),
        "timeline": _timeline(latest, enforcement),
        "alerts": latest,
        "money_at_risk": _money_at_risk(revisions),
        "enforcement": enforcement,
        "usage": usage,
        "payments": payments,
        "counts": {
            "events": len(mine_events),
            "alerts": len(latest),
            "alert_revisions": len(revisions),
            "requests": len(mine_requests),
            "outcomes": len(mine_results),
        },
    }


# --- inputs -------------------------------------------------------------------------------


def _unique_events(events: Iterable[Event]) -> list[Event]:
    seen: dict[str, Event] = {}
    for event in events:
        seen.setdefault(event.event_id, event)
    return sorted(seen.values(), key=lambda e: (e.ts_ms, e.event_id))


def _unique(docs: Iterable[Mapping[str, Any]], key: Any) -> list[dict[str, Any]]:
    seen: dict[Any, dict[str, Any]] = {}
    for doc in docs:
        seen.setdefault(key(doc), dict(doc))
    return [seen[k] for k in sorted(seen, key=repr)]


# --- alerts and the incident ----------------------------------------------------------------


def latest_alerts(revisions: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The latest revision of each alert, with when it was first raised
    (``first_event_time``), how often amended (``revisions_seen``) and ``status`` (open or
    resolved), ordered by first raised, then alert id."""
    by_id: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for alert in revisions:
        by_id[alert["alert_id"]].append(alert)
    out = []
    for alert_id, group in by_id.items():
        group.sort(key=lambda a: int(a["revision"]))
        first_ms = min((ts_ms_or_none(a.get("event_time")) or 0) for a in group)
        latest = dict(group[-1])
        latest["first_event_time"] = format_ts(first_ms)
        latest["revisions_seen"] = len(group)
        latest["status"] = (
            "resolved" if latest.get("evidence", {}).get("status") == "resolved" else "open"
        )
        out.append((first_ms, alert_id, latest))
    return [alert for _, _, alert in sorted(out, key=lambda t: (t[0], t[1]))]


def is_fraud_or_abuse(alert: Mapping[str, Any]) -> bool:
    """Whether an alert is a finding of fraud or abuse, the ground for a credit request.

    Budget, spend, payment-standing and access-hygiene alerts are not: a customer who spends
    more than planned, or pays late, has not thereby defrauded anyone. A provider notice is one
    when its category is acceptable-use or fraud.
    """
    kind = alert.get("kind")
    if kind == "provider_notice":
        category = str((alert.get("evidence") or {}).get("category") or "")
        return category.startswith(ABUSE_NOTICE_PREFIXES)
    return kind in FRAUD_OR_ABUSE_KINDS


def _evidence_start_ms(alert: Mapping[str, Any]) -> int | None:
    """When an alert's evidence began: its ``window_start``, except where the window only frames
    the evidence (a budget month, the quiet months before a stale account was used), where it
    is the alert's ``event_time``; never later than ``event_time``."""
    at = ts_ms_or_none(alert.get("event_time"))
    if alert.get("kind") in FRAMING_WINDOW_KINDS:
        return at
    start = ts_ms_or_none(alert.get("window_start"))
    if start is None or at is None:
        return start if at is None else at
    return min(start, at)


def _incident_alerts(revisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The revisions the incident is made of: the fraud and abuse findings, or, without any,
    every alert."""
    return [a for a in revisions if is_fraud_or_abuse(a)] or revisions


def _incident_bounds(
    events: list[Event], revisions: list[dict[str, Any]]
) -> tuple[int | None, int | None]:
    """From the first evidence of the incident's alerts (the first event without alerts) to the
    latest event or alert seen."""
    starts = [ms for a in _incident_alerts(revisions) if (ms := _evidence_start_ms(a)) is not None]
    ends = [ms for a in revisions if (ms := ts_ms_or_none(a.get("event_time"))) is not None]
    ends.extend(e.ts_ms for e in events)
    start = min(starts) if starts else (events[0].ts_ms if events else None)
    end = max(ends) if ends else None
    return start, end


def _began_with(revisions: list[dict[str, Any]]) -> str | None:
    """The alert the incident began with, in the words of its first revision."""
    if not revisions:
        return None
    first = min(
        _incident_alerts(revisions),
        key=lambda a: (_evidence_start_ms(a) or 0, int(a["revision"]), a["alert_id"]),
    )
    reasons = first.get("reasons") or [first["kind"]]
    return f"{first['kind']}: {reasons[0]}"


def _finding(latest: list[dict[str, Any]]) -> dict[str, Any]:
    kinds = sorted({a["kind"] for a in latest if is_fraud_or_abuse(a)})
    return {"fraud_or_abuse": bool(kinds), "kinds": kinds}


def _money_at_risk(revisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The customer's money at risk as each alert revision reported it (the revision's
    ``money_at_risk`` object), in event-time order."""
    rows = []
    for alert in revisions:
        money = alert.get("money_at_risk")
        if not isinstance(money, Mapping) or ts_ms_or_none(alert.get("event_time")) is None:
            continue
        rows.append(
            {
                "event_time": alert["event_time"],
                "alert_id": alert["alert_id"],
                "kind": alert["kind"],
                "revision": int(alert["revision"]),
                "customer_id": alert["customer_id"],
                "money_at_risk": dict(money),
            }
        )
    rows.sort(key=lambda r: (ts_ms_or_none(r["event_time"]) or 0, r["alert_id"], r["revision"]))
    return rows


# --- enforcement ----------------------------------------------------------------------------


def _enforcement(
    requests: list[dict[str, Any]], results: list[dict[str, Any]], revisions: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Requests with the event time of the alert revision that caused them and their outcomes.

    The policy stamps a request's ``requested_at`` with its alert's ``detected_at``, which
    finds the revision; failing that, the alert's first revision stands in.
    """
    caused_at: dict[tuple[str, str], int] = {}
    first_at: dict[str, int] = {}
    for alert in revisions:
        at = ts_ms_or_none(alert.get("event_time"))
        if at is None:
            continue
        caused_at.setdefault((alert["alert_id"], str(alert.get("detected_at"))), at)
        first_at[alert["alert_id"]] = min(at, first_at.get(alert["alert_id"], at))
    outcomes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for result in results:
        outcomes[result["request_id"]].append(
            {k: result.get(k) for k in ("outcome", "reason", "at")}
        )
    out = []
    for request in requests:
        alert_ids = list(request.get("alert_ids") or [])
        times = [
            caused_at.get((a, str(request.get("requested_at"))), first_at.get(a)) for a in alert_ids
        ]
        known = [t for t in times if t is not None]
        event_ms = min(known) if known else ts_ms_or_none(request.get("requested_at"))
        done = sorted(outcomes.get(request["request_id"], []), key=lambda o: str(o.get("at")))
        entry = {
            k: request.get(k)
            for k in (
                "request_id",
                "action",
                "policy",
                "alert_ids",
                "subscription_ids",
                "reason",
                "dry_run",
                "requires_approval",
                "requested_at",
            )
        }
        entry["event_time"] = format_ts(event_ms) if event_ms is not None else None
        entry["outcomes"] = done
        entry["status"] = done[-1]["outcome"] if done else "no outcome recorded"
        out.append((event_ms or 0, str(request.get("requested_at")), request["request_id"], entry))
    return [entry for *_, entry in sorted(out, key=lambda t: t[:3])]


def _timeline(
    alerts: list[dict[str, Any]], enforcement: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    rows: list[tuple[int, int, str, dict[str, Any]]] = []
    for alert in alerts:
        at = ts_ms_or_none(alert["first_event_time"]) or 0
        reasons = alert.get("reasons") or [alert["kind"]]
        rows.append(
            (
                at,
                0,
                alert["alert_id"],
                {
                    "event_time": alert["first_event_time"],
                    "what": "alert",
                    "summary": f"{alert['kind']} ({alert['severity']}): {reasons[0]}",
                    "status": alert["status"],
                    "alert_id": alert["alert_id"],
                },
            )
        )
    for request in enforcement:
        at = ts_ms_or_none(request["event_time"]) or 0
        approval = ", approval required" if request["requires_approval"] else ""
        dry = ", dry run" if request["dry_run"] else ""
        rows.append(
            (
                at,
                1,
                request["request_id"],
                {
                    "event_time": request["event_time"],
                    "what": "enforcement",
                    "summary": f"{request['action']} requested by rule {request['policy']}"
                    f"{approval}{dry}: {request['reason']}",
                    "status": request["status"],
                    "request_id": request["request_id"],
                    "requested_at": request["requested_at"],
                },
            )
        )
        for n, outcome in enumerate(request["outcomes"]):
            rows.append(
                (
                    at,
                    2 + n,
                    request["request_id"],
                    {
                        "event_time": request["event_time"],
                        "what": "outcome",
                        "summary": f"{request['action']} {outcome['outcome']}"
                        + (f": {outcome['reason']}" if outcome.get("reason") else ""),
                        "status": outcome["outcome"],
                        "request_id": request["request_id"],
                        "at": outcome.get("at"),
                    },
                )
            )
    rows.sort(key=lambda r: (r[0], r[2] if r[1] else "", r[1], r[2]))
    return [row for *_, row in rows]


# --- usage ----------------------------------------------------------------------------------


def _usage(events: list[Event], start_ms: int | None, top: int) -> dict[str, Any]:
    """Cost by day (UTC) since ``start_ms``, and the SKUs and regions that cost most.

    Each table's cents are split from the exact total of its currency (``split_cents``), so
    the days, the SKUs and the regions each add up to the consumption in ``money``.
    """
    usage = [
        e for e in events if isinstance(e, UsageEvent) and (start_ms is None or e.ts_ms >= start_ms)
    ]
    by_day: dict[tuple[str, str], list[float]] = defaultdict(list)
    by_sku: dict[tuple[str, str], list[float]] = defaultdict(list)
    by_region: dict[tuple[str, str], list[float]] = defaultdict(list)
    for event in usage:
        day = format_ts(event.ts_ms - event.ts_ms % MS_PER_DAY)[:10]
        by_day[(day, event.currency)].append(event.cost)
        by_sku[(event.sku, event.currency)].append(event.cost)
        by_region[(event.region, event.currency)].append(event.cost)
    day_cents = _split(by_day)
    return {
        "since": format_ts(start_ms) if start_ms is not None else None,
        "by_day": [
            {
                "day": day,
                "currency": cur,
                "cost": from_cents(day_cents[(day, cur)]),
                "records": len(by_day[(day, cur)]),
            }
            for day, cur in sorted(by_day)
        ],
        "top_skus": _top(_split(by_sku), "sku", top),
        "top_regions": _top(_split(by_region), "region", top),
    }


def _split(costs: dict[tuple[str, str], list[float]]) -> dict[tuple[str, str], int]:
    """Cents per (label, currency) that add up, per currency, to the exact total in cents."""
    out: dict[tuple[str, str], int] = {}
    for cur in sorted({cur for _, cur in costs}):
        keys = sorted(k for k in costs if k[1] == cur)
        sums = [math.fsum(costs[k]) for k in keys]
        out.update(zip(keys, split_cents(sums), strict=True))
    return out


def _top(costs: dict[tuple[str, str], int], name: str, top: int) -> list[dict[str, Any]]:
    totals: dict[str, int] = defaultdict(int)
    for (_, cur), amount in costs.items():
        totals[cur] += amount
    ranked = sorted(costs.items(), key=lambda kv: (kv[0][1], -kv[1], kv[0][0]))
    out = []
    shown: dict[str, int] = defaultdict(int)
    rest: dict[str, int] = defaultdict(int)
    for (label, cur), amount in ranked:
        if shown[cur] < top:
            shown[cur] += 1
            out.append(_top_line(name, label, cur, amount, totals[cur]))
        else:
            rest[cur] += amount
    out.extend(
        _top_line(name, "(all others)", cur, amount, totals[cur]) for cur, amount in rest.items()
    )
    return out


def _top_line(name: str, label: str, cur: str, amount: int, total: int) -> dict[str, Any]:
    share = round(amount / total, 4) if total > 0 else 0.0
    return {name: label, "currency": cur, "cost": from_cents(amount), "share": share}


# --- payments -------------------------------------------------------------------------------


@dataclass
class _Invoice:
    """One invoice as the payment events tell it; amounts in whole cents."""

    invoice_id: str
    issued_at: str | None = None
    amount: int | None = None
    currency: str | None = None
    due_date: str | None = None
    paid: int = 0
    failed_attempts: int = 0
    charged_back: int = 0
    refunded: int = 0

    def to_dict(self, as_of_ms: int | None) -> dict[str, Any]:
        outstanding = (
            max(0, self.amount - self.paid + self.charged_back) if self.amount is not None else None
        )
        due_ms = _due_ms(self.due_date)
        if outstanding is None:
            status = "not issued in these records"
        elif outstanding == 0:
            status = "paid"
        elif self.charged_back > 0:
            status = "charged back"
        elif due_ms is not None and as_of_ms is not None and as_of_ms > due_ms:
            status = "overdue"
        else:
            status = "unpaid"
        return {
            "invoice_id": self.invoice_id,
            "issued_at": self.issued_at,
            "amount": from_cents(self.amount) if self.amount is not None else None,
            "currency": self.currency,
            "due_date": self.due_date,
            "paid": from_cents(self.paid),
            "failed_attempts": self.failed_attempts,
            "charged_back": from_cents(self.charged_back),
            "refunded": from_cents(self.refunded),
            "outstanding": from_cents(outstanding) if outstanding is not None else None,
            "status": status,
        }


def _due_ms(due: str | None) -> int | None:
    if due is None:
        return None
    if len(due) == 10:  # a date: due by the end of that day
        due = f"{due}T23:59:59Z"
    return ts_ms_or_none(due)


def _payments(events: list[Event], as_of_ms: int | None) -> dict[str, Any]:
    payments = [e for e in events if isinstance(e, PaymentEvent)]
    instruments: dict[str, dict[str, Any]] = {}
    invoices: dict[str, _Invoice] = {}
    lists: dict[str, list[dict[str, Any]]] = {
        "payments": [],
        "failures": [],
        "chargebacks": [],
        "refunds": [],
        "prepayments": [],
    }
    list_of = {
        "payment.succeeded": "payments",
        "payment.failed": "failures",
        "chargeback": "chargebacks",
        "refund": "refunds",
        "prepayment": "prepayments",
    }
    for event in payments:
        card = event.instrument
        card_key = (card.fingerprint or card.type) if card is not None else None
        if card is not None and card_key is not None and card_key not in instruments:
            instruments[card_key] = {
                "type": card.type,
                "fingerprint": card.fingerprint,
                "country": card.country,
                "billing_country": event.billing_country,
                "first_seen": event.ts,
                "added_explicitly": event.kind == "instrument.added",
            }
        invoice = None
        if event.invoice_id is not None:
            invoice = invoices.setdefault(event.invoice_id, _Invoice(event.invoice_id))
        amount = cents(event.amount or 0.0)
        if event.kind == "invoice.issued" and invoice is not None:
            invoice.issued_at = event.ts
            invoice.amount = amount
            invoice.currency = event.currency
            invoice.due_date = event.due_date
        elif invoice is not None:
            if event.kind == "payment.succeeded":
                invoice.paid += amount
            elif event.kind == "payment.failed":
                invoice.failed_attempts += 1
            elif event.kind == "chargeback":
                invoice.charged_back += amount
            elif event.kind == "refund":
                invoice.refunded += amount
            invoice.currency = invoice.currency or event.currency
        name = list_of.get(event.kind)
        if name is not None:
            row: dict[str, Any] = {
                "at": event.ts,
                "invoice_id": event.invoice_id,
                "amount": from_cents(cents(event.amount)) if event.amount is not None else None,
                "currency": event.currency,
            }
            if card_key is not None:
                row["instrument"] = card_key
            if event.kind == "payment.failed":
                row["failure_reason"] = event.failure_reason
            lists[name].append(row)
    return {
        "as_of": format_ts(as_of_ms) if as_of_ms is not None else None,
        "instruments": list(instruments.values()),
        "invoices": [
            invoices[k].to_dict(as_of_ms)
            for k in sorted(invoices, key=lambda k: (str(invoices[k].issued_at), k))
        ],
        **lists,
    }


# --- money ----------------------------------------------------------------------------------


def _money(usage: dict[str, Any], payments: dict[str, Any]) -> list[dict[str, Any]]:
    """Per currency: what was consumed since the incident began, and where the payments stand.

    Each column is the sum, in whole cents, of the lines of its table in the pack (usage by
    day, invoices, payments, chargebacks, refunds, prepayments), so the letter's totals equal
    its tables to the cent.
    """
    rows: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(MONEY_COLUMNS, 0))
    for day in usage["by_day"]:
        rows[day["currency"]]["consumption_since_incident"] += cents(day["cost"])
    for invoice in payments["invoices"]:
        if invoice["amount"] is None or invoice["currency"] is None:
            continue
        row = rows[invoice["currency"]]
        row["invoiced"] += cents(invoice["amount"])
        row["unpaid"] += cents(invoice["outstanding"])
    for name, column in (
        ("payments", "paid"),
        ("chargebacks", "charged_back"),
        ("refunds", "refunded"),
        ("prepayments", "prepaid"),
    ):
        for entry in payments[name]:
            if entry["amount"] is not None and entry["currency"] is not None:
                rows[entry["currency"]][column] += cents(entry["amount"])
    return [
        {"currency": cur, **{k: from_cents(v) for k, v in row.items()}}
        for cur, row in sorted(rows.items())
    ]
