"""Per-scenario scores of a run: recall of each attack within its delay, the harsh actions
taken against innocent look-alikes, and money at risk against the loss that followed.

``streamwatch.evaluate`` scores per alert kind; this module asks the questions an incident
review asks of each scenario of the generator:

* Recall: a non-benign label (customer, kind, start, end) is found when an alert of its
  customer and kind has an ``event_time`` (any revision) within ``[start, start + delay]``,
  where ``delay`` is the scenario's named limit in ``DELAYS_S`` (six hours for the quiet
  miners, for instance), or else within ``[start, end + tolerance]``. One row per
  (scenario, kind).
* Look-alikes: every ``restrict`` or ``suspend`` request for a customer whose scenario is a
  look-alike (``generator.scenarios.LOOKALIKES``) is counted against that scenario; the target
  is none.
* Enforcement of attacks: for each other scenario, how many of the customers playing it the
  policy asked to prepay, to be restricted or to be suspended (``ENFORCING``; approval aside).
* Money at risk: for each label whose detail carries the ``loss`` that followed, the ratio of
  the ``money_at_risk.amount`` on its first matching alert to that loss. ``MONEY_FACTOR`` is the
  stated factor: a ratio within ``[1/MONEY_FACTOR, MONEY_FACTOR]`` counts as right.

Pure and deterministic: dicts in (the wire forms of alerts and requests, generator labels),
values out.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from streamwatch.evaluate import DEFAULT_TOLERANCE_S, parse_time

HOUR_S: Final = 3600
DELAYS_S: Final[Mapping[str, int]] = {
    "patient_miner": 6 * HOUR_S,
    "night_gpu_miner": 6 * HOUR_S,
    "small_account_theft": 6 * HOUR_S,
    "slow_egress_flood": 24 * HOUR_S,
}
"""How long after its label an incident of these scenarios may be found (the issue names six
hours for miners; a small theft lasts a day; a slow flood takes one or two to build)."""
MONEY_FACTOR: Final = 3.0
HARSH: Final = frozenset({"restrict", "suspend"})
ENFORCING: Final = ("require_prepayment", "restrict", "suspend")


@dataclass(frozen=True, slots=True)
class ScenarioRow:
    """Recall of one (scenario, kind)."""

    scenario: str
    kind: str
    labels: int
    detected: int
    delay_median_s: float | None
    delay_max_s: float | None

    @property
    def recall(self) -> float | None:
        """Detected / labels; None without labels."""
        return self.detected / self.labels if self.labels else None


@dataclass(frozen=True, slots=True)
class MoneyRow:
    """Money at risk on one incident's first alert against the loss that followed."""

    scenario: str
    customer_id: str
    kind: str
    loss: float
    money_at_risk: float | None

    @property
    def ratio(self) -> float | None:
        """money at risk / loss; None without either."""
        if self.money_at_risk is None or self.loss <= 0.0:
            return None
        return self.money_at_risk / self.loss


@dataclass(frozen=True, slots=True)
class Scorecard:
    """Everything this module scores, over one run or several (see ``merge``)."""

    rows: tuple[ScenarioRow, ...]
    harsh: Mapping[str, int]
    """Restrict or suspend requests per look-alike scenario (only those that had any)."""
    lookalike_customers: Mapping[str, int]
    money: tuple[MoneyRow, ...]
    attack_customers: Mapping[str, int] = field(default_factory=dict)
    """Customers playing each scenario that is not a look-alike."""
    enforced: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Of those, per scenario and action of ``ENFORCING``, the customers asked for it."""

    def within_factor(self) -> tuple[int, int]:
        """(incidents whose money at risk is within ``MONEY_FACTOR`` of the loss, incidents
        with a loss)."""
        ratios = [m.ratio for m in self.money]
        good = sum(1 for r in ratios if r is not None and 1 / MONEY_FACTOR <= r <= MONEY_FACTOR)
        return good, len(ratios)


def stretch(
    labels: Iterable[Mapping[str, Any]], tolerance_s: float = DEFAULT_TOLERANCE_S
) -> list[dict[str, Any]]:
    """Labels whose scenario has a named delay (``DELAYS_S``) ending that much later, less the
    tolerance ``streamwatch.evaluate`` adds, so that per-kind precision matches alerts as
    per-scenario recall does."""
    out = []
    for lab in labels:
        extra = DELAYS_S.get(str(lab.get("scenario")), tolerance_s) - tolerance_s
        if extra <= 0:
            out.append(dict(lab))
            continue
        end = parse_time(lab.get("end", lab.get("start")), "label end") + extra
        out.append({**lab, "end": _format(end)})
    return out


def score(
    labels: Iterable[Mapping[str, Any]],
    alerts: Iterable[Mapping[str, Any]],
    requests: Iterable[Mapping[str, Any]],
    scenarios_of: Mapping[str, str],
    lookalikes: Iterable[str],
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> Scorecard:
    """Score a run; ``scenarios_of`` maps each customer to the scenario it plays (customers
    absent from it are organic). Raises ValueError for an unparseable timestamp."""
    times: dict[tuple[str, str], list[tuple[float, Mapping[str, Any]]]] = defaultdict(list)
    for alert in alerts:
        key = (str(alert.get("customer_id")), str(alert.get("kind")))
        times[key].append((parse_time(alert.get("event_time"), "alert event_time"), alert))
    for found in times.values():
        found.sort(key=lambda pair: pair[0])

    found_delays: dict[tuple[str, str], list[float]] = defaultdict(list)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    money: list[MoneyRow] = []
    for lab in labels:
        if lab.get("benign"):
            continue
        scenario, kind, customer = str(lab.get("scenario")), str(lab["kind"]), lab["customer_id"]
        start = parse_time(lab["start"], "label start")
        end = parse_time(lab.get("end", lab["start"]), "label end")
        # A named delay counts from the incident's start, however long it then lasts.
        limit = start + DELAYS_S[scenario] if scenario in DELAYS_S else end + tolerance_s
        counts[(scenario, kind)] += 1
        hit = next(
            ((t, a) for t, a in times.get((customer, kind), ()) if start <= t <= limit), None
        )
        if hit is not None:
            found_delays[(scenario, kind)].append(hit[0] - start)
        detail = lab.get("detail") or {}
        loss = detail.get("loss") if isinstance(detail, Mapping) else None
        if isinstance(loss, int | float) and loss > 0:
            mar = (hit[1].get("money_at_risk") or {}) if hit is not None else {}
            amount = mar.get("amount") if isinstance(mar, Mapping) else None
            money.append(
                MoneyRow(
                    scenario,
                    customer,
                    kind,
                    float(loss),
                    float(amount) if isinstance(amount, int | float) else None,
                )
            )
    rows = tuple(
        ScenarioRow(
            scenario,
            kind,
            n,
            len(found_delays[(scenario, kind)]),
            statistics.median(found_delays[(scenario, kind)])
            if found_delays[(scenario, kind)]
            else None,
            max(found_delays[(scenario, kind)], default=None),
        )
        for (scenario, kind), n in sorted(counts.items())
    )
    look = set(lookalikes)
    harsh: dict[str, int] = defaultdict(int)
    asked: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for req in requests:
        customer, action = str(req.get("customer_id")), str(req.get("action"))
        played = scenarios_of.get(customer)
        if played is None:
            continue
        if played in look:
            if action in HARSH:
                harsh[played] += 1
        elif action in ENFORCING:
            asked[played][action].add(customer)
    customers: dict[str, int] = defaultdict(int)
    attackers: dict[str, int] = defaultdict(int)
    for scenario in scenarios_of.values():
        (customers if scenario in look else attackers)[scenario] += 1
    enforced = {
        scenario: {action: len(who) for action, who in by_action.items()}
        for scenario, by_action in asked.items()
    }
    return Scorecard(rows, dict(harsh), dict(customers), tuple(money), dict(attackers), enforced)


def merge(cards: Iterable[Scorecard]) -> Scorecard:
    """Several runs' scorecards as one (rows summed per scenario and kind; delays: the
    median of the runs' medians and the largest maximum)."""
    cards = list(cards)
    rows: dict[tuple[str, str], list[ScenarioRow]] = defaultdict(list)
    harsh: dict[str, int] = defaultdict(int)
    customers: dict[str, int] = defaultdict(int)
    attackers: dict[str, int] = defaultdict(int)
    enforced: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    money: list[MoneyRow] = []
    for card in cards:
        for name, n in card.attack_customers.items():
            attackers[name] += n
        for name, by_action in card.enforced.items():
            for action, n in by_action.items():
                enforced[name][action] += n
        for row in card.rows:
            rows[(row.scenario, row.kind)].append(row)
        for name, n in card.harsh.items():
            harsh[name] += n
        for name, n in card.lookalike_customers.items():
            customers[name] += n
        money.extend(card.money)
    merged = []
    for (scenario, kind), parts in sorted(rows.items()):
        medians = [p.delay_median_s for p in parts if p.delay_median_s is not None]
        maxima = [p.delay_max_s for p in parts if p.delay_max_s is not None]
        merged.append(
            ScenarioRow(
                scenario,
                kind,
                sum(p.labels for p in parts),
                sum(p.detected for p in parts),
                statistics.median(medians) if medians else None,
                max(maxima) if maxima else None,
            )
        )
    return Scorecard(
        tuple(merged),
        dict(harsh),
        dict(customers),
        tuple(money),
        dict(attackers),
        {name: dict(by_action) for name, by_action in enforced.items()},
    )


def format_scorecard(card: Scorecard) -> str:
    """The per-scenario table, the look-alikes' harsh actions, the attacks' enforcement and the
    money-at-risk summary."""
    out = [
        f"{'scenario':<24} {'kind':<22} {'labels':>6} {'found':>6} {'recall':>7} "
        f"{'delay p50':>10} {'delay max':>10}"
    ]
    for r in card.rows:
        recall = "-" if r.recall is None else f"{100 * r.recall:.1f}%"
        out.append(
            f"{r.scenario:<24} {r.kind:<22} {r.labels:>6} {r.detected:>6} {recall:>7} "
            f"{_hours(r.delay_median_s):>10} {_hours(r.delay_max_s):>10}"
        )
    out.append("")
    out.append("look-alike scenario        customers  restrict/suspend")
    for name in sorted(card.lookalike_customers):
        out.append(f"{name:<26} {card.lookalike_customers[name]:>9}  {card.harsh.get(name, 0):>16}")
    out.append("")
    out.append("attack scenario            customers  " + "  ".join(ENFORCING))
    for name in sorted(card.attack_customers):
        asked = card.enforced.get(name, {})
        counts = "  ".join(f"{asked.get(a, 0):>{len(a)}}" for a in ENFORCING)
        out.append(f"{name:<26} {card.attack_customers[name]:>9}  {counts}")
    good, total = card.within_factor()
    ratios = sorted(m.ratio for m in card.money if m.ratio is not None)
    out.append("")
    if ratios:
        out.append(
            f"money at risk / loss that followed: {good} of {total} incidents within a factor "
            f"of {MONEY_FACTOR:g}; median {statistics.median(ratios):.2f}, "
            f"range {ratios[0]:.2f}-{ratios[-1]:.2f}; {total - len(ratios)} without a figure"
        )
    else:
        out.append(f"money at risk / loss that followed: no figure on {total} incidents")
    return "\n".join(out) + "\n"


def _format(ts_s: float) -> str:
    return datetime.fromtimestamp(ts_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hours(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / HOUR_S:.1f} h"
