"""Revisions per alert, and whether every sentence of every revision is true of its window.

    python bench/alert_truth.py [--customers 200] [--days 60] [--seed 7] [--incidents ...]
    python bench/alert_truth.py --alerts alerts.jsonl     # check alerts a replay wrote

Without ``--alerts`` it generates a stream (``streamwatch generate``'s defaults: the budget
overrun and provider notice scenarios, unless ``--incidents`` names others, ``all`` for every
scenario), runs it through the default core in-process, and checks every revision of every
alert with ``streamwatch.alert_truth.problems`` (money figures too for spend_spike). Prints,
per kind: alerts, revisions, the most revisions of one alert, and revisions with a sentence
that is not true of their window, with the first few examples. The aim: at most 16 revisions
per alert, and no untrue sentence. Writes the figures to bench/out/alert_truth.json.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from common import OUT

MAX_REVISIONS = 16
EXAMPLES = 3


def generated_alerts(
    seed: int, customers: int, days: int, incidents: str
) -> Iterator[dict[str, Any]]:
    """Every alert revision of a generated stream through the default core, in order."""
    from streamwatch.config import load_policy
    from streamwatch.core.codec import event_from_dict
    from streamwatch.core.engine import Core, Fleet
    from streamwatch.generator import SCENARIOS, GeneratorConfig, generate

    chosen = tuple(sorted(SCENARIOS)) if incidents == "all" else tuple(incidents.split(","))
    result = generate(
        GeneratorConfig(
            seed=seed,
            customers=customers,
            days=days,
            start="2026-10-01T00:00:00Z",
            incidents=chosen,
        )
    )
    fleet = Fleet(Core(load_policy()))
    for doc in result.events:
        for alert in fleet.step(event_from_dict(doc), 0).alerts:
            yield alert.to_dict()


def file_alerts(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def check(alerts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Figures per kind over every revision."""
    from streamwatch.alert_truth import problems

    revisions: Counter[str] = Counter()
    kinds: dict[str, str] = {}
    untrue: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    for alert in alerts:
        kind = alert["kind"]
        revisions[alert["alert_id"]] += 1
        kinds[alert["alert_id"]] = kind
        found = problems(alert, strict_money=kind == "spend_spike")
        if found:
            untrue[kind] += 1
            if len(examples[kind]) < EXAMPLES:
                examples[kind].append(f"{alert['customer_id']}: {found[0]}")
    by_kind: dict[str, dict[str, Any]] = {}
    for alert_id, count in revisions.items():
        row = by_kind.setdefault(
            kinds[alert_id], {"alerts": 0, "revisions": 0, "most_revisions": 0, "over_16": 0}
        )
        row["alerts"] += 1
        row["revisions"] += count
        row["most_revisions"] = max(row["most_revisions"], count)
        row["over_16"] += count > MAX_REVISIONS
    for kind, row in by_kind.items():
        row["untrue_revisions"] = untrue[kind]
        row["examples"] = examples[kind]
    return dict(sorted(by_kind.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=Path, help="check this alerts JSONL file instead")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--incidents", default="budget_overrun,provider_notice")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.alerts is not None:
        source = str(args.alerts)
        figures = check(file_alerts(args.alerts))
    else:
        source = (
            f"generated: seed {args.seed}, {args.customers} customers, {args.days} days, "
            f"incidents {args.incidents}"
        )
        figures = check(generated_alerts(args.seed, args.customers, args.days, args.incidents))
    OUT.mkdir(parents=True, exist_ok=True)
    out = {"source": source, "kinds": figures, "seconds": round(time.perf_counter() - started, 1)}
    (OUT / "alert_truth.json").write_text(json.dumps(out, indent=2) + "\n")
    print(source)
    print(f"{'kind':<22}{'alerts':>8}{'revisions':>11}{'most':>6}{'over 16':>9}{'untrue':>8}")
    for kind, row in figures.items():
        print(
            f"{kind:<22}{row['alerts']:>8}{row['revisions']:>11}{row['most_revisions']:>6}"
            f"{row['over_16']:>9}{row['untrue_revisions']:>8}"
        )
        for example in row["examples"]:
            print(f"    {example}")
    worst = max((row["most_revisions"] for row in figures.values()), default=0)
    untrue_total = sum(row["untrue_revisions"] for row in figures.values())
    print(f"most_revisions={worst} untrue_revisions={untrue_total}")


if __name__ == "__main__":
    main()
