"""``streamwatch topics``: list the topic catalogue, or apply it to a broker."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streamwatch.live.admin import ApplyResult
    from streamwatch.live.catalogue import TopicSpec
    from streamwatch.settings import DeploymentSettings

HELP = "List the topic catalogue, or create and check its topics on the broker."

EXIT_DRIFT = 3
EXIT_UNAVAILABLE = 2


def configure(parser: argparse.ArgumentParser) -> None:
    """Subcommands ``apply`` and ``list``."""
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    apply = sub.add_parser(
        "apply",
        help="create missing topics; check existing ones (exit 3 on drift)",
        description="Create the catalogue's missing topics with their partitions and configs, "
        "and check existing ones. Exits 3 if an existing topic differs from the catalogue.",
    )
    apply.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="catalogue directory (default: STREAMWATCH_TOPICS_DIR, else topics)",
    )
    apply.add_argument(
        "--check", action="store_true", help="only check; create nothing (exit 3 if missing)"
    )
    listing = sub.add_parser("list", help="print the catalogue", description="Print the catalogue.")
    listing.add_argument("--dir", type=Path, default=None, help="catalogue directory")


def run(args: argparse.Namespace) -> int:
    """Run ``topics apply`` or ``topics list``."""
    from streamwatch.live.catalogue import CatalogueError, load_catalogue
    from streamwatch.settings import DeploymentSettings, SettingsError

    try:
        settings = DeploymentSettings.from_env()
        specs = load_catalogue(args.dir or settings.topics_dir)
    except (CatalogueError, SettingsError) as exc:
        print(f"streamwatch topics: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    if args.action == "list":
        _print_list(specs, settings.topic_prefix)
        return 0
    return _apply(settings, specs, check_only=args.check)


def _print_list(specs: list[TopicSpec], prefix: str) -> None:
    for spec in specs:
        print(f"{spec.prefixed(prefix)}")
        print(f"  {spec.description}")
        print(
            f"  partitions {spec.partitions}, replication {spec.replication_factor}, key {spec.key}"
        )
        for key, value in sorted(spec.config.items()):
            print(f"  {key} = {value}")


def _apply(settings: DeploymentSettings, specs: list[TopicSpec], *, check_only: bool) -> int:
    import asyncio

    from aiokafka.errors import KafkaError

    from streamwatch.kafka_clients import KafkaUnavailable, check_connection, client_options
    from streamwatch.live.admin import AdminError, apply_catalogue
    from streamwatch.settings import SettingsError

    async def apply() -> ApplyResult:
        await check_connection(settings)
        return await apply_catalogue(
            client_options(settings), specs, settings.topic_prefix, create=not check_only
        )

    try:
        result = asyncio.run(apply())
    except (KafkaUnavailable, SettingsError) as exc:
        print(f"streamwatch topics: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except (KafkaError, AdminError, OSError) as exc:
        print(
            f"streamwatch topics: cannot apply the catalogue on {settings.kafka}: {exc}\n"
            "Is Kafka running? Start it with: bash deploy/services.sh up",
            file=sys.stderr,
        )
        return EXIT_UNAVAILABLE
    for name in result.created:
        print(f"created  {name}")
    for name in result.unchanged:
        print(f"ok       {name}")
    for name in result.missing:
        print(f"MISSING  {name}")
    for drift in result.drift:
        print(f"DRIFT    {drift}")
    if not result.ok:
        print(
            "streamwatch topics: the broker differs from the catalogue; existing topics are "
            "never altered (changing partitions would break keyed state). Fix by hand or "
            "recreate them.",
            file=sys.stderr,
        )
        return EXIT_DRIFT
    return 0
