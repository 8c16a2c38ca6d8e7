"""``streamwatch replay``: run JSONL files, or the input topics between two times, through the
core and write alerts, enforcement requests and dead letters as JSONL. Requests are signed, as
the live worker signs them, when STREAMWATCH_SIGNING_KEYS is set."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamwatch import exits

if TYPE_CHECKING:
    from collections.abc import Iterator

    from streamwatch.core.events import Alert, EnforcementRequest
    from streamwatch.exposure import Reporting
    from streamwatch.kind_summary import KindTally
    from streamwatch.progress import Progress
    from streamwatch.replay.files import JsonlSink
    from streamwatch.replay.runner import ReplayStats, Source

HELP = "replay JSONL files or a Kafka time range through the detectors"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", type=Path, help="JSONL files of contract events")
    parser.add_argument("--from-kafka", action="store_true", help="read the input topics")
    parser.add_argument("--start", help="with --from-kafka: RFC 3339 start (inclusive)")
    parser.add_argument("--end", help="with --from-kafka: RFC 3339 end (exclusive)")
    parser.add_argument("--customer", help="replay only this customer's events")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.add_argument("--alerts", type=Path, help="write alerts here (JSONL)")
    parser.add_argument("--enforcement", type=Path, help="write enforcement requests here")
    parser.add_argument("--dead-letter", type=Path, help="write dead-lettered lines here")
    parser.add_argument(
        "--report",
        type=Path,
        help="write a self-contained HTML report here: plots of spend against baseline around"
        " the incidents most at risk, money at risk over time, alerts by kind and day; tables",
    )
    parser.add_argument(
        "--fx",
        type=Path,
        metavar="CSV",
        help="with --report: dated currency rates (date,currency,rate into --currency) to rank"
        " customers billed in different currencies by money at risk, at the rates in force at"
        " the last alert's event time; without, customers are ranked within each currency",
    )
    parser.add_argument(
        "--currency", metavar="CUR", help="with --fx: the currency it converts into"
    )
    parser.add_argument("--policy", type=Path, help="enforcement policy TOML (default: packaged)")
    parser.add_argument(
        "--lateness",
        type=int,
        default=None,
        help="allowed lateness of activity and payments in seconds (default 3600); also the"
        " window of --sort",
    )
    parser.add_argument(
        "--usage-lateness",
        type=int,
        default=None,
        help="allowed lateness of usage in seconds (default 172800: billing data comes late)",
    )
    parser.add_argument(
        "--sort",
        action="store_true",
        help="sort each source by event time within the allowed lateness first (the live"
        " worker does not: without it, replay gives the live worker's decisions)",
    )
    parser.add_argument(
        "--partitions",
        type=int,
        default=None,
        help="input partitions to split customers over, as the topics have (default 4)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="processes to spread the partitions over (at most one per partition); the"
        " results are the same as with one (default 1)",
    )
    parser.add_argument(
        "--max-skew",
        type=int,
        default=None,
        help="seconds an event may lie ahead of its stream before it is judged an outlier"
        " (default STREAMWATCH_MAX_FUTURE_SKEW_S, as the worker, or 86400)",
    )


def run(args: argparse.Namespace) -> int:
    from streamwatch.config import build_core, load_policy
    from streamwatch.core.engine import lateness_settings
    from streamwatch.core.timeutil import TimestampError, parse_ts_ms
    from streamwatch.kind_summary import KindTally
    from streamwatch.pipeline.routing import DEFAULT_PARTITIONS
    from streamwatch.replay.files import JsonlSink
    from streamwatch.replay.runner import Replay
    from streamwatch.settings import SettingsError, max_future_skew_s, parse_signing_keys

    try:
        keys = parse_signing_keys(os.environ.get("STREAMWATCH_SIGNING_KEYS", ""))
        max_skew_s = max_future_skew_s() if args.max_skew is None else args.max_skew
    except SettingsError as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return exits.USAGE
    settings = lateness_settings(args.lateness, args.usage_lateness)
    core = build_core(load_policy(args.policy), settings=settings)
    sources: list[Source]
    progress = None
    if args.from_kafka:
        if args.files:
            print("replay: give files or --from-kafka, not both", file=sys.stderr)
            return exits.USAGE
        if not args.start or not args.end:
            print("replay: --from-kafka needs --start and --end", file=sys.stderr)
            return exits.USAGE
        try:
            start_ms, end_ms = parse_ts_ms(args.start), parse_ts_ms(args.end)
        except TimestampError as exc:
            print(f"replay: {exc}", file=sys.stderr)
            return exits.USAGE
        try:
            sources = _kafka_sources(start_ms, end_ms, args.customer)
        except Exception as exc:  # reported, never a traceback: settings, Kafka or topics
            print(f"replay: cannot read Kafka: {exc}", file=sys.stderr)
            return exits.USAGE if isinstance(exc, SettingsError) else exits.UNAVAILABLE
    else:
        opened = _file_sources(args)
        if opened is None:
            return exits.USAGE
        sources, progress = opened
    if args.jobs < 1:
        print("replay: --jobs must be at least 1", file=sys.stderr)
        return exits.USAGE
    started = time.perf_counter()
    signing_key = keys[0] if keys else None
    tally = KindTally()
    with JsonlSink(
        args.alerts,
        args.enforcement,
        args.dead_letter,
        signing_key,
        keep_alerts=args.report is not None,
    ) as sink:
        replay = Replay(
            core,
            _Counted(sink, tally),
            clock=lambda: time.time_ns() // 1_000_000,
            customer=args.customer,
            partitions=args.partitions or DEFAULT_PARTITIONS,
            sort=args.sort,
            max_skew_ms=max_skew_s * 1000,
            jobs=args.jobs,
        )
        stats = replay.run(sources)
    if progress is not None:
        progress.finish()
    elapsed = time.perf_counter() - started
    _print_summary(stats, tally, elapsed, as_json=args.json)
    if args.report is not None and not _write_report(args, sink.kept_alerts, sources):
        return exits.USAGE
    return exits.OK


def _file_sources(args: argparse.Namespace) -> tuple[list[Source], Progress] | None:
    """The files' sources and their progress bar (drawn for one job and no --json only: every
    job reads every line); None, once the reason is printed, when a file is missing."""
    from streamwatch.progress import Progress
    from streamwatch.replay.files import file_source

    if not args.files:
        print("replay: give JSONL files, or --from-kafka with --start/--end", file=sys.stderr)
        return None
    missing = [str(p) for p in args.files if not p.is_file()]
    if missing:
        print(f"replay: no such file: {', '.join(missing)}", file=sys.stderr)
        return None
    total = sum(p.stat().st_size for p in args.files)
    progress = Progress(total, "replay", enabled=args.jobs == 1 and not args.json)
    counted = progress if progress.enabled else None  # nothing to count for a bar not drawn
    return [file_source(p, counted) for p in args.files], progress


class _Counted:
    """Passes replay's results on to ``sink`` and counts the alerts by kind on the way."""

    def __init__(self, sink: JsonlSink, tally: KindTally) -> None:
        self.sink = sink
        self.tally = tally

    def alert(self, alert: Alert) -> None:
        self.tally.add(alert.alert_id, alert.customer_id, alert.kind, alert.money_at_risk)
        self.sink.alert(alert)

    def request(self, request: EnforcementRequest) -> None:
        self.sink.request(request)

    def dead_letter(self, record: dict[str, Any]) -> None:
        self.sink.dead_letter(record)


def _reporting(
    fx: Path | None, currency: str | None, alerts: list[dict[str, Any]]
) -> Reporting | None:
    """The rates to rank the report's customers with, in force at the last alert's event time
    (the end of the period replayed); None without ``--fx``. OSError or ValueError (naming
    the file) when it cannot be read."""
    from streamwatch.core.timeutil import ts_ms_or_none
    from streamwatch.exposure import read_reporting

    if fx is None and currency is None:
        return None
    if fx is None or currency is None:
        raise ValueError("--fx and --currency go together")
    times = [t for a in alerts if (t := ts_ms_or_none(a.get("event_time"))) is not None]
    return read_reporting(fx, currency, max(times, default=0))


def _write_report(
    args: argparse.Namespace, alerts: list[dict[str, Any]], sources: list[Source]
) -> bool:
    """The HTML report (``--report``, ranked through ``--fx`` rates when given); the input is
    read again for the usage of the customers it plots (files from disk, a Kafka range from
    the records already in memory). False, and why on stderr, when the rates cannot be read."""
    try:
        reporting = _reporting(args.fx, args.currency, alerts)
    except (OSError, ValueError) as exc:
        print(f"replay: no report: {exc}", file=sys.stderr)
        return False
    files: list[Path] = args.files
    from streamwatch.reports.replay_page import incidents, render_replay_report
    from streamwatch.reports.series import usage_of

    def lines() -> Iterator[bytes]:
        if not files:
            yield from (raw for source in sources for raw, _ in source.lines)
        for name in files:
            with name.open("rb") as handle:
                yield from handle

    customers = {incident.customer_id for incident in incidents(alerts, reporting=reporting)}
    html = render_replay_report(alerts, usage_of(lines(), customers), reporting=reporting)
    path: Path = args.report
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    if not args.json:  # --json: stdout holds the summary object alone
        print(f"wrote the report to {path}")
    return True


def _print_summary(stats: ReplayStats, tally: KindTally, elapsed: float, *, as_json: bool) -> None:
    """The replay's counts and its alerts by kind: text (a line, the dead letters by code, the
    table of ``kind_summary``), or one JSON object (the table under ``by_kind``)."""
    dead = sum(stats.dead_letters.values())
    rate = stats.lines / elapsed if elapsed > 0 else 0.0
    if as_json:
        import orjson

        summary = {
            "lines": stats.lines,
            "seconds": round(elapsed, 3),
            "events": stats.events,
            "duplicates": stats.duplicates,
            "late": stats.late,
            "dead_letters": dict(sorted(stats.dead_letters.items())),
            "alerts": stats.alerts,
            "requests": stats.requests,
            "shadowed": stats.shadowed,
            "by_kind": tally.as_dict(),
        }
        sys.stdout.buffer.write(orjson.dumps(summary, option=orjson.OPT_APPEND_NEWLINE))
        return
    print(
        f"replayed {stats.lines} lines in {elapsed:.2f}s ({rate:,.0f}/s): "
        f"{stats.events} events, {stats.duplicates} duplicates, {stats.late} late, "
        f"{dead} dead-lettered; {stats.alerts} alerts, {stats.requests} enforcement requests"
        f" ({stats.shadowed} shadowed)"
    )
    for code, count in sorted(stats.dead_letters.items()):
        print(f"  dead letter {code}: {count}")
    print()
    print(tally.format())


def _kafka_sources(start_ms: int, end_ms: int, customer: str | None) -> list[Source]:
    import asyncio

    from streamwatch.kafka_clients import check_connection, client_options
    from streamwatch.replay.kafka import read_range
    from streamwatch.settings import DeploymentSettings

    live = DeploymentSettings.from_env()

    async def read() -> list[Source]:
        await check_connection(live)
        return await read_range(
            client_options(live), live.topics.inputs, start_ms, end_ms, customer
        )

    return asyncio.run(read())
