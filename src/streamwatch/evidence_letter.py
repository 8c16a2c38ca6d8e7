"""The evidence pack as a letter a person reads: a summary in sentences, then tables.

``render_letter`` turns the dict of ``streamwatch.evidence.build_evidence`` into Markdown;
it is pure and deterministic, and reads nothing but the pack.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

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
    out += [*_summary(pack), ""]

    out += ["## Money involved", ""]
    out += _table(
        ["Currency", *(title for _, title in MONEY_COLUMNS)],
        [[m["currency"], *(_amount(m[key]) for key, _ in MONEY_COLUMNS)] for m in pack["money"]],
    )
    out += [
        "",
        "Unpaid is what the invoices below still owe: amount less payments, plus chargebacks.",
        "",
    ]

    out += ["## Timeline", ""]
    if pack["timeline"]:
        out += _table(
            ["Event time", "What", "Detail", "Status"],
            [[t["event_time"], t["what"], t["summary"], t["status"]] for t in pack["timeline"]],
        )
    else:
        out.append("No alerts or enforcement actions were recorded for this customer.")
    out.append("")

    out += ["## Alerts", ""]
    if pack["alerts"]:
        out += _table(
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
    else:
        out.append("No alerts.")
    out.append("")

    out += ["## Enforcement actions", ""]
    if pack["enforcement"]:
        out += _table(
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
    else:
        out.append("None requested.")
    out.append("")

    usage = pack["usage"]
    out += [f"## Usage by day since {usage['since'] or 'the first record'}", ""]
    if usage["by_day"]:
        out += _table(
            ["Day (UTC)", "Currency", "Cost", "Records"],
            [
                [d["day"], d["currency"], _amount(d["cost"]), str(d["records"])]
                for d in usage["by_day"]
            ],
        )
        for name, title in (("sku", "SKU"), ("region", "Region")):
            out += ["", f"### Top {title}s", ""]
            out += _table(
                [title, "Currency", "Cost", "Share"],
                [
                    [line[name], line["currency"], _amount(line["cost"]), f"{line['share']:.1%}"]
                    for line in usage[f"top_{name}s"]
                ],
            )
    else:
        out.append("No usage recorded since the incident began.")
    out.append("")

    out += _payments(pack["payments"])
    return "\n".join(out).rstrip() + "\n"


def _summary(pack: dict[str, Any]) -> list[str]:
    customer = pack["customer_id"]
    incident = pack["incident"]
    lines = [
        "We ask for a credit for consumption by our customer "
        f"**{customer}**, which our monitoring found to be fraudulent or abusive."
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
    return [" ".join(lines)]


def _payments(payments: dict[str, Any]) -> list[str]:
    out = ["## Payments", ""]
    out += ["### Instruments", ""]
    if payments["instruments"]:
        out += _table(
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
    else:
        out.append("None recorded.")
    out += ["", "### Invoices", ""]
    if payments["invoices"]:
        out += _table(
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
    else:
        out.append("None recorded.")
    for name, title in (
        ("payments", "Payments received"),
        ("failures", "Failed payments"),
        ("chargebacks", "Chargebacks"),
        ("refunds", "Refunds"),
        ("prepayments", "Prepayments"),
    ):
        rows = payments[name]
        if not rows:
            continue
        out += ["", f"### {title}", ""]
        columns = ["At", "Invoice", "Amount", "Instrument"]
        if name == "failures":
            columns.append("Failure reason")
        out += _table(
            columns,
            [
                [
                    r["at"],
                    r["invoice_id"] or "",
                    _amount(r["amount"]) + (f" {r['currency']}" if r["currency"] else ""),
                    r.get("instrument") or "",
                    *([r.get("failure_reason") or ""] if name == "failures" else []),
                ]
                for r in rows
            ],
        )
    out.append("")
    return out


def _amount(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return lines


def _cell(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
