"""The payment detectors' figures on generated streams: quality per kind, and state size.

    python bench/payments.py [--seeds 5 7 11] [--customers 60] [--days 110]

For each seed, a stream of the payment scenarios (late_payer, never_pays, prepaid_chargeback;
the benign pays_late_once, prepaid_bank_transfer and card_declined_once look-alikes) mixed
with other incidents (crypto-miners, some paying by prepaid card; budget overruns; spend
spikes; provider notices) runs through ``build_core`` as replay runs it (fleet sweeps at every
hour mark). Payment alerts are scored by ``streamwatch.evaluate`` with every revision allowed
to match (a collections alert matches one label per dunning stage it reaches): recall,
precision with benign look-alikes tolerated, detection delay. Also: suspend requests for
customers in good standing (no incident label of their own; the aim is none), and the orjson
size of the payments detector's dump per customer.

Writes the figures to bench/out/payments.json; the last line sums them up.
"""

from __future__ import annotations

import argparse
import json
import statistics
from typing import Any

from common import OUT, Timer

PAYMENT_SCENARIOS = (
    "late_payer",
    "never_pays",
    "prepaid_chargeback",
    "pays_late_once",
    "prepaid_bank_transfer",
    "card_declined_once",
)
OTHER_SCENARIOS = ("crypto_mining", "budget_overrun", "spend_spike_sudden", "provider_notice")
KINDS = (
    "chargeback",
    "collections",
    "high_risk_instrument",
    "payment_failure",
    "usage_before_payment",
)


def one_seed(seed: int, customers: int, days: int) -> dict[str, Any]:
    """Alerts, labels, requests and state sizes of one seeded stream."""
    import orjson

    from streamwatch.config import build_core
    from streamwatch.core.codec import event_from_dict
    from streamwatch.core.engine import SWEEP_MS, Fleet
    from streamwatch.generator import GeneratorConfig, generate

    result = generate(
        GeneratorConfig(
            seed=seed,
            customers=customers,
            days=days,
            start="2026-09-20T00:00:00Z",
            incidents=PAYMENT_SCENARIOS + OTHER_SCENARIOS,
            incident_rate=0.7,
        )
    )
    core = build_core()
    fleet = Fleet(core)
    alerts: list[dict[str, Any]] = []
    suspends: set[str] = set()
    next_sweep = 0
    with Timer() as timer:
        for doc in result.events:
            event = event_from_dict(doc)
            found = []
            if event.ts_ms >= next_sweep:
                found.append(fleet.sweep(event.ts_ms, 0))
                next_sweep = event.ts_ms - event.ts_ms % SWEEP_MS + SWEEP_MS
            found.append(fleet.step(event, 0))
            for decided in found:
                alerts.extend(a.to_dict() for a in decided.alerts if a.kind in KINDS)
                suspends.update(
                    r.customer_id
                    for r in (*decided.requests, *decided.shadowed)
                    if r.action == "suspend"
                )
    incidents = {lab["customer_id"] for lab in result.labels if not lab["benign"]}
    detector = next(d for d in core.detectors if d.name == "payments")
    sizes = [
        len(orjson.dumps(detector.dump(state.detectors["payments"])))
        for state in fleet.states.values()
    ]
    return {
        "events": len(result.events),
        "seconds": timer.seconds,
        "labels": [lab for lab in result.labels if lab["kind"] in KINDS],
        "alerts": alerts,
        "suspended_in_good_standing": sorted(suspends - incidents),
        "state_bytes": sizes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[5, 7, 11])
    parser.add_argument("--customers", type=int, default=60)
    parser.add_argument("--days", type=int, default=110)
    args = parser.parse_args()

    from streamwatch.evaluate import evaluate, format_report

    labels: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    sizes: list[int] = []
    good_standing: list[str] = []
    events = 0
    seconds = 0.0
    for seed in args.seeds:
        run = one_seed(seed, args.customers, args.days)
        # Customer ids, hence alert ids, repeat across seeds: keep them apart.
        for lab in run["labels"]:
            labels.append({**lab, "customer_id": f"{seed}/{lab['customer_id']}"})
        for alert in run["alerts"]:
            alerts.append(
                {
                    **alert,
                    "alert_id": f"{seed}/{alert['alert_id']}",
                    "customer_id": f"{seed}/{alert['customer_id']}",
                }
            )
        sizes += run["state_bytes"]
        good_standing += [f"{seed}/{c}" for c in run["suspended_in_good_standing"]]
        events += run["events"]
        seconds += run["seconds"]
    report = evaluate(labels, alerts, match_revisions=True)
    print(format_report(report))
    ordered = sorted(sizes)
    figures = {
        "seeds": args.seeds,
        "customers": args.customers,
        "days": args.days,
        "events": events,
        "events_per_s": events / seconds if seconds else None,
        "quality": report.as_dict(),
        "suspended_in_good_standing": good_standing,
        "state_bytes": {
            "median": statistics.median(ordered),
            "p95": ordered[max(0, -(-95 * len(ordered) // 100) - 1)],
            "max": ordered[-1],
        },
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "payments.json").write_text(json.dumps(figures, indent=2) + "\n")
    total = report.total
    print(
        f"payments: recall {total.recall:.3f} precision {total.precision:.3f} "
        f"delay p50 {total.delay_median_s:.0f} s p95 {total.delay_p95_s:.0f} s over "
        f"{total.labels} labels; suspends in good standing {len(good_standing)}; state "
        f"{figures['state_bytes']['median']} B median, {figures['state_bytes']['max']} B max; "
        f"{events:,} events at {figures['events_per_s']:,.0f}/s"
    )


if __name__ == "__main__":
    main()
