"""Score alerts against ground-truth labels: recall, precision and detection delay per kind.

Matching. A label (customer_id, kind, start, end) is *detected* when an alert of the same
customer and kind has ``event_time`` within ``[start, end + tolerance_s]``; its delay is the
earliest such ``event_time`` minus ``start``. A label with start == end also counts as an
*exact* match when some matching alert has ``event_time == start``. An alert is a *true
positive* when it matches a non-benign label of its customer and kind, *tolerated* when it
matches only benign labels (neither true nor false; benign labels are look-alikes and are not
counted in recall), and a *false positive* otherwise. Precision = TP / (TP + FP).

Consequences. An incident often shows under more than one kind: a miner's bill is also a spend
spike, a fraudulent sign-up also pays with a risky card. ``consequences`` maps a scenario name
to the kinds its incidents may also raise; an alert that matches no label of its own kind is
*tolerated* when its customer has a label of a scenario listing that kind (the generator's
registry provides the map: ``streamwatch.generator.scenarios.CONSEQUENCES``), or, given
``scenarios_of`` (customer -> the scenario it plays), when it plays such a scenario: a
look-alike without labels of its own (an ML team's first long training run) may still show as a
true spend spike.

Amendments. An alert file may hold several revisions of one ``alert_id``. Each alert_id counts
once, at its earliest ``event_time``; with ``match_revisions=True`` every revision's
``event_time`` may match (for detectors that amend one alert as an incident grows).

Delays: median (mean of the middle two for an even count) and p95 by nearest rank
(the ceil(0.95 n)-th smallest), in seconds. Pure and deterministic; reads files only in
``load_jsonl`` and ``main``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from streamwatch.text_table import table

DEFAULT_TOLERANCE_S: Final = 3600


@dataclass(frozen=True, slots=True)
class KindScore:
    """Counts and delays for one alert kind (or for all kinds, as ``kind == "TOTAL"``)."""

    kind: str
    labels: int
    detected: int
    exact: int
    alerts: int
    true_positives: int
    false_positives: int
    tolerated: int
    delay_median_s: float | None
    delay_p95_s: float | None

    @property
    def recall(self) -> float | None:
        """Detected / labels; None without labels."""
        return self.detected / self.labels if self.labels else None

    @property
    def precision(self) -> float | None:
        """TP / (TP + FP); None when no alert counts either way."""
        judged = self.true_positives + self.false_positives
        return self.true_positives / judged if judged else None


@dataclass(frozen=True, slots=True)
class Report:
    """Per-kind scores sorted by kind, their total, and the settings used."""

    kinds: tuple[KindScore, ...]
    total: KindScore
    tolerance_s: float
    benign_labels: int
    match_revisions: bool = False

    def kind(self, name: str) -> KindScore:
        """The score of kind ``name``; raises KeyError when it had neither labels nor alerts."""
        for score in self.kinds:
            if score.kind == name:
                return score
        raise KeyError(name)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form, recall and precision included."""

        def one(score: KindScore) -> dict[str, Any]:
            return {**asdict(score), "recall": score.recall, "precision": score.precision}

        return {
            "tolerance_s": self.tolerance_s,
            "benign_labels": self.benign_labels,
            "match_revisions": self.match_revisions,
            "kinds": [one(s) for s in self.kinds],
            "total": one(self.total),
        }


@dataclass(frozen=True, slots=True)
class Label:
    """One ground-truth label (start and end in epoch seconds)."""

    customer_id: str
    kind: str
    start: float
    end: float
    benign: bool
    scenario: str


@dataclass(frozen=True, slots=True)
class _Alert:
    alert_id: str
    customer_id: str
    kind: str
    times: tuple[float, ...]
    """Event times that may match, earliest first."""


def parse_time(text: Any, what: str) -> float:
    """Epoch seconds of an RFC 3339 timestamp with an offset; ValueError naming ``what``."""
    try:
        dt = datetime.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} {text!r} is not an RFC 3339 timestamp") from exc
    if dt.tzinfo is None:
        raise ValueError(f"{what} {text!r} has no UTC offset")
    return dt.timestamp()


def _field(doc: Mapping[str, Any], name: str, what: str) -> str:
    value = doc.get(name)
    if isinstance(value, str):
        return value
    # Bad input data rather than a programming error, hence ValueError.
    raise ValueError(f"{what} has no string {name!r}: {dict(doc)!r:.200}")


def parse_labels(labels: Iterable[Mapping[str, Any]]) -> list[Label]:
    """Labels from their wire dicts (ValueError naming what is wrong)."""
    out = []
    for lab in labels:
        start = parse_time(lab.get("start"), "label start")
        end = parse_time(lab.get("end", lab.get("start")), "label end")
        if end < start:
            raise ValueError(f"label ends before it starts: {dict(lab)!r:.200}")
        out.append(
            Label(
                _field(lab, "customer_id", "label"),
                _field(lab, "kind", "label"),
                start,
                end,
                bool(lab.get("benign", False)),
                str(lab.get("scenario", "")),
            )
        )
    return out


def _alerts(alerts: Iterable[Mapping[str, Any]], match_revisions: bool) -> list[_Alert]:
    """One entry per alert_id, in order of first appearance."""
    first: dict[str, Mapping[str, Any]] = {}
    times: dict[str, list[float]] = defaultdict(list)
    for alert in alerts:
        alert_id = _field(alert, "alert_id", "alert")
        times[alert_id].append(parse_time(alert.get("event_time"), f"alert {alert_id} event_time"))
        first.setdefault(alert_id, alert)
    out = []
    for alert_id, doc in first.items():
        ts = sorted(times[alert_id])
        out.append(
            _Alert(
                alert_id,
                _field(doc, "customer_id", "alert"),
                _field(doc, "kind", "alert"),
                tuple(ts) if match_revisions else (ts[0],),
            )
        )
    return out


def p95(values: Sequence[float]) -> float:
    """The 95th percentile by nearest rank (see the module docstring)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass(slots=True)
class _Tally:
    labels: int = 0
    detected: int = 0
    exact: int = 0
    alerts: int = 0
    tp: int = 0
    fp: int = 0
    tolerated: int = 0

    def score(self, kind: str, delays: list[float]) -> KindScore:
        return KindScore(
            kind=kind,
            labels=self.labels,
            detected=self.detected,
            exact=self.exact,
            alerts=self.alerts,
            true_positives=self.tp,
            false_positives=self.fp,
            tolerated=self.tolerated,
            delay_median_s=statistics.median(delays) if delays else None,
            delay_p95_s=p95(delays) if delays else None,
        )


def evaluate(
    labels: Iterable[Mapping[str, Any]],
    alerts: Iterable[Mapping[str, Any]],
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    match_revisions: bool = False,
    consequences: Mapping[str, Iterable[str]] | None = None,
    scenarios_of: Mapping[str, str] | None = None,
) -> Report:
    """Score ``alerts`` (wire-contract dicts) against ``labels`` (generator label dicts).

    See the module docstring for the matching rules. Raises ValueError for a label or alert
    without its customer, kind or a parseable timestamp, or for a negative tolerance.
    """
    if tolerance_s < 0:
        raise ValueError(f"tolerance_s must be >= 0, not {tolerance_s}")
    labs = parse_labels(labels)
    alts = _alerts(alerts, match_revisions)
    by_key: dict[tuple[str, str], list[Label]] = defaultdict(list)
    for lab in labs:
        by_key[(lab.customer_id, lab.kind)].append(lab)
    also = {name: frozenset(kinds) for name, kinds in (consequences or {}).items()}
    expected_too: set[tuple[str, str]] = {
        (lab.customer_id, kind) for lab in labs for kind in also.get(lab.scenario, ())
    }
    expected_too.update(
        (customer, kind)
        for customer, scenario in (scenarios_of or {}).items()
        for kind in also.get(scenario, ())
    )
    alert_times: dict[tuple[str, str], list[float]] = defaultdict(list)
    for alt in alts:
        alert_times[(alt.customer_id, alt.kind)].extend(alt.times)

    tallies: dict[str, _Tally] = defaultdict(_Tally)
    delays: dict[str, list[float]] = defaultdict(list)
    for lab in labs:
        if lab.benign:
            continue
        tally = tallies[lab.kind]
        tally.labels += 1
        hits = [
            t
            for t in alert_times.get((lab.customer_id, lab.kind), ())
            if lab.start <= t <= lab.end + tolerance_s
        ]
        if hits:
            tally.detected += 1
            delays[lab.kind].append(min(hits) - lab.start)
            if lab.start == lab.end and lab.start in hits:
                tally.exact += 1

    for alt in alts:
        tally = tallies[alt.kind]
        tally.alerts += 1
        matched = [
            lab
            for lab in by_key.get((alt.customer_id, alt.kind), ())
            if any(lab.start <= t <= lab.end + tolerance_s for t in alt.times)
        ]
        if any(not lab.benign for lab in matched):
            tally.tp += 1
        elif matched or (alt.customer_id, alt.kind) in expected_too:
            tally.tolerated += 1
        else:
            tally.fp += 1

    kinds = tuple(tallies[k].score(k, delays[k]) for k in sorted(tallies))
    total = _Tally(
        labels=sum(s.labels for s in kinds),
        detected=sum(s.detected for s in kinds),
        exact=sum(s.exact for s in kinds),
        alerts=sum(s.alerts for s in kinds),
        tp=sum(s.true_positives for s in kinds),
        fp=sum(s.false_positives for s in kinds),
        tolerated=sum(s.tolerated for s in kinds),
    ).score("TOTAL", [d for k in sorted(delays) for d in delays[k]])
    return Report(
        kinds=kinds,
        total=total,
        tolerance_s=tolerance_s,
        benign_labels=sum(1 for lab in labs if lab.benign),
        match_revisions=match_revisions,
    )


_COLUMNS: Final = (
    "kind",
    "labels",
    "detected",
    "exact",
    "recall",
    "alerts",
    "tp",
    "fp",
    "tolerated",
    "precision",
    "delay_p50_s",
    "delay_p95_s",
)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100.0 * value:.1f}%"


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def _row(s: KindScore) -> list[str]:
    return [
        s.kind,
        str(s.labels),
        str(s.detected),
        str(s.exact),
        _pct(s.recall),
        str(s.alerts),
        str(s.true_positives),
        str(s.false_positives),
        str(s.tolerated),
        _pct(s.precision),
        _secs(s.delay_median_s),
        _secs(s.delay_p95_s),
    ]


def format_report(report: Report) -> str:
    """An aligned text table, one row per kind and a TOTAL row, then the settings."""
    body = table(_COLUMNS, [_row(s) for s in report.kinds], _row(report.total))
    revisions = "every revision" if report.match_revisions else "earliest revision"
    body.append(
        f"tolerance {_secs(report.tolerance_s)} s; benign labels {report.benign_labels}; "
        f"alerts matched by {revisions}"
    )
    return "\n".join(body) + "\n"


def load_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSON Lines file of objects; blank lines are skipped.

    Raises ValueError naming the file and line for a line that is not a JSON object.
    """
    out: list[dict[str, Any]] = []
    with Path(path).open("rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                doc = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ValueError(f"{path}:{number}: not valid JSON ({exc})") from exc
            if isinstance(doc, dict):
                out.append(doc)
                continue
            raise ValueError(f"{path}:{number}: not a JSON object")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m streamwatch.evaluate LABELS ALERTS``: print the report; exit code 0."""
    parser = argparse.ArgumentParser(prog="python -m streamwatch.evaluate", description=__doc__)
    parser.add_argument("labels", help="labels JSONL (from the generator)")
    parser.add_argument("alerts", help="alerts JSONL (amendments allowed)")
    parser.add_argument("--tolerance-s", type=float, default=DEFAULT_TOLERANCE_S)
    parser.add_argument("--match-revisions", action="store_true")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    report = evaluate(
        load_jsonl(args.labels),
        load_jsonl(args.alerts),
        tolerance_s=args.tolerance_s,
        match_revisions=args.match_revisions,
    )
    if args.json:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(format_report(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
