"""``streamwatch risk``: one customer's live risk view, or the riskiest customers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from streamwatch import exits

if TYPE_CHECKING:
    from streamwatch.exposure import Ranking, Reporting
    from streamwatch.live.redis_view import CustomerView
    from streamwatch.settings import DeploymentSettings

HELP = (
    "Show a customer's live risk, money at risk and open alerts, or the customers with the "
    "most money at risk (Redis view); --rebuild has the workers write the view again."
)


def configure(parser: argparse.ArgumentParser) -> None:
    """``risk CUSTOMER_ID [--json]``, ``risk --top N [--fx CSV --currency CUR [--on DAY]]
    [--json]`` or ``risk --rebuild``."""
    parser.add_argument("customer_id", nargs="?", help="the customer to show")
    parser.add_argument(
        "--top",
        type=int,
        metavar="N",
        help="list the N customers with the most money at risk (N per currency without rates)",
    )
    parser.add_argument(
        "--fx",
        type=Path,
        metavar="CSV",
        help="with --top: dated currency rates (date,currency,rate) to order customers billed "
        "in different currencies by money at risk converted into --currency "
        "(default STREAMWATCH_FX_RATES); without rates, customers are listed per currency",
    )
    parser.add_argument(
        "--currency",
        metavar="CUR",
        help="with --fx: the currency its rates convert into (default "
        "STREAMWATCH_REPORTING_CURRENCY)",
    )
    parser.add_argument(
        "--on",
        metavar="YYYY-MM-DD",
        help="with --fx: convert at the rates in force on this day (default: today, UTC)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="have every running worker write the view of each customer it holds again "
        "(workers do so by themselves when Redis comes back empty)",
    )


def run(args: argparse.Namespace) -> int:
    """Read the view from Redis (STREAMWATCH_REDIS, STREAMWATCH_TOPIC_PREFIX) and print it."""
    import asyncio

    if (args.customer_id is not None) + (args.top is not None) + args.rebuild != 1:
        print("streamwatch risk: give one of CUSTOMER_ID, --top N or --rebuild", file=sys.stderr)
        return exits.USAGE
    if args.top is not None and args.top < 1:
        print("streamwatch risk: --top needs N >= 1", file=sys.stderr)
        return exits.USAGE
    if args.top is None and (args.fx or args.currency or args.on):
        print("streamwatch risk: --fx, --currency and --on go with --top", file=sys.stderr)
        return exits.USAGE
    if bool(args.fx) != bool(args.currency):
        print(
            "streamwatch risk: --fx and --currency go together (the rates file and the "
            "currency its rates convert into)",
            file=sys.stderr,
        )
        return exits.USAGE
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    import orjson
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    from streamwatch.live.redis_view import RiskView
    from streamwatch.settings import DeploymentSettings, SettingsError

    try:
        settings = DeploymentSettings.from_env()
    except SettingsError as exc:
        print(f"streamwatch risk: {exc}", file=sys.stderr)
        return exits.USAGE
    try:
        reporting = reporting_of(args, settings)
    except (OSError, ValueError) as exc:
        print(f"streamwatch risk: {exc}", file=sys.stderr)
        return exits.USAGE
    client = Redis.from_url(settings.redis, socket_connect_timeout=5, socket_timeout=5)
    view = RiskView(client, settings.redis_prefix)
    try:
        if args.rebuild:
            markers = await view.ask_rebuild()
            print(
                f"removed {markers} worker marker(s): each running worker writes the view of "
                "its customers again within seconds ('risk view written again from state')"
            )
            return 0
        if args.top is not None:
            ranking = await view.top(args.top, reporting)
            print(
                orjson.dumps(ranking.to_dict(), option=orjson.OPT_INDENT_2).decode()
                if args.json
                else format_ranking(ranking)
            )
            return 0
        found = await view.customer(args.customer_id)
    except (RedisError, OSError) as exc:
        print(
            f"streamwatch risk: cannot read Redis at {settings.redis}: {exc}\n"
            "Is Redis running? Start it with: bash deploy/services.sh up",
            file=sys.stderr,
        )
        return exits.UNAVAILABLE
    finally:
        await client.aclose()
    if found is None:
        print(f"no risk view for customer {args.customer_id!r} (no alert raised yet)")
        return exits.NOTHING_FOUND
    if args.json:
        print(orjson.dumps(found.to_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        print(format_customer(found))
    return 0


def reporting_of(args: argparse.Namespace, settings: DeploymentSettings) -> Reporting | None:
    """The rates to convert with: ``--fx``/``--currency``, else the settings', else None; for
    the day of ``--on``, else today (UTC). Raises OSError or ValueError (``TableError``) with a
    message naming the file or the value."""
    import time

    from streamwatch.exposure import day_ms, read_reporting

    path, currency = args.fx, args.currency
    if path is None:
        path, currency = settings.fx_rates, settings.reporting_currency
    if path is None or currency is None:
        return None
    try:
        at_ms = day_ms(args.on) if args.on else time.time_ns() // 1_000_000
    except ValueError:
        raise ValueError(f"--on {args.on!r}: give a day, YYYY-MM-DD") from None
    return read_reporting(path, currency, at_ms)


def format_ranking(ranking: Ranking) -> str:
    """``risk --top``: what was done (which rates, or none), then the customers, converted into
    one order or, per currency, each in its own; then totals on the same terms."""
    from streamwatch.core.explain import money

    if not ranking.rows:
        return "no customers in the risk view yet"
    lines = [ranking.note()]
    width = max(len(r.customer_id) for r in ranking.rows)
    if ranking.reporting is not None and ranking.converted:
        to = ranking.reporting.currency
        lines.append(f"by money at risk in {to}:")
        for rank, c in enumerate(ranking.converted, 1):
            row = c.row
            own = "" if row.currency == to else f" ({money(row.amount, row.currency)})"
            lines.append(
                f"{rank:>3}. {row.customer_id:<{width}}  money at risk "
                f"{money(c.amount, to):>14}{own}  risk {row.risk:.2f}"
            )
    for currency, rows in ranking.apart.items():
        unconverted = " (not converted: no rate)" if ranking.reporting is not None else ""
        lines.append(f"in {currency}{unconverted}:")
        for rank, row in enumerate(rows, 1):
            lines.append(
                f"{rank:>3}. {row.customer_id:<{width}}  money at risk "
                f"{money(row.amount, currency):>14}  risk {row.risk:.2f}"
            )
    if ranking.unknown:
        lines.append("money at risk not known yet (no money seen), riskiest first:")
        for rank, row in enumerate(ranking.unknown, 1):
            lines.append(f"{rank:>3}. {row.customer_id:<{width}}  risk {row.risk:.2f}")
    totals = ranking.totals()
    if ranking.reporting is not None and ranking.converted:
        to = ranking.reporting.currency
        apart = [money(totals[cur], cur) for cur in ranking.apart]
        lines.append(
            f"total of those listed: {money(totals[to], to)} converted"
            + (f"; not converted: {', '.join(apart)}" if apart else "")
        )
    elif totals:
        per = ", ".join(money(amount, cur) for cur, amount in totals.items())
        lines.append(f"total of those listed, per currency: {per}")
    return "\n".join(lines)


def format_customer(view: CustomerView) -> str:
    """The view as a few lines of text for people."""
    from streamwatch.core.explain import money

    lines = [
        f"customer {view.customer_id}",
        f"  risk         {view.risk:.2f}",
    ]
    exposure = view.money_at_risk
    if exposure:
        cur = exposure["currency"]
        lines.append(
            f"  money at risk {money(exposure['amount'], cur)} by {exposure['next_invoice']} "
            f"(unbilled {money(exposure['unbilled'], cur)}, unpaid "
            f"{money(exposure['unpaid'], cur)}, prepaid {money(exposure['prepaid'], cur)}, "
            f"projected usage {money(exposure['projected'], cur)})"
        )
    lines += [
        f"  open alerts  {view.open_alerts}",
        f"  updated at   {view.updated_at}",
    ]
    for alert in view.alerts:
        lines.append(
            f"  - {alert['severity']:<8} {alert['kind']:<18} score {alert['score']:.2f}  "
            f"at {alert['event_time']}  [{alert['alert_id']}]"
        )
        lines.append(f"      {alert['summary']}")
    return "\n".join(lines)
