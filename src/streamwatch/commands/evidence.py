"""``streamwatch evidence``: a customer's evidence pack, for a credit request to the provider.

    streamwatch evidence CUSTOMER FILES... --out DIR
    streamwatch evidence CUSTOMER --from-kafka --start T [--end T] --out DIR

Gathers what streamwatch knows of one customer: its usage, activity and payment events, the
alerts raised about it, the enforcement requests made and, where the suspension worker reports
them, their outcomes. FILES are JSONL files holding any mix of these (replay's outputs next to
its inputs, for instance); each line is recognised by its shape. ``--from-kafka`` reads the
input, alerts and enforcement topics, and the enforcement-results topic if it exists, between
``--start`` (inclusive) and ``--end`` (exclusive, default now) by Kafka timestamp, keeping the
messages keyed by CUSTOMER (broker and topic prefix from STREAMWATCH_KAFKA and
STREAMWATCH_TOPIC_PREFIX).

Writes DIR/evidence.json (machine-readable) and DIR/evidence.md (a letter with tables, for
e-mail): the timeline of alerts and actions, usage by day since the incident began (the first
evidence of the fraud and abuse findings), the top SKUs and regions, payments, and the money
involved. ``--html FILE`` also writes the pack as one self-contained HTML page, with plots of
spend against baseline around each incident, money at risk over time and alerts by kind and day.

A credit request needs a finding of fraud or abuse: for a customer without one (only budget
or payment-standing alerts, say) nothing is written and the exit code is 1, unless ``--force``
is given, in which case the letter says there is no such finding.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from streamwatch import exits

if TYPE_CHECKING:
    from streamwatch.core.events import Event

HELP = "Build a customer's evidence pack (evidence.json, evidence.md) for a credit request."

RESULTS_TOPIC: Final = "enforcement-results"
"""Outcomes reported by the suspension worker; optional (absent until a worker creates it)."""


def configure(parser: argparse.ArgumentParser) -> None:
    """The command's arguments; its help is the module docstring."""
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("customer_id", help="the customer the pack is about")
    parser.add_argument("files", nargs="*", type=Path, help="JSONL files (any mix of messages)")
    parser.add_argument("--from-kafka", action="store_true", help="read the topics instead")
    parser.add_argument("--start", help="with --from-kafka: RFC 3339 start (inclusive)")
    parser.add_argument("--end", help="with --from-kafka: RFC 3339 end (exclusive; default now)")
    parser.add_argument("--out", type=Path, required=True, help="directory to write the pack to")
    parser.add_argument("--html", type=Path, help="also write the pack as a self-contained page")
    parser.add_argument(
        "--force",
        action="store_true",
        help="write the pack even without a finding of fraud or abuse",
    )


@dataclass
class Collected:
    """The customer's messages, sorted by kind, and how many lines were passed over."""

    events: list[Event] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0

    def add_lines(self, lines: Iterable[bytes], customer_id: str) -> None:
        """Sort raw JSON lines into the lists; other customers' messages are ignored."""
        import orjson

        from streamwatch.core.codec import DecodeError, event_from_dict
        from streamwatch.evidence import classify

        for raw in lines:
            if not raw.strip():
                continue
            try:
                doc = orjson.loads(raw)
            except orjson.JSONDecodeError:
                self.skipped += 1
                continue
            if not isinstance(doc, dict) or doc.get("customer_id") != customer_id:
                continue
            kind = classify(doc)
            if kind == "event":
                try:
                    self.events.append(event_from_dict(doc))
                except DecodeError:
                    self.skipped += 1
            elif kind == "alert":
                self.alerts.append(doc)
            elif kind == "request":
                self.requests.append(doc)
            elif kind == "result":
                self.results.append(doc)
            else:
                self.skipped += 1


def run(args: argparse.Namespace) -> int:
    """Collect, build, write; see the module docstring."""
    import time

    import orjson

    from streamwatch.core.timeutil import TimestampError, format_ts, parse_ts_ms
    from streamwatch.evidence import build_evidence
    from streamwatch.evidence_letter import render_letter

    now_ms = time.time_ns() // 1_000_000
    collected = Collected()
    if args.from_kafka:
        if args.files:
            print("evidence: give files or --from-kafka, not both", file=sys.stderr)
            return exits.USAGE
        if not args.start:
            print("evidence: --from-kafka needs --start", file=sys.stderr)
            return exits.USAGE
        try:
            start_ms = parse_ts_ms(args.start)
            end_ms = parse_ts_ms(args.end) if args.end else now_ms
        except TimestampError as exc:
            print(f"evidence: {exc}", file=sys.stderr)
            return exits.USAGE
        code = _from_kafka(collected, args.customer_id, start_ms, end_ms)
        if code:
            return code
    else:
        if not args.files:
            print("evidence: give JSONL files, or --from-kafka with --start", file=sys.stderr)
            return exits.USAGE
        missing = [str(p) for p in args.files if not p.is_file()]
        if missing:
            print(f"evidence: no such file: {', '.join(missing)}", file=sys.stderr)
            return exits.USAGE
        for path in args.files:
            with path.open("rb") as handle:
                collected.add_lines(handle, args.customer_id)
    if not collected.events and not collected.alerts:
        print(f"evidence: no events or alerts for customer {args.customer_id!r}", file=sys.stderr)
        return exits.NOTHING_FOUND
    pack = build_evidence(
        args.customer_id,
        collected.events,
        collected.alerts,
        collected.requests,
        collected.results,
        generated_at=format_ts(now_ms),
    )
    if not pack["finding"]["fraud_or_abuse"] and not args.force:
        kinds = sorted({a["kind"] for a in pack["alerts"]}) or ["none"]
        print(
            f"evidence: streamwatch made no finding of fraud or abuse about {args.customer_id} "
            f"(its alerts: {', '.join(kinds)}), so there is no ground for a credit request; "
            "give --force to write the pack anyway",
            file=sys.stderr,
        )
        return exits.NOTHING_FOUND
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "evidence.json").write_bytes(
        orjson.dumps(pack, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    )
    (args.out / "evidence.md").write_text(render_letter(pack), encoding="utf-8")
    if args.html:
        from streamwatch.reports.evidence_page import render_evidence_page

        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(render_evidence_page(pack, collected.events), encoding="utf-8")
    counts = pack["counts"]
    money = "; ".join(
        f"{m['consumption_since_incident']:,.2f} {m['currency']} consumed since the incident, "
        f"{m['unpaid']:,.2f} unpaid, {m['charged_back']:,.2f} charged back"
        for m in pack["money"]
    )
    print(
        f"evidence for {args.customer_id}: {counts['events']} events, {counts['alerts']} alerts, "
        f"{counts['requests']} requests, {counts['outcomes']} outcomes"
        + (f" ({collected.skipped} lines passed over)" if collected.skipped else "")
        + (f"; {money}" if money else "")
        + f"\nwrote {args.out / 'evidence.json'} and {args.out / 'evidence.md'}"
        + (f" and {args.html}" if args.html else "")
    )
    return 0


def _from_kafka(collected: Collected, customer_id: str, start_ms: int, end_ms: int) -> int:
    import asyncio
    import contextlib

    from aiokafka.errors import KafkaError

    from streamwatch.kafka_clients import client_options
    from streamwatch.replay.kafka import read_range
    from streamwatch.settings import ALERTS, ENFORCEMENT, DeploymentSettings, SettingsError

    try:
        live = DeploymentSettings.from_env()
        kafka = client_options(live)
    except SettingsError as exc:
        print(f"evidence: {exc}", file=sys.stderr)
        return exits.USAGE

    async def read() -> None:
        topics = [*live.topics.inputs, live.topic(ALERTS), live.topic(ENFORCEMENT)]
        sources = await read_range(kafka, topics, start_ms, end_ms, customer_id)
        with contextlib.suppress(LookupError):  # no suspension worker has reported yet
            sources += await read_range(
                kafka, [live.topic(RESULTS_TOPIC)], start_ms, end_ms, customer_id
            )
        for source in sources:
            collected.add_lines((raw for raw, _ in source.lines), customer_id)

    try:
        asyncio.run(read())
    except LookupError as exc:
        print(f"evidence: {exc}", file=sys.stderr)
        return exits.UNAVAILABLE
    except (KafkaError, OSError) as exc:
        print(
            f"evidence: cannot read Kafka at {live.kafka}: {exc}\n"
            "Is Kafka running? Start it with: bash deploy/services.sh up",
            file=sys.stderr,
        )
        return exits.UNAVAILABLE
    return 0
