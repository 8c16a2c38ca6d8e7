"""The detection review's scenarios on three seeds: recall per attack scenario, precision per
kind, look-alikes never restricted or suspended, money at risk against the loss that followed.

    python bench/scenarios.py [--seeds 7 8 9] [--customers 56] [--days 30]

Each seed generates ``--customers`` customers over ``--days`` days, half of them playing one
scenario of ``streamwatch.trial.SCENARIOS`` each (patient and night-GPU miners, token
prepayments alone and in rings, a card ramped to a chargeback, a small account's theft, a slow
egress flood; and the look-alikes: first long training runs, weekly backups and newsletters,
tenants on local clocks with daily records and late usage, a neighbouring billing country,
colleagues on one corporate card), all on localised tenants; the stream runs through the
default core as replay runs it. This is ``streamwatch evaluate --seeds``, timed, with its JSON
form written to bench/out/scenarios.json. About 6 s a seed.

Targets: recall at least 0.98 per attack scenario within its delay (``scorecard.DELAYS_S``),
precision at least 0.95 per kind with look-alikes' benign labels tolerated, no restrict or
suspend of a look-alike, money at risk within a factor of ``scorecard.MONEY_FACTOR`` of the loss.
It also prints, per attack scenario, the customers the policy asked to prepay, restrict or
suspend.
"""

from __future__ import annotations

import argparse

from common import OUT, Timer, evaluate_seeds
from streamwatch.cli import main as cli


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    parser.add_argument("--customers", type=int, default=56)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with Timer() as timer:
        cli(
            evaluate_seeds(
                args.seeds, args.customers, args.days, "--out", str(OUT / "scenarios.json")
            )
        )
    print(f"{timer.seconds:.0f} s; JSON in {OUT / 'scenarios.json'}")


if __name__ == "__main__":
    main()
