"""A readable summary of a run: alerts by kind (the table of ``kind_summary``), requests by
action, the customers most at risk."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from streamwatch.core.events import Alert, EnforcementRequest
from streamwatch.core.state import CustomerState
from streamwatch.kind_summary import KindTally


def summarize(
    alerts: Sequence[Alert],
    requests: Sequence[EnforcementRequest],
    states: dict[str, CustomerState],
    top: int = 5,
) -> str:
    """Plain text for a terminal; deterministic for the same inputs."""
    tally = KindTally()
    for sent in alerts:
        tally.add(sent.alert_id, sent.customer_id, sent.kind, sent.money_at_risk)
    total = tally.total()
    lines = [
        f"Alerts: {total.alerts} incidents ({total.revisions} messages incl. amendments)",
        tally.format(),
    ]
    by_action = Counter(
        (r.action, "approval required" if r.requires_approval else "automatic") for r in requests
    )
    lines.append(f"Enforcement requests: {len(requests)}")
    for (action, mode), count in sorted(by_action.items()):
        lines.append(f"  {action:<24} {count:>6}  ({mode})")
    ranked = sorted(
        (s for s in states.values() if s.risk > 0), key=lambda s: (-s.risk, s.customer_id)
    )[:top]
    if ranked:
        lines.append(f"Customers most at risk (top {len(ranked)}):")
    for state in ranked:
        live = [a for a in state.alerts.values() if a.severity != "info"]
        lines.append(
            f"  {state.customer_id}  risk {state.risk:.2f}  "
            f"({len(live)} open alert{'s' if len(live) != 1 else ''})"
        )
        worst = sorted(live, key=lambda a: (-a.score, a.event_time_ms))[:3]
        for alert in worst:
            lines.append(f"    - [{alert.severity}] {alert.kind}: {alert.summary}")
    return "\n".join(lines)
