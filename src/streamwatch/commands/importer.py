"""``streamwatch import``: map files of a real-world format into contract events.

    streamwatch import FORMAT FILE... (--out EVENTS.jsonl | --kafka) [--refused FILE]
                       [--customers CSV] [--customer ID] [--subscription ID]
                       [--rates FILE] [--currency CUR --fx CSV] [--tz ZONE]
                       [--cost billed|effective] [--json]

FORMAT is one of the adapters in ``streamwatch.adapters`` (``streamwatch import --help`` lists
them). Each file is read whole (JSON, JSON lines, a saved HTTP response, or CSV, as the format
takes), every record inside is mapped, every event is checked against the contract, and the
events are written as JSON lines to ``--out`` (appended) or produced to the input topics with
``--kafka`` (key = customer id; broker and prefix from STREAMWATCH_KAFKA and
STREAMWATCH_TOPIC_PREFIX), in event-time order as one batch unless ``--keep-order``. The
summary says how many records were read, how many events were written by type, and how many
records were refused, by reason, with an example of each.
``--refused FILE`` writes each refused record with its reason, as JSON lines. On a terminal,
and without ``--json``, a progress bar (bytes of the files mapped) is drawn on stderr.

Exit status: 0 when every record mapped or was refused with a reason; 2 for bad arguments or
tables; 3 when Kafka cannot be reached.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from streamwatch import exits

HELP = "map files of a real-world format (activity log, billing, notices, flows, Stripe) to events"

TOPIC_OF = {"usage": "usage", "activity": "activity", "payment": "payments"}


def configure(parser: argparse.ArgumentParser) -> None:
    """The command's arguments; its help is the module docstring."""
    from streamwatch.adapters import FORMATS

    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("format", choices=sorted(FORMATS), help="the source format")
    parser.add_argument("files", nargs="+", type=Path, help="source files")
    parser.add_argument("--out", type=Path, help="append contract events here (JSONL)")
    parser.add_argument("--kafka", action="store_true", help="produce to the input topics")
    parser.add_argument("--refused", type=Path, help="write refused records and reasons here")
    parser.add_argument(
        "--customers", type=Path, help="CSV key,customer_id (subscription, tenant, Stripe id)"
    )
    parser.add_argument("--customer", help="customer id for records that name none")
    parser.add_argument("--subscription", help="subscription id for records that name none")
    parser.add_argument(
        "--rates", type=Path, help="unit prices: CSV meter_id,unit_price,currency or a rate card"
    )
    parser.add_argument("--currency", help="price utilization in this currency (needs --fx)")
    parser.add_argument("--fx", type=Path, help="CSV date,currency,rate into --currency's base")
    add_time_and_cost_options(parser)
    parser.add_argument(
        "--keep-order",
        action="store_true",
        help="write events in the files' order (default: by event time, as one batch)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def add_time_and_cost_options(parser: argparse.ArgumentParser) -> None:
    """``--tz`` and ``--cost``, shared with ``streamwatch ingest``."""
    parser.add_argument(
        "--tz", default="UTC", help="zone of timestamps without an offset (default UTC)"
    )
    parser.add_argument(
        "--cost",
        choices=("billed", "effective"),
        default="billed",
        help="FOCUS cost column: BilledCost (default) or EffectiveCost (amortized)",
    )


def run(args: argparse.Namespace) -> int:
    """Build the context, map every file, write or produce, print the summary."""
    import orjson

    from streamwatch.adapters import FORMATS
    from streamwatch.adapters.read import is_csv, read_source
    from streamwatch.adapters.run import Run, records_of
    from streamwatch.progress import Progress

    if (args.out is None) == (not args.kafka):
        print("streamwatch import: give exactly one of --out FILE or --kafka", file=sys.stderr)
        return exits.USAGE
    try:
        ctx = build_context(args)
    except (OSError, ValueError) as exc:
        print(f"streamwatch import: {exc}", file=sys.stderr)
        return exits.USAGE
    adapter = FORMATS[args.format]
    mapping = Run(adapter.map_record, ctx)
    events: list[dict[str, Any]] = []
    refused: list[bytes] = []
    sizes = [path.stat().st_size if path.is_file() else 0 for path in args.files]
    progress = Progress(sum(sizes), "import", enabled=not args.json)
    for path, size in zip(args.files, sizes, strict=True):
        csv = is_csv(path, adapter.INPUT)
        try:
            documents = list(read_source(path, adapter.INPUT))
        except OSError as exc:
            progress.stop()
            print(f"streamwatch import: cannot read {path}: {exc}", file=sys.stderr)
            return exits.USAGE
        # A file's bytes are spread evenly over its records: the bar moves as they are mapped.
        share = size / max(len(documents), 1)
        for document in documents:
            records = [document] if csv else list(records_of(document))
            for record in records:
                progress.advance(share / len(records))
                mapping.summary.last = None
                events.extend(mapping.record(record))
                if args.refused is not None and mapping.summary.last is not None:
                    refused.append(_refusal_line(path, record, mapping.summary.last))
    progress.finish()
    if not args.keep_order:
        # Exports list rows in no useful order (a FOCUS file mixes days and accounts); one
        # import is one batch, so deliver it in event-time order.
        events.sort(key=lambda event: (_ts_key(event["ts"]), event["event_id"]))
    if args.refused is not None:
        args.refused.parent.mkdir(parents=True, exist_ok=True)
        args.refused.write_bytes(b"".join(line + b"\n" for line in refused))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("ab") as handle:
            for event in events:
                handle.write(orjson.dumps(event) + b"\n")
    else:
        import asyncio

        code = asyncio.run(_produce(events))
        if code:
            return code
    summary = mapping.summary
    if args.json:
        print(orjson.dumps(summary.to_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        print(f"{args.format}: " + "\n".join(summary.lines()))
    return 0


def _ts_key(text: str) -> int:
    from streamwatch.core.timeutil import parse_ts_ms

    return parse_ts_ms(text)


def build_context(args: argparse.Namespace) -> Any:
    """The mapping context from the command-line options (tables read, zone resolved)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from streamwatch.adapters.base import Context
    from streamwatch.adapters.rates import parse_customers, parse_fx, parse_rates

    try:
        tz = ZoneInfo(args.tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"--tz {args.tz!r} is not a time zone (e.g. Europe/Paris)") from None
    customers = parse_customers(args.customers.read_text()) if args.customers else {}
    rates = parse_rates(args.rates.read_text()) if args.rates else {}
    convert = None
    if args.currency:
        if not args.fx:
            raise ValueError("--currency needs --fx, the dated rates to convert with")
        convert = parse_fx(args.fx.read_text(), args.currency).convert
    return Context(
        customers=customers,
        rates=rates,
        tz=tz,
        subscription_id=args.subscription,
        customer_id=args.customer,
        cost_column="EffectiveCost" if args.cost == "effective" else "BilledCost",
        currency=args.currency.upper() if args.currency else None,
        convert=convert,
    )


def _refusal_line(path: Path, record: Any, refusal: Any) -> bytes:
    import orjson

    from streamwatch.adapters.base import Refused

    doc: dict[str, Any] = {"file": str(path), "code": refusal.code, "reason": refusal.message}
    if not isinstance(record, Refused):
        doc["record"] = record
    return orjson.dumps(doc, default=str)


async def _produce(events: list[dict[str, Any]]) -> int:
    import orjson
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    from streamwatch.kafka_clients import KafkaUnavailable, check_connection, client_options
    from streamwatch.settings import DeploymentSettings, SettingsError

    try:
        settings = DeploymentSettings.from_env()
        await check_connection(settings)
        producer = AIOKafkaProducer(**client_options(settings), acks="all", enable_idempotence=True)
    except (SettingsError, KafkaUnavailable) as exc:
        print(f"streamwatch import: {exc}", file=sys.stderr)
        return exits.USAGE if isinstance(exc, SettingsError) else exits.UNAVAILABLE
    try:
        await producer.start()
        try:
            for event in events:
                topic = settings.topic(TOPIC_OF[event["type"]])
                await producer.send(topic, orjson.dumps(event), key=event["customer_id"].encode())
            await producer.flush()
        finally:
            await producer.stop()
    except (KafkaError, OSError) as exc:
        print(
            f"streamwatch import: cannot produce to {settings.kafka}: {exc}\n"
            "Is Kafka running? Start it with: bash deploy/services.sh up",
            file=sys.stderr,
        )
        return exits.UNAVAILABLE
    print(f"produced {len(events)} events to the input topics", file=sys.stderr)
    return 0
