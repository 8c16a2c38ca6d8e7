"""Fraud rings' figures: bot_signup quality, link delays and ring state on a generated stream.

    python bench/rings.py [--customers 300] [--days 30] [--seed 7]

A seeded stream with the ring scenarios (fraud rings sharing a device or card, sign-up bursts
from one IP, and colleagues behind one company proxy as the benign look-alike) is replayed
through the full core with ring linking, as ``streamwatch replay`` does, and scored by
``streamwatch.evaluate``. Also reported: how long after the ring's second sign-up each account
was linked (event time), how long after the ring became visible each was alerted, the alerts'
severities per scenario, and the orjson size of the rings' state.

Writes the figures to bench/out/rings.json; the last line sums them up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter, defaultdict
from typing import Any

from common import OUT

SCENARIOS = ("fraud_ring", "signup_burst", "company_proxy")


def measure(seed: int, customers: int, days: int) -> dict[str, Any]:
    import orjson

    from streamwatch.config import build_core
    from streamwatch.core.timeutil import parse_ts_ms
    from streamwatch.evaluate import evaluate
    from streamwatch.generator import GeneratorConfig, generate
    from streamwatch.replay.runner import ListSink, Replay, Source

    result = generate(
        GeneratorConfig(
            seed=seed,
            customers=customers,
            days=days,
            incidents=SCENARIOS,
            incident_rate=0.3,
            duplicate_rate=0.01,
        )
    )
    sink = ListSink()
    replay = Replay(build_core(), sink, clock=lambda: 0)
    lines = [orjson.dumps(e) for e in result.events]
    started = time.perf_counter()
    source = Source(((line, n) for n, line in enumerate(lines)), lambda n: {"line": n})
    stats = replay.run([source])
    seconds = time.perf_counter() - started
    alerts = [a.to_dict() for a in sink.alerts if a.kind == "bot_signup"]
    labels = [lab for lab in result.labels if lab["kind"] == "bot_signup"]
    score = evaluate(labels, alerts).kind("bot_signup")

    signups = {
        e["customer_id"]: parse_ts_ms(e["ts"])
        for e in result.events
        if e.get("operation") == "customer.signup"
    }
    first_alert: dict[str, int] = {}
    for alert in alerts:
        at = parse_ts_ms(alert["event_time"])
        first_alert[alert["customer_id"]] = min(at, first_alert.get(alert["customer_id"], at))
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for lab in labels:
        if not lab["benign"]:
            groups[lab["detail"].get("ring") or lab["detail"]["burst"]].append(lab)
    # A replay's links are the rings' work; recompute them to time them.
    from streamwatch.core.codec import event_from_dict
    from streamwatch.core.rings import Rings

    rings = Rings()
    first_link: dict[str, int] = {}
    for doc in result.events:
        for link in rings.observe(event_from_dict(doc)):
            first_link.setdefault(link.customer_id, link.ts_ms)
    link_delays, alert_delays = [], []
    for members in groups.values():
        second = sorted(signups[m["customer_id"]] for m in members)[1]
        for lab in members:
            customer = lab["customer_id"]
            link_delays.append((first_link[customer] - max(signups[customer], second)) / 1000)
            visible = max(parse_ts_ms(lab["start"]), parse_ts_ms(lab["detail"]["formed"]))
            if customer in first_alert:
                alert_delays.append((first_alert[customer] - visible) / 1000)
    scenario_of = {lab["customer_id"]: lab["scenario"] for lab in labels}
    severities = Counter(
        f"{scenario_of.get(a['customer_id'], 'none')}:{a['severity']}"
        for a in {a["alert_id"]: a for a in alerts}.values()
    )
    sizes = sorted(len(orjson.dumps(d)) for d in rings.snapshot().values())
    return {
        "seed": seed,
        "customers": customers,
        "days": days,
        "events": len(result.events),
        "links": stats.links,
        "replay_seconds": round(seconds, 2),
        "labels": score.labels,
        "benign_labels": sum(1 for lab in labels if lab["benign"]),
        "alerts": score.alerts,
        "recall": score.recall,
        "precision": score.precision,
        "false_positives": score.false_positives,
        "tolerated": score.tolerated,
        "link_delay_max_s": max(link_delays),
        "link_delay_median_s": statistics.median(link_delays),
        "alert_delay_max_s": max(alert_delays),
        "severities": dict(sorted(severities.items())),
        "ring_keys": len(sizes),
        "ring_state_bytes_median": statistics.median(sizes),
        "ring_state_bytes_max": sizes[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    f = measure(args.seed, args.customers, args.days)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "rings.json").write_text(json.dumps(f, indent=2) + "\n")
    print(
        f"generated: {f['events']:,} events, {f['customers']} customers (and their rings' "
        f"accounts), {f['days']} days, seed {f['seed']}; {f['links']} links derived, replay "
        f"{f['replay_seconds']} s"
    )
    print(f"severities by scenario: {f['severities']}")
    print(
        f"ring state: {f['ring_keys']} keys, median {f['ring_state_bytes_median']:.0f} bytes, "
        f"max {f['ring_state_bytes_max']}"
    )
    print(
        f"bot_signup labels={f['labels']} benign={f['benign_labels']} alerts={f['alerts']} "
        f"recall={f['recall']:.3f} precision={f['precision']:.3f} "
        f"link_delay_max_s={f['link_delay_max_s']:.0f} "
        f"alert_delay_max_s={f['alert_delay_max_s']:.0f}"
    )


if __name__ == "__main__":
    main()
