"""The console's HTML pages, rendered on the server from the same data the JSON API returns.

Every page is self-contained: inline CSS, a few lines of inline JavaScript for the forms
(which post JSON to ``/console/api`` and reload), and SVG plots drawn by ``web.plots``; the
browser fetches nothing from anywhere else. Every value is escaped. Pure functions of their
arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any, Final
from urllib.parse import quote

from streamwatch.core.detectors.registry import registered_kinds
from streamwatch.core.events import SEVERITIES
from streamwatch.web.plots import Series, bar_chart, line_chart

KINDS: Final = registered_kinds()

STYLE: Final = """
body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1f3a5f;color:#fff;padding:10px 20px}
header a{color:#fff;margin-right:18px;text-decoration:none;font-weight:600}
main{padding:16px 20px;max-width:1100px}
table{border-collapse:collapse;width:100%;background:#fff;margin:8px 0 18px}
th,td{border-bottom:1px solid #ddd;padding:5px 8px;text-align:left;font-size:14px;
vertical-align:top}
th{background:#eef2f7}
.sev-critical{color:#a00;font-weight:700}.sev-high{color:#c40}.sev-medium{color:#a70}
.suppressed{color:#888;font-style:italic}
.chart{background:#fff;border:1px solid #ddd;margin:6px 0}
.chart-title{font-size:13px;font-weight:600}.axis,.legend{font-size:11px;fill:#555}
form{background:#fff;border:1px solid #ddd;padding:8px;margin:8px 0}
input,select{margin:2px 6px 2px 0}
#message{padding:6px 0;font-weight:600}
.muted{color:#777}
"""

SCRIPT: Final = """
async function send(form, url, method) {
  const data = Object.fromEntries(new FormData(form).entries());
  const out = document.getElementById('message');
  const response = await fetch(url, {method: method || 'POST',
    headers: {'Content-Type': 'application/json'}, body: JSON.stringify(data)});
  const body = await response.json();
  out.textContent = (response.ok ? '' : 'Refused: ') + (body.message || body.error || '');
  out.dataset.status = response.status;
  if (response.ok) { setTimeout(() => location.reload(), 3000); }
  return false;
}
"""


def _page(title: str, body: str, base: str) -> str:
    nav = "".join(
        f'<a href="{base}{path}">{name}</a>'
        for path, name in (
            ("/", "Risk"),
            ("/alerts", "Alerts"),
            ("/approvals", "Approvals"),
            ("/suppressions", "Suppressions"),
        )
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)} · streamwatch</title><style>{STYLE}</style>"
        f"<script>{SCRIPT}</script></head><body><header>{nav}</header><main>"
        f"<h1>{escape(title)}</h1><div id='message' role='status'></div>{body}</main>"
        "</body></html>"
    )


def _money(money: dict[str, Any] | None) -> str:
    if not isinstance(money, dict):
        return "unknown"
    return f"{money.get('amount', 0):,.2f} {escape(str(money.get('currency') or ''))}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], css: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table class='{css}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _customer_link(base: str, customer_id: str) -> str:
    return f'<a href="{base}/customers/{quote(customer_id, safe="")}">{escape(customer_id)}</a>'


def risk_page(
    ranking: dict[str, Any], base: str, feed_error: str | None, on: str | None = None
) -> str:
    """The customers most at risk (``Ranking.to_dict`` with ``open_alerts``): first what was
    done (converted through which rates, or kept per currency), then one table in the reporting
    currency, or one per currency (each ordered within itself), then those whose money at risk
    is not known yet. Totals follow the same rule."""
    reporting = ranking.get("reporting")
    parts = [f"<p id='fx-note'>{escape(ranking['note'])}</p>"]
    if reporting is not None:
        parts.append(
            f"<form method='get' action='{base}/' id='fx-day'>rates in force on "
            f"<input name='on' value='{escape(on or reporting['day'])}' size='10'>"
            "<button>Convert</button></form>"
        )
    if ranking["converted"]:
        to = escape(reporting["currency"]) if reporting else ""
        parts.append(
            _table(
                ["customer", f"in {to}", "money at risk", "rate", "risk", "open alerts"],
                [
                    [
                        _customer_link(base, r["customer_id"]),
                        f"{r['converted']:,.2f} {to}",
                        _amount(r),
                        escape(_rate(r)),
                        f"{r['risk']:.2f}",
                        str(r.get("open_alerts", "")),
                    ]
                    for r in ranking["converted"]
                ],
                "risk converted",
            )
        )
    for currency, rows in ranking["by_currency"].items():
        apart = " (not converted: no rate)" if reporting is not None else ""
        parts.append(f"<h2>In {escape(currency)}{escape(apart)}</h2>")
        parts.append(
            _table(
                ["customer", "money at risk", "risk", "open alerts"],
                [
                    [
                        _customer_link(base, r["customer_id"]),
                        _amount(r),
                        f"{r['risk']:.2f}",
                        str(r.get("open_alerts", "")),
                    ]
                    for r in rows
                ],
                f"risk currency-{escape(currency)}",
            )
        )
    if ranking["unknown"]:
        parts.append("<h2>Money at risk not known yet</h2>")
        parts.append(
            _table(
                ["customer", "risk", "open alerts"],
                [
                    [
                        _customer_link(base, r["customer_id"]),
                        f"{r['risk']:.2f}",
                        str(r.get("open_alerts", "")),
                    ]
                    for r in ranking["unknown"]
                ],
                "risk unknown",
            )
        )
    totals = ranking.get("totals") or {}
    apart = ", ".join(
        f"{totals[cur]:,.2f} {escape(cur)}" for cur in ranking["by_currency"] if cur in totals
    )
    if reporting is not None and ranking["converted"]:
        to = reporting["currency"]
        parts.append(
            f"<p id='totals'>Total of those listed: {totals[to]:,.2f} {escape(to)} converted"
            + (f"; not converted: {apart}" if apart else "")
            + "</p>"
        )
    elif apart:
        parts.append(f"<p id='totals'>Total of those listed, per currency: {apart}</p>")
    note = f"<p class='muted'>{escape(feed_error)}</p>" if feed_error else ""
    listed = ranking["converted"] or ranking["by_currency"] or ranking["unknown"]
    empty = "<p>No customer has an open alert.</p>" if not listed else ""
    return _page("Customers most at risk", note + empty + "".join(parts), base)


def _amount(row: dict[str, Any]) -> str:
    return f"{row['money_at_risk']:,.2f} {escape(str(row.get('currency') or ''))}"


def _rate(row: dict[str, Any]) -> str:
    if row.get("rate_from") is None:
        return "1"
    return f"{row['rate']:.4f} from {row['rate_from']}"


def customer_page(customer: dict[str, Any], timeline: list[dict[str, Any]], base: str) -> str:
    """One customer: money at risk, plots, open alerts, suppressions and the timeline."""
    cid = customer["customer_id"]
    series = customer.get("series") or []
    labels = [p["hour"][5:16].replace("T", " ") for p in series]
    currency = (customer.get("money_at_risk") or {}).get("currency") or ""
    plots = [
        line_chart(
            f"Hourly spend {currency} against the learned baseline",
            labels,
            [
                Series("spend", [p["spend"] for p in series], "#1f77b4"),
                Series("expected", [p["expected"] for p in series], "#2ca02c", dashed=True),
            ],
        ),
        line_chart(
            "CPU and GPU use (highest utilisation in the hour)",
            labels,
            [
                Series("cpu", [p["cpu"] for p in series], "#9467bd"),
                Series("gpu", [p["gpu"] for p in series], "#d62728"),
            ],
        ),
        bar_chart(
            "Payments: paid (up), failed and charged back (down)",
            labels,
            Series("paid", [p["paid"] for p in series], "#2ca02c"),
            Series("failed", [p["failed"] + p["charged_back"] for p in series], "#d62728"),
        ),
    ]
    alerts = _table(
        ["alert", "kind", "severity", "score", "since", "summary", ""],
        [
            [
                f"<code>{escape(a['alert_id'][:12])}</code>",
                escape(a["kind"]),
                _severity(a["severity"]),
                f"{a['score']:.2f}",
                escape(a["event_time"]),
                escape(a["summary"]) + _suppressed(a.get("suppressed")),
                _not_anomaly_form(base, a["alert_id"]),
            ]
            for a in customer.get("alerts", [])
        ],
        "alerts",
    )
    suppressions = _suppression_table(
        [{**s, "customer_id": cid} for s in customer.get("suppressions", [])], base
    )
    events = _table(
        ["when", "what", "", "detail"],
        [
            [escape(r["at"]), escape(r["what"]), escape(r["title"]), escape(r["detail"])]
            for r in timeline
        ],
        "timeline",
    )
    body = (
        f"<p>Money at risk: <b>{_money(customer.get('money_at_risk'))}</b> · risk "
        f"{customer.get('risk', 0):.2f} · updated {escape(customer.get('updated_at', ''))}</p>"
        f"<section id='plots'>{''.join(plots)}</section>"
        f"<h2>Open alerts</h2>{alerts}"
        f"<h2>Suppressions</h2>{suppressions}{_suppress_form(base, cid)}"
        f"<h2>Timeline of alerts and actions</h2>{events}"
    )
    return _page(f"Customer {cid}", body, base)


def _severity(severity: str) -> str:
    return f"<span class='sev-{escape(severity)}'>{escape(severity)}</span>"


def _suppressed(suppression_id: str | None) -> str:
    if not suppression_id:
        return ""
    return f" <span class='suppressed'>(suppressed by {escape(suppression_id[:12])})</span>"


def _not_anomaly_form(base: str, alert_id: str) -> str:
    url = f"{base}/api/alerts/{quote(alert_id, safe='')}/not-anomaly"
    return (
        f"<form class='not-anomaly' onsubmit=\"send(this, '{url}'); return false\">"
        "<input name='owner' placeholder='your name' required size='10'>"
        "<input name='reason' placeholder='why it is normal' required size='14'>"
        "<button>Not an anomaly</button></form>"
    )


def _suppress_form(base: str, customer_id: str = "") -> str:
    customer = (
        f"<input type='hidden' name='customer_id' value='{escape(customer_id)}'>"
        if customer_id
        else "<input name='customer_id' placeholder='customer' required>"
    )
    kinds = "".join(f"<option>{escape(k)}</option>" for k in ("*", *sorted(KINDS)))
    return (
        f"<form id='suppress' onsubmit=\"send(this, '{base}/api/suppressions'); return false\">"
        f"<b>Suppress</b> {customer}<select name='kind'>{kinds}</select>"
        "<input name='match' placeholder='field=glob, field=glob' size='22'>"
        "<input name='until' placeholder='until (RFC 3339)' required size='20'>"
        "<input name='owner' placeholder='owner' required size='10'>"
        "<input name='reason' placeholder='reason' required size='16'>"
        "<button>Add suppression</button></form>"
    )


def _suppression_table(rows: list[dict[str, Any]], base: str) -> str:
    return _table(
        ["customer", "kind", "match", "owner", "reason", "until", ""],
        [
            [
                _customer_link(base, s["customer_id"]),
                escape(s["kind"]),
                escape(", ".join(f"{k}={v}" for k, v in s["match"].items()) or "anything"),
                escape(s["owner"]),
                escape(s["reason"]),
                escape(s["until"]),
                f"<form class='expire' onsubmit=\"send(this, '{base}/api/suppressions/"
                f"{quote(s['customer_id'], safe='')}/{quote(s['id'], safe='')}/expire'); "
                'return false">'
                "<input name='owner' placeholder='your name' required size='10'>"
                "<button>Expire now</button></form>",
            ]
            for s in rows
        ],
        "suppressions",
    )


def suppressions_page(rows: list[dict[str, Any]], base: str) -> str:
    """Every suppression in the view, soonest expiry first, and a form to add one."""
    empty = "<p>No suppression in effect.</p>" if not rows else ""
    return _page(
        "Suppressions", empty + _suppression_table(rows, base) + _suppress_form(base), base
    )


def alerts_page(alerts: list[dict[str, Any]], filters: dict[str, str], base: str) -> str:
    """Recent alerts, newest first, with filters by kind, severity and status."""

    def select(name: str, options: Sequence[str]) -> str:
        chosen = filters.get(name, "")
        opts = "".join(
            f"<option value='{escape(o)}'{' selected' if o == chosen else ''}>"
            f"{escape(o or 'any')}</option>"
            for o in ("", *options)
        )
        return f"<label>{name} <select name='{name}'>{opts}</select></label>"

    form = (
        f"<form method='get' action='{base}/alerts' id='filters'>"
        + select("kind", sorted(KINDS))
        + select("severity", SEVERITIES)
        + select("status", ("open", "resolved", "absorbed"))
        + "<button>Filter</button></form>"
    )
    table = _table(
        ["event time", "customer", "kind", "severity", "status", "revision", "reason"],
        [
            [
                escape(str(a.get("event_time", ""))),
                _customer_link(base, a["customer_id"]),
                escape(str(a.get("kind"))),
                _severity(str(a.get("severity"))),
                escape(a["status"]),
                str(a.get("revision", 1)),
                escape(str((a.get("reasons") or [""])[0])),
            ]
            for a in alerts
        ],
        "alerts",
    )
    return _page("Alerts", form + table, base)


def approvals_page(pending: list[dict[str, Any]], base: str) -> str:
    """Requests awaiting approval, each with approve and reject by an identified approver."""
    rows = []
    for p in pending:
        url = f"{base}/api/approvals/{quote(p['request_id'], safe='')}"
        rows.append(
            [
                f"<code>{escape(p['request_id'][:12])}</code>",
                _customer_link(base, p["customer_id"]),
                escape(p["action"]),
                escape(p["policy"]),
                escape(p.get("reason_held") or p.get("reason", "")),
                f"<form class='decide' onsubmit=\"send(this, '{url}'); return false\">"
                "<input name='by' placeholder='approver' required size='8'>"
                "<input name='key' type='password' placeholder='approver key' required size='10'>"
                "<input name='note' placeholder='note' size='12'>"
                "<select name='decision'><option>approve</option><option>reject</option></select>"
                "<button>Decide</button></form>",
            ]
        )
    empty = "<p>No request is awaiting approval.</p>" if not pending else ""
    table = _table(["request", "customer", "action", "rule", "why it waits", ""], rows, "approvals")
    return _page("Approvals", empty + table, base)
