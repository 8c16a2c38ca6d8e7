"""The three charts both reports draw, from the data of ``streamwatch.reports.series``, each
with the table of the same numbers beside it. Pure and deterministic."""

from __future__ import annotations

import math
from collections.abc import Sequence

from streamwatch.core.timeutil import format_ts
from streamwatch.reports import page, svg
from streamwatch.reports.series import MS_PER_HOUR, KindsByDay, SpendWindow


def spend_section(chart_id: str, windows: Sequence[tuple[str, int, SpendWindow]]) -> list[str]:
    """One chart per (label, mark time, window): hourly spend against the baseline, a dotted
    line at the mark; then one table summing each window."""
    out = []
    rows = []
    for n, (label, mark_ms, window) in enumerate(windows):
        hours = window.hours()
        series = [
            svg.Series(f"spend ({window.currency})", list(zip(hours, window.spend, strict=True)))
        ]
        if window.baseline is not None:
            series.append(
                svg.Series("baseline", list(zip(hours, window.baseline, strict=True)), dashed=True)
            )
        chart = svg.line_chart(
            f"{chart_id}-{n + 1}",
            f"Hourly spend of {window.customer_id} around {label}",
            series,
            x_label=_day_hour,
            y_title=f"{window.currency} per hour",
            marks=[svg.Mark(float(mark_ms), label)],
            x_ticks=[float(h) for h in hours[:: max(1, len(hours) // 4)]],
        )
        out.append(
            page.figure(
                chart,
                "Solid: spend in each hour (a record's cost spread over its interval). Dashed: "
                "the baseline, the customer's mean spend at that hour of the day over the 7 "
                "days before the window"
                + ("" if window.baseline is not None else " (no usage then: no baseline)")
                + ". Dotted: when the alert was first raised.",
            )
        )
        baseline = math.fsum(window.baseline) if window.baseline is not None else None
        spent = math.fsum(window.spend)
        rows.append(
            [
                window.customer_id,
                label,
                format_ts(window.start_ms),
                format_ts(window.start_ms + len(hours) * MS_PER_HOUR),
                window.currency,
                f"{spent:,.2f}",
                "" if baseline is None else f"{baseline:,.2f}",
                "" if not baseline else f"{spent / baseline:,.1f}x",
            ]
        )
    if rows:
        out.append(
            page.table(
                f"{chart_id}-table",
                ["Customer", "Incident", "From", "To", "Currency", "Spent", "Baseline", "Ratio"],
                rows,
                numeric=(5, 6, 7),
            )
        )
    else:
        out.append(page.paragraph("No usage recorded around the incidents."))
    return out


def money_section(
    chart_id: str, by_currency: dict[str, list[tuple[int, float]]], until_ms: int | None
) -> list[str]:
    """Money at risk over time (a step line per currency, each value held until the next, the
    last until ``until_ms``) and the table of its points."""
    series = [
        svg.Series(cur, [(float(at), amount) for at, amount in points], step=True)
        for cur, points in by_currency.items()
    ]
    times = [at for points in by_currency.values() for at, _ in points]
    if until_ms is not None:
        times.append(until_ms)
    short = bool(times) and max(times) - min(times) <= 3 * 86_400_000
    chart = svg.line_chart(
        chart_id,
        "Money at risk over time",
        series,
        x_label=_day_hour if short else _day,
        y_title="money at risk",
        x_end=float(until_ms) if until_ms is not None else None,
    )
    rows = [
        [format_ts(at), cur, f"{amount:,.2f}"]
        for cur, points in by_currency.items()
        for at, amount in points
    ]
    return [
        page.figure(
            chart,
            "Money at risk as the alerts reported it: unbilled usage plus unpaid invoices, less "
            "prepayments and credit, projected to the next invoice; summed over customers.",
        ),
        page.table(f"{chart_id}-table", ["Event time", "Currency", "Money at risk"], rows, (2,)),
    ]


def kinds_section(chart_id: str, data: KindsByDay) -> list[str]:
    """New alerts by kind and day as stacked bars, and the same counts as a table."""
    chart = svg.stacked_bars(
        chart_id,
        "New alerts by kind and day",
        data.days,
        [(kind, [float(c) for c in counts]) for kind, counts in data.counts.items()],
        y_title="alerts",
        label_every=max(1, len(data.days) // 8),
    )
    kinds = list(data.counts)
    rows = [
        [day, *(str(data.counts[k][i]) for k in kinds), str(sum(data.counts[k][i] for k in kinds))]
        for i, day in enumerate(data.days)
    ]
    return [
        page.figure(chart, "Each alert counted once, on the day it was first raised (UTC)."),
        page.table(
            f"{chart_id}-table",
            ["Day (UTC)", *kinds, "Total"],
            rows,
            numeric=tuple(range(1, len(kinds) + 2)),
        ),
    ]


def _day(ms: float) -> str:
    return format_ts(int(ms))[:10]


def _day_hour(ms: float) -> str:
    return format_ts(int(ms))[5:13].replace("T", " ") + "h"
