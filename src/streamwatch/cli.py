"""The ``streamwatch`` command line: one subcommand per module in ``streamwatch.commands``.

Each command module defines ``HELP`` (one line), ``configure(parser)`` and ``run(args) -> int``,
and imports its heavy dependencies (Faust, Kafka, Redis) inside ``run`` so that ``--help`` and
the demo start fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from streamwatch import __version__, exits
from streamwatch.settings import SettingsError
from streamwatch.settings_file import CONFIG_VARIABLE, apply_file

COMMANDS = {
    "demo": "streamwatch.commands.demo",
    "generate": "streamwatch.commands.generate",
    "replay": "streamwatch.commands.replay",
    "evaluate": "streamwatch.commands.evaluate",
    "worker": "streamwatch.commands.worker",
    "enforce": "streamwatch.commands.enforce",
    "notify": "streamwatch.commands.notify",
    "approve": "streamwatch.commands.approve",
    "reject": "streamwatch.commands.reject",
    "topics": "streamwatch.commands.topics",
    "risk": "streamwatch.commands.risk",
    "expect": "streamwatch.commands.expect",
    "suppress": "streamwatch.commands.suppress",
    "feedback": "streamwatch.commands.feedback",
    "console": "streamwatch.commands.console",
    "evidence": "streamwatch.commands.evidence",
    "import": "streamwatch.commands.importer",
    "ingest": "streamwatch.commands.ingest",
    "config": "streamwatch.commands.config",
}


def build_parser() -> argparse.ArgumentParser:
    """The parser with every subcommand configured."""
    parser = argparse.ArgumentParser(
        prog="streamwatch",
        description="Streaming fraud-and-abuse detection for cloud resellers.",
        epilog=exits.EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"streamwatch {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="settings file (TOML; default: STREAMWATCH_CONFIG, else none); the environment "
        "overrides it",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(command)
        command.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments and run the chosen command; its return value is the exit code.
    Without a command, print the help (exit 0)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.config is not None:
        os.environ[CONFIG_VARIABLE] = str(args.config)
    try:
        apply_file()
    except SettingsError as exc:
        print(f"streamwatch: {exc}", file=sys.stderr)
        return exits.USAGE
    try:
        return int(args._run(args))
    except KeyboardInterrupt:
        return exits.INTERRUPTED
    except BrokenPipeError:
        return exits.OK


if __name__ == "__main__":
    sys.exit(main())
