"""The evidence pack as a letter a person reads: a summary in sentences, then tables.

``render_letter`` turns the dict of ``streamwatch.evidence.build_evidence`` into Markdown;
it is pure and deterministic, and reads nothing but the pack. The ``*_table`` functions give
each table as (header, rows) of text cells, so that the HTML page
(``streamwatch.reports.evidence_page``) shows the very same tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

Table = tuple[list[str], list[list[str]]]
"""A table's header and rows, every cell as the text it shows."""

MONEY_COLUMNS = (
    ("consumption_since_incident", "Consumed since the incident began"),
    ("invoiced", "Invoiced"),
    ("paid", "Paid"),
    ("unpaid", "Unpaid (incl. charged back)"),
    ("charged_back", "Charged back"),
    ("refunded", "Refunded"),
    ("prepaid", "Prepaid"),
)


def render_letter(pack: dict[str, Any]) -> str:
    """The pack as Markdown: a letter-style summary and one table per section."""
    customer = pack["customer_id"]
    out = [f"# Evidence pack: customer {customer}", ""]
    if pack.get("generated_at"):
        out += [f"Prepared {pack['generated_at']} by streamwatch.", ""]
    out += [summary(pack, bold=lambda text: f"**{text}**"), ""]

    out += ["## Money involved", ""]
    out += _table(*money_table(pack))
    out += [
        "",
        "Unpaid is what the invoices below still owe: amount less payments, plus chargebacks.",
        "",
    ]

    out += ["## Timeline", ""]
    if pack["timeline"]:
        out += _table(*timeline_table(pack))
    else:
        out.append("No alerts or enforcement actions were recorded for this customer.")
    out.append("")

    out += ["## Alerts", ""]
    if pack["alerts"]:
        out += _table(*alerts_table(pack))
    else:
        out.append("No alerts.")
    out.append("")

    out += ["## Enforcement actions", ""]
    if pack["enforcement"]:
        out += _table(*enforcement_table(pack))
    else:
        out.append("None requested.")
    out.append("")

    usage = pack["usage"]
    out += [f"## Usage by day since {usage['since'] or 'the first record'}", ""]
    if usage["by_day"]:
        out += _table(*usage_by_day_table(pack))
        for name, title in TOP_TABLES:
            out += ["", f"### Top {title}s", ""]
            out += _table(*top_table(pack, name, title))
    else:
        out.append("No usage recorded since the incident began.")
    out.append("")

    out += _payments(pack["payments"])
    return "\n".join(out).rstrip() + "\n"


def summary(pack: dict[str, Any], bold: Callable[[str], str] = str) -> str:
    """The letter's opening paragraph; ``bold`` marks the customer's name up."""
    customer = bold(pack["customer_id"])
    incident = pack["incident"]
    finding = pack.get("finding") or {"fraud_or_abuse": True, "kinds": []}
    if finding["fraud_or_abuse"]:
        lines = [
            "We ask for a credit for consumption by our customer "
            f"{customer}, which our monitoring found to be fraudulent or abusive "
            f"({', '.join(finding['kinds'])})."
        ]
    else:
        lines = [
            f"This pack records our customer {customer}; our monitoring made no finding "
            "of fraud or abuse about it, so it is not a request for credit."
        ]
    if incident["start"]:
        lines.append(
            f"The incident began at {incident['start']}"
            + (f" ({incident['began_with'].rstrip('.')})" if incident["began_with"] else "")
            + f"; these records run to {incident['end']}."
        )
    for money in pack["money"]:
        cur = money["currency"]
        lines.append(
            f"Since then the customer consumed {_amount(money['consumption_since_incident'])} "
            f"{cur}; {_amount(money['unpaid'])} {cur} of its invoices is unpaid and "
            f"{_amount(money['charged_back'])} {cur} was charged back."
        )
    alerts = pack["alerts"]
    if alerts:
        kinds = sorted({a["kind"] for a in alerts})
        lines.append(
            f"streamwatch raised {len(alerts)} alert{'s' if len(alerts) != 1 else ''} "
            f"({', '.join(kinds)})."
        )
    actions = [r for r in pack["enforcement"] if not r["dry_run"]]
    if actions:
        steps = ", ".join(f"{r['action']} ({r['status']})" for r in actions)
        lines.append(f"We acted on them in turn: {steps}.")
    lines.append("The tables below give the details; evidence.json holds the same in full.")
    return " ".join(lines)


def _payments(payments: dict[str, Any]) -> list[str]:
    out = ["## Payments", ""]
    out += ["### Instruments", ""]
    if payments["instruments"]:
        out += _table(*instruments_table(payments))
    else:
        out.append("None recorded.")
    out += ["", "### Invoices", ""]
    if payments["invoices"]:
        out += _table(*invoices_table(payments))
    else:
        out.append("None recorded.")
    for name, title in PAYMENT_LISTS:
        if not payments[name]:
            continue
        out += ["", f"### {title}", ""]
        out += _table(*payment_list_table(payments, name))
    out.append("")
    return out


TOP_TABLES = (("sku", "SKU"), ("region", "Region"))
PAYMENT_LISTS = (
    ("payments", "Payments received"),
    ("failures", "Failed payments"),
    ("chargebacks", "Chargebacks"),
    ("refunds", "Refunds"),
    ("prepayments", "Prepayments"),
)


def money_table(pack: dict[str, Any]) -> Table:
    """The money involved, one row per currency."""
    return (
        ["Currency", *(title for _, title in MONEY_COLUMNS)],
        [[m["currency"], *(_amount(m[key]) for key, _ in MONEY_COLUMNS)] for m in pack["money"]],
    )


def timeline_table(pack: dict[str, Any]) -> Table:
    """Alerts, requests and outcomes in event-time order."""
    return (
        ["Event time", "What", "Detail", "Status"],
        [[t["event_time"], t["what"], t["summary"], t["status"]] for t in pack["timeline"]],
    )


def alerts_table(pack: dict[str, Any]) -> Table:
    """Each alert at its latest revision."""
    return (
        ["First raised", "Kind", "Severity", "Score", "Status", "Reasons", "Alert id"],
        [
            [
                a["first_event_time"],
                a["kind"],
                a["severity"],
                f"{a['score']:.2f}",
                a["status"],
                " ".join(a.get("reasons") or []),
                a["alert_id"],
            ]
            for a in pack["alerts"]
        ],
    )


def enforcement_table(pack: dict[str, Any]) -> Table:
    """Each enforcement request with the suspension worker's latest outcome."""
    return (
        ["Event time", "Action", "Rule", "Approval", "Outcome", "Reason", "Request id"],
        [
            [
                r["event_time"],
                r["action"] + (" (dry run)" if r["dry_run"] else ""),
                r["policy"],
                "required" if r["requires_approval"] else "automatic",
                r["status"],
                r["reason"],
                r["request_id"],
            ]
            for r in pack["enforcement"]
        ],
    )


def usage_by_day_table(pack: dict[str, Any]) -> Table:
    """Cost by day since the incident began."""
    return (
        ["Day (UTC)", "Currency", "Cost", "Records"],
        [
            [d["day"], d["currency"], _amount(d["cost"]), str(d["records"])]
            for d in pack["usage"]["by_day"]
        ],
    )


def top_table(pack: dict[str, Any], name: str, title: str) -> Table:
    """The SKUs (``name`` "sku") or regions ("region") that cost most."""
    return (
        [title, "Currency", "Cost", "Share"],
        [
            [line[name], line["currency"], _amount(line["cost"]), f"{line['share']:.1%}"]
            for line in pack["usage"][f"top_{name}s"]
        ],
    )


def instruments_table(payments: dict[str, Any]) -> Table:
    """The payment instruments seen."""
    return (
        ["Type", "Fingerprint", "Issuing country", "Billing country", "First seen"],
        [
            [
                i["type"],
                i["fingerprint"] or "",
                i["country"] or "",
                i["billing_country"] or "",
                i["first_seen"],
            ]
            for i in payments["instruments"]
        ],
    )


def invoices_table(payments: dict[str, Any]) -> Table:
    """Each invoice with what was paid, charged back and is outstanding."""
    return (
        [
            "Invoice",
            "Issued",
            "Due",
            "Amount",
            "Paid",
            "Failed attempts",
            "Charged back",
            "Outstanding",
            "Status",
        ],
        [
            [
                i["invoice_id"],
                i["issued_at"] or "",
                i["due_date"] or "",
                _amount(i["amount"]) + (f" {i['currency']}" if i["currency"] else ""),
                _amount(i["paid"]),
                str(i["failed_attempts"]),
                _amount(i["charged_back"]),
                _amount(i["outstanding"]),
                i["status"],
            ]
            for i in payments["invoices"]
        ],
    )


def payment_list_table(payments: dict[str, Any], name: str) -> Table:
    """One of the lists of ``PAYMENT_LISTS`` (payments, failures, chargebacks, ...)."""
    columns = ["At", "Invoice", "Amount", "Instrument"]
    if name == "failures":
        columns.append("Failure reason")
    return (
        columns,
        [
            [
                r["at"],
                r["invoice_id"] or "",
                _amount(r["amount"]) + (f" {r['currency']}" if r["currency"] else ""),
                r.get("instrument") or "",
                *([r.get("failure_reason") or ""] if name == "failures" else []),
            ]
            for r in payments[name]
        ],
    )


def _amount(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return lines


def _cell(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
