"""The review's scenarios in event-time order against arrival order (issue 12): per kind,
recall and precision of each order and their difference, and what replay counted (late events,
duplicates skipped against the repeats written, dead letters).

    python bench/arrival_order.py [--seeds 7 8 9] [--customers 56] [--days 30]

Arrival order is the generator's ``--delivery arrival``: usage per subscription and hour in
batches 1-24 h late, 1% of batches delivered twice, half of those with restated costs
(``streamwatch.generator.arrival``). Three
settings, each ``streamwatch evaluate --seeds ... --delivery both``:

- ``live``: replay in line order with the core's default allowed lateness (48 hours for usage,
  one hour for activity and payments), which is what the live worker would decide reading
  those lines from the topics;
- ``live-1h``: the same with one hour for usage too (as before usage had a lateness of its
  own; the dedupe window is then two hours, and a batch delivered twice a day later is
  processed twice);
- ``sorted-48h``: replay's analysts' lateness sort with 48 hours for every event.

JSON forms go to bench/out/arrival_order-<setting>.json. About 15 s a seed per setting.
"""

from __future__ import annotations

import argparse

from common import OUT, Timer, evaluate_seeds
from streamwatch.cli import main as cli

SETTINGS = {
    "live": [],
    "live-1h": ["--usage-lateness-s", "3600"],
    "sorted-48h": ["--sort", "--allowed-lateness-s", str(48 * 3600)],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    parser.add_argument("--customers", type=int, default=56)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--setting", choices=sorted(SETTINGS), action="append")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for name in args.setting or list(SETTINGS):
        out = OUT / f"arrival_order-{name}.json"
        print(f"== {name}")
        with Timer() as timer:
            extra = ["--delivery", "both", *SETTINGS[name], "--out", str(out)]
            cli(evaluate_seeds(args.seeds, args.customers, args.days, *extra))
        print(f"{timer.seconds:.0f} s; JSON in {out}\n")


if __name__ == "__main__":
    main()
