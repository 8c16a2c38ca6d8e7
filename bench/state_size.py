"""State size: snapshot bytes per customer, what makes them up, and changelog bytes per input byte.

    python bench/state_size.py [--seed 7] [--customers 200] [--days 60] [--commit-every 1000 ...]

A seeded stream with every kind of incident and the benign look-alikes (as the demo generates,
with redelivered duplicates) is replayed through the full core with ring linking, as
``streamwatch replay`` runs it. Reported:

- the orjson bytes of each customer's snapshot (``Core.snapshot``) at the end: median, p99, max;
- the largest contributors, summed over customers: each top-level key of the snapshot, each
  detector's dump, and each top-level field of a detector's dump;
- changelog bytes per input byte: a live worker writes the snapshot of every customer that
  changed once per commit (about a second), deflated as the worker's ``StateCodec`` writes
  it. Here a commit happens every ``--commit-every``
  input lines; the changelog is the sum over commits of the snapshot bytes of the customers
  whose snapshot differs from the one last written, divided by the input's bytes (the raw
  JSON lines). Several intervals may be given: the figure depends on how many of a
  customer's events one commit covers.

Also a digest of the alerts and requests (with a fixed clock), so that a change meant to shrink
state can show it changed no decision: the digest must stay the same.

Writes the figures to bench/out/state_size.json; the last line sums them up.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
from collections import Counter
from collections.abc import Iterator
from typing import Any

from common import OUT, Timer

INCIDENTS = (
    "budget_overrun",
    "provider_notice",
    "spend_spike_sudden",
    "spend_spike_gradual",
    "crypto_mining",
    "crypto_mining_stealthy",
    "never_pays",
    "late_payer",
    "prepaid_chargeback",
    "identity_mismatch",
    "account_takeover",
    "stale_guest",
    "inactive_user",
    "spam_fanout",
    "ddos_egress",
    "port_scan",
    "fraud_ring",
    "signup_burst",
    # benign look-alikes
    "promotion",
    "gpu_training",
    "traveller_signin",
    "mail_service",
    "company_proxy",
    "pays_late_once",
)
"""One scenario per customer incident, round-robin; see ``streamwatch.generator.SCENARIOS``."""


def quantile(ordered: list[int], q: float) -> int:
    """The nearest-rank ``q`` quantile of a sorted list."""
    return ordered[max(0, -(-round(q * 100) * len(ordered) // 100) - 1)]


def measure(seed: int, customers: int, days: int, intervals: list[int]) -> dict[str, Any]:
    import orjson

    from streamwatch.config import build_core
    from streamwatch.generator import GeneratorConfig, generate
    from streamwatch.live.state_store import StateCodec
    from streamwatch.replay.runner import ListSink, Replay, Source

    generated = generate(
        GeneratorConfig(
            seed=seed,
            customers=customers,
            days=days,
            incidents=INCIDENTS,
            incident_rate=0.5,
            duplicate_rate=0.01,
        )
    )
    lines = [orjson.dumps(e) for e in generated.events]
    input_bytes = sum(len(line) for line in lines)
    core = build_core()
    codec = StateCodec(core)
    sink = ListSink()
    replay = Replay(core, sink, clock=lambda: 0)
    written: dict[int, dict[str, bytes]] = {every: {} for every in intervals}
    changelogs = {every: {"bytes": 0, "records": 0, "commits": 0} for every in intervals}

    def commit(due: list[int]) -> None:
        """Write the snapshot of every customer whose snapshot changed since the last commit,
        for each interval in ``due``."""
        blobs = {c: codec.dumps(s) for c, s in replay.states.items()}
        for every in due:
            last, changelog = written[every], changelogs[every]
            changelog["commits"] += 1
            for customer, blob in blobs.items():
                if last.get(customer) != blob:
                    last[customer] = blob
                    changelog["bytes"] += len(blob)
                    changelog["records"] += 1

    def committing() -> Iterator[tuple[bytes, int]]:
        for n, line in enumerate(lines, 1):
            yield line, n
            due = [every for every in intervals if n % every == 0]
            if due:
                commit(due)

    with Timer() as timer:
        stats = replay.run([Source(committing(), lambda n: {"line": n})])
        commit(intervals)

    digest = hashlib.sha256()
    for item in (*sink.alerts, *sink.requests):
        digest.update(orjson.dumps(item.to_dict(), option=orjson.OPT_SORT_KEYS))
    snapshots = {c: core.snapshot(s) for c, s in replay.states.items()}
    sizes = sorted(len(orjson.dumps(snap)) for snap in snapshots.values())
    deflated = sorted(len(codec.dumps(s)) for s in replay.states.values())
    by_key: Counter[str] = Counter()
    by_detector: Counter[str] = Counter()
    by_field: Counter[str] = Counter()
    for snap in snapshots.values():
        for key, value in snap.items():
            by_key[key] += len(orjson.dumps(value))
        for name, dumped in snap["detectors"].items():
            by_detector[name] += len(orjson.dumps(dumped))
            for key, value in dumped.items():
                by_field[f"{name}.{key}"] += len(orjson.dumps(value))
    count = len(sizes)
    total = sum(sizes)

    def table(counter: Counter[str], top: int) -> list[dict[str, Any]]:
        return [
            {"name": k, "bytes_per_customer": round(v / count), "share": round(v / total, 3)}
            for k, v in counter.most_common(top)
        ]

    return {
        "seed": seed,
        "customers": count,
        "days": days,
        "events": len(lines),
        "duplicates": stats.duplicates,
        "late": stats.late,
        "alerts": len(sink.alerts),
        "requests": len(sink.requests),
        "decisions_sha256": digest.hexdigest()[:16],
        "input_bytes": input_bytes,
        "replay_seconds": round(timer.seconds, 2),
        "state_bytes": {
            "median": statistics.median(sizes),
            "p99": quantile(sizes, 0.99),
            "max": sizes[-1],
            "mean": round(total / count),
            "deflated_median": statistics.median(deflated),
            "deflated_max": deflated[-1],
        },
        "by_key": table(by_key, 20),
        "by_detector": table(by_detector, 20),
        "by_field": table(by_field, 15),
        "changelog": [
            {
                "commit_every": every,
                **changelog,
                "bytes_per_input_byte": round(changelog["bytes"] / input_bytes, 3),
            }
            for every, changelog in changelogs.items()
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--commit-every", type=int, nargs="+", default=[1000])
    args = parser.parse_args()
    f = measure(args.seed, args.customers, args.days, sorted(set(args.commit_every)))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "state_size.json").write_text(json.dumps(f, indent=2) + "\n")
    print(
        f"generated: {f['events']:,} events ({f['input_bytes'] / 1e6:.1f} MB, "
        f"{f['duplicates']} duplicates), {f['customers']} customers, {f['days']} days, "
        f"seed {f['seed']}; replay with commits {f['replay_seconds']} s"
    )
    print(
        f"decisions: {f['alerts']:,} alerts, {f['requests']:,} requests, {f['late']:,} late; "
        f"sha256 {f['decisions_sha256']}"
    )
    for title, rows in (
        ("snapshot keys", f["by_key"]),
        ("detectors", f["by_detector"]),
        ("detector fields", f["by_field"]),
    ):
        print(f"\n{title} (bytes per customer, share of all snapshot bytes):")
        for row in rows:
            print(f"  {row['name']:<36} {row['bytes_per_customer']:>8,} {row['share']:>7.1%}")
    print()
    for c in f["changelog"]:
        print(
            f"changelog at a commit every {c['commit_every']:,} lines: "
            f"{c['bytes'] / 1e6:.1f} MB in {c['records']:,} records over {c['commits']:,} "
            f"commits, {c['bytes_per_input_byte']:.3f} bytes per input byte"
        )
    s = f["state_bytes"]
    print(
        f"state bytes per customer: median {s['median']:,.0f}, p99 {s['p99']:,}, "
        f"max {s['max']:,} (deflated as written: median {s['deflated_median']:,.0f}, max "
        f"{s['deflated_max']:,}); changelog {f['changelog'][0]['bytes_per_input_byte']:.3f} bytes "
        f"per input byte (a commit every {f['changelog'][0]['commit_every']:,} lines)"
    )


if __name__ == "__main__":
    main()
