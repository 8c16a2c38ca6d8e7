"""The evidence pack as one self-contained HTML page, for a person to read or forward.

``render_evidence_page`` takes the pack of ``streamwatch.evidence.build_evidence`` and the
customer's events (for the hourly spend, which the pack keeps by day only) and returns the
page: the letter's summary, three kinds of plot (hourly spend against baseline around each
incident, money at risk over time, new alerts by kind and day) each with its numbers as a
table, then every table of the Markdown letter. Pure and deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from streamwatch import evidence_letter as letter
from streamwatch.core.events import Event
from streamwatch.core.timeutil import ts_ms_or_none
from streamwatch.evidence import is_fraud_or_abuse
from streamwatch.reports import charts, page
from streamwatch.reports.series import (
    MS_PER_HOUR,
    SpendWindow,
    alerts_by_kind_and_day,
    hourly_spend,
    money_at_risk_over_time,
    spend_around,
)

MAX_INCIDENT_PLOTS: Final = 6
SAME_INCIDENT_MS: Final = 24 * MS_PER_HOUR
"""Alerts first raised within a day of an earlier plotted one share its plot."""


def render_evidence_page(pack: dict[str, Any], events: Iterable[Event]) -> str:
    """The page (see the module docstring)."""
    customer = pack["customer_id"]
    body = [page.paragraph(letter.summary(pack), "summary")]
    if pack.get("generated_at"):
        body.append(page.paragraph(f"Prepared {pack['generated_at']} by streamwatch."))
    body.append(page.heading("Spend against baseline around each incident"))
    body += charts.spend_section("spend", incident_windows(pack, events))
    body.append(page.heading("Money at risk over time"))
    body += charts.money_section(
        "money-at-risk",
        money_at_risk_over_time(pack["money_at_risk"]),
        ts_ms_or_none(pack["incident"]["end"]),
    )
    body.append(page.heading("Alerts by kind and day"))
    body += charts.kinds_section("alerts-by-day", alerts_by_kind_and_day(pack["alerts"]))
    body.append(page.heading("Money involved"))
    body.append(page.table("money", *letter.money_table(pack), numeric=range(1, 8)))
    body.append(page.heading("Timeline"))
    body.append(page.table("timeline", *letter.timeline_table(pack)))
    body.append(page.heading("Alerts"))
    body.append(page.table("alerts", *letter.alerts_table(pack), numeric=(3,)))
    body.append(page.heading("Enforcement actions"))
    body.append(page.table("enforcement", *letter.enforcement_table(pack)))
    body.append(page.heading(f"Usage by day since {pack['usage']['since'] or 'the first record'}"))
    body.append(page.table("usage-by-day", *letter.usage_by_day_table(pack), numeric=(2, 3)))
    for name, title in letter.TOP_TABLES:
        body.append(page.heading(f"Top {title}s", 3))
        body.append(page.table(f"top-{name}s", *letter.top_table(pack, name, title), (2, 3)))
    payments = pack["payments"]
    body.append(page.heading("Payments"))
    body.append(page.heading("Instruments", 3))
    body.append(page.table("instruments", *letter.instruments_table(payments)))
    body.append(page.heading("Invoices", 3))
    body.append(page.table("invoices", *letter.invoices_table(payments), numeric=range(3, 8)))
    for name, title in letter.PAYMENT_LISTS:
        if payments[name]:
            body.append(page.heading(title, 3))
            body.append(page.table(name, *letter.payment_list_table(payments, name), (2,)))
    return page.document(f"Evidence pack: customer {customer}", body)


def incident_windows(
    pack: dict[str, Any], events: Iterable[Event]
) -> list[tuple[str, int, SpendWindow]]:
    """(label, first raised, spend window) for the incident's alerts (the fraud and abuse
    findings, or every alert without one), first raised first; alerts raised within a day of
    a plotted one join its label; at most ``MAX_INCIDENT_PLOTS``."""
    alerts = [a for a in pack["alerts"] if is_fraud_or_abuse(a)] or pack["alerts"]
    plotted: list[tuple[list[str], int]] = []
    for alert in alerts:
        at = ts_ms_or_none(alert["first_event_time"])
        if at is None:
            continue
        near = next((p for p in plotted if abs(p[1] - at) < SAME_INCIDENT_MS), None)
        if near is not None:
            if alert["kind"] not in near[0]:
                near[0].append(alert["kind"])
        elif len(plotted) < MAX_INCIDENT_PLOTS:
            plotted.append(([alert["kind"]], at))
    by_hour = hourly_spend(events, pack["customer_id"])
    return [
        (", ".join(kinds), at, window)
        for kinds, at in plotted
        for window in spend_around(by_hour, pack["customer_id"], at)
    ]
