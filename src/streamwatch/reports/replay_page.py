"""A replay's alerts as one self-contained HTML page: what an analyst sends after a backtest.

``incidents`` picks what to plot (pure, from the alerts alone), so the caller can gather the
usage of just those customers; ``render_replay_report`` draws the page from the alerts (every
revision, as replay writes them) and those customers' events: a summary, a table per kind,
hourly spend against baseline around the incidents of the customers most at risk, money at
risk over time, new alerts by kind and day, and the customers most at risk. Pure and
deterministic.

Money at risk is in each customer's own currency. Customers are ranked by it through
``streamwatch.exposure.rank``: given dated rates (``Reporting``), in one order converted into
the reporting currency; without, within each currency only (the incidents plotted are then
taken from each currency's list in turn), and the page says which.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from streamwatch.core.events import Event
from streamwatch.core.timeutil import format_ts, ts_ms_or_none
from streamwatch.evidence import is_fraud_or_abuse, latest_alerts
from streamwatch.exposure import Exposure, Ranking, Reporting, rank
from streamwatch.reports import charts, page
from streamwatch.reports.series import (
    alerts_by_kind_and_day,
    hourly_spend,
    money_at_risk_over_time,
    spend_around,
)

MAX_INCIDENT_PLOTS: Final = 6
TOP_CUSTOMERS: Final = 20


@dataclass(frozen=True, slots=True)
class Incident:
    """A customer's incident to plot: its first alert (a fraud or abuse finding if it has one)
    and when that alert was first raised."""

    customer_id: str
    at_ms: int
    kind: str
    money_at_risk: float


def customer_money(latest: Sequence[Mapping[str, Any]]) -> dict[str, tuple[float, str]]:
    """Each customer's money at risk (amount, currency) as its latest-raised revision says."""
    money: dict[str, tuple[int, float, str]] = {}
    for alert in latest:
        m = alert.get("money_at_risk")
        at = ts_ms_or_none(alert.get("event_time"))
        if not isinstance(m, Mapping) or at is None:
            continue
        customer = str(alert["customer_id"])
        if customer not in money or at >= money[customer][0]:
            money[customer] = (at, float(m.get("amount") or 0.0), str(m.get("currency")))
    return {c: (amount, cur) for c, (_, amount, cur) in money.items()}


def ranking(
    latest: Sequence[Mapping[str, Any]], top: int, reporting: Reporting | None = None
) -> Ranking:
    """The customers with money at risk, ``top`` at most per list (``exposure.rank``): each at
    its latest amount, with the highest score of its alerts as its risk (for ties)."""
    money = customer_money(latest)
    risk: dict[str, float] = defaultdict(float)
    for alert in latest:
        customer = str(alert["customer_id"])
        risk[customer] = max(risk[customer], float(alert.get("score") or 0.0))
    groups: dict[str, list[Exposure]] = defaultdict(list)
    for customer, (amount, currency) in money.items():
        groups[currency].append(Exposure(customer, amount, currency, risk[customer]))
    return rank(groups, top, reporting)


def incidents(
    alerts: Iterable[Mapping[str, Any]],
    top: int = MAX_INCIDENT_PLOTS,
    reporting: Reporting | None = None,
) -> list[Incident]:
    """The ``top`` customers most at risk, each at its first alert: by money at risk converted
    through ``reporting``, or without it the first of each currency's list in turn, then the
    second, and so on; customers with no money at risk after them, by id."""
    latest = latest_alerts(alerts)
    money = customer_money(latest)
    first: dict[str, Mapping[str, Any]] = {}
    for alert in latest:  # in first-raised order
        customer = str(alert["customer_id"])
        known = first.get(customer)
        if known is None or (is_fraud_or_abuse(alert) and not is_fraud_or_abuse(known)):
            first[customer] = alert
    ranked = _in_turn(ranking(latest, top, reporting))
    ranked += sorted(c for c in first if c not in set(ranked))
    return [
        Incident(
            customer_id=c,
            at_ms=ts_ms_or_none(first[c]["first_event_time"]) or 0,
            kind=str(first[c]["kind"]),
            money_at_risk=money.get(c, (0.0, ""))[0],
        )
        for c in ranked[:top]
    ]


def _in_turn(ranked: Ranking) -> list[str]:
    """Customer ids: the converted order, then each currency kept apart taken in turn."""
    out = [c.row.customer_id for c in ranked.converted]
    lists = list(ranked.apart.values())
    for i in range(max((len(rows) for rows in lists), default=0)):
        out += [rows[i].customer_id for rows in lists if i < len(rows)]
    return out + [r.customer_id for r in ranked.unknown]


def kind_rows(latest: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """Per kind: alerts, revisions, customers, open at the end, and the summed money at risk of
    its customers (each customer's latest amount, per currency)."""
    money = customer_money(latest)
    rows = []
    for kind in sorted({str(a["kind"]) for a in latest}):
        mine = [a for a in latest if a["kind"] == kind]
        customers = sorted({str(a["customer_id"]) for a in mine})
        at_risk: dict[str, float] = defaultdict(float)
        for customer in customers:
            if customer in money:
                amount, cur = money[customer]
                at_risk[cur] += amount
        rows.append(
            [
                kind,
                str(len(mine)),
                str(sum(int(a.get("revisions_seen", 1)) for a in mine)),
                str(len(customers)),
                str(sum(1 for a in mine if _open(a))),
                "; ".join(f"{v:,.2f} {cur}" for cur, v in sorted(at_risk.items())),
            ]
        )
    return rows


def render_replay_report(
    alerts: Sequence[Mapping[str, Any]],
    events: Iterable[Event],
    title: str = "Replay report",
    reporting: Reporting | None = None,
) -> str:
    """The page (see the module docstring); ``events`` need only hold the usage of the
    customers of ``incidents(alerts, reporting=reporting)``."""
    latest = latest_alerts(alerts)
    chosen = incidents(alerts, reporting=reporting)
    event_list = list(events)
    customers = sorted({str(a["customer_id"]) for a in latest})
    body = [page.paragraph(_summary(alerts, latest, customers), "summary")]
    body.append(page.heading("Alerts by kind"))
    body.append(
        page.table(
            "kinds",
            ["Kind", "Alerts", "Revisions", "Customers", "Open at the end", "Money at risk"],
            kind_rows(latest),
            numeric=(1, 2, 3, 4, 5),
        )
    )
    body.append(page.heading("Spend against baseline around the incidents most at risk"))
    windows = []
    for incident in chosen:
        by_hour = hourly_spend(event_list, incident.customer_id)
        windows += [
            (incident.kind, incident.at_ms, w)
            for w in spend_around(by_hour, incident.customer_id, incident.at_ms)
        ]
    body += charts.spend_section("spend", windows)
    body.append(page.heading("Money at risk over time"))
    times = [t for a in alerts if (t := ts_ms_or_none(a.get("event_time"))) is not None]
    body += charts.money_section(
        "money-at-risk", money_at_risk_over_time(alerts), max(times) if times else None
    )
    body.append(page.heading("Alerts by kind and day"))
    body += charts.kinds_section("alerts-by-day", alerts_by_kind_and_day(latest))
    body.append(page.heading("Customers most at risk"))
    ranked = ranking(latest, TOP_CUSTOMERS, reporting)
    body.append(page.paragraph(ranked.note(), "currency-note"))
    if ranked.reporting is not None and ranked.converted:
        into = ranked.reporting.currency
        converted = [(c.row, f"{c.amount:,.2f} {into}") for c in ranked.converted]
        body.append(_customer_table("customers", latest, converted))
    for currency, rows in ranked.apart.items():  # one table per currency not converted
        body.append(_customer_table(f"customers-{currency}", latest, [(r, "") for r in rows]))
    return page.document(title, body)


def _customer_table(
    name: str, latest: Sequence[Mapping[str, Any]], rows: Sequence[tuple[Exposure, str]]
) -> str:
    """One list of ``ranking``: each customer's money at risk in its own currency (and, when
    converted, in the reporting one), its alert kinds and open alerts."""
    converted = any(text for _, text in rows)
    header = ["Customer", "Money at risk", "Currency"]
    header += ["Converted"] if converted else []
    header += ["Alert kinds", "Open alerts"]
    cells = []
    for row, text in rows:
        mine = [a for a in latest if a["customer_id"] == row.customer_id]
        cells.append(
            [row.customer_id, f"{row.amount:,.2f}", row.currency]
            + ([text] if converted else [])
            + [
                ", ".join(sorted({str(a["kind"]) for a in mine})),
                str(sum(1 for a in mine if _open(a))),
            ]
        )
    numeric = (1, 3, 5) if converted else (1, 4)
    return page.table(name, header, cells, numeric=numeric)


def _open(alert: Mapping[str, Any]) -> bool:
    return alert.get("status") != "resolved"


def _summary(
    alerts: Sequence[Mapping[str, Any]], latest: Sequence[Mapping[str, Any]], customers: list[str]
) -> str:
    if not latest:
        return "The replay raised no alerts."
    times = [t for a in alerts if (t := ts_ms_or_none(a.get("event_time"))) is not None]
    span = f" between {format_ts(min(times))} and {format_ts(max(times))}" if times else ""
    return (
        f"The replay raised {len(latest)} alerts ({len(alerts)} revisions) about "
        f"{len(customers)} customers{span}; {sum(1 for a in latest if _open(a))} were open at "
        "the end."
    )
