"""``streamwatch topics``: list the topic catalogue, or apply it to a broker.

The catalogue ships in the package (``streamwatch/topics``); STREAMWATCH_TOPICS_DIR or ``--dir``
names another. STREAMWATCH_ENVIRONMENT or ``--env`` picks its sizing (partitions, replication,
retention) from the catalogue's ``environments.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from streamwatch import exits

if TYPE_CHECKING:
    from streamwatch.live.admin import ApplyResult, Plan
    from streamwatch.live.catalogue import TopicSpec
    from streamwatch.settings import DeploymentSettings

HELP = "List the topic catalogue, or create, update and check its topics on the broker."


def configure(parser: argparse.ArgumentParser) -> None:
    """Subcommands ``apply`` and ``list``."""
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    apply = sub.add_parser(
        "apply",
        help="bring the broker to the catalogue (exit 3 if it still differs)",
        description="Create the catalogue's missing topics, set the configs of existing ones "
        "to the catalogue's, and report what cannot change in place (fewer partitions, "
        "another replication factor). Exits 3 if the broker still differs afterwards.",
    )
    _common(apply)
    mode = apply.add_mutually_exclusive_group()
    mode.add_argument(
        "--plan",
        action="store_true",
        help="only show what apply would change and what it cannot; change nothing (exit 0)",
    )
    mode.add_argument(
        "--check",
        action="store_true",
        help="only check; change nothing (exit 3 on any difference)",
    )
    apply.add_argument(
        "--grow-partitions",
        action="store_true",
        help="also add partitions to topics that have fewer than the catalogue (customers "
        "move to other partitions and their state does not follow; default: report only)",
    )
    listing = sub.add_parser(
        "list", help="print the catalogue", description="Print the catalogue (no broker needed)."
    )
    _common(listing)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="catalogue directory (default: STREAMWATCH_TOPICS_DIR, else the packaged one)",
    )
    parser.add_argument(
        "--env",
        default=None,
        metavar="NAME",
        help="environment whose sizing applies (default: STREAMWATCH_ENVIRONMENT, else dev)",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``topics apply`` or ``topics list``."""
    from streamwatch.live.catalogue import CatalogueError, load_catalogue
    from streamwatch.settings import DeploymentSettings, SettingsError

    try:
        settings = DeploymentSettings.from_env()
        environment = args.env or settings.environment
        specs = load_catalogue(args.dir or settings.topics_dir, environment)
    except (CatalogueError, SettingsError) as exc:
        print(f"streamwatch topics: {exc}", file=sys.stderr)
        return exits.USAGE
    if args.action == "list":
        print(f"# environment {environment}")
        _print_list(specs, settings.topic_prefix)
        return 0
    return _apply(settings, specs, args)


def _print_list(specs: list[TopicSpec], prefix: str) -> None:
    for spec in specs:
        print(f"{spec.prefixed(prefix)}")
        print(f"  {spec.description}")
        print(
            f"  partitions {spec.partitions}, replication {spec.replication_factor}, key {spec.key}"
        )
        for key, value in sorted(spec.config.items()):
            print(f"  {key} = {value}")


def _apply(settings: DeploymentSettings, specs: list[TopicSpec], args: argparse.Namespace) -> int:
    import asyncio

    from aiokafka.errors import KafkaError

    from streamwatch.kafka_clients import KafkaUnavailable, check_connection, client_options
    from streamwatch.live.admin import AdminError, apply_catalogue
    from streamwatch.settings import SettingsError

    change = not (args.plan or args.check)

    async def apply() -> ApplyResult:
        await check_connection(settings)
        return await apply_catalogue(
            client_options(settings),
            specs,
            settings.topic_prefix,
            change=change,
            grow_partitions=args.grow_partitions,
        )

    try:
        result = asyncio.run(apply())
    except SettingsError as exc:
        print(f"streamwatch topics: {exc}", file=sys.stderr)
        return exits.USAGE
    except KafkaUnavailable as exc:
        print(f"streamwatch topics: {exc}", file=sys.stderr)
        return exits.UNAVAILABLE
    except (KafkaError, AdminError, OSError) as exc:
        print(
            f"streamwatch topics: cannot apply the catalogue on {settings.kafka}: {exc}\n"
            "Is Kafka running? Start it with: bash deploy/services.sh up",
            file=sys.stderr,
        )
        return exits.UNAVAILABLE
    if change:
        return _report(result)
    _print_plan(result.plan, grow_partitions=args.grow_partitions)
    if args.check and not result.plan.in_sync:
        print("streamwatch topics: the broker differs from the catalogue", file=sys.stderr)
        return exits.DRIFT
    return 0


def _print_plan(plan: Plan, *, grow_partitions: bool) -> None:
    for spec in plan.create:
        print(
            f"create   {spec.name} (partitions {spec.partitions}, "
            f"replication {spec.replication_factor})"
        )
    for drift in plan.config_changes:
        print(f"set      {drift.topic}: {drift.setting} {drift.actual} -> {drift.expected}")
    for name, (now, wanted) in sorted(plan.grow.items()):
        how = "" if grow_partitions else " (with --grow-partitions)"
        print(f"grow     {name}: partitions {now} -> {wanted}{how}")
    for drift in plan.cannot:
        print(f"CANNOT   {drift}")
    for name in plan.unchanged:
        print(f"ok       {name}")


def _report(result: ApplyResult) -> int:
    plan = result.plan
    for name in result.created:
        print(f"created  {name}")
    for drift in plan.config_changes:
        print(f"set      {drift.topic}: {drift.setting} {drift.actual} -> {drift.expected}")
    for name in result.grown:
        now, wanted = plan.grow[name]
        print(f"grown    {name}: partitions {now} -> {wanted}")
    for name in plan.unchanged:
        print(f"ok       {name}")
    for drift in result.remaining:
        print(f"DRIFT    {drift}")
    if not result.ok:
        print(
            "streamwatch topics: the broker still differs from the catalogue. Partitions grow "
            "only with --grow-partitions: customers then move to other partitions and their "
            "state does not follow, so stop the workers, grow every topic, and start them "
            "with a new STREAMWATCH_APP_ID (new state and changelogs). Fewer partitions or "
            "another replication factor need a new topic or a partition reassignment.",
            file=sys.stderr,
        )
        return exits.DRIFT
    return 0
