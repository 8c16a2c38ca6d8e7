"""The same trials delivered in event-time order and in arrival order, scored side by side.

Issue 12 asks that every detector give the same answer on usage delivered as billing systems
deliver it (per subscription, hours late, out of order; ``generator.arrival``) as on the same
events in event-time order: recall and precision within ``LIMIT`` of each other, and no usage
event lost without being counted. ``streamwatch evaluate --seeds ... --delivery both`` runs the
trials of ``streamwatch.trial`` both ways and prints ``format_comparison``: per kind, recall and
precision of each order and their difference (marked when beyond ``LIMIT``), the scenario rows
whose recall differs, and what the replay counted of each run: every line processed (late or
not), skipped as a duplicate (against the repeats the generator wrote) or dead-lettered, and
how many are none of these (lost uncounted; the aim is 0).

Pure: scores and counts in, text or a JSON-ready dict out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from streamwatch.detection_delay import DelayStats, format_delays
from streamwatch.evaluate import Report
from streamwatch.scorecard import Scorecard
from streamwatch.text_table import table

LIMIT: Final = 0.02
"""The largest difference of recall or precision the issue accepts between the two orders."""


@dataclass(frozen=True, slots=True)
class DeliveryRun:
    """One order's scores and the replay's counts, pooled over the seeds."""

    delivery: str
    report: Report
    card: Scorecard
    events: int
    """Lines generated (every one valid JSON of the contract)."""
    processed: int
    """Lines the core stepped as events."""
    late: int
    duplicates: int
    """Repeats of an event_id the core recognised and skipped."""
    generated_duplicates: int
    """Repeats the generator wrote; more than ``duplicates`` means some were processed twice."""
    dead_letters: int
    after_close: int = 0
    """Usage records for an hour spend_spike or network_abuse had closed (counted, in no
    hour)."""
    delays: tuple[DelayStats, ...] = ()
    """Detection delays per kind, then ``TOTAL`` (``streamwatch.detection_delay``)."""

    @property
    def unaccounted(self) -> int:
        """Lines neither processed, nor skipped as a duplicate, nor dead-lettered: lost
        without being counted (the aim is 0)."""
        return self.events - self.processed - self.duplicates - self.dead_letters


@dataclass(frozen=True, slots=True)
class KindDelta:
    """One kind's recall and precision in both orders (None: nothing to score)."""

    kind: str
    recall: tuple[float | None, float | None]
    precision: tuple[float | None, float | None]

    @property
    def recall_diff(self) -> float | None:
        """Second order's recall minus the first's; None when either has none."""
        return _diff(self.recall)

    @property
    def precision_diff(self) -> float | None:
        """Second order's precision minus the first's; None when either has none."""
        return _diff(self.precision)

    def beyond(self, limit: float = LIMIT) -> bool:
        """Whether recall or precision moved by more than ``limit`` (or exists in one order
        only)."""
        for pair, diff in ((self.recall, self.recall_diff), (self.precision, self.precision_diff)):
            if diff is None:
                if (pair[0] is None) != (pair[1] is None):
                    return True
            elif abs(diff) > limit + 1e-12:
                return True
        return False


def _diff(pair: tuple[float | None, float | None]) -> float | None:
    first, second = pair
    return None if first is None or second is None else second - first


def compare(first: Report, second: Report) -> list[KindDelta]:
    """Per kind (every kind either report scored, sorted), then ``TOTAL``."""
    kinds = sorted({s.kind for s in first.kinds} | {s.kind for s in second.kinds})
    out = []
    for kind in kinds:
        a = next((s for s in first.kinds if s.kind == kind), None)
        b = next((s for s in second.kinds if s.kind == kind), None)
        out.append(
            KindDelta(
                kind,
                (a.recall if a else None, b.recall if b else None),
                (a.precision if a else None, b.precision if b else None),
            )
        )
    out.append(
        KindDelta(
            "TOTAL",
            (first.total.recall, second.total.recall),
            (first.total.precision, second.total.precision),
        )
    )
    return out


def scenario_changes(first: Scorecard, second: Scorecard) -> list[tuple[str, str, str, str]]:
    """(scenario, kind, detected/labels first, detected/labels second) of every scenario row
    whose detected count differs between the orders."""
    a = {(r.scenario, r.kind): r for r in first.rows}
    b = {(r.scenario, r.kind): r for r in second.rows}
    out = []
    for key in sorted(a.keys() | b.keys()):
        ra, rb = a.get(key), b.get(key)
        da = (ra.detected, ra.labels) if ra else (0, 0)
        db = (rb.detected, rb.labels) if rb else (0, 0)
        if da != db:
            out.append((*key, f"{da[0]}/{da[1]}", f"{db[0]}/{db[1]}"))
    return out


_COLUMNS: Final = (
    "kind",
    "recall_{a}",
    "recall_{b}",
    "diff",
    "precision_{a}",
    "precision_{b}",
    "diff",
    "",
)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}"


def _row(delta: KindDelta) -> list[str]:
    return [
        delta.kind,
        _num(delta.recall[0]),
        _num(delta.recall[1]),
        _signed(delta.recall_diff),
        _num(delta.precision[0]),
        _num(delta.precision[1]),
        _signed(delta.precision_diff),
        f"> {LIMIT}" if delta.beyond() else "",
    ]


def _short(delivery: str) -> str:
    return {"event_time": "ev", "arrival": "arr"}.get(delivery, delivery)


def format_comparison(first: DeliveryRun, second: DeliveryRun) -> str:
    """The per-kind table, the changed scenario rows, and each run's counts."""
    a, b = _short(first.delivery), _short(second.delivery)
    header = [c.format(a=a, b=b) for c in _COLUMNS]
    deltas = compare(first.report, second.report)
    lines = [f"recall and precision: {first.delivery} ({a}) against {second.delivery} ({b})"]
    lines += table(header, [_row(d) for d in deltas[:-1]], _row(deltas[-1]))
    changed = scenario_changes(first.card, second.card)
    if changed:
        lines.append("")
        lines.append("scenario rows whose recall differs (detected/labels):")
        lines += [f"  {s} {k}: {x} -> {y}" for s, k, x, y in changed]
    for run in (first, second):
        if run.delays:
            lines.append("")
            lines.append(f"detection delay, {run.delivery} (hours; p50 / p95):")
            lines += format_delays(run.delays)
    lines.append("")
    for run in (first, second):
        lines.append(
            f"{run.delivery}: {run.events} lines = {run.processed} processed ({run.late} late,"
            f" {run.after_close} for an hour already closed)"
            f" + {run.duplicates} duplicates skipped (of {run.generated_duplicates} written)"
            f" + {run.dead_letters} dead letters; unaccounted {run.unaccounted}"
        )
    return "\n".join(lines) + "\n"


def comparison_dict(first: DeliveryRun, second: DeliveryRun) -> dict[str, Any]:
    """A JSON-ready form of ``format_comparison``."""
    return {
        "limit": LIMIT,
        "kinds": [
            {
                "kind": d.kind,
                "recall": list(d.recall),
                "recall_diff": d.recall_diff,
                "precision": list(d.precision),
                "precision_diff": d.precision_diff,
                "beyond_limit": d.beyond(),
            }
            for d in compare(first.report, second.report)
        ],
        "scenario_changes": [
            {"scenario": s, "kind": k, first.delivery: x, second.delivery: y}
            for s, k, x, y in scenario_changes(first.card, second.card)
        ],
        "runs": [
            {
                "delivery": run.delivery,
                "events": run.events,
                "processed": run.processed,
                "late": run.late,
                "after_close": run.after_close,
                "duplicates_skipped": run.duplicates,
                "duplicates_written": run.generated_duplicates,
                "dead_letters": run.dead_letters,
                "unaccounted": run.unaccounted,
                "delays": [d.to_dict() for d in run.delays],
            }
            for run in (first, second)
        ],
    }
