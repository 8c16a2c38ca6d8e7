"""The ``streamwatch`` command line: one subcommand per module in ``streamwatch.commands``.

Each command module defines ``HELP`` (one line), ``configure(parser)`` and ``run(args) -> int``,
and imports its heavy dependencies (Faust, Kafka, Redis) inside ``run`` so that ``--help`` and
the demo start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS = {
    "demo": "streamwatch.commands.demo",
    "generate": "streamwatch.commands.generate",
    "replay": "streamwatch.commands.replay",
    "evaluate": "streamwatch.commands.evaluate",
    "worker": "streamwatch.commands.worker",
    "enforce": "streamwatch.commands.enforce",
    "approve": "streamwatch.commands.approve",
    "reject": "streamwatch.commands.reject",
    "topics": "streamwatch.commands.topics",
    "risk": "streamwatch.commands.risk",
    "expect": "streamwatch.commands.expect",
    "evidence": "streamwatch.commands.evidence",
    "import": "streamwatch.commands.importer",
    "ingest": "streamwatch.commands.ingest",
}


def build_parser() -> argparse.ArgumentParser:
    """The parser with every subcommand configured."""
    parser = argparse.ArgumentParser(
        prog="streamwatch",
        description="Streaming fraud-and-abuse detection for cloud resellers.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(command)
        command.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments and run the chosen command; its return value is the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
