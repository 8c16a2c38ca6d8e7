"""``streamwatch risk``: one customer's live risk view, or the riskiest customers."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from streamwatch import exits

if TYPE_CHECKING:
    from streamwatch.live.redis_view import CustomerView, RiskView

HELP = (
    "Show a customer's live risk, money at risk and open alerts, or the customers with the "
    "most money at risk (Redis view); --rebuild has the workers write the view again."
)


def configure(parser: argparse.ArgumentParser) -> None:
    """``risk CUSTOMER_ID [--json]``, ``risk --top N [--json]`` or ``risk --rebuild``."""
    parser.add_argument("customer_id", nargs="?", help="the customer to show")
    parser.add_argument(
        "--top", type=int, metavar="N", help="list the N customers with the most money at risk"
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
            return await _top(view, args.top, as_json=args.json)
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


async def _top(view: RiskView, n: int, *, as_json: bool) -> int:
    import orjson

    from streamwatch.core.explain import money

    rows = await view.top(n)
    if as_json:
        doc = [
            {
                "customer_id": r.customer_id,
                "money_at_risk": r.money_at_risk,
                "currency": r.currency,
                "risk": r.risk,
            }
            for r in rows
        ]
        print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
        return 0
    if not rows:
        print("no customers in the risk view yet")
        return 0
    width = max(len(r.customer_id) for r in rows)
    for rank, r in enumerate(rows, 1):
        at_risk = money(r.money_at_risk, r.currency) if r.currency else "-"
        print(
            f"{rank:>3}. {r.customer_id:<{width}}  money at risk {at_risk:>14}  risk {r.risk:.2f}"
        )
    return 0


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
